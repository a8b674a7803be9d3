"""Tests of policy experiments (experiments/experiment.py, cli/experiment.py).

Shipped experiment and counterfactual files, the design (common random numbers), chunked
storage with resumption, equality across local backends, and one-line errors for bad input.
The dask cluster tests are in test_dask_experiment.py.
"""

from __future__ import annotations

import inspect
import os
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import experiments.runner as runner
import experiments.scheduler as scheduler
from cli.main import main
from experiments.experiment import (
    BASELINE,
    Levers,
    build_chunks,
    collect_runs,
    effects_figure,
    load_experiment,
    parameter_sets,
    run_experiment,
    scenario_changes,
    summary_table,
)
from experiments.storage import load_results, stored_key
from model import ScenarioError, load_scenario
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


def test_the_effects_figure_plots_each_difference_over_the_baseline(tmp_path):
    cf = {
        "name": "more",
        "scenario": str(SCENARIOS / "kyrgyzstan.yaml"),
        "question": "What if donors doubled?",
    }
    extra = {**cf, "levers": {"donor_budget_scale": 2.0}}
    experiment = load_experiment(
        write_experiment(tmp_path / "e.yaml", counterfactuals=[extra], key_years=[2010])
    )
    table = pd.DataFrame(
        {
            "counterfactual": ["more"] * 3,
            "output": ["registered", "operational", "share_income_foreign"],
            "year": [2010] * 3,
            "baseline_median": [2_000.0, 500.0, 0.6],
            "diff_median": [100.0, -50.0, 0.05],
            "diff_q05": [20.0, -80.0, 0.01],
            "diff_q95": [300.0, -10.0, 0.09],
        }
    )
    fig = effects_figure(table, experiment)
    points = [ax.containers[0].lines[0].get_xdata()[0] for ax in fig.axes[:3]]
    assert points == pytest.approx([5.0, -10.0, 0.05])
    low, high = fig.axes[0].containers[0].lines[2][0].get_segments()[0][:, 0]
    assert (low, high) == pytest.approx((1.0, 15.0))


def test_scenario_params_need_no_posterior(tmp_path):
    file = write_experiment(tmp_path / "tiny.yaml", params="scenario")
    experiment = load_experiment(file, draws=1)
    stats = run_experiment(experiment, tmp_path / "out", posterior=tmp_path / "missing.parquet")
    assert stats.ran == 2 and stats.reused == 0


def test_crn_narrows_the_paired_intervals(tmp_path, posterior):
    file = write_experiment(tmp_path / "tiny.yaml", replicates=3, draws=2, chunk_draws=2)
    experiment = load_experiment(file)
    stats = run_experiment(experiment, tmp_path / "out", posterior=posterior)
    table = summary_table(load_results(tmp_path / "out", stats.chunks), experiment)
    registered = table[table.output == "registered"]
    assert (registered.independent_q95 > registered.independent_q05).all()
    assert (registered.crn_width_ratio < 1).all()


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


# ------------------------------------------------------------------ bad input


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fails_in_one_line(capsys, argv, out: Path, *expected: str) -> None:
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    for text in expected:
        assert text in err
    assert not out.exists()


def test_unknown_scenario_field_in_a_counterfactual(tmp_path, posterior, capsys):
    bad = tmp_path / "bad_cf.yaml"
    bad.write_text(
        f"extends: {SCENARIOS / 'kyrgyzstan.yaml'}\nstate:\n  grant_budget_locl: {{}}\n",
        encoding="utf-8",
    )
    cf = [{"name": "bad", "scenario": str(bad), "question": "A misspelt field?"}]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", "bad_cf.yaml", "grant_budget_locl")


def test_a_missing_scenario_is_named_with_the_field_that_names_it(tmp_path, posterior, capsys):
    missing = tmp_path / "nowhere.yaml"
    cf = [{"name": "gone", "scenario": str(missing), "question": "A file that is not there?"}]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    expected = f"e.yaml: counterfactuals.0.scenario: {missing}: file not found"
    _fails_in_one_line(capsys, argv, tmp_path / "out", expected)
    file = write_experiment(tmp_path / "e.yaml", baseline=str(missing))
    _fails_in_one_line(capsys, argv, tmp_path / "out", f"e.yaml: baseline: {missing}: file not")


