"""The validation's checks on made-up ranks, draws and runs.

Coverage from ranks, highest-density levels, ridges, shuffled draws, ties, the predictive
check on made-up runs (its reference, the prior, and a posterior too wide), the spread of
the held-back trainings and stability.

``tests/test_validation.py`` runs ``ngo-abm validate`` itself on a tiny estimator; these
need none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration.priors import sampled_name
from calibration.targets import load_targets
from experiments import truth_draws, validation
from experiments.heldback_trainings import spread_section, spread_table
from experiments.truth_draws import PriorSampler, marginal_draws, predictive_ranks, region_levels
from experiments.validation import BARS, coverage, density_coverage
from experiments.validation_report import chance_outside, ridges


def test_coverage_of_uniform_ranks_is_the_level_and_of_biased_ranks_is_not():
    draws = 99
    uniform = pd.DataFrame({"a": np.arange(100).repeat(10)})  # every rank 0-99, equally often
    biased = pd.DataFrame({"a": np.zeros(1000, dtype=int)})  # truth below every draw
    cov = coverage(uniform, draws).iloc[0]
    assert cov.coverage_50 == pytest.approx(0.5) and cov.coverage_90 == pytest.approx(0.9)
    assert cov.within_bars
    bad = coverage(biased, draws).iloc[0]
    assert bad.coverage_90 == 0 and not bad.within_bars


def _ranks_covering(c50: float, c90: float, n: int = 100) -> pd.DataFrame:
    """Ranks among 99 draws: a share ``c50`` mid-way, ``c90 - c50`` in the 90% interval
    only (rank 10), the rest below every draw."""
    mid, ninety = round(c50 * n), round((c90 - c50) * n)
    return pd.DataFrame({"a": [50] * mid + [10] * ninety + [0] * (n - mid - ninety)})


@pytest.mark.parametrize(
    ("c50", "c90", "within"),
    [
        (0.45, 0.90, True),
        (0.40, 0.82, True),  # both bars' lower edges belong to them
        (0.60, 0.97, True),  # and their upper edges
        (1.00, 1.00, False),  # intervals too wide: every truth in the middle
        (0.39, 0.90, False),
        (0.61, 0.90, False),
        (0.50, 0.81, False),
        (0.50, 0.98, False),
    ],
)
def test_coverage_is_within_the_bars_only_between_both_edges(c50, c90, within):
    cov = coverage(_ranks_covering(c50, c90), 99).iloc[0]
    assert (cov.coverage_50, cov.coverage_90) == pytest.approx((c50, c90))
    assert cov.within_bars == within


def test_ridges_find_the_pair_that_trades_off():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(500)
    frame = pd.DataFrame({"a": a, "b": -a + 0.1 * rng.standard_normal(500), "c": rng.random(500)})
    top = ridges(frame.assign(weight=1.0), top=1).iloc[0]
    assert (top["parameter"], top["with"]) == ("a", "b") and top["rank correlation"] < -0.9


def test_shuffled_draws_keep_each_parameters_values_but_not_their_pairing():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((200, 3))
    z = np.stack([a, -a], axis=2)  # two parameters perfectly anti-correlated, per truth
    shuffled = marginal_draws(z, seed=4)
    assert np.array_equal(np.sort(shuffled, axis=0), np.sort(z, axis=0))
    for i in range(3):
        assert np.corrcoef(z[:, i, 0], z[:, i, 1])[0, 1] < -0.99
        assert abs(np.corrcoef(shuffled[:, i, 0], shuffled[:, i, 1])[0, 1]) < 0.3
    assert np.array_equal(shuffled, marginal_draws(z, seed=4))


def test_shuffles_are_keyed_apart_from_every_table_row_and_the_priors_draws(monkeypatch):
    """A table's row ``r`` is keyed ``[seed, r]`` (``calibration.reference``); the shuffles'
    key is a row of the predictive stream that no table reaches, not the prior's."""
    keys = []
    default_rng = np.random.default_rng

    def recording(key):
        keys.append(key)
        return default_rng(key)

    monkeypatch.setattr(truth_draws.np.random, "default_rng", recording)
    marginal_draws(np.zeros((4, 2, 3)), seed=9)
    assert keys == [[9, truth_draws.PREDICTIVE_STREAM, truth_draws.SHUFFLE_ROW]]
    assert truth_draws.SHUFFLE_ROW not in (truth_draws.PRIOR_ROW, truth_draws.PREDICTIVE_STREAM)
    table_row = np.random.SeedSequence([9, truth_draws.PREDICTIVE_STREAM]).generate_state(4)
    shuffle = np.random.SeedSequence(keys[0]).generate_state(4)
    assert not np.array_equal(table_row, shuffle)


