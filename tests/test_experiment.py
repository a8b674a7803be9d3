"""Tests of policy experiments (experiments/experiment.py, cli/experiment.py).

Shipped experiment and counterfactual files, the design (common random numbers), chunked
storage with resumption and equality across local backends. Bad input, levers and runs in
memory are tested in test_experiment_input.py, the dask cluster in test_dask_experiment.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import experiments.runner as runner
from cli.main import main
from experiments.experiment import (
    BASELINE,
    build_chunks,
    experiment_outputs,
    load_experiment,
    parameter_sets,
    retire_outputs,
    run_experiment,
    scenario_changes,
    summary_table,
)
from experiments.storage import load_results, stored_key
from model import load_scenario
from model.levers import apply_levers

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
COUNTERFACTUALS = SCENARIOS / "counterfactuals"
EXPERIMENT_FILES = sorted((ROOT / "experiments").glob("*.yaml"))


def write_posterior(path: Path) -> Path:
    """Write a small posterior: a few particles of three calibrated parameters."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "civic_rate": rng.uniform(8, 16, 6),
            "funding_rate": rng.uniform(20, 40, 6),
            "kyrgyzstan.donor_budget_scale": rng.uniform(0.8, 1.2, 6),
            "kazakhstan.donor_budget_scale": rng.uniform(0.8, 1.2, 6),
            "weight": rng.uniform(0.5, 1.5, 6),
        }
    )
    frame.to_parquet(path)
    return path


def write_experiment(path: Path, **changes) -> Path:
    """Write a tiny Kyrgyz experiment (no 2010 shock), with fields overridden by ``changes``."""
    spec = {
        "name": "tiny",
        "baseline": str(SCENARIOS / "kyrgyzstan.yaml"),
        "counterfactuals": [
            {
                "name": "no-2010-shock",
                "scenario": str(COUNTERFACTUALS / "kg_no_2010_shock.yaml"),
                "question": "What did the 2010 shock cost?",
            }
        ],
        "outputs": ["registered", "operational", "share_income_foreign"],
        "key_years": [2010, 2012],
        "end_year": 2012,
        "draws": 2,
        "replicates": 1,
        "seed": 11,
        "chunk_draws": 1,
    }
    spec.update(changes)
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


@pytest.fixture
def posterior(tmp_path) -> Path:
    return write_posterior(tmp_path / "posterior.parquet")


class Counter:
    """Counts model runs in this process; optionally interrupts after ``stop_after`` runs."""

    def __init__(self, simulate, stop_after: int | None = None):
        self.simulate, self.stop_after, self.calls = simulate, stop_after, 0

    def __call__(self, scenario, seed=0, agents=True):
        if self.stop_after is not None and self.calls >= self.stop_after:
            raise KeyboardInterrupt
        self.calls += 1
        return self.simulate(scenario, seed=seed, agents=agents)


@pytest.fixture
def counter(monkeypatch):
    simulate = runner.simulate

    def install(stop_after=None):
        count = Counter(simulate, stop_after)
        monkeypatch.setattr(runner, "simulate", count)
        return count

    return install


# ------------------------------------------------------------------ shipped files


@pytest.mark.parametrize("path", EXPERIMENT_FILES, ids=lambda p: p.stem)
def test_shipped_experiments_load_and_pair_with_their_baseline(path):
    experiment = load_experiment(path)
    base = experiment.baseline
    for name in experiment.counterfactuals:
        scenario = experiment.scenarios[name]
        assert scenario.country == base.country
        assert scenario.end_year == base.end_year
        assert experiment.changes[name]


def test_the_shipped_counterfactuals_cover_the_issue():
    names = {n for p in EXPERIMENT_FILES for n in load_experiment(p).counterfactuals}
    assert len(EXPERIMENT_FILES) >= 3
    assert {
        "state-funding-2005",
        "no-2010-shock",
        "foreign-representatives-law",
        "kazakh-policy",
        "no-decision-253",
        "grants-frozen-2010",
        "donors-leave-2011",
    } <= names
    assert load_experiment(ROOT / "experiments" / "kyrgyzstan_2035.yaml").baseline.end_year == 2035


