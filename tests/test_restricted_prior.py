"""The MCMC sampler of a truncated round: a prior restricted to a Gaussian's HPD region."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.restricted_prior import Settings, effective_size, restricted_prior_draws

DIM = 8
MEAN = np.linspace(0.2, 1.0, DIM)
SD = np.linspace(0.2, 0.6, DIM)
# Mahalanobis radius squared of the 0.99 region of the Gaussian (chi-square, 8 degrees).
RADIUS2 = 20.09
TAU = -0.5 * RADIUS2 - np.log(SD).sum() - 0.5 * DIM * np.log(2 * np.pi)
SETTINGS = Settings(chains=200, burn_in=60, thin=4)
KS_CRITICAL = 2.23  # two-sample Kolmogorov-Smirnov at level 1e-4


def logq(z: np.ndarray) -> np.ndarray:
    """Log density of the anisotropic Gaussian N(MEAN, diag(SD^2))."""
    u = (z - MEAN) / SD
    return -0.5 * (u**2).sum(axis=1) - np.log(SD).sum() - 0.5 * DIM * np.log(2 * np.pi)


def q_draws(n: int, seed: int) -> np.ndarray:
    return MEAN + SD * np.random.default_rng(seed).standard_normal((n, DIM))


def exact_draws(n: int) -> np.ndarray:
    """Exact draws of the target by rejection from the prior (1.6% are kept)."""
    z = np.random.default_rng(99).standard_normal((100 * n, DIM))
    kept = z[logq(z) >= TAU]
    assert len(kept) >= n
    return kept[:n]


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    grid = np.sort(np.concatenate([a, b]))
    ca = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    cb = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.abs(ca - cb).max())


def mismatches(draws: np.ndarray, exact: np.ndarray, n_eff: float) -> list[str]:
    """Return the summaries whose distributions or means differ beyond Monte Carlo error.

    ``n_eff`` is the effective size of ``draws``: tolerances are the Kolmogorov-Smirnov
    critical distance and four standard errors of a difference of means.
    """
    summaries = {"log_density": logq, "radius2": lambda z: (z**2).sum(axis=1)}
    summaries |= {f"z{i}": (lambda z, i=i: z[:, i]) for i in range(DIM)}
    scale = np.sqrt(1 / n_eff + 1 / len(exact))
    failed = []
    for name, f in summaries.items():
        a, b = f(draws), f(exact)
        if ks_distance(a, b) > KS_CRITICAL * scale:
            failed.append(f"{name} distribution")
        if abs(a.mean() - b.mean()) > 4 * b.std() * scale:
            failed.append(f"{name} mean")
    return failed


@pytest.fixture(scope="module")
def sampled():
    return restricted_prior_draws(logq, TAU, q_draws(400, 1), 2000, seed=3, settings=SETTINGS)


def test_draws_lie_in_the_region_and_match_exact_draws_unlike_qs_own(sampled):
    draws, meta = sampled
    assert draws.shape == (2000, DIM)
    assert (logq(draws) >= TAU).all()
    exact = exact_draws(4000)
    # Thinned draws of a chain are correlated: count them as the chains' effective size.
    n_eff = min(2000, *meta["effective_size"].values())
    assert n_eff > 500
    assert mismatches(draws, exact, n_eff) == []
    # The comparison can fail: q's own draws (the chains' starting points) fail it, the
    # target's mass being near the region's boundary and pulled toward the prior's mode.
    assert len(mismatches(q_draws(2000, 5), exact, 2000)) >= 5


def test_diagnostics_report_converged_chains(sampled):
    _, meta = sampled
    assert all(r < 1.1 for r in meta["r_hat"].values())
    assert all(abs(d) < 4 for d in meta["drift"].values())
    assert meta["stuck"] == 0
    assert 1 < meta["evaluations_per_step"] < 10
    # Chains leave q's typical set for the region's boundary within the burn-in.
    means = meta["mean_log_density"]
    assert means["burn_in"] < means["start"] - 1
    assert means["end"] == pytest.approx(means["burn_in"], abs=0.5)


def test_same_seed_same_draws_and_a_longer_run_starts_with_them(sampled):
    draws, _ = sampled
    small = SETTINGS
    again, _ = restricted_prior_draws(logq, TAU, q_draws(400, 1), 600, seed=3, settings=small)
    np.testing.assert_array_equal(again, draws[:600])
    other, _ = restricted_prior_draws(logq, TAU, q_draws(400, 1), 600, seed=4, settings=small)
    assert not np.array_equal(other, again)


def test_too_few_starting_points_in_the_region_are_refused():
    with pytest.raises(ValueError, match="starting points"):
        restricted_prior_draws(logq, TAU, q_draws(100, 1), 50, seed=1, settings=SETTINGS)


def test_effective_size_of_independent_and_of_repeated_draws():
    x = np.random.default_rng(1).standard_normal((4, 1000))
    assert 3000 < effective_size(x) < 5000
    # Each draw ten times over: ten times the draws, no more information.
    assert 3000 < effective_size(np.repeat(x, 10, axis=1)) < 5000
