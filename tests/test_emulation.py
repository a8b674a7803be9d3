"""The emulated posterior as a calibration (calibration/emulation.py, `calibrate emulated`).

Its files must be the committed posterior's format, its emulator must come back from its
file, and the command must put the emulator beside a scratch posterior and in
``calibration/emulator/`` only with the committed one.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from calibration.emulation import calibrate_emulated, emulator_path
from calibration.emulator import EmulatorSpec, load
from calibration.posterior import load_posterior
from calibration.priors import load_priors, sampled_name
from calibration.refined_posterior import RefinedPosterior
from calibration.targets import load_targets
from model import ScenarioError

pytest.importorskip("jax")

TINY = EmulatorSpec(width=8, depth=1, epochs=3, batch_size=64, members=2)


def stub_estimator_and_rows(n: int = 300):
    """Return an estimator's description and ``n`` rows of made-up statistics."""
    parameters = sorted(load_priors())
    targets = load_targets()
    rng = np.random.default_rng(12)
    rows = pd.DataFrame(
        rng.standard_normal((n, len(parameters))), columns=[sampled_name(p) for p in parameters]
    )
    for t in targets:
        figure = t.value if t.value is not None else (t.low if t.low is not None else t.high)
        rows[t.id] = figure * np.exp(0.2 * rng.standard_normal(n))
    estimator = SimpleNamespace(
        parameters=parameters,
        targets=[t.id for t in targets],
        table_key="stub",
        rows=n,
        truncated=[],
        seed=3,
    )
    return estimator, rows


def stub_runs(rows: pd.DataFrame, targets: list[str]):
    """Return a ``simulate`` whose runs are the stub rows' statistics, in turn."""
    stats = rows[targets].to_numpy()

    def simulate(z, seeds):
        return stats[np.arange(len(z)) % len(stats)]

    return simulate


def test_the_emulated_calibration_writes_the_committed_posteriors_format(tmp_path):
    estimator, rows = stub_estimator_and_rows()
    files = (tmp_path / "e.eqx", tmp_path / "p.parquet", tmp_path / "p.yaml")
    simulate = stub_runs(rows, estimator.targets)
    frame = calibrate_emulated(
        estimator, rows, seed=1, files=files, spec=TINY, draws=500, runs=20, simulate=simulate
    )
    posterior = load_posterior(files[1])
    assert len(posterior) == 500 and set(posterior.columns) == {*estimator.parameters, "weight"}
    assert np.allclose(posterior.weight, 1 / 500)
    assert posterior[estimator.parameters].to_numpy() == pytest.approx(
        frame[estimator.parameters].to_numpy()
    )
    meta = yaml.safe_load(files[2].read_text())
    assert meta["method"] == "emulated" and meta["simulations"] == 300 + 20
    assert meta["refinement_runs"] == 20
    assert meta["draws"] == meta["particles"] == 500
    assert 250 <= meta["last_stage_effective_sample"] <= 500
    assert meta["targets"] == estimator.targets
    assert set(meta["parameters"]) == set(estimator.parameters)
    back = load(files[0])
    assert back.parameters == estimator.parameters and back.rows == 300


@pytest.mark.parametrize(
    ("options", "stem"),
    [(["--db", "s.db"], "s_posterior"), (["--posterior", "mine.parquet"], "mine")],
)
def test_a_scratch_emulated_calibration_writes_its_emulator_beside_its_posterior(
    options, stem, tmp_path, monkeypatch
):
    import calibration.emulation as emulation
    from cli.main import main

    written = {}
    monkeypatch.setattr(emulation, "training_rows", lambda table, holdout: ("est", "rows"))
    monkeypatch.setattr(
        emulation,
        "calibrate_emulated",
        lambda est, rows, seed, files, runs, mapper: written.update(files=files),
    )
    monkeypatch.chdir(tmp_path)
    assert main(["calibrate", "emulated", *options]) == 0
    eqx, parquet, _ = written["files"]
    assert (eqx.resolve(), parquet.resolve()) == (
        tmp_path / f"{stem}.eqx",
        tmp_path / f"{stem}.parquet",
    )


