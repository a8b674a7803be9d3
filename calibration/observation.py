"""How a reported figure relates to the model's statistic: the observation model of NPE.

Each reported figure is read as the model's statistic plus an error whose standard
deviation is the target's tolerance (``calibration.compare.acceptable_band``): the
measurement, definition and model error of that figure, stated where the target is
written (``calibration/targets.yaml``). A point figure is then the statistic plus normal
noise; a bound ("at least 5,100") says the noisy statistic lies beyond it, a probit
likelihood; a range says it lies within. The conditioning features are the noisy
statistics' signed errors in tolerance units (``calibration.compare.tolerance_scales``,
as ``target_error``, negative below the reported interval), compressed by ``asinh`` so
that prior runs far from any figure do not dominate; the reported figures themselves have
every feature zero.
A statistic that is undefined (a register that ran away) counts as ``ERROR_CAP`` units off.

``log_likelihood`` is the same model read the other way: the probability (a point figure:
the density) that a run with given statistics reports the article's figures, i.e. that
its noisy statistics have every feature zero. A bound's is the normal probability of
lying beyond it, a range's of lying within, a point's the normal density at the value,
with the standard deviation ``observe`` uses on the statistic's side. A statistic more than
``ERROR_CAP`` standard deviations outside the reported interval, or undefined, counts as
``ERROR_CAP`` off, as in the features. The regional calibration reports the ratio of two
such likelihoods, the countries' figures in the region over alone, as a diagnostic
(``calibration.regional``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr

from .compare import reported_band, tolerance_scales
from .simulator import ERROR_CAP
from .targets import Target


def signed_errors(target: Target, values: np.ndarray) -> np.ndarray:
    """Return the signed errors of ``values`` in tolerance units (0 inside the interval)."""
    lo, hi = reported_band(target)
    below, above = tolerance_scales(target)
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
        scale = noise_side(target, stats[:, j])
        features[:, j] = np.arcsinh(signed_errors(target, stats[:, j] + scale * eps[:, j]))
    return features


def noise_side(target: Target, values: np.ndarray) -> np.ndarray:
    """Return the error's standard deviation for statistics ``values``, by their side.

    Below the reported interval's centre (a bound: the bound) the error's scale is the
    tolerance below it, elsewhere the tolerance above.
    """
    below, above = tolerance_scales(target)
    return np.where(np.asarray(values) < band_centre(target), below, above)


def band_centre(target: Target) -> float:
    """Return the reported interval's centre (a bound: the bound), where the error's side turns."""
    lo, hi = reported_band(target)
    if np.isfinite(lo) and np.isfinite(hi):
        return 0.5 * (lo + hi)
    return lo if np.isfinite(lo) else hi


def log_likelihood(targets: list[Target], stats: np.ndarray) -> np.ndarray:
    """Return the log-likelihood of the reported figures given statistics, per target.

    Args:
        targets: The targets (columns of ``stats``).
        stats: Statistics of runs (rows: runs; columns: ``targets``; NaN where undefined).

    Returns:
        The log-likelihood of each run's statistic under ``observe``'s noise, same shape:
        log density at the value for a point figure, log probability of the noisy
        statistic lying beyond a bound or within a range.
    """
    stats = np.atleast_2d(np.asarray(stats, dtype=float))
    out = np.empty_like(stats)
    for j, target in enumerate(targets):
        out[:, j] = _target_log_likelihood(target, stats[:, j])
    return out


def _target_log_likelihood(target: Target, values: np.ndarray) -> np.ndarray:
    lo, hi = reported_band(target)
    below, above = tolerance_scales(target)
    # As in the features: no statistic counts as more than ERROR_CAP units off.
    far = lo - ERROR_CAP * below if np.isfinite(lo) else hi + ERROR_CAP * above
    values = np.clip(
        np.where(np.isnan(values), far, values), lo - ERROR_CAP * below, hi + ERROR_CAP * above
    )
    scale = noise_side(target, values)
    if lo == hi:
        z = (values - lo) / scale
        return -0.5 * z**2 - np.log(scale) - 0.5 * np.log(2 * np.pi)
    return _log_normal_mass((lo - values) / scale, (hi - values) / scale)


def _log_normal_mass(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return log(Phi(b) - Phi(a)) for a < b, computed in the tail away from both."""
    # Phi(b) - Phi(a) = Phi(-a) - Phi(-b): use the side where the masses are not near 1.
    flip = a > 0
    a, b = np.where(flip, -b, a), np.where(flip, -a, b)
    log_b, log_a = log_ndtr(b), log_ndtr(a)
    return log_b + np.log1p(-np.exp(log_a - log_b))


def observed(targets: list[Target]) -> np.ndarray:
    """Return the features of the reported figures: zero for every target."""
    return np.zeros(len(targets))