def test_unknown_output(tmp_path, posterior, capsys):
    file = write_experiment(tmp_path / "e.yaml", outputs=["registered", "registerd"])
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", "e.yaml: outputs", "'registerd'")


def test_zero_draws_in_the_file_or_on_the_command_line(tmp_path, posterior, capsys):
    file = write_experiment(tmp_path / "e.yaml", draws=0)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", "e.yaml: draws")
    file = write_experiment(tmp_path / "e.yaml")
    argv = ["experiment", str(file), "--posterior", str(posterior), "--draws", "0"]
    _fails_in_one_line(capsys, argv, tmp_path / "out", "--draws: must be from 1 to 100,000, got 0")


def test_the_files_own_draws_are_checked_where_the_command_line_replaces_them(
    tmp_path, posterior, capsys
):
    for draws in (-3, True, "5"):
        file = write_experiment(tmp_path / "e.yaml", draws=draws)
        argv = ["experiment", str(file), "--posterior", str(posterior), "--draws", "1"]
        _fails_in_one_line(capsys, argv, tmp_path / "out", "e.yaml: draws")


@pytest.mark.parametrize(
    "field, value", [("seed", "5"), ("replicates", True), ("key_years", ["2010"])]
)
def test_a_value_of_another_type_is_refused_not_converted(
    tmp_path, posterior, capsys, field, value
):
    file = write_experiment(tmp_path / "e.yaml", **{field: value})
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", f"e.yaml: {field}", "valid integer")


def test_a_file_too_big_to_run_can_be_run_smaller_from_the_command_line(tmp_path):
    file = write_experiment(tmp_path / "e.yaml", draws=50_000, replicates=50)
    with pytest.raises(ScenarioError, match="runs"):
        load_experiment(file)
    assert load_experiment(file, draws=4).spec.draws == 4


def test_unreachable_scheduler(tmp_path, posterior, capsys, monkeypatch):
    monkeypatch.setattr(scheduler, "HANDSHAKE_SECONDS", 2.0)
    file = write_experiment(tmp_path / "e.yaml")
    address = f"tcp://127.0.0.1:{_free_port()}"
    argv = ["experiment", str(file), "--posterior", str(posterior), "--scheduler", address]
    _fails_in_one_line(capsys, argv, tmp_path / "out", address, "cannot reach the dask scheduler")


