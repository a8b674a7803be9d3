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
from calibration.targets import load_targets

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


def test_the_emulated_calibration_writes_the_committed_posteriors_format(tmp_path):
    estimator, rows = stub_estimator_and_rows()
    files = (tmp_path / "e.eqx", tmp_path / "p.parquet", tmp_path / "p.yaml")
    frame = calibrate_emulated(estimator, rows, seed=1, files=files, spec=TINY, draws=500)
    posterior = load_posterior(files[1])
    assert len(posterior) == 500 and set(posterior.columns) == {*estimator.parameters, "weight"}
    assert np.allclose(posterior.weight, 1 / 500)
    assert posterior[estimator.parameters].to_numpy() == pytest.approx(
        frame[estimator.parameters].to_numpy()
    )
    meta = yaml.safe_load(files[2].read_text())
    assert meta["method"] == "emulated" and meta["simulations"] == 300
    assert meta["particles"] == 500 and 250 <= meta["effective_sample_size"] <= 500
    assert meta["tempering_stages"] >= 1 and meta["targets"] == estimator.targets
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
        emulation, "calibrate_emulated", lambda est, rows, seed, files: written.update(files=files)
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
        lambda est, rows, seed, files: written.update(files=files, holdout=rows),
    )
    monkeypatch.chdir(repo)
    argv = ["calibrate", "emulated", "--holdout"]
    assert main(argv) == 0
    assert written["files"][0] == emulator_path(True) and written["holdout"] is True


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--rows", "10"], "--rows"),
        (["--db", "s.db", "--posterior", "p.parquet"], "--posterior"),
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
