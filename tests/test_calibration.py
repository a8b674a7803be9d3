"""Calibration: priors, the distance, a tiny ABC-SMC end to end, resume after a kill, errors."""

import contextlib
import logging
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyabc
import pytest
import scipy.stats
import sqlalchemy
import yaml

from calibration.abc import (
    HOLDOUT_LAST_YEAR,
    GenerationLog,
    calibrate,
    export_posterior,
    select_targets,
)
from calibration.compare import statistic
from calibration.posterior import (
    draw_posterior,
    load_posterior,
    posterior_median,
)
from calibration.priors import PRIORS, load_priors, model_values, pyabc_prior, sampled_name
from calibration.scenario_inputs import current_inputs
from calibration.simulator import Simulator, rms_error
from calibration.targets import load_targets
from cli.main import main
from model import ScenarioError, simulate

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--population", "4", "--workers", "1"]


def test_committed_priors_are_valid_and_cover_the_behaviour_they_name():
    priors = load_priors()
    assert "kyrgyzstan.donor_budget_scale" in priors
    for spec in priors.values():
        assert spec.low < spec.high


def test_the_committed_posteriors_calibrate_exactly_the_priors_parameters():
    """A posterior of other parameters would run the missing ones at their defaults."""
    names = set(load_priors())
    for name in ("posterior.parquet", "holdout_posterior.parquet"):
        posterior = load_posterior(ROOT / "calibration" / name)
        assert set(posterior.columns) - {"weight"} == names, name


def test_rms_error_is_zero_when_every_target_is_met_and_grows_with_misses():
    targets = load_targets()
    met = {t.id: t.reference for t in targets}
    for t in targets:
        if t.kind == "at_least":
            met[t.id] = t.value + 1
        elif t.kind == "at_most":
            met[t.id] = t.value - 1 if t.value > 0 else 0.0
    assert rms_error(met, targets) == 0.0
    missed = dict(met, kg_registered_2000=4966 * 1.10)  # two tolerances (5%) away
    assert rms_error(missed, targets) == pytest.approx(2 / np.sqrt(len(targets)), rel=1e-6)


def test_holdout_calibration_sees_only_figures_up_to_2010():
    chosen = select_targets(load_targets(), holdout=True)
    assert chosen and all(t.last_year <= HOLDOUT_LAST_YEAR for t in chosen)
    assert not any(t.id == "kg_registered_2017" for t in chosen)


def _write_priors(path: Path, **changes) -> Path:
    data = yaml.safe_load(PRIORS.read_text())
    for key, value in changes.items():
        name, field = key.split("__")
        data["parameters"].setdefault(name, dict(data["parameters"]["civic_rate"]))[field] = value
    path.write_text(yaml.safe_dump(data))
    return path


def test_priors_with_low_above_high_fail_cleanly(tmp_path):
    bad = _write_priors(tmp_path / "p.yaml", civic_rate__low=1000)
    with pytest.raises(ScenarioError) as err:
        load_priors(bad)
    assert "parameters.civic_rate" in str(err.value)
    assert "must be below high" in str(err.value)


def test_unknown_prior_name_is_reported(tmp_path):
    bad = _write_priors(tmp_path / "p.yaml", no_such_param__low=1)
    with pytest.raises(ScenarioError) as err:
        load_priors(bad)
    assert "parameters.no_such_param" in str(err.value)
    assert "unknown parameter" in str(err.value)


def _completed_generations(db: Path) -> int:
    """Count stored generations of a database another process may still be creating."""
    try:
        return len(_populations(db))
    except (AssertionError, sqlalchemy.exc.SQLAlchemyError):
        return 0


def _populations(db: Path) -> pd.DataFrame:
    pops = pyabc.History(f"sqlite:///{db}").get_all_populations()
    return pops[pops.t >= 0]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cal")
    db, posterior = folder / "tiny.db", folder / "posterior.parquet"
    args = ["calibrate", "run", *TINY, "--generations", "2", "--db", str(db)]
    assert main([*args, "--posterior", str(posterior)]) == 0
    return db, posterior