def test_the_spread_over_trainings_sets_each_median_beside_the_curves():
    forecasts = pd.DataFrame(
        {
            "target": ["a", "a", "a", "b", "b", "b"],
            "training_seed": [1, 2, 3, 1, 2, 3],
            "model_median": [1.0] * 6,
            "model_median_error": [0.20, -0.05, 0.08, 0.0, 0.0, 0.0],
        }
    )
    heldback = pd.DataFrame(
        {
            "target": ["b", "a"],
            "reported": ["1", "20000"],
            "logistic_error": [float("nan"), 0.10],
            "gompertz_error": [float("nan"), 0.30],
            "linear_error": [float("nan"), -0.40],
        }
    )
    table = spread_table(forecasts, heldback)
    assert list(table.target) == ["b", "a"]  # the held-back table's order
    a = table.set_index("target").loc["a"]
    assert (a.lowest, a.highest, a.largest_abs) == (-0.05, 0.20, 0.20)
    assert (a.seed_1, a.seed_2, a.seed_3, a.logistic_error) == (0.20, -0.05, 0.08, 0.10)
    text = spread_section(table, 3, 1000)
    assert "- a: the trainings' medians from -5.0% to +20.0%" in text
    assert "2 of 3 trainings as close as the curve or closer" in text
    assert "- b:" not in text  # no curve to compare with


def test_a_bound_held_back_is_said_met_or_not_never_closer_than_the_curve():
    # Every value beyond a bound scores 0: "5 of 5 as close as the curve" said nothing.
    errors = [0.0, 0.0, -0.02]
    forecasts = pd.DataFrame(
        {
            "target": ["g"] * 3,
            "training_seed": [1, 2, 3],
            "model_median": [1.1, 1.2, 0.98],
            "model_median_error": errors,
        }
    )
    curves = {"logistic_error": [0.0], "gompertz_error": [0.0], "linear_error": [0.0]}
    heldback = pd.DataFrame({"target": ["g"], "reported": [">=1"], **curves})
    text = spread_section(spread_table(forecasts, heldback), 3, 1000)
    assert "- g: a bound (>=1), so no forecast is closer than another that meets it" in text
    assert "2 of 3 trainings' medians meet it, the logistic curve meets it." in text
    assert "as close as the curve" not in text


def test_a_truths_rank_counts_the_draws_below_it_and_breaks_ties_by_the_draw():
    # One truth, one statistic: the new run 5 among draws 1, 5, 7, 5; the tie-break puts
    # the second 5 below it (0.3 < 0.5) and the first above (0.9).
    new = np.array([[[5.0]]])
    draws = np.array([[[1.0], [5.0], [7.0], [5.0]]])
    tie_break = np.array([[[0.5], [0.1], [0.9], [0.2], [0.3]]])
    assert truth_draws._ranks(new, draws, tie_break).tolist() == [[2]]
    # Two statistics at once, each ranked on its own.
    new = np.array([[[3.0, 0.0]]])
    draws = np.array([[[1.0, 1.0], [2.0, -1.0], [4.0, 2.0]]])
    ties = np.zeros((1, 4, 2))
    assert truth_draws._ranks(new, draws, ties).tolist() == [[2, 1]]


def test_stability_gives_each_medians_relative_difference(monkeypatch):
    values = {11: [100.0, 0.5], 12: [110.0, 0.5]}
    monkeypatch.setattr(validation, "load_posterior", lambda: None)
    monkeypatch.setattr(validation, "draw_posterior", lambda n, seed, _: [{"seed": seed}] * n)
    monkeypatch.setattr(
        validation, "map_runs", lambda f, tasks, *a, **k: [values[t[0]["seed"]] for t in tasks]
    )
    monkeypatch.setattr(validation, "load_target_file", lambda _: _Targets(["x", "y"]))
    table = validation.stability(3, (11, 12), 1)
    assert table.target.tolist() == ["x", "y"]
    assert table.median_seed11.tolist() == [100.0, 0.5]
    # |100 - 110| over their mean, 105; equal medians differ by 0.
    assert table.difference.tolist() == pytest.approx([10 / 105, 0.0])