def _source_at(dump: dict, path: str) -> str | None:
    """Return the source note of the innermost sourced object along a change's path."""
    node, source = dump, dump.get("source")
    for part in path.replace("[", ".[").split("."):
        if part.startswith("["):
            node = next(i for i in node if i["name"] == part[1:-1].removesuffix("] removed"))
        elif isinstance(node, dict) and part in node:
            node = node[part]
        if isinstance(node, dict) and "source" in node:
            source = node["source"]
    return source


@pytest.mark.parametrize("path", EXPERIMENT_FILES, ids=lambda p: p.stem)
def test_every_changed_input_carries_its_own_source(path):
    experiment = load_experiment(path)
    base = experiment.baseline.model_dump(mode="json")
    for name in experiment.counterfactuals:
        other = experiment.scenarios[name].model_dump(mode="json")
        for change in experiment.changes[name]:
            # A switched-off mechanism changes no input: model/mechanisms.py documents it.
            if change.endswith("removed") or change.startswith("switch_off: "):
                continue
            assert _source_at(other, change) != _source_at(base, change), (name, change)


def test_state_funding_2005_is_the_dashboard_lever_with_the_grant_size_in_real_terms():
    kg = load_scenario(SCENARIOS / "kyrgyzstan.yaml")
    cf = load_scenario(COUNTERFACTUALS / "kg_state_funding_2005.yaml")
    lever = apply_levers(kg, state_funding_start=2005).state.grant_budget_local
    for year in kg.years:
        assert cf.state.grant_budget_local.at(year) == pytest.approx(lever.at(year), rel=5e-3)
        ratio = cf.state.grant_budget_local.at(year) / max(kg.state.grant_budget_local.at(2016), 1)
        if 2005 <= year < 2016:
            mean = cf.state.grant_mean_local.at(year) / kg.state.grant_mean_local.at(2016)
            assert mean == pytest.approx(ratio, rel=5e-3)


def _gdp_local(s, year):
    return s.gdp_per_capita_usd.at(year) * s.population_millions.at(year) * s.exchange_rate.at(year)


def test_kazakh_policy_is_kazakhstans_timeline_at_the_same_share_of_gdp():
    kg = load_scenario(SCENARIOS / "kyrgyzstan.yaml")
    kz = load_scenario(SCENARIOS / "kazakhstan.yaml")
    cf = load_scenario(COUNTERFACTUALS / "kg_kazakh_policy.yaml").state
    for year in kg.years:
        gdp_ratio = _gdp_local(kg, year) / _gdp_local(kz, year)
        per_person = gdp_ratio * kz.population_millions.at(year) / kg.population_millions.at(year)
        budget = kz.state.grant_budget_local.at(year) * gdp_ratio
        assert cf.grant_budget_local.at(year) == pytest.approx(budget, rel=5e-3, abs=1e4)
        prizes = kz.state.prize_budget_local.at(year) * gdp_ratio
        assert cf.prize_budget_local.at(year) == pytest.approx(prizes, rel=5e-3, abs=1e3)
        if year >= 2003:
            mean = kz.state.grant_mean_local.at(year) * per_person
            assert cf.grant_mean_local.at(year) == pytest.approx(mean, rel=5e-3)
        for name in (
            "registration_burden",
            "reporting_enforcement",
            "strike_off_inactive",
            "state_founding",
            "foreign_funding_restriction",
        ):
            value = getattr(kz.state, name).at(year)
            assert getattr(cf, name).at(year) == pytest.approx(value, abs=1e-3), (name, year)
    assert cf.grant_priorities == kz.state.grant_priorities.model_copy(
        update={"source": cf.grant_priorities.source}
    )
    assert cf.shocks == kg.state.shocks


