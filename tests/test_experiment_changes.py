"""What an experiment takes as a counterfactual's changes (found by the probes of session 32).

A counterfactual whose scenario changes all fall outside the years run (a shock after
the end, a series changed only after it, with or without levers beside them) is refused
with one line, as is one whose own end year the experiment would override; a change of
a source note alone is no change, and the CPI's base year, which converts every year's
dollars, counts even after the end (``experiments/changes.py``); a mistyped lever is
named with the levers there are. A value no posterior draw replaces (a fixed behaviour
parameter, the initial register) is a counterfactual, a calibrated one only with the
files' own values, and levers that restate the baseline are refused (session 39's
walk-through).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_experiment import SCENARIOS, write_experiment, write_posterior
from test_experiment_input import _fails_in_one_line

from cli.main import main
from experiments.changes import dated_experiment_changes, scenario_changes
from experiments.experiment import load_experiment
from model import ScenarioError, load_scenario


@pytest.fixture
def posterior(tmp_path) -> Path:
    return write_posterior(tmp_path / "posterior.parquet")


def _counterfactual_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cf.yaml"
    path.write_text(f"extends: {SCENARIOS / 'kyrgyzstan.yaml'}\n{text}", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "change",
    [
        # A shock after the run's last year (the tiny experiment ends in 2012).
        "state:\n  shocks:\n    - {name: late, year: 2015, instability: 0.5, source: a test}\n",
        # A series changed only after it: the restriction from 2016.
        "state:\n  foreign_funding_restriction:\n    points: {1989: 0, 2015: 0, 2016: 0.9}\n"
        "    interpolation: step\n    source: a test\n",
        # A donor's budget factor of 1, and one of 0 only before the donor arrives (1998).
        "donors:\n  - {name: UNDP, budget_factor: {points: {1991: 1}, source: a test}}\n",
        "donors:\n  - name: Global Environment Facility\n    budget_factor:\n"
        "      {points: {1991: 0, 1998: 1}, interpolation: step, source: a test}\n",
    ],
)
def test_a_counterfactual_whose_changes_all_fall_after_the_run_is_refused(
    tmp_path, posterior, capsys, change
):
    cf = [
        {
            "name": "late",
            "scenario": str(_counterfactual_file(tmp_path, change)),
            "question": "What would this change?",
        }
    ]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    where = "counterfactuals[late].scenario"
    _fails_in_one_line(capsys, argv, tmp_path / "out", where, "changes nothing in the run")


def test_a_change_after_the_run_is_refused_even_beside_a_lever(tmp_path, posterior, capsys):
    change = "state:\n  shocks:\n    - {name: late, year: 2015, instability: 0.5, source: a test}\n"
    cf = [
        {
            "name": "late",
            "scenario": str(_counterfactual_file(tmp_path, change)),
            "question": "What would this change?",
            "levers": {"donor_budget_scale": 1.5},
        }
    ]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", "changes nothing in the run")


def test_a_source_note_alone_is_no_change_and_the_cpi_base_year_is_read(tmp_path, capsys):
    note = _counterfactual_file(tmp_path, "years_source: another note of the years\n")
    cf = [{"name": "note", "scenario": str(note), "question": "What would this change?"}]
    with pytest.raises(ScenarioError, match="changes nothing in the baseline"):
        load_experiment(write_experiment(tmp_path / "e.yaml", counterfactuals=cf))
    # The CPI of 2023, the base year, converts every year's dollars in a run to 2012.
    base = yaml.safe_load((SCENARIOS / "base.yaml").read_text(encoding="utf-8"))["usd_cpi"]
    base["points"][2023] = base["points"][2023] * 1.1
    cpi = tmp_path / "cpi.yaml"
    cpi.write_text(
        f"extends: {SCENARIOS / 'kyrgyzstan.yaml'}\n" + yaml.safe_dump({"usd_cpi": base}),
        encoding="utf-8",
    )
    cf = [{"name": "cpi", "scenario": str(cpi), "question": "What would this change?"}]
    experiment = load_experiment(write_experiment(tmp_path / "e2.yaml", counterfactuals=cf))
    assert experiment.changes["cpi"] == ["usd_cpi"]


def test_a_counterfactual_change_within_the_run_is_taken(tmp_path):
    change = (
        "state:\n  shocks:\n    - {name: early, year: 2011, instability: 0.5, source: a test}\n"
    )
    cf = [
        {
            "name": "early",
            "scenario": str(_counterfactual_file(tmp_path, change)),
            "question": "What would this change?",
        }
    ]
    experiment = load_experiment(write_experiment(tmp_path / "e.yaml", counterfactuals=cf))
    assert experiment.changes["early"] == ["state.shocks[early] added"]


def test_a_counterfactual_ending_elsewhere_than_the_run_is_refused(tmp_path, posterior, capsys):
    # The experiment runs to 2012; the counterfactual's own end year would be overridden.
    path = _counterfactual_file(tmp_path, "end_year: 2005\n")
    cf = [{"name": "short", "scenario": str(path), "question": "What would this change?"}]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", "sets end_year 2005", "runs to 2012")


def test_an_inherited_end_year_is_replaced_by_the_runs_own(tmp_path):
    # The baseline file ends in 2015 itself; the counterfactual inherits 2023 from the
    # file it extends, and the experiment runs to 2015: nothing set is overridden.
    baseline = tmp_path / "base.yaml"
    baseline.write_text(f"extends: {SCENARIOS / 'kyrgyzstan.yaml'}\nend_year: 2015\n")
    shock = "{name: early, year: 2011, instability: 0.5, source: a test}"
    scenario = _counterfactual_file(tmp_path, f"state:\n  shocks:\n    - {shock}\n")
    cf = [{"name": "early", "scenario": str(scenario), "question": "What would this change?"}]
    file = write_experiment(
        tmp_path / "e.yaml", baseline=str(baseline), counterfactuals=cf, end_year=2015
    )
    assert load_experiment(file).scenarios["early"].end_year == 2015


def test_a_mistyped_lever_is_named_with_the_levers_there_are(tmp_path, posterior, capsys):
    cf = [
        {
            "name": "typo",
            "scenario": str(SCENARIOS / "kyrgyzstan.yaml"),
            "question": "What would this change?",
            "levers": {"foreign_cut_yr": 2012},
        }
    ]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    expected = ("levers.foreign_cut_yr: unknown lever", "foreign_cut_year, foreign_cut_depth")
    _fails_in_one_line(capsys, argv, tmp_path / "out", *expected)


def test_a_donor_added_is_said_to_re_divide_every_donors_share(write_yaml, scenario_file):
    # The new donor's weight joins the divisor of every donor's money, in every year.
    text = (
        f"extends: {scenario_file('kyrgyzstan')}\ndonors:\n  - name: New\n    entry_year: 2012\n"
        "    weight: {value: 1, source: a test}\n"
        "    mean_grant_usd: {value: 9000, source: a test}\n"
        "    priorities: {weights: {youth: 1}, source: a test}\n    source: a test\n"
    )
    base = load_scenario(scenario_file("kyrgyzstan"))
    added = load_scenario(write_yaml("added.yaml", text))
    total = sum(d.weight.value for d in base.donors)
    assert scenario_changes(base, added) == [
        "donors[New] added",
        f"every donor's share of the country's money (weights {total:g} -> {total + 1:g})",
    ]


def _behaviour_with(tmp_path: Path, name: str, value: float) -> Path:
    data = yaml.safe_load((SCENARIOS / "behaviour.yaml").read_text(encoding="utf-8"))
    data["parameters"][name]["value"] = value
    behaviour = tmp_path / f"behaviour_{name}.yaml"
    behaviour.write_text(yaml.safe_dump(data), encoding="utf-8")
    return _counterfactual_file(tmp_path, f"behaviour: {behaviour}\n")


@pytest.mark.parametrize(
    ("make", "change"),
    [
        # Fixed at a documented value, not calibrated: no draw replaces it.
        (lambda p: _behaviour_with(p, "donor_restriction_cut", 0.9), "donor_restriction_cut"),
        (
            lambda p: _counterfactual_file(p, "initial_registered: {value: 500, source: a test}\n"),
            "initial_registered",
        ),
    ],
)
def test_a_value_no_draw_replaces_is_a_counterfactual(tmp_path, make, change):
    # Both were refused as "which calibration sets", though the runs would use them.
    cf = [{"name": "x", "scenario": str(make(tmp_path)), "question": "What would this change?"}]
    experiment = load_experiment(write_experiment(tmp_path / "e.yaml", counterfactuals=cf))
    assert [c.split(".")[-2] for c in experiment.changes["x"]] == [change]


def test_a_calibrated_value_is_refused_with_the_draws_and_taken_without(tmp_path):
    cf = [
        {
            "name": "x",
            "scenario": str(_behaviour_with(tmp_path, "legitimation", 0.9)),
            "question": "What would this change?",
        }
    ]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    with pytest.raises(ScenarioError, match="legitimation, which the posterior's draws replace"):
        load_experiment(file)
    experiment = load_experiment(file, params="scenario")
    assert experiment.changes["x"] == ["behaviour.legitimation.value"]


@pytest.mark.parametrize(
    "levers",
    [
        {"state_funding_start": 2016},  # the baseline's own first year of state grants
        {"foreign_cut_year": 2016, "foreign_cut_depth": 0.1},  # its own restriction then
    ],
)
def test_levers_that_restate_the_baseline_are_refused(tmp_path, posterior, capsys, levers):
    # They ran as a change whose every difference was exactly 0.
    cf = [
        {
            "name": "same",
            "scenario": str(SCENARIOS / "kyrgyzstan.yaml"),
            "question": "What would this change?",
            "levers": levers,
        }
    ]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf, end_year=2023)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(
        capsys, argv, tmp_path / "out", "counterfactuals[same].levers: change nothing in the run"
    )


def test_a_series_change_is_printed_with_its_first_year_of_a_different_value(tmp_path, capsys):
    # A step interpolation given with two points re-joins the inherited points too: the
    # burden differs from 1992, long before the 2020 law the file meant (session 39).
    law = (
        "state:\n  registration_burden:\n    points: {2019: 0.3, 2020: 0.5}\n"
        "    interpolation: step\n    source: a test\n"
    )
    cf = [
        {
            "name": "law",
            "scenario": str(_counterfactual_file(tmp_path, law)),
            "question": "What would a 2020 law do?",
        }
    ]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf, end_year=2023)
    assert main(["experiment", str(file), "--dry-run"]) == 0
    assert "  law: state.registration_burden (from 1992)" in capsys.readouterr().out
    experiment = load_experiment(file)
    assert experiment.changes["law"] == ["state.registration_burden"]  # as the manifest has it
    # Restating every earlier year's value keeps them: the change starts in 2020.
    burden = load_scenario(SCENARIOS / "kyrgyzstan.yaml").state.registration_burden
    points = {year: burden.at(year) for year in range(1991, 2020)} | {2020: 0.5}
    series = {"points": points, "interpolation": "step", "source": "a test"}
    kept = yaml.safe_dump({"state": {"registration_burden": series}})
    cf[0]["scenario"] = str(_counterfactual_file(tmp_path, kept))
    experiment = load_experiment(
        write_experiment(tmp_path / "e.yaml", counterfactuals=cf, end_year=2023)
    )
    assert dated_experiment_changes(experiment, "law") == ["state.registration_burden (from 2020)"]


def test_what_the_draws_replace_is_read_from_the_posterior_the_runs_take(tmp_path, posterior):
    # It was read from calibration/priors.yaml whatever --posterior said (session 39 review).
    cf = [
        {
            "name": "x",
            "scenario": str(_behaviour_with(tmp_path, "legitimation", 0.9)),
            "question": "What would this change?",
        }
    ]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    # The small posterior holds no legitimation: the file's value runs.
    experiment = load_experiment(file, posterior=posterior)
    assert experiment.changes["x"] == ["behaviour.legitimation.value"]
    wider = tmp_path / "wider.parquet"
    pd.read_parquet(posterior).assign(legitimation=0.3).to_parquet(wider)
    with pytest.raises(ScenarioError, match="legitimation, which the posterior's draws replace"):
        load_experiment(file, posterior=wider)


@pytest.mark.parametrize("field", ["baseline", "counterfactual"])
def test_a_scenario_field_naming_another_kind_of_file_is_named(tmp_path, capsys, field):
    # It named the other file's first key ("baseline: an experiment file"), not the field
    # of this file that pointed at it.
    other = str(Path(__file__).parents[1] / "experiments" / "kyrgyzstan_2035.yaml")
    if field == "baseline":
        file = write_experiment(tmp_path / "e.yaml", baseline=other)
        where = "e.yaml: baseline: "
    else:
        cf = [{"name": "other", "scenario": other, "question": "Which kind of file is this?"}]
        file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
        where = "e.yaml: counterfactuals[other].scenario: "
    argv = ["experiment", str(file), "--dry-run"]
    _fails_in_one_line(capsys, argv, tmp_path / "out", where, "an experiment file, not a country's")


def test_a_counterfactual_that_extends_a_regional_file_is_named_by_the_field(tmp_path, capsys):
    # It was named by the regional file's own extends: (".../ca_no_closures_after_2010.yaml:
    # extends: central_asia.yaml: a regional scenario file"), a file the user did not write.
    regional = SCENARIOS / "counterfactuals" / "regional" / "ca_no_closures_after_2010.yaml"
    cf = [{"name": "ca", "scenario": str(regional), "question": "Which kind of file is this?"}]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    expected = (
        f"e.yaml: counterfactuals[ca].scenario: {regional}: extends central_asia.yaml: a "
        "regional scenario file, not a country's scenario"
    )
    _fails_in_one_line(capsys, ["experiment", str(file), "--dry-run"], tmp_path / "out", expected)


def test_an_end_year_past_a_scenarios_last_is_refused_with_the_scenarios_bound(tmp_path, capsys):
    # 2300 was refused as past 2200 (a year's bound), then 2200 as past 2100 (a scenario's).
    for year in (2150, 2300):
        file = write_experiment(tmp_path / "e.yaml", end_year=year)
        argv = ["experiment", str(file), "--dry-run"]
        expected = "e.yaml: end_year: Input should be less than or equal to 2100"
        _fails_in_one_line(capsys, argv, tmp_path / "out", expected)
