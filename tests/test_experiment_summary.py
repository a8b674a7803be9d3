"""The summary of an experiment (``experiments/paired.py``): its paired differences.

Differences on common random numbers narrower than with independent seeds, each run's
relative difference over its own baseline run, and the printed summary's digits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_experiment import write_experiment, write_posterior

from experiments.experiment import (
    BASELINE,
    format_summary,
    load_experiment,
    run_experiment,
    summary_table,
)
from experiments.paired import UNSEEN, format_difference, quantiles, relative_quantiles
from experiments.storage import load_results


@pytest.fixture
def posterior(tmp_path):
    return write_posterior(tmp_path / "posterior.parquet")


def test_a_difference_below_the_shown_digits_of_its_level_reads_signed_zero(tmp_path):
    # A share of 0.646 is shown to three decimals: a median difference of -5e-7 (float
    # rounding between paired runs, or a negligible effect) reads -0, its sign kept, an
    # exact zero 0, a difference of -0.358 as it is.
    experiment = load_experiment(write_experiment(tmp_path / "tiny.yaml"))
    row = {
        "counterfactual": "no-2010-shock",
        "output": "share_income_foreign",
        "unit": "share (0-1)",
        "year": 2017,
    }
    levels = {"baseline_median": 0.646, "counterfactual_median": 0.601}
    diffs = {"diff_median": -5.41e-07, "diff_q05": -0.358, "diff_q95": 0.0}
    widths = {"crn_width_ratio": 0.98}
    text = format_summary(pd.DataFrame([row | levels | diffs | widths]), experiment)
    assert " -0 [-0.358, 0]" in text and "e-07" not in text
    counts = {"baseline_median": 20_000.0, "counterfactual_median": 20_120.0}
    count_diffs = {"diff_median": 120.0, "diff_q05": -3.0, "diff_q95": 300.0}
    text = format_summary(pd.DataFrame([row | counts | count_diffs | widths]), experiment)
    assert "+120 [-3, +300]" in text
    # one unit for the three numbers: "-1.58M [-2.62M, -986,058]" read as two scales
    money = {"baseline_median": 5e7, "counterfactual_median": 4.84e7}
    money_diffs = {"diff_median": -1.58e6, "diff_q05": -2.62e6, "diff_q95": -986_058.0}
    text = format_summary(pd.DataFrame([row | money | money_diffs | widths]), experiment)
    assert "-1.58M [-2.62M, -0.99M]" in text
    # in millions, a bound too small to show reads -0, as above, not "-0.00M"
    money_diffs = {"diff_median": 1e5, "diff_q05": -2_000.0, "diff_q95": 1.2e6}
    text = format_summary(pd.DataFrame([row | money | money_diffs | widths]), experiment)
    assert "+0.10M [-0, +1.20M]" in text


def test_a_counterfactual_no_output_sees_is_said_to_be_unseen_not_an_effect_of_zero(tmp_path):
    experiment = load_experiment(write_experiment(tmp_path / "tiny.yaml"))
    row = {"counterfactual": "no-2010-shock", "output": "registered", "unit": "NGOs"}
    levels = {"baseline_median": 20_000.0, "counterfactual_median": 20_000.0}
    widths = {"crn_width_ratio": 0.0}
    zero = {"diff_median": 0.0, "diff_q05": 0.0, "diff_q95": 0.0}
    rows = [row | {"year": year} | levels | zero | widths for year in (2003, 2023)]
    assert UNSEEN in format_summary(pd.DataFrame(rows), experiment)
    # One run that differs (an interval that is not [0, 0]) is something an output saw.
    rows[1] = rows[1] | {"diff_q95": 1.0}
    assert UNSEEN not in format_summary(pd.DataFrame(rows), experiment)


def test_crn_narrows_the_paired_intervals(tmp_path, posterior):
    file = write_experiment(tmp_path / "tiny.yaml", replicates=3, draws=2, chunk_draws=2)
    experiment = load_experiment(file)
    stats = run_experiment(experiment, tmp_path / "out", posterior=posterior)
    table = summary_table(load_results(tmp_path / "out", stats.chunks), experiment)
    registered = table[table.output == "registered"]
    assert (registered.independent_q95 > registered.independent_q05).all()
    assert (registered.crn_width_ratio < 1).all()


def test_relative_differences_are_each_runs_over_its_own_baseline_run(tmp_path, posterior):
    file = write_experiment(tmp_path / "tiny.yaml", replicates=3, draws=2, chunk_draws=2)
    experiment = load_experiment(file)
    stats = run_experiment(experiment, tmp_path / "out", posterior=posterior)
    results = load_results(tmp_path / "out", stats.chunks)
    table = summary_table(results, experiment).set_index(["output", "year"])
    index = ["draw", "replicate", "year"]
    base = results[results.scenario == BASELINE].set_index(index)
    other = results[results.scenario == "no-2010-shock"].set_index(index)
    for output, year in table.index:
        relative = (other[output] / base[output] - 1).xs(year, level="year")
        expected = np.quantile(relative, [0.05, 0.5, 0.95])
        cells = table.loc[(output, year), ["rel_diff_q05", "rel_diff_median", "rel_diff_q95"]]
        np.testing.assert_allclose(cells.to_numpy(float), expected, rtol=1e-12)
    # Every cell defined: no baseline run of these outputs is 0.
    assert table[["rel_diff_q05", "rel_diff_median", "rel_diff_q95"]].notna().all().all()


def test_relative_differences_pair_each_run_with_its_own_baseline_run():
    runs = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]
    index = pd.MultiIndex.from_tuples(runs, names=["draw", "replicate"])
    diffs = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0], index=index)
    levels = pd.Series([10.0, 5.0, 4.0, 100.0, 2.5], index=index)
    expected = np.quantile([0.1, 0.4, 0.75, 0.04, 2.0], [0.05, 0.5, 0.95])
    # The baseline's runs in another order: paired by draw and replicate, not by position.
    got = relative_quantiles(diffs, levels.iloc[::-1])
    np.testing.assert_allclose(got, expected, rtol=1e-15)


def test_a_baseline_run_of_zero_is_no_change_if_its_pair_is_zero_too_else_undefined():
    index = pd.MultiIndex.from_tuples([(0, 0), (0, 1), (1, 0)], names=["draw", "replicate"])
    levels = pd.Series([10.0, 0.0, 4.0], index=index)
    unchanged = pd.Series([5.0, 0.0, 1.0], index=index)
    np.testing.assert_allclose(
        relative_quantiles(unchanged, levels), np.quantile([0.5, 0.0, 0.25], [0.05, 0.5, 0.95])
    )
    changed = pd.Series([5.0, 1.0, 1.0], index=index)
    assert np.isnan(relative_quantiles(changed, levels)).all()


def test_an_interpolated_quantile_of_zero_is_zero_not_a_rounding_error():
    # -9 and +1 at 0.9 interpolate to 0, which numpy gives as 2.2e-16: shown as +0, the
    # mark of a difference that is not zero.
    assert np.quantile([-9.0, 1.0], 0.9) != 0
    q = quantiles(np.array([-9.0, 1.0]), [0.1, 0.5, 0.9])
    assert q.tolist() == [-8.0, -4.0, 0.0]
    assert format_difference(tuple(q[[1, 0, 2]]), 20.0) == "-4 [-8, 0]"
    # A quantile that is small beside the values but real is kept.
    assert quantiles(np.array([-1.0, 1e-9]), [1.0]).tolist() == [1e-9]
    assert np.isnan(quantiles(np.array([]), [0.5])).all()
