"""The screen of the scenarios' assumed numbers (``experiments.input_screen``).

What it screens (the numbers whose source is an assumption, no calibrated value and no
data), how it moves each, that its effects are the moves' alone (common random numbers,
the same table whatever the workers), its committed report, and its bad options.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from calibration.compare import signed_target_error, target_error, tolerance_scales
from calibration.targets import load_targets
from experiments.assumed_inputs import entry_at, move_description, perturbed
from experiments.input_screen import (
    _effects,
    countries_of,
    main,
    move_problems,
    report_text,
    screen_inputs,
    screened_inputs,
    summary,
)

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "calibration" / "report"


@pytest.fixture(scope="module")
def inputs():
    return {(item.file, item.label): item for item in screened_inputs()}


def test_the_screen_takes_the_assumed_numbers_and_leaves_data_and_calibrated_values(inputs):
    kg, kz = "scenarios/kyrgyzstan.yaml", "scenarios/kazakhstan.yaml"
    behaviour = "scenarios/behaviour.yaml"
    for key in [
        (kg, "donors[UNDP].weight"),
        (kg, "donors[Eurasia Foundation]"),  # its entry year is assumed
        (kg, "state.shocks[Second revolution and Osh conflict]"),
        (kz, "state.grant_budget_local"),  # "the levels ... are assumptions"
        (behaviour, "behaviour.one_day_exit"),
        ("scenarios/base.yaml", "initial_registered"),
    ]:
        assert key in inputs, key
    labels = {label for _, label in inputs}
    # Data (a statistics office's series, a dated law) and calibrated values stay out.
    for label in [
        "population_millions",
        "state.reporting_enforcement",
        "behaviour.civic_rate",
        "donor_budget_scale",
        "donors[Global Environment Facility].mean_grant_usd",
        "donors[USAID-type bilateral].mean_grant_usd",
    ]:
        assert label not in labels, label
    assert countries_of(inputs[behaviour, "behaviour.one_day_exit"]) == (
        "kazakhstan",
        "kyrgyzstan",
        "uzbekistan",
    )
    assert countries_of(inputs[kg, "donors[UNDP].weight"]) == ("kyrgyzstan",)


def test_each_kind_of_number_moves_by_its_rule():
    data = {
        "series": {"points": {2000: 2.0, 2010: 4.0}, "source": "assumption"},
        "mix": {"weights": {"a": 4.0, "b": 1.0}, "source": "assumption"},
        "donors": [
            {
                "name": "D",
                "entry_year": 1993,
                "exit_year": None,
                "weight": {"value": 2.0, "source": "data"},
                "source": "entry year assumed",
            }
        ],
        "shock": {"year": 2010, "duration_years": 1, "instability": 0.4, "source": "assumed"},
    }
    low = perturbed(data, ("series",), "low")
    assert low["series"]["points"] == {2000: 1.5, 2010: 3.0}
    assert perturbed(data, ("mix",), "high")["mix"]["weights"] == {"a": 8.0, "b": 1.0}
    donor = entry_at(perturbed(data, ("donors", "[D]"), "low"), ("donors", "[D]"))
    # The entry year moves; the donor's sourced weight is an entry of its own and stays.
    assert donor["entry_year"] == 1991 and donor["weight"]["value"] == 2.0
    shock = perturbed(data, ("shock",), "low")["shock"]
    # An event's year is its date; a duration never falls below one year.
    assert (shock["year"], shock["duration_years"]) == (2010, 1)
    assert shock["instability"] == pytest.approx(0.3)
    assert move_description(data["shock"], "low") == "instability x0.75"
    assert data["series"]["points"] == {2000: 2.0, 2010: 4.0}  # the input is not changed
    assert perturbed({"x": {"value": 0.0, "source": "assumption"}}, ("x",), "high") is None


def test_a_move_that_changes_no_number_is_reported_not_run(inputs):
    item = inputs["scenarios/base.yaml", "initial_registered"]
    problems = move_problems([item])
    assert set(problems.values()) == {"unchanged: the move changes no number"}


def _target(target_id: str):
    (target,) = [t for t in load_targets() if t.id == target_id]
    return target


def test_the_effect_of_a_move_is_the_change_of_the_signed_error():
    point = _target("kg_registered_2000")
    unit = target_error(point, point.value * 1.1)  # one side's tolerance units per 10%
    assert _effects(point, [point.value] * 3, [point.value * 1.1] * 3) == {
        "effect": pytest.approx(unit),
        "se": 0.0,
        "relative": pytest.approx(0.1),
        "draws": 3,
        "undefined": 0,
    }
    floor = _target("kg_funded_share_floor_1991_2000")  # at least 0.1, 20%: a unit is 0.02
    # A bound met before and after the move: the fit does not change; one crossed: it does.
    assert _effects(floor, [0.4, 0.5], [0.3, 0.6])["effect"] == 0.0
    assert _effects(floor, [0.12, 0.12], [0.08, 0.08])["effect"] == pytest.approx(-1.0)
    # A draw whose move leaves a statistic undefined is counted, not averaged.
    lost = _effects(point, [1.0, 1.0, 1.0], [math.nan, 1.0, 1.0])
    assert (lost["draws"], lost["undefined"], lost["effect"]) == (2, 1, 0.0)


def test_signed_target_error_is_the_error_with_its_side_and_the_sides_unit():
    point = _target("kg_registered_2000")
    for value in (point.value * 0.8, point.value, point.value * 1.3):
        assert abs(signed_target_error(point, value)) == target_error(point, value)
    low, high = point.value * 0.8, point.value * 1.3
    assert signed_target_error(point, low) < 0 < signed_target_error(point, high)
    assert math.isnan(signed_target_error(point, math.nan))
    band = _target("kg_share_income_foreign_today")  # a range with unequal units
    below, above = tolerance_scales(band)
    assert below != pytest.approx(above)
    assert signed_target_error(band, band.low - below) == pytest.approx(-1.0)
    assert signed_target_error(band, band.high + above) == pytest.approx(1.0)
    assert signed_target_error(band, (band.low + band.high) / 2) == 0.0
    ceiling = _target("kg_state_to_foreign_income_today")  # at most 0.34, 15%
    assert signed_target_error(ceiling, 0.0) == 0.0
    assert signed_target_error(ceiling, ceiling.value * 1.15) == pytest.approx(1.0)


def test_the_summary_flags_an_input_by_any_target_and_says_why_a_side_did_not_run():
    run = {"status": "run", "file": "f", "side": "low", "move": "m", "draws": 3}
    table = pd.DataFrame(
        [
            # A: its largest effect is noise; a smaller one is clear, so it moves a figure.
            {**run, "input": "A", "target": "t1", "effect": 1.5, "se": 1.0, "relative": 0.1},
            {**run, "input": "A", "target": "t2", "effect": 1.2, "se": 0.1, "relative": 0.1},
            # B: one side ran (a small effect), the other could not.
            {**run, "input": "B", "target": "t1", "effect": 0.2, "se": 0.01, "relative": 0.01},
            {"input": "B", "file": "f", "side": "high", "status": "invalid: too large"},
            # C: every draw's moved run was undefined (a register that ran away).
            {**run, "input": "C", "target": "t1", "effect": math.nan, "se": math.nan},
            # D: no number changes; E: statistics change by rounding only.
            {"input": "D", "file": "f", "side": "low", "status": "unchanged: no number"},
            {"input": "D", "file": "f", "side": "high", "status": "unchanged: no number"},
            {**run, "input": "E", "target": "t1", "effect": 0.0, "se": 0.0, "relative": 1e-17},
        ]
    )
    table["undefined"] = [0, 0, 0, math.nan, 3, math.nan, math.nan, 0]
    top = summary(table).set_index("input")
    assert list(top.index) == ["A", "B", "E", "C", "D"]
    assert top.loc["A", "effect"] == 1.5 and top.loc["A", "moves a figure"]
    assert not top.loc["B", "moves a figure"]
    assert top.loc["B", "status"] == "high: invalid: too large"
    assert top.loc["C", "moves a figure"] and top.loc["C", "undefined"] == 3
    assert top.loc["D", "status"] == "unchanged: no number"
    assert not top.loc["E", "changes a statistic"] and top.loc["A", "changes a statistic"]
    assert top.loc["E", "status"] == "no statistic changes beyond rounding"
    counts = "3 of the 5 inputs change a statistic when moved, and 2 move a figure"
    assert counts in report_text(table, 3)


def test_the_screen_is_the_same_whatever_the_workers_and_moves_only_its_countries(inputs):
    item = inputs["scenarios/kyrgyzstan.yaml", "donors[Eurasia Foundation].mean_grant_usd"]
    one = screen_inputs(2, 1, seed=5, inputs=[item])
    two = screen_inputs(2, 2, seed=5, inputs=[item])
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert set(one.target.str[:3]) == {"kg_"} and set(one.side) == {"low", "high"}
    assert one.effect.notna().all() and (one.draws == 2).all()
    assert (one.effect.abs() > 0).any()


@pytest.mark.parametrize("name", ["input_screen", "input_screen_holdout"])
def test_the_committed_report_is_the_code_reading_of_the_committed_table(name):
    table = pd.read_csv(REPORT / f"{name}.csv")
    draws = int(table.draws.max())
    held_back = name.endswith("holdout")
    assert (REPORT / f"{name}.md").read_text() == report_text(table, draws, held_back) + "\n"
    listed = {(f, label) for f, label in zip(table.file, table.input, strict=True)}
    rerun = "the scenarios' assumed numbers changed: rerun python -m experiments.input_screen"
    assert listed == {(item.file, item.label) for item in screened_inputs()}, rerun


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--draws", "1"], "--draws: 1: at least 2"),
        (["--workers", "0"], "--workers: 0: at least 1"),
        (["--out", "no/such/folder"], "not found: the screen writes into a folder"),
    ],
)
def test_bad_options_are_refused_in_one_line_before_any_run(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err


def test_the_summary_has_one_row_per_entry_and_the_docs_give_its_figures():
    table = pd.read_csv(REPORT / "input_screen.csv")
    top = summary(table)
    assert not top.duplicated(["file", "input"]).any()
    assert len(top) == table.drop_duplicates(["file", "input"]).shape[0]
    moving = top[top["moves a figure"].eq(True)]
    ran = top[top["changes a statistic"].eq(True)]
    docs = (REPO / "docs" / "calibration.md").read_text()
    section = docs[docs.index("## What the calibration holds fixed") :]
    section = section[: section.index("\n## ")]
    assert f"{len(moving)} of the {len(top)} entries move a figure" in section
    assert f"{(ran.effect.abs() < 0.5).sum()} of the {len(ran)} that change a statistic" in section
    for row in moving.itertuples():
        assert f"| {row.effect:+.2f} (" in section, row.input
    readme = " ".join((REPO / "README.md").read_text().split())
    moved = f"of the {len(top)} scenario numbers that rest on an assumption"
    draws = int(table.draws.max())
    assert f"{moved}, each moved in turn at {draws} posterior draws" in readme
    assert f"and sharper), {len(moving)} move a fitted figure by more than its tolerance" in readme


def test_the_docs_give_the_held_back_screens_largest_effect_on_the_kyrgyz_forecasts():
    table = pd.read_csv(REPORT / "input_screen_holdout.csv")
    forecasts = table[table.target.isin(["kg_registered_2017", "kg_registered_today"])]
    top = forecasts.loc[forecasts.effect.abs().idxmax()]
    docs = " ".join((REPO / "docs" / "calibration.md").read_text().split())
    assert f"by more than {abs(top.effect):.2f} tolerance units" in docs
    assert f"2017 {top.relative:+.1%}" in docs and top.target == "kg_registered_2017"
    readme = " ".join((REPO / "README.md").read_text().split())
    most = forecasts.loc[forecasts.relative.abs().idxmax()]
    assert (most.file, most.input) == ("scenarios/kyrgyzstan.yaml", "state.registration_burden")
    stated = f"by {abs(most.relative):.1%} on average over the draws (x{most.move[-4:]}, "
    assert stated + ("today;" if most.target == "kg_registered_today" else "2017;") in readme