def test_tiny_calibration_runs_two_generations_and_exports_a_posterior(tiny_run):
    db, posterior = tiny_run
    pops = _populations(db)
    assert list(pops.t) == [0, 1]
    assert pops.epsilon.iloc[1] <= pops.epsilon.iloc[0]
    table = load_posterior(posterior)
    assert len(table) == 4 and table.weight.sum() == pytest.approx(1.0)
    assert set(load_priors()) == set(table.columns) - {"weight"}
    summary = yaml.safe_load(posterior.with_suffix(".yaml").read_text())
    assert summary["generations"] == 2 and summary["particles"] == 4
    assert 1 <= summary["effective_sample_size"] <= 4
    medians = posterior_median(posterior)
    for name, spec in load_priors().items():
        assert spec.low <= medians[name] <= spec.high
    draws = draw_posterior(3, seed=5, path=posterior)
    assert draws == draw_posterior(3, seed=5, path=posterior)


def test_parameters_are_sampled_as_normal_scores_and_exported_in_model_units(tiny_run):
    priors = load_priors()
    prior = pyabc_prior(priors)
    assert sorted(prior) == sorted(f"z_{n}" for n in priors)
    civic, lag = priors["civic_rate"], priors["founding_lag_years"]
    centre = model_values(dict.fromkeys(prior, 0.0), priors)
    # A score of 0 is the prior median: the geometric midpoint when flat in log.
    assert centre["civic_rate"] == pytest.approx(np.sqrt(civic.low * civic.high))
    assert centre["founding_lag_years"] == pytest.approx((lag.low + lag.high) / 2)
    # Standard normal scores give back the priors file's distribution exactly.
    scores = np.random.default_rng(3).standard_normal(4000)
    lags = [
        model_values({**dict.fromkeys(prior, 0.0), "z_founding_lag_years": z}, priors)
        for z in scores
    ]
    assert (
        scipy.stats.kstest(
            [v["founding_lag_years"] for v in lags], "uniform", args=(lag.low, lag.high - lag.low)
        ).pvalue
        > 0.01
    )
    db, posterior = tiny_run
    stored = pyabc.History(f"sqlite:///{db}").get_distribution(t=1)[0]
    table = load_posterior(posterior)
    expected = civic.quantiles(scipy.stats.norm.cdf(stored["z_civic_rate"].to_numpy()))
    np.testing.assert_allclose(np.sort(table.civic_rate.to_numpy()), np.sort(expected))


def test_simulator_scores_like_full_runs_and_stops_only_what_it_would_reject():
    targets, priors = load_targets(), load_priors()
    sim = Simulator(targets, priors)
    pars = {sampled_name(n): 0.3 for n in priors}

    def integrated(eps):
        np.random.seed(7)
        return sim.integrated_simulate(pars, eps)

    full = integrated(np.inf)
    np.random.seed(7)
    seed = int(np.random.randint(0, 2**31 - 1))
    values = model_values(pars, priors)
    runs = {c: simulate(s.with_params(values), seed) for c, s in sim.scenarios.items()}
    expected = {t.id: float(statistic(runs[t.country], t).iloc[0]) for t in targets}
    assert full.accepted and full.sum_stat == expected
    assert full.distance == pytest.approx(rms_error(full.sum_stat, targets), rel=1e-12)
    assert integrated(full.distance).accepted
    assert not integrated(0.999 * full.distance).accepted
    # A threshold Uzbekistan's targets already break stops the particle within Uzbekistan:
    # the later countries are never run.
    sim.scenarios = {c: (s if c == "uzbekistan" else None) for c, s in sim.scenarios.items()}
    assert not integrated(1e-6).accepted
    # pyabc's prior sample on resuming an empty history asks for plain statistics.
    sim.scenarios = Simulator(targets, priors).scenarios
    np.random.seed(7)
    assert sim.sample(pars) == full.sum_stat


def test_generation_line_reports_epsilon_acceptance_and_effective_sample_size():
    lines = []
    handler = GenerationLog(lines.append)
    for text in ("t: 3, eps: 2.5.", "Accepted: 200 / 400 = 5.0000e-01, ESS: 1.2345e+01."):
        handler.emit(logging.LogRecord("ABC", logging.INFO, "", 0, text, None, None))
    assert len(lines) == 1
    assert lines[0].startswith("generation 3: epsilon 2.500, acceptance 50.0% (200/400)")
    assert "effective sample size 12.3" in lines[0]