def test_kazakh_counterfactuals_change_the_years_they_say():
    kz = load_scenario(SCENARIOS / "kazakhstan.yaml").state
    no_253 = load_scenario(COUNTERFACTUALS / "kz_no_decision_253.yaml").state
    frozen = load_scenario(COUNTERFACTUALS / "kz_state_grants_frozen_2010.yaml").state
    for year in range(1989, 2024):
        expected = 0.0 if year < 2011 else kz.grant_budget_local.at(year)
        assert no_253.grant_budget_local.at(year) == pytest.approx(expected, rel=1e-3)
        expected = kz.grant_budget_local.at(min(year, 2010))
        assert frozen.grant_budget_local.at(year) == expected
        assert no_253.reporting_enforcement.at(year) == kz.reporting_enforcement.at(year)


def test_scenario_changes_names_what_differs():
    kg = load_scenario(SCENARIOS / "kyrgyzstan.yaml")
    assert scenario_changes(kg, kg) == []
    donors = load_scenario(COUNTERFACTUALS / "kg_donors_leave_2011.yaml")
    assert "donors[Soros Foundation].exit_year" in scenario_changes(kg, donors)
    assert "donors[UNDP].exit_year" not in scenario_changes(kg, donors)
    shock = load_scenario(COUNTERFACTUALS / "kg_no_2010_shock.yaml")
    assert scenario_changes(kg, shock) == [
        "state.shocks[Second revolution and Osh conflict] removed"
    ]


# ------------------------------------------------------------------ runs


def test_experiment_end_to_end(tmp_path, posterior, capsys):
    file = write_experiment(tmp_path / "tiny.yaml")
    out = tmp_path / "out"
    # The figures of a counterfactual the folder's last run had and the file no longer has
    # are removed; a figure of the user's stays.
    out.mkdir()
    (out / "manifest.json").write_text('{"scenarios": {"baseline": {}, "gone": {}}}')
    for name in ("fan_gone.png", "diff_gone.png", "income_gone.png", "income_by_region.png"):
        (out / name).write_text("old")
    assert main(["experiment", str(file), "--posterior", str(posterior), "--out", str(out)]) == 0
    assert not list(out.glob("*_gone.png")) and (out / "income_by_region.png").exists()
    # Without a manifest no figure is known to be the tool's: nothing is removed.
    (out / "manifest.json").unlink()
    (out / "fan_gone.png").write_text("the user's")
    assert main(["experiment", str(file), "--posterior", str(posterior), "--out", str(out)]) == 0
    assert (out / "fan_gone.png").exists()
    printed = capsys.readouterr().out
    assert "no-2010-shock: What did the 2010 shock cost?" in printed
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 1 * 3 * 2  # counterfactuals x outputs x key years
    assert set(summary.output) == {"registered", "operational", "share_income_foreign"}
    assert dict(zip(summary.output, summary.unit, strict=True)) == {
        "registered": "NGOs",
        "operational": "NGOs",
        "share_income_foreign": "share (0-1)",
    }
    assert (summary.runs == 2).all()
    for kind in ("fan", "diff", "income"):
        assert (out / f"{kind}_no-2010-shock.png").stat().st_size > 10_000
    assert (out / "effects.png").stat().st_size > 10_000
    experiment = load_experiment(file)
    chunks = build_chunks(experiment, parameter_sets(experiment, posterior))
    results = load_results(out, chunks)
    assert len(results) == 2 * 2 * (2012 - 1991 + 1)
    # Common random numbers: before the 2010 shock the paired runs are the same runs.
    base = results[results.scenario == BASELINE].set_index(["draw", "year"])
    other = results[results.scenario == "no-2010-shock"].set_index(["draw", "year"])
    before = base.index.get_level_values("year") < 2010
    pd.testing.assert_frame_equal(base[before], other[before].assign(scenario=BASELINE))
    assert not base[~before].equals(other[~before].assign(scenario=BASELINE))
    # Each draw uses its own posterior parameter set: the draws' runs differ.
    assert not base.xs(0, level="draw").equals(base.xs(1, level="draw"))


