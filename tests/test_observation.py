"""The observation model's likelihood (``calibration.observation.log_likelihood``).

It must be the probability that ``observe``'s noisy statistics report the article's
figures (every feature zero): checked by Monte Carlo against ``observe`` itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from calibration.compare import reported_band, tolerance_scales
from calibration.observation import log_likelihood, observe
from calibration.simulator import ERROR_CAP
from calibration.targets import load_targets

TARGETS = {t.id: t for t in load_targets()}
RUNS = 200_000


def _share_reported(target, value: float) -> float:
    stats = np.full((RUNS, 1), value)
    return float((observe([target], stats, np.random.default_rng(3))[:, 0] == 0).mean())


@pytest.mark.parametrize(
    ("target_id", "offsets"),
    [
        ("kg_share_income_foreign_early_1992_1995", (-1.0, -0.3, 0.5)),  # at least
        ("uz_registered_2010_ceiling", (-1.0, 0.2, 0.7)),  # at most
        ("kg_share_income_foreign_today", (-1.2, 0.1, 0.8)),  # a range
    ],
)
def test_a_bound_or_range_likelihood_is_the_share_of_noisy_runs_reporting_it(target_id, offsets):
    target = TARGETS[target_id]
    lo, hi = reported_band(target)
    below, above = tolerance_scales(target)
    edge = lo if np.isfinite(lo) else hi
    for offset in offsets:
        value = edge + offset * (below if offset < 0 else above)
        expected = np.exp(log_likelihood([target], np.array([[value]]))[0, 0])
        share = _share_reported(target, value)
        # Binomial standard error at 200,000 runs is at most 0.0011.
        assert share == pytest.approx(expected, abs=0.005), (target_id, offset)
        assert 0.05 < expected < 0.95


def test_a_point_likelihood_is_the_density_of_the_noisy_statistic_at_the_value():
    target = TARGETS["kg_long_active_2017"]
    below, _ = tolerance_scales(target)
    stats = np.array([[target.value], [target.value - below], [target.value - 2 * below]])
    log_l = log_likelihood([target], stats)[:, 0]
    # Ratios of normal densities with the tolerance as standard deviation.
    assert log_l[0] - log_l[1] == pytest.approx(0.5)
    assert log_l[0] - log_l[2] == pytest.approx(2.0)
    # The density itself: noisy statistics in a small window just below the value, whose
    # features lie in (-delta, 0), have probability density * below * delta.
    delta = 0.05
    for row in range(2):
        noisy = observe([target], np.full((RUNS, 1), stats[row, 0]), np.random.default_rng(4))
        share = float(((noisy[:, 0] > -delta) & (noisy[:, 0] < 0)).mean())
        assert share / (below * delta) == pytest.approx(np.exp(log_l[row]), rel=0.05)


def test_undefined_or_runaway_statistics_count_as_error_cap_units_off():
    targets = [TARGETS["kg_long_active_2017"], TARGETS["kg_share_income_foreign_early_1992_1995"]]
    below = [tolerance_scales(t)[0] for t in targets]
    capped = [t_value - ERROR_CAP * b for t_value, b in zip((800.0, 0.5), below, strict=True)]
    stats = np.array([[np.nan, np.nan], [-1e12, -1e12], capped])
    log_l = log_likelihood(targets, stats)
    assert np.isfinite(log_l).all()
    assert (log_l[0] == log_l[2]).all() and (log_l[1] == log_l[2]).all()
    assert (log_l < -1e5).all()
