"""The one definition of fit (calibration/compare.py); the command is in test_compare_command."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from calibration.compare import (
    UNDEFINED_NOTE,
    acceptable_band,
    compare,
    format_table,
    relative_error,
    statistic,
    target_error,
)
from calibration.targets import Target, load_targets, load_unfitted
from experiments.calibration_report import coverage_table, verdict_table
from experiments.heldback_trainings import spread_section
from experiments.regional_calibration import country_lines
from model import ScenarioError

BASE_TARGET = {
    "id": "t",
    "country": "kyrgyzstan",
    "column": "registered",
    "year": 2000,
    "kind": "point",
    "value": 100.0,
    "tolerance": 0.25,
    "quote": "a quoted sentence",
    "section": "test",
    "reading": "read as a test target",
}


def target(**fields) -> Target:
    return Target.model_validate(BASE_TARGET | fields)


def replicates(column: str, values_by_year: dict[int, list[float]], **others) -> pd.DataFrame:
    """Return a run table: one row per (replicate, year) with the given values."""
    rows = []
    for year, values in values_by_year.items():
        for r, value in enumerate(values):
            row = {"replicate": r, "year": year, column: value}
            row.update({name: vals[year][r] for name, vals in others.items()})
            rows.append(row)
    return pd.DataFrame(rows)


def one_value(value: float, column: str = "registered", year: int = 2000) -> pd.DataFrame:
    return replicates(column, {year: [value]})


def compared(t: Target, frame: pd.DataFrame) -> pd.Series:
    table = compare({t.country: frame}, [t])
    assert len(table) == 1
    return table.iloc[0]


# Tolerance kinds ------------------------------------------------------------------------

EDGES = [
    # kind, target fields, model value, within tolerance
    ("point", {"value": 100.0}, 100.0, True),
    ("point", {"value": 100.0}, 75.0, True),
    ("point", {"value": 100.0}, 125.0, True),
    ("point", {"value": 100.0}, 74.99, False),
    ("point", {"value": 100.0}, 125.01, False),
    ("at_least", {"value": 100.0}, 75.0, True),
    ("at_least", {"value": 100.0}, 1e9, True),
    ("at_least", {"value": 100.0}, 74.99, False),
    ("at_most", {"value": 100.0}, 125.0, True),
    ("at_most", {"value": 100.0}, 0.0, True),  # a count is never negative
    ("at_most", {"value": 100.0}, 125.01, False),
    ("range", {"value": None, "low": 10.0, "high": 20.0}, 15.0, True),
    ("range", {"value": None, "low": 10.0, "high": 20.0}, 7.5, True),
    ("range", {"value": None, "low": 10.0, "high": 20.0}, 25.0, True),
    ("range", {"value": None, "low": 10.0, "high": 20.0}, 7.49, False),
    ("range", {"value": None, "low": 10.0, "high": 20.0}, 25.01, False),
]


@pytest.mark.parametrize(("kind", "fields", "model_value", "within"), EDGES)
def test_within_tolerance_at_the_edges(kind, fields, model_value, within):
    t = target(kind=kind, **fields)
    row = compared(t, one_value(model_value))
    assert bool(row.within_tolerance) is within
    assert row.model_median == model_value
    lo, hi = acceptable_band(t)
    assert (lo <= model_value <= hi) is within


def test_zero_targets_with_zero_tolerance_admit_only_zero():
    t = target(kind="at_most", value=0.0, tolerance=0.0, column="donors_active")
    assert compared(t, one_value(0.0, "donors_active")).within_tolerance
    assert not compared(t, one_value(1.0, "donors_active")).within_tolerance


# Median and 90% interval ----------------------------------------------------------------


def test_median_and_90_percent_interval_across_replicates():
    values = list(np.random.default_rng(0).permutation(21).astype(float))  # 0..20
    row = compared(target(), replicates("registered", {2000: values}))
    assert row.replicates == 21
    assert row.model_median == 10.0
    assert row.model_q05 == pytest.approx(1.0)
    assert row.model_q95 == pytest.approx(19.0)


def test_interval_interpolates_between_replicates():
    # Sorted 1, 2, 3, 4, 100: the 5% point lies 0.2 of the way from 1 to 2, the 95% point
    # 0.8 of the way from 4 to 100.
    row = compared(target(), replicates("registered", {2000: [4.0, 100.0, 1.0, 3.0, 2.0]}))
    assert row.model_median == 3.0
    assert row.model_q05 == pytest.approx(1.2)
    assert row.model_q95 == pytest.approx(80.8)


def test_only_the_target_year_is_read():
    frame = replicates("registered", {1999: [1e6, 1e6], 2000: [90.0, 110.0], 2001: [0.0, 0.0]})
    row = compared(target(), frame)
    assert row.model_median == 100.0 and row.within_tolerance


def test_a_single_run_without_replicate_column_is_one_replicate():
    frame = pd.DataFrame({"year": [1999, 2000], "registered": [5.0, 80.0]})
    row = compared(target(), frame)
    assert row.replicates == 1 and row.model_median == 80.0


def test_stacked_runs_without_a_replicate_column_are_refused_not_read_as_one():
    # Tables of simulate() stacked as they come: the first run's 2000 would stand for all.
    frame = pd.concat([one_value(80.0).drop(columns="replicate")] * 3, ignore_index=True)
    with pytest.raises(ScenarioError, match="year: 2000 appears twice in one run.*'replicate'"):
        compare({"kyrgyzstan": frame}, [target()])
    # With the column, a year twice in a replicate is two countries' rows (a region's table).
    numbered = pd.concat([one_value(80.0)] * 2, ignore_index=True)
    with pytest.raises(ScenarioError, match="2000 appears twice in replicate 0: one country's"):
        compare({"kyrgyzstan": numbered}, [target()])


def test_a_table_without_a_year_the_target_reads_is_refused_naming_it():
    frame = replicates("registered", {1999: [5.0], 2001: [7.0]})
    refusal = r"runs\['kyrgyzstan'\]: year: no row for 2000, a year t reads"
    with pytest.raises(ScenarioError, match=refusal):
        compare({"kyrgyzstan": frame}, [target()])
    ranged = target(years=[1999, 2001], year=None, aggregate="mean")
    with pytest.raises(ScenarioError, match="no row for 2000"):
        compare({"kyrgyzstan": frame}, [ranged])


def test_a_country_that_is_no_country_is_named_and_no_target_leaves_an_empty_table():
    with pytest.raises(ValueError, match="runs: 'Kyrgyzstan' is no country"):
        compare({"Kyrgyzstan": one_value(100.0)}, [target()])
    empty = compare({"kyrgyzstan": one_value(100.0)}, [])
    assert empty.empty and "within_tolerance" in empty.columns
    assert format_table(empty) == ""


# Statistics -----------------------------------------------------------------------------


def test_ratio_statistic_divides_per_replicate_and_reads_zero_over_zero_as_zero():
    t = target(column="reporting", denominator="registered", value=0.1)
    frame = replicates(
        "reporting", {2000: [10.0, 30.0, 0.0]}, registered={2000: [100.0, 200.0, 0.0]}
    )
    np.testing.assert_allclose(statistic(frame, t).to_numpy(), [0.1, 0.15, 0.0])


def test_growth_multiple_against_the_base_year():
    t = target(column="state_grants_local", year=2016, base_year=2011, value=7.2)
    frame = replicates("state_grants_local", {2011: [100.0, 50.0, 0.0], 2016: [720.0, 100.0, 5.0]})
    stats = statistic(frame, t).to_numpy()
    np.testing.assert_allclose(stats[:2], [7.2, 2.0])
    assert np.isnan(stats[2])  # no base: undefined, not infinite
    row = compared(t, frame)
    assert row.replicates == 3
    assert row.model_median == pytest.approx(4.6)  # median of the two defined multiples


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [("mean", [2.0, 20.0]), ("sum", [6.0, 60.0]), ("min", [1.0, 10.0]), ("max", [3.0, 30.0])],
)
def test_aggregate_over_a_range_of_years(aggregate, expected):
    t = target(year=None, years=(2001, 2003), aggregate=aggregate)
    frame = replicates(
        "registered",
        {
            2000: [99.0, 99.0],
            2001: [1.0, 10.0],
            2002: [2.0, 20.0],
            2003: [3.0, 30.0],
            2004: [99.0, 99.0],
        },
    )
    np.testing.assert_allclose(statistic(frame, t).to_numpy(), expected)


# Errors in tolerance units --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "inside"),
    [
        ({"kind": "point", "value": 100.0}, [100.0]),
        ({"kind": "at_least", "value": 100.0}, [100.0, 150.0, 1e9]),
        ({"kind": "at_most", "value": 100.0}, [100.0, 50.0, -5.0]),
        ({"kind": "range", "value": None, "low": 10.0, "high": 20.0}, [10.0, 14.0, 20.0]),
    ],
    ids=["point", "at_least", "at_most", "range"],
)
def test_target_error_is_zero_inside_the_reported_band(fields, inside):
    t = target(**fields)
    for value in inside:
        assert target_error(t, value) == 0.0
        assert relative_error(t, value) == 0.0


EDGE_CASES = [
    pytest.param({"kind": "point", "value": 100.0}, id="point"),
    pytest.param({"kind": "at_least", "value": 100.0}, id="at_least"),
    pytest.param({"kind": "at_most", "value": 100.0}, id="at_most"),
    # No negative point: no output column takes a negative value, and a targets file that
    # gives one is refused (tests/test_target_files_strict.py).
    pytest.param(
        {"kind": "range", "value": None, "low": 10.0, "high": 20.0},
        id="range",
    ),
    pytest.param(
        {"kind": "at_most", "value": 0.0, "tolerance": 0.1},
        id="zero-value",
    ),
]


@pytest.mark.parametrize("fields", EDGE_CASES)
def test_target_error_is_one_at_the_tolerance_edge(fields):
    t = target(**fields)
    lo, hi = acceptable_band(t)
    for edge in (lo, hi):
        if math.isfinite(edge):
            assert target_error(t, edge) == pytest.approx(1.0)
            assert compared(t, one_value(edge)).within_tolerance


def test_target_error_grows_linearly_beyond_the_band_and_nan_is_infinitely_far():
    t = target(kind="at_least", value=100.0, tolerance=0.25)
    assert target_error(t, 50.0) == pytest.approx(2.0)
    assert target_error(t, 0.0) == pytest.approx(4.0)
    assert relative_error(t, 50.0) == pytest.approx(-0.5)
    assert target_error(t, math.nan) == math.inf
    assert relative_error(target(kind="at_most", value=100.0), 150.0) == pytest.approx(0.5)


def test_compare_reports_the_error_of_the_median():
    t = target(kind="point", value=100.0, tolerance=0.25)
    row = compared(t, replicates("registered", {2000: [150.0, 150.0, 0.0]}))
    assert row.error == pytest.approx(target_error(t, 150.0)) == pytest.approx(2.0)
    assert row.rel_error == pytest.approx(0.5)


# Coverage -------------------------------------------------------------------------------


def test_interval_covers_the_band_even_when_the_median_misses():
    values = [130.0] * 17 + [100.0] * 4  # median outside, lower 5% inside [75, 125]
    row = compared(target(), replicates("registered", {2000: values}))
    assert not row.within_tolerance
    assert row.covered


def test_share_within_counts_runs_inside_the_band():
    values = [130.0] * 17 + [100.0] * 4  # band [75, 125]
    row = compared(target(), replicates("registered", {2000: values}))
    assert row.share_within == pytest.approx(4 / 21)


def test_runs_with_an_undefined_statistic_count_as_outside():
    t = target(column="state_grants_local", year=2016, base_year=2011, value=2.0)
    frame = replicates("state_grants_local", {2011: [0.0, 1.0], 2016: [1.0, 2.0]})
    assert compared(t, frame).share_within == pytest.approx(0.5)


def test_interval_entirely_outside_is_not_covered():
    row = compared(target(), replicates("registered", {2000: [200.0, 210.0, 220.0]}))
    assert not row.within_tolerance and not row.covered


def test_undefined_statistics_neither_meet_nor_cover_the_target():
    t = target(column="state_grants_local", year=2016, base_year=2011, value=7.2)
    frame = replicates("state_grants_local", {2011: [0.0, 0.0], 2016: [1.0, 2.0]})
    row = compared(t, frame)
    assert math.isnan(row.model_median)
    assert not row.within_tolerance and not row.covered
    assert row.error == math.inf


def test_the_table_says_undefined_where_no_run_gives_a_value():
    t = target(column="state_grants_local", year=2016, base_year=2011, value=7.2)
    frame = replicates("state_grants_local", {2011: [0.0, 0.0], 2016: [1.0, 2.0]})
    text = format_table(compare({"kyrgyzstan": frame}, [t]))
    row = text.splitlines()[2].split()
    # median, "q05 - q95", relative error, then the verdict: a miss.
    assert row[-6:] == ["undefined", "undefined", "-", "undefined", "undefined", "NO?"]
    assert "nan" not in text
    assert text.splitlines()[-1] == UNDEFINED_NOTE


def test_the_report_says_undefined_where_no_run_gives_a_value():
    t = target(column="state_grants_local", year=2016, base_year=2011, value=7.2)
    frame = replicates("state_grants_local", {2011: [0.0] * 6, 2016: [1.0] * 6})
    table = compare({"kyrgyzstan": frame}, [t])
    shown = coverage_table(table).iloc[0]
    assert shown["90% predictive"] == "undefined - undefined"
    assert shown["rel. error"] == "undefined"
    lines = verdict_table(table)
    assert "| undefined |" in lines[0] and lines[-1] == UNDEFINED_NOTE


def test_a_table_of_defined_statistics_has_no_undefined_note():
    assert UNDEFINED_NOTE not in format_table(compare({"kyrgyzstan": one_value(100.0)}, [target()]))


def test_targets_of_countries_without_a_run_are_skipped():
    frame = one_value(100.0)
    table = compare({"kyrgyzstan": frame}, [target(), target(id="u", country="uzbekistan")])
    assert table.id.tolist() == ["t"]


def test_table_text_counts_targets_within_tolerance():
    frame = one_value(100.0)
    table = compare({"kyrgyzstan": frame}, [target(), target(id="far", value=1000.0)])
    text = format_table(table)
    assert text.startswith("kyrgyzstan: 1/2 targets within tolerance")
    assert "far" in text and "NO" in text and "yes" in text


def test_the_report_says_too_few_runs_where_a_median_has_no_interval():
    table = compare({"kyrgyzstan": replicates("registered", {2000: [100.0, 101.0]})}, [target()])
    assert coverage_table(table).iloc[0]["median's 90% CI"] == "too few runs"


def test_the_regional_country_check_says_undefined_with_its_note():
    check = pd.DataFrame(
        {
            "id": ["g", "t"],
            "reported": ["7.2", "100"],
            **{f"{side} model_median": [math.nan, 100.0] for side in ("region", "alone")},
            **{f"{side} rel_error": [math.nan, 0.0] for side in ("region", "alone")},
            **{f"{side} within": [False, True] for side in ("region", "alone")},
        }
    )
    text = "\n".join(country_lines(check))
    assert "| g | 7.2 | undefined | undefined |" in text and "nan" not in text
    assert UNDEFINED_NOTE in text
    assert UNDEFINED_NOTE not in "\n".join(country_lines(check.iloc[1:]))


def test_the_held_back_spread_says_undefined_where_no_training_gives_a_value():
    row = pd.DataFrame(
        {"target": ["g"], "lowest": [math.nan], "highest": [math.nan], "largest_abs": [math.nan]}
    ).assign(reported="7.2", logistic_error=0.1, seed_1=math.nan)
    assert "medians from undefined to undefined; the logistic curve +10.0%" in spread_section(
        row, 1, 10
    )


def test_a_reported_figure_is_written_with_every_digit_of_a_whole_number():
    unfitted = {t.id: t for t in load_unfitted()}
    assert unfitted["kz_state_grants_2022_icnl"].reported == ">=16716150000"
    assert unfitted["kz_state_funding_total_icnl"].reported == ">=140000000000"
    targets = {t.id: t for t in load_targets()}
    assert targets["kg_share_ecology_2011_2023"].reported == "0.144"
    assert targets["kg_share_income_foreign_today"].reported == "0.533-0.65"
    assert targets["kg_registered_2010"].reported == "18341"
