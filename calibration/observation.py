"""How a reported figure relates to the model's statistic: the observation model of NPE.

Each reported figure is read as the model's statistic plus an error whose standard
deviation is the target's tolerance (``calibration.compare.acceptable_band``): the
measurement, definition and model error of that figure, stated where the target is
written (``calibration/targets.yaml``). A point figure is then the statistic plus normal
noise; a bound ("at least 5,100") says the noisy statistic lies beyond it, a probit
likelihood; a range says it lies within. The conditioning features are the noisy
statistics' signed errors in tolerance units (``calibration.compare.target_error``, negative
below the reported interval), compressed by ``asinh`` so that prior runs far from any
figure do not dominate; the reported figures themselves have every feature zero.
A statistic that is undefined (a register that ran away) counts as ``ERROR_CAP`` units off.
"""

from __future__ import annotations

import numpy as np

from .compare import acceptable_band, reported_band
from .simulator import ERROR_CAP
from .targets import Target


def noise_scale(target: Target) -> tuple[float, float]:
    """Return the error's standard deviation below and above the reported interval."""
    lo, hi = reported_band(target)
    accept_lo, accept_hi = acceptable_band(target)
    below = lo - accept_lo if np.isfinite(lo) else np.nan
    above = accept_hi - hi if np.isfinite(hi) else np.nan
    fallback = 1e-3 * max(abs(target.value if target.value is not None else 1.0), 1.0)
    below = below if np.isfinite(below) and below > 0 else np.nan
    above = above if np.isfinite(above) and above > 0 else np.nan
    below = above if np.isnan(below) else below
    above = below if np.isnan(above) else above
    return (fallback, fallback) if np.isnan(below) else (below, above)


def signed_errors(target: Target, values: np.ndarray) -> np.ndarray:
    """Return the signed errors of ``values`` in tolerance units (0 inside the interval)."""
    lo, hi = reported_band(target)
    below, above = noise_scale(target)
    err = np.where(values < lo, (values - lo) / below, 0.0)
    err = np.where(values > hi, (values - hi) / above, err)
    return np.where(np.isfinite(values), np.clip(err, -ERROR_CAP, ERROR_CAP), ERROR_CAP)


def observe(targets: list[Target], stats: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return the features of simulated statistics (rows: runs; columns: ``targets``).

    The error of each figure is drawn from ``rng``: standard normal scaled by the target's
    tolerance on the side of the reported interval the statistic lies.
    """
    stats = np.asarray(stats, dtype=float)
    features = np.empty_like(stats)
    eps = rng.standard_normal(stats.shape)
    for j, target in enumerate(targets):
        lo, hi = reported_band(target)
        below, above = noise_scale(target)
        centre = lo if np.isfinite(lo) else hi
        if np.isfinite(lo) and np.isfinite(hi):
            centre = 0.5 * (lo + hi)
        scale = np.where(stats[:, j] < centre, below, above)
        features[:, j] = np.arcsinh(signed_errors(target, stats[:, j] + scale * eps[:, j]))
    return features


def observed(targets: list[Target]) -> np.ndarray:
    """Return the features of the reported figures: zero for every target."""
    return np.zeros(len(targets))
