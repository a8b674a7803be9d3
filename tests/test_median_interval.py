"""The median's confidence interval (calibration/median_interval.py) and the verdicts it
leaves open in the comparison (calibration/compare.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom
from test_compare import compared, replicates, target

from calibration.compare import UNSETTLED, UNSETTLED_NOTE, compare, format_table
from calibration.median_interval import median_interval
from experiments.calibration_report import coverage_table, verdict_table
from experiments.markdown import markdown_table


def test_twenty_runs_give_the_sixth_to_the_fifteenth_smallest():
    # P(B <= 5) = 0.021 <= 0.05 < P(B <= 6) = 0.058 for B ~ Binomial(20, 1/2).
    values = np.arange(20.0, 0.0, -1.0)  # unsorted on purpose
    assert median_interval(values) == (6.0, 15.0)


def test_too_few_runs_give_no_interval_and_five_give_the_extremes():
    assert all(math.isnan(v) for v in median_interval(np.array([1.0, 2.0, 3.0, 4.0])))
    assert median_interval(np.array([5.0, 1.0, 3.0, 2.0, 4.0])) == (1.0, 5.0)


def test_undefined_runs_are_left_out():
    values = np.array([np.nan, np.inf, *range(1, 21)], dtype=float)
    assert median_interval(values) == (6.0, 15.0)


def test_the_interval_covers_the_true_median_as_often_as_the_binomial_says():
    rng = np.random.default_rng(20261203)
    samples = rng.standard_normal((4000, 20))  # true median 0
    covered = np.mean([lo <= 0.0 <= hi for lo, hi in map(median_interval, samples)])
    exact = 1 - 2 * binom.cdf(5, 20, 0.5)  # 0.9586
    # 4,000 repetitions: a standard error of about 0.003.
    assert covered == pytest.approx(exact, abs=0.012)


def test_a_miss_whose_interval_reaches_the_band_is_not_settled():
    # Band [75, 125]; the median 130 misses, but the interval (6th-15th of 20) reaches 121.
    values = [110.0, 115.0, 118.0, 119.0, 120.0] + [121.0] + [130.0] * 8 + [135.0] * 6
    row = compared(target(), replicates("registered", {2000: values}))
    assert not row.within_tolerance
    assert row.median_low == 121.0 and row.median_high == 135.0
    assert not row.settled


def test_a_miss_far_outside_is_settled_and_a_sure_hit_too():
    far = compared(target(), replicates("registered", {2000: [200.0 + i for i in range(20)]}))
    near = compared(target(), replicates("registered", {2000: [95.0 + i / 2 for i in range(20)]}))
    assert far.settled and not far.within_tolerance
    assert near.settled and near.within_tolerance


def unsure_and_far() -> pd.DataFrame:
    """Return a comparison of two misses: ``t`` not settled by its runs, ``far`` settled."""
    unsure = [110.0, 115.0, 118.0, 119.0, 120.0, 121.0] + [130.0] * 8 + [135.0] * 6
    sure = [200.0 + i for i in range(20)]
    frame = replicates("registered", {2000: unsure}, population={2000: sure})
    return compare(
        {"kyrgyzstan": frame.rename(columns={"population": "operational"})},
        [target(), target(id="far", column="operational")],
    )


def test_the_table_marks_unsettled_verdicts_and_says_why():
    table = unsure_and_far()
    text = format_table(table)
    lines = {line.split()[0]: line.split()[-1] for line in text.splitlines()[2:4]}
    assert lines == {"t": "NO" + UNSETTLED, "far": "NO"}
    assert "confidence interval" in text.splitlines()[-1]


def test_a_table_with_every_verdict_settled_has_no_note():
    frame = replicates("registered", {2000: [200.0 + i for i in range(20)]})
    text = format_table(compare({"kyrgyzstan": frame}, [target()]))
    assert UNSETTLED not in text


def test_too_few_runs_leave_every_verdict_unsettled_and_the_note_says_so():
    frame = replicates("registered", {2000: [100.0, 101.0]})
    table = compare({"kyrgyzstan": frame}, [target()])
    assert not table.settled.iloc[0] and math.isnan(table.median_low.iloc[0])
    text = format_table(table)
    assert "yes" + UNSETTLED in text and "too few runs (under 5)" in text


def test_the_report_table_shows_the_median_interval_and_the_same_marks():
    table = unsure_and_far()
    shown = coverage_table(table)
    assert shown["within tol."].tolist() == ["NO" + UNSETTLED, "NO"]
    assert shown["median's 90% CI"].tolist() == ["121 - 135", "205 - 214"]
    assert verdict_table(table)[-1] == UNSETTLED_NOTE
    assert verdict_table(table.iloc[1:]) == [markdown_table(coverage_table(table.iloc[1:]))]