def test_an_emulated_calibration_for_the_committed_posterior_writes_the_committed_emulator(
    repo, monkeypatch
):
    import calibration.emulation as emulation
    from cli.main import main

    written = {}
    monkeypatch.setattr(emulation, "training_rows", lambda table, holdout: ("est", holdout))
    monkeypatch.setattr(
        emulation,
        "calibrate_emulated",
        lambda est, rows, seed, files, runs, mapper: written.update(
            files=files, holdout=rows, runs=runs
        ),
    )
    monkeypatch.chdir(repo)
    argv = ["calibrate", "emulated", "--holdout"]
    assert main(argv) == 0
    assert written["files"][0] == emulator_path(True) and written["holdout"] is True
    assert written["runs"] == 0  # no refinement unless asked for
    assert main([*argv, "--refine-runs", "64"]) == 0 and written["runs"] == 64


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--rows", "10"], "--rows"),
        (["--db", "s.db", "--posterior", "p.parquet"], "--posterior"),
        (["--refine-runs", "5"], "--refine-runs"),
        (["--workers", "2"], "--workers"),
    ],
)
def test_calibrate_emulated_refuses_options_it_does_not_read(
    argv, named, capsys, tmp_path, monkeypatch
):
    from cli.main import main

    monkeypatch.chdir(tmp_path)
    assert main(["calibrate", "emulated", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0] and "Traceback" not in err[0]
    assert not any(tmp_path.iterdir())


def test_the_committed_sampler_is_the_one_the_committed_summary_names(tmp_path, monkeypatch):
    import calibration.emulation as emulation

    estimator, rows = stub_estimator_and_rows()
    monkeypatch.setattr(emulation, "DEFAULT_POSTERIOR", tmp_path / "posterior.parquet")
    monkeypatch.setattr(emulation, "EMULATOR_DIR", tmp_path / "emulator")
    monkeypatch.setattr(emulation, "estimator_path", lambda holdout: tmp_path / "npe.eqx")
    monkeypatch.setattr(emulation, "load_estimator", lambda holdout: estimator)
    for name in ("npe.eqx", "npe.json"):
        (tmp_path / name).write_text("")
    (tmp_path / "calibrated.yaml").write_text("method: tsnpe\n")
    assert emulation.committed_method() == "tsnpe" and emulation.has_committed_sampler()
    assert emulation.load_committed() is estimator
    (tmp_path / "calibrated.yaml").write_text("method: emulated\n")
    assert not emulation.has_committed_sampler()
    with pytest.raises(ScenarioError, match="no emulator"):
        emulation.load_committed()
    files = (emulation.emulator_path(), tmp_path / "p.parquet", tmp_path / "p.yaml")
    calibrate_emulated(estimator, rows, seed=1, files=files, spec=TINY, draws=50, runs=0)
    assert emulation.has_committed_sampler()
    loaded = emulation.load_committed()
    assert loaded.parameters == estimator.parameters and loaded.seed == estimator.seed
    assert not isinstance(loaded, RefinedPosterior)
    # A summary that records a refinement gives the refined posterior, with its runs.
    (tmp_path / "calibrated.yaml").write_text("method: emulated\nrefinement_runs: 32\n")
    refined = emulation.load_committed()
    assert isinstance(refined, RefinedPosterior) and refined.runs == 32
    # An emulator of another estimator's rows is refused, not used.
    estimator.table_key = "another"
    with pytest.raises(ScenarioError, match="another estimator's rows"):
        emulation.load_committed()


def test_the_command_lines_least_refinement_is_the_refinements_own():
    from calibration.refined_posterior import LEAST_RUNS
    from cli.calibrate_options import LEAST_RUNS as CLI_LEAST_RUNS

    assert CLI_LEAST_RUNS == LEAST_RUNS


def test_workers_map_a_refined_posteriors_model_runs_but_keep_a_given_simulate():
    from calibration.emulated_posterior import SamplerSettings
    from calibration.refined_posterior import RefinedPosterior
    from experiments.truth_draws import with_workers

    estimator, rows = stub_estimator_and_rows()
    from calibration.emulation import fit_emulator

    emulator = fit_emulator(estimator, rows, 1, TINY)[0]
    targets = load_targets()
    own = stub_runs(rows, estimator.targets)
    given = RefinedPosterior(emulator, targets, SamplerSettings(), simulate=own)
    assert with_workers(given, 2).simulate is own
    default = RefinedPosterior(emulator, targets, SamplerSettings())
    in_process = default.simulate
    assert with_workers(default, 2).simulate is not in_process


def test_an_emulator_on_fewer_rows_than_a_batch_is_refused_in_one_line(tmp_path, monkeypatch):
    # trained on the rows of a small `calibrate npe`, it failed in optax with a traceback
    import calibration.emulation as emulation

    spec = EmulatorSpec()
    least = spec.least_rows()
    assert least - int(least * spec.held_out) >= spec.batch_size
    assert (least - 1) - int((least - 1) * spec.held_out) < spec.batch_size
    monkeypatch.setattr(emulation, "load_estimator", lambda holdout: "estimator")
    rows = pd.DataFrame({"row": range(least - 1)})
    monkeypatch.setattr(emulation, "estimator_tables", lambda *a, **k: [rows])
    with pytest.raises(ScenarioError, match=f"trained on {least - 1} rows, the emulator needs"):
        emulation.training_rows(tmp_path)
    monkeypatch.setattr(emulation, "estimator_tables", lambda *a, **k: [rows, rows.iloc[:1]])
    assert len(emulation.training_rows(tmp_path)[1]) == least
