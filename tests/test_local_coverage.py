"""Coverage near the reported figures (``experiments.local_coverage``) on made-up truths.

The study on a tiny estimator and table: ``tests/test_validation.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import local_coverage
from experiments.local_coverage import (
    distance,
    distance_quarter_coverage,
    quarters_of,
    statistic_quarters,
)
from experiments.validation import inside_intervals

# With 39 draws a rank r sits at (r + 0.5) / 40: 20 is inside both central intervals,
# 5 inside the 90% one only, 0 inside neither.
DRAWS = 39


def test_distance_is_the_root_mean_square_of_the_features():
    features = np.array([[0.0, 0.0], [3.0, 4.0], [-1.0, 1.0]])
    assert np.allclose(distance(features), [0.0, np.sqrt(12.5), 1.0])


def test_quarters_hold_equal_numbers_smallest_first_ties_in_order():
    sizes = np.array([7.0, 0.1, 3.0, 0.5, 9.0, 2.0, 4.0, 1.0])
    assert quarters_of(sizes).tolist() == [4, 1, 3, 1, 4, 2, 3, 2]
    assert np.bincount(quarters_of(np.arange(300.0)))[1:].tolist() == [75] * 4
    assert quarters_of(np.zeros(4)).tolist() == [1, 2, 3, 4]


def test_a_quarter_counts_every_quantity_of_its_truths():
    ranks = np.array([[20, 20], [20, 5], [0, 5], [0, 0]])
    # distances 0.1, 0.2, 5 and 6: four quarters of one truth each
    features = np.array([[0.1, 0.1], [0.2, 0.2], [5.0, 5.0], [6.0, 6.0]])
    table = distance_quarter_coverage("predictions", ranks, DRAWS, features)
    assert table["quarter"].tolist() == ["1", "2", "3", "4", "all"]
    assert table["truths"].tolist() == [1, 1, 1, 1, 4]
    assert table["coverage_50"].tolist() == [1.0, 0.5, 0.0, 0.0, 0.375]
    assert table["coverage_90"].tolist() == [1.0, 1.0, 0.5, 0.0, 0.625]
    assert np.allclose(table["low"], [0.1, 0.2, 5.0, 6.0, 0.1])
    assert np.allclose(table["high"], [0.1, 0.2, 5.0, 6.0, 6.0])


def test_each_statistic_is_split_by_its_own_feature_only():
    ranks = pd.DataFrame({"a": [20] * 4 + [0] * 4, "b": [0] * 4 + [20] * 4, "c": [20] * 8})
    # a's truths near its figure are the first four, b's the last four; c has no feature
    features = pd.DataFrame(
        {"a": [0.1, -0.2, 0.3, 0.0, 3, -4, 5, 6], "b": [6, 5, -4, 3, 0, 0, 0, 0]}
    )
    table = statistic_quarters(ranks, DRAWS, features).set_index(["quantity", "quarter"])
    assert set(table.index.get_level_values(0)) == {"a", "b"}
    assert table.loc["a", "coverage_50"].tolist() == [1.0, 1.0, 0.0, 0.0, 0.5]
    assert table.loc["b", "coverage_50"].tolist() == [1.0, 1.0, 0.0, 0.0, 0.5]
    assert table.loc["b", "high"].tolist() == [0.0, 0.0, 4.0, 6.0, 6.0]
    assert table.loc[("a", "1"), "within_bars"] == np.False_
    assert table.loc[("a", "all"), "within_bars"] == np.False_  # 0.5, but 0.5 at 90% too


def conjugate(width: float, truths: int = 4000, draws: int = DRAWS, seed: int = 5):
    """A normal model's truths, data, and the ranks of new runs among runs of posterior draws.

    theta ~ N(0, 1), data x = theta + N(0, 0.5), a new run theta + N(0, 0.5): the exact
    posterior is N(0.8 x, 0.2); ``width`` scales its standard deviation.
    """
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(truths)
    x = theta + 0.5 * rng.standard_normal(truths)
    post = 0.8 * x[:, None] + width * np.sqrt(0.2) * rng.standard_normal((truths, draws))
    runs = post + 0.5 * rng.standard_normal((truths, draws))
    new = theta + 0.5 * rng.standard_normal(truths)
    return theta, x, (runs < new[:, None]).sum(axis=1)


def test_an_exact_posterior_covers_in_every_quarter_and_a_wide_one_does_not():
    """Chosen by their data, truths keep the exact posterior's coverage; too wide shows."""
    for width, covers in ((1.0, True), (2.5, False)):
        _, x, ranks = conjugate(width)
        table = distance_quarter_coverage("predictions", ranks[:, None], DRAWS, x[:, None])
        # 1,000 truths a quarter: a coverage of 0.5 has a standard deviation of 0.016
        assert table["coverage_50"].between(0.45, 0.55).all() == covers, table
        own = statistic_quarters(pd.DataFrame({"x": ranks}), DRAWS, pd.DataFrame({"x": x}))
        assert own["within_bars"].all() == covers


def test_truths_chosen_by_their_parameters_need_not_cover():
    """Why the study chooses by the figures: by theta, the exact posterior misses."""
    theta, x, ranks = conjugate(1.0)
    inside = inside_intervals(ranks, DRAWS)[0.5]
    # about 290 and 175 truths: a coverage of 0.5 has a standard deviation of 0.03 and 0.04
    by_data, by_theta = np.abs(x) > 2, np.abs(theta) > 2
    assert abs(inside[by_data].mean() - 0.5) < 0.06
    assert inside[by_theta].mean() < 0.42


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--truths", "9"], "--truths: 9: from 10 to 100000"),
        (["--predictive-draws", "18"], "--predictive-draws: 18: from 19 to"),
        (["--workers", "0"], "--workers: 0: from 1 to 256"),
    ],
)
def test_bad_options_take_one_line_and_write_nothing(tmp_path, argv, message, capsys):
    out = tmp_path / "out"
    assert local_coverage.main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_an_option_that_is_not_a_number_is_one_line(capsys):
    with pytest.raises(SystemExit) as stopped:
        local_coverage.main(["--draws", "abc"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--draws" in err[0], err


def test_an_output_folder_that_is_a_file_is_refused_before_any_run(tmp_path, monkeypatch, capsys):
    def no_study(*args, **kwargs):
        raise AssertionError("the study ran")

    monkeypatch.setattr(local_coverage, "study", no_study)
    (tmp_path / "a_file").write_text("x")
    assert local_coverage.main(["--out", str(tmp_path / "a_file")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0], err


def test_the_docs_quote_the_committed_study():
    """docs/calibration.md's figures for the Kyrgyz registers are the study's CSV's."""
    repo = Path(__file__).resolve().parents[1]
    docs = " ".join((repo / "docs" / "calibration.md").read_text(encoding="utf-8").split())
    table = pd.read_csv(repo / "calibration" / "report" / "local_coverage_statistics.csv")
    coverage = table.set_index(["quantity", "quarter"])["coverage_50"]
    years = (2000, 2006, 2010, 2017, "today")
    for quarter in ("1", "4"):
        values = [f"{coverage[(f'kg_registered_{y}', quarter)]:.2f}" for y in years]
        assert f"{', '.join(values[:-1])} and {values[-1]}" in docs, quarter
    within = table[table["quarter"] != "all"].groupby("quarter")["within_bars"].sum()
    counts = [str(int(within[q])) for q in ("1", "2", "3", "4")]
    assert f"Within both bars: {', '.join(counts[:-1])} and {counts[-1]} of the 35" in docs