def test_degenerate_weights_stop_the_run_with_one_line_and_keep_stored_generations(
    tiny_run, tmp_path, monkeypatch
):
    db = tmp_path / "copy.db"
    db.write_bytes(tiny_run[0].read_bytes())

    def degenerate(self, *args, **kwargs):
        raise AssertionError("The population total weight nan is not normalized.")

    monkeypatch.setattr(pyabc.ABCSMC, "run", degenerate)
    lines = []
    history = calibrate(db, population=4, generations=1, resume=True, workers=1, log=lines.append)
    assert lines == [
        "stopped: the next generation's importance weights degenerated "
        "(The population total weight nan is not normalized.)"
    ]
    assert history.max_t == 1


def test_existing_database_is_not_overwritten_without_force(tiny_run, capsys):
    db, _ = tiny_run
    before = db.read_bytes()
    assert main(["calibrate", "run", *TINY, "--generations", "1", "--db", str(db)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--resume or --force" in err[0]
    assert db.read_bytes() == before


def test_resume_refuses_a_database_of_another_setup(tiny_run, tmp_path, capsys):
    db, _ = tiny_run
    copy = tmp_path / "copy.db"
    copy.write_bytes(db.read_bytes())
    priors = _write_priors(tmp_path / "p.yaml", civic_rate__high=61)
    with pytest.raises(ScenarioError) as err:
        calibrate(copy, population=4, generations=1, resume=True, workers=1, priors_path=priors)
    assert "another model, priors or targets version" in str(err.value)


def test_resume_after_a_kill_keeps_completed_generations(tmp_path):
    db = tmp_path / "killed.db"
    cmd = [sys.executable, "-m", "cli.main", "calibrate", "run", *TINY, "--generations", "50"]
    proc = subprocess.Popen(
        [*cmd, "--db", str(db), "--posterior", str(tmp_path / "p.parquet")],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if db.exists() and _completed_generations(db) >= 1:
                break
            time.sleep(0.5)
        else:
            pytest.fail("no generation completed within 180 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    done = _populations(db)
    kept = pyabc.History(f"sqlite:///{db}").get_distribution(t=int(done.t.max()))[0]
    args = ["calibrate", "run", *TINY, "--generations", "1", "--db", str(db), "--resume"]
    assert main([*args, "--posterior", str(tmp_path / "p.parquet")]) == 0
    after = _populations(db)
    assert list(after.t) == list(range(len(done) + 1))
    # The resumed generation's threshold comes from the last stored one, not from scratch.
    assert np.isfinite(after.epsilon.iloc[-1])
    assert after.epsilon.iloc[-1] <= done.epsilon.iloc[-1]
    again = pyabc.History(f"sqlite:///{db}").get_distribution(t=int(done.t.max()))[0]
    pd.testing.assert_frame_equal(kept, again)


def _interrupted_in(monkeypatch, method: str, db) -> None:
    """Run a tiny calibration into ``db`` that is interrupted inside pyabc's ``method``."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(pyabc.History, method, interrupted)
        with pytest.raises(KeyboardInterrupt):
            calibrate(db, population=4, generations=1, workers=1, log=lambda line: None)


def test_a_kill_during_the_database_set_up_leaves_no_database(tmp_path, monkeypatch):
    """CI met it: killed inside pyabc's set-up, the database existed but --resume refused it."""
    db = tmp_path / "setup.db"
    _interrupted_in(monkeypatch, "store_initial_data", db)
    assert list(tmp_path.iterdir()) == []
    # What a SIGKILL in mid-transaction would leave: the temporary and its journal.
    for name in (".setup.db.k1ll3d.tmp", ".setup.db.k1ll3d.tmp-journal"):
        (tmp_path / name).write_bytes(b"left by a killed set-up")
    calibrate(db, population=4, generations=1, workers=1, log=lambda line: None)
    assert list(_populations(db).t) == [0]
    assert [p.name for p in tmp_path.iterdir()] == ["setup.db"]


def test_force_replaces_a_calibration_database_and_nothing_else(tmp_path, capsys):
    # Another SQLite file and an empty one too: pyabc creates its tables in either, so
    # the check reads them itself, read-only, and leaves their bytes as they were.
    victim = tmp_path / "kyrgyzstan.yaml"
    victim.write_text("name: a file given as --db by mistake\n")
    notes = tmp_path / "notes.db"
    with contextlib.closing(sqlite3.connect(notes)) as db:
        db.execute("CREATE TABLE notes (text)")
        db.commit()
    empty = tmp_path / "empty.db"
    empty.touch()
    posterior = ["--posterior", str(tmp_path / "p.parquet")]
    for path in (victim, notes, empty):
        before = path.read_bytes()
        args = ["calibrate", "run", *TINY, "--generations", "1", "--db", str(path), "--force"]
        assert main([*args, *posterior]) == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith(f"{path.name}: not a complete pyabc calibration database"), err
        assert path.read_bytes() == before
    assert not (tmp_path / "p.parquet").exists()


def test_a_population_of_one_is_refused_by_the_parser(tmp_path, capsys):
    db = tmp_path / "one.db"
    assert main(["calibrate", "run", "--db", str(db), "--population", "1"]) == 2
    assert "--population: must be from 2" in capsys.readouterr().err
    assert not db.exists()


def test_export_of_a_database_with_no_complete_generation_says_so(tmp_path, monkeypatch, capsys):
    db = tmp_path / "stopped.db"
    _interrupted_in(monkeypatch, "append_population", db)
    args = ["calibrate", "export", "--db", str(db), "--posterior", str(tmp_path / "p.parquet")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("stopped.db: holds no complete generation to export")


def test_export_writes_atomically(tiny_run, tmp_path):
    db, _ = tiny_run
    out = tmp_path / "post.parquet"
    export_posterior(db, out, tmp_path / "post.yaml")
    assert out.exists() and not list(tmp_path.glob(".*tmp"))


def test_export_of_an_earlier_generation_names_it(tiny_run, tmp_path, capsys):
    db, _ = tiny_run
    out = tmp_path / "first.parquet"
    args = ["calibrate", "export", "--db", str(db), "--posterior", str(out)]
    assert main([*args, "--generation", "0"]) == 0
    summary = yaml.safe_load(out.with_suffix(".yaml").read_text())
    assert summary["source"].endswith("generation 0 (generations 0-1 stored)")
    assert summary["generations"] == 1
    assert summary["simulations"] == int(_populations(db).samples.iloc[0])
    # The country files' inputs, as an NPE summary records them (calibration.scenario_inputs).
    assert summary["scenario_inputs"] == current_inputs()
    first = pyabc.History(f"sqlite:///{db}").get_distribution(t=0)[1]
    np.testing.assert_allclose(load_posterior(out).weight, first / first.sum())
    capsys.readouterr()
    assert main([*args, "--generation", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "generation" in err and "5 is not stored" in err and len(err.splitlines()) == 1


def test_export_refuses_a_missing_database_or_one_of_another_setup(tiny_run, tmp_path, capsys):
    db, _ = tiny_run
    out = ["--posterior", str(tmp_path / "p.parquet")]
    assert main(["calibrate", "export", "--db", str(tmp_path / "none.db"), *out]) == 2
    assert "no calibration database" in capsys.readouterr().err
    # The tiny database was made with the full targets, not the held-back ones.
    assert main(["calibrate", "export", "--holdout", "--db", str(db), *out]) == 2
    assert "fingerprint" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_weights_near_the_largest_float_are_read_as_relative_weights(tmp_path):
    """Their sum overflows; the posterior's weights are relative, so they are scaled first."""
    path = ROOT / "calibration" / "posterior.parquet"
    frame = pd.read_parquet(path).head(4).assign(weight=[1e308, 1e308, 5e307, 0.0])
    frame.to_parquet(tmp_path / "big.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on the user's screen either
        table = load_posterior(tmp_path / "big.parquet")
    assert table.weight.tolist() == pytest.approx([0.4, 0.4, 0.2, 0.0])
    drawn = draw_posterior(200, seed=5, path=tmp_path / "big.parquet")
    never = frame.iloc[3].drop("weight").to_dict()
    assert len(drawn) == 200 and never not in drawn  # the row of weight 0