def test_scenario_params_need_no_posterior(tmp_path):
    file = write_experiment(tmp_path / "tiny.yaml", params="scenario")
    experiment = load_experiment(file, draws=1)
    stats = run_experiment(experiment, tmp_path / "out", posterior=tmp_path / "missing.parquet")
    assert stats.ran == 2 and stats.reused == 0


def test_interrupted_experiment_resumes_with_only_the_missing_runs(tmp_path, posterior, counter):
    file = write_experiment(tmp_path / "tiny.yaml", draws=3)
    experiment = load_experiment(file)
    out = tmp_path / "out"
    count = counter(stop_after=4)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(experiment, out, posterior=posterior)
    stored = sorted(out.rglob("*.parquet"))
    assert len(stored) == 4  # one run per chunk, four finished
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert all(stored_key(p) for p in stored)

    count = counter()
    stats = run_experiment(experiment, out, posterior=posterior)
    assert count.calls == stats.ran == 2 and stats.reused == 4

    reference = tmp_path / "reference"
    run_experiment(experiment, reference, posterior=posterior)
    pd.testing.assert_frame_equal(
        load_results(out, stats.chunks), load_results(reference, stats.chunks)
    )


def test_a_rerun_stopped_mid_way_leaves_none_of_the_last_runs_outputs(tmp_path, posterior, counter):
    # The last run's figures, titled with its draws, stayed beside runs of other draws.
    out = tmp_path / "out"
    file = write_experiment(tmp_path / "tiny.yaml")
    assert main(["experiment", str(file), "--posterior", str(posterior), "--out", str(out)]) == 0
    written = [n for n in experiment_outputs(load_experiment(file)) if (out / n).exists()]
    assert {"summary.csv", "manifest.json", "effects.png", "fan_no-2010-shock.png"} <= set(written)
    more = load_experiment(write_experiment(tmp_path / "more.yaml", draws=4))
    counter(stop_after=3)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(
            more, out, posterior=posterior, before_first_write=lambda: retire_outputs(more, out)
        )
    assert not [n for n in written if (out / n).exists()]


def test_a_deleted_chunk_is_rerun_and_nothing_else(tmp_path, posterior, counter):
    file = write_experiment(tmp_path / "tiny.yaml", draws=2, replicates=2)
    experiment = load_experiment(file)
    out = tmp_path / "out"
    stats = run_experiment(experiment, out, posterior=posterior)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    victim = out / stats.chunks[1].relpath
    expected = pd.read_parquet(victim)
    victim.unlink()

    count = counter()
    again = run_experiment(experiment, out, posterior=posterior)
    assert count.calls == again.ran == len(stats.chunks[1].tasks) == 2
    for path, mtime in before.items():
        if path != victim:
            assert path.stat().st_mtime_ns == mtime
    pd.testing.assert_frame_equal(pd.read_parquet(victim), expected)


def test_changed_inputs_are_not_served_from_stale_chunks(tmp_path, posterior, counter):
    out = tmp_path / "out"
    run_experiment(load_experiment(write_experiment(tmp_path / "a.yaml")), out, posterior=posterior)
    count = counter()
    changed = load_experiment(write_experiment(tmp_path / "a.yaml", seed=12))
    stats = run_experiment(changed, out, posterior=posterior)
    assert count.calls == stats.ran == 4 and stats.reused == 0


def test_one_and_two_local_workers_give_identical_results(tmp_path, posterior):
    file = write_experiment(tmp_path / "tiny.yaml", draws=3, replicates=2)
    experiment = load_experiment(file)
    one = run_experiment(experiment, tmp_path / "one", workers=1, posterior=posterior)
    two = run_experiment(experiment, tmp_path / "two", workers=2, posterior=posterior)
    first, second = (
        load_results(tmp_path / "one", one.chunks),
        load_results(tmp_path / "two", two.chunks),
    )
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    pd.testing.assert_frame_equal(
        summary_table(first, experiment), summary_table(second, experiment)
    )