def test_missing_posterior(tmp_path, capsys):
    file = write_experiment(tmp_path / "e.yaml")
    missing = tmp_path / "posterior.parquet"
    argv = ["experiment", str(file), "--posterior", str(missing)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", str(missing), "--params scenario")


def test_counterfactual_of_another_country(tmp_path, posterior, capsys):
    cf = [
        {
            "name": "kz",
            "scenario": str(COUNTERFACTUALS / "kz_no_decision_253.yaml"),
            "question": "Pairs a Kazakh scenario with a Kyrgyz baseline?",
        }
    ]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", "counterfactuals.0.scenario", "country")


def test_counterfactual_that_changes_behaviour_or_nothing(tmp_path, posterior, capsys):
    behaviour = tmp_path / "behaviour_cf.yaml"
    behaviour.write_text(
        f"extends: {SCENARIOS / 'kyrgyzstan.yaml'}\ndonor_budget_scale: "
        "{value: 2, source: 'not a policy input'}\n",
        encoding="utf-8",
    )
    same = tmp_path / "same_cf.yaml"
    same.write_text(f"extends: {SCENARIOS / 'kyrgyzstan.yaml'}\nname: same\n", encoding="utf-8")
    for path, message in ((behaviour, "calibration sets"), (same, "changes nothing")):
        cf = [{"name": "x", "scenario": str(path), "question": "Is this a counterfactual?"}]
        file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
        argv = ["experiment", str(file), "--posterior", str(posterior)]
        _fails_in_one_line(capsys, argv, tmp_path / "out", message)


def test_dry_run_checks_the_posterior(tmp_path, capsys):
    file = write_experiment(tmp_path / "e.yaml")
    missing = tmp_path / "posterior.parquet"
    argv = ["experiment", str(file), "--dry-run", "--posterior", str(missing)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", str(missing), "--params scenario")


def test_dry_run_writes_nothing(tmp_path, posterior, capsys):
    file = write_experiment(tmp_path / "e.yaml")
    out = tmp_path / "out"
    argv = ["experiment", str(file), "--dry-run", "--out", str(out)]
    assert main(argv) == 0
    assert "state.shocks[Second revolution and Osh conflict] removed" in capsys.readouterr().out
    assert not out.exists()
    assert not os.path.exists(tmp_path / "runs")


# ------------------------------------------------------------------ levers and memory runs


def test_levers_act_after_the_drawn_parameters(tmp_path, posterior):
    cf = [
        {
            "name": "more-donors",
            "scenario": str(SCENARIOS / "kyrgyzstan.yaml"),
            "question": "What if donors gave half as much again?",
            "levers": {"donor_budget_scale": 1.5},
        }
    ]
    experiment = load_experiment(write_experiment(tmp_path / "e.yaml", counterfactuals=cf))
    assert experiment.changes["more-donors"] == ["levers: donor_budget_scale.value"]
    params = parameter_sets(experiment, posterior)
    chunks = build_chunks(experiment, params)
    for draw, chunk in enumerate(c for c in chunks if c.scenario == "more-donors"):
        [task] = chunk.tasks
        drawn = params[draw]["kyrgyzstan.donor_budget_scale"]
        assert task.params == {}
        assert task.scenario.donor_budget_scale.value == pytest.approx(1.5 * drawn)
    base = [c for c in chunks if c.scenario == BASELINE]
    assert {c.key for c in base}.isdisjoint(c.key for c in chunks if c.scenario != BASELINE)


def test_a_lever_out_of_range_is_one_line_naming_it(tmp_path, posterior, capsys):
    cf = [
        {
            "name": "cut",
            "scenario": str(SCENARIOS / "kyrgyzstan.yaml"),
            "question": "What if foreign funding were cut?",
            "levers": {"foreign_cut_year": 2012, "foreign_cut_depth": 1.5},
        }
    ]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", "counterfactuals.0.levers.foreign_cut_depth")


@pytest.mark.parametrize(
    "levers, field",
    [
        ({"state_grant_scale": float("nan")}, "counterfactuals.0.levers.state_grant_scale"),
        ({"state_grant_scale": 1e308}, "counterfactuals.0.levers: the scenario they give"),
    ],
)
def test_a_lever_that_is_not_finite_or_overflows_is_one_line(
    tmp_path, posterior, capsys, levers, field
):
    cf = [
        {
            "name": "more",
            "scenario": str(SCENARIOS / "kyrgyzstan.yaml"),
            "question": "What if the state gave much more?",
            "levers": levers,
        }
    ]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", field)


def test_runs_in_memory_equal_the_stored_runs(tmp_path, posterior):
    experiment = load_experiment(write_experiment(tmp_path / "tiny.yaml"))
    stats = run_experiment(experiment, tmp_path / "out", posterior=posterior)
    seen = []
    in_memory = collect_runs(experiment, posterior, on_progress=lambda *p: seen.append(p))
    pd.testing.assert_frame_equal(in_memory, load_results(tmp_path / "out", stats.chunks))
    assert seen == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]


def test_the_levers_of_a_file_are_those_of_apply_levers():
    keywords = [
        name
        for name, p in inspect.signature(apply_levers).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    assert list(Levers.model_fields) == keywords
    defaults = {n: p.default for n, p in inspect.signature(apply_levers).parameters.items()}
    assert {n: defaults[n] for n in keywords} == Levers().model_dump()