def test_stability_gives_each_medians_noise_floor(monkeypatch):
    """Twenty runs 100-119 in each set: the 6th to 15th smallest, 105 to 114, around 109.5."""
    monkeypatch.setattr(validation, "load_posterior", lambda: None)
    monkeypatch.setattr(validation, "draw_posterior", lambda n, seed, _: [{"seed": seed}] * n)
    monkeypatch.setattr(
        validation,
        "map_runs",
        lambda f, tasks, *a, **k: [[100.0 + i, 0.5] for i in range(len(tasks))],
    )
    monkeypatch.setattr(validation, "load_target_file", lambda _: _Targets(["x", "y"]))
    table = validation.stability(20, (11, 12), 1)
    assert table.noise_floor.tolist() == pytest.approx([4.5 / 109.5, 0.0])


class _Targets:
    def __init__(self, ids):
        self.targets = [type("T", (), {"id": i})() for i in ids]


def _gaussian_levels(posterior_sd: float, truths: int = 400, draws: int = 400) -> np.ndarray:
    """Levels of truths from N(0, 1) under a Gaussian 'posterior' N(0, sd^2) in 3 dimensions."""
    rng = np.random.default_rng(5)
    z_true = rng.standard_normal((truths, 3))
    z_post = posterior_sd * rng.standard_normal((draws, truths, 3))
    return region_levels(z_true, z_post, lambda z, i: -0.5 * (z**2).sum(axis=1) / posterior_sd**2)


def test_highest_density_regions_cover_at_their_level_only_when_the_posterior_is_right():
    right = density_coverage(_gaussian_levels(1.0)).iloc[0]
    assert right.coverage_50 == pytest.approx(0.5, abs=0.06)
    assert right.coverage_90 == pytest.approx(0.9, abs=0.04) and right.within_bars
    too_wide = density_coverage(_gaussian_levels(1.6)).iloc[0]
    assert too_wide.coverage_50 > 0.8 and not too_wide.within_bars
    too_narrow = density_coverage(_gaussian_levels(0.6)).iloc[0]
    assert too_narrow.coverage_90 < 0.5 and not too_narrow.within_bars


def _made_up_runs(simulate, tasks, workers, progress=False, desc=""):
    """Statistics of made-up runs of normal scores: a sum of two scores plus the seed's
    noise, the same rounded to whole numbers (ties) and a statistic undefined in a tenth
    of the runs (NaN)."""
    out = []
    for z, seed in tasks:
        a, b = z[sampled_name("a")], z[sampled_name("b")]
        level = a + b + 0.5 * np.random.default_rng(seed).standard_normal()
        undefined = np.nan if a > 1.28 else level
        out.append([level, round(level), undefined])
    return out


def _ranks_of_made_up_runs(monkeypatch, truth_scale: float) -> pd.DataFrame:
    """Rank 400 truths' new runs among 19 runs of the prior's draws (made-up runs)."""
    targets = [t.id for t in load_targets()][:3]
    monkeypatch.setattr(truth_draws, "map_runs", _made_up_runs)
    monkeypatch.setattr(truth_draws, "model_values", lambda values, priors: values)
    monkeypatch.setattr(truth_draws, "load_targets", lambda: load_targets()[:3])
    rng = np.random.default_rng(4)
    truths = pd.DataFrame(truth_scale * rng.standard_normal((400, 2)), columns=["a", "b"])
    truths.columns = [sampled_name(c) for c in truths.columns]
    truths = truths.assign(row=np.arange(400), **dict.fromkeys(targets, 0.0))
    prior = PriorSampler(["a", "b"], targets, seed=1)
    (ranks,) = predictive_ranks(prior, truths, 19, 2, 1, marginals=False)
    return coverage(ranks, 19)


def test_the_predictive_check_covers_at_the_level_when_the_truths_are_the_priors(monkeypatch):
    """The reference: truths from the prior, draws from the prior, every coverage right."""
    cov = _ranks_of_made_up_runs(monkeypatch, truth_scale=1.0)
    assert cov.within_bars.all(), cov
    assert cov.coverage_50.mean() == pytest.approx(0.5, abs=0.04)


def test_the_predictive_check_finds_draws_wider_than_the_truths(monkeypatch):
    """Truths from a prior a third as wide as the draws': their new runs are too central."""
    cov = _ranks_of_made_up_runs(monkeypatch, truth_scale=1 / 3)
    assert not cov.within_bars.any() and (cov.coverage_50 > 0.7).all(), cov


def test_chance_alone_puts_few_right_statistics_outside_the_bars():
    # 100 truths: a 50% coverage has a standard deviation of 0.05, so below 0.40 or above
    # 0.60 about 3.5% of the time; a 90% one outside 0.82-0.97 about 0.7%.
    assert chance_outside(100, BARS) == pytest.approx(0.042, abs=0.002)
    assert chance_outside(1000, BARS) < 1e-6
