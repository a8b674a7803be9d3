"""Draws of a standard normal prior restricted to a region, by elliptical slice sampling.

The target is ``pi(z) ~ N(z; 0, I) * 1[logq(z) >= tau]``: the prior of a truncated round
(``calibration.truncation``) when the region's prior mass is too small for rejection.
Elliptical slice sampling (Murray, Adams and MacKay 2010, "Elliptical slice sampling",
AISTATS) samples a Gaussian reference times a likelihood; it needs no step size and every
step moves. The reference here is not the prior but a Gaussian fitted to the starting
points (draws of q inside the region) with its covariance widened by ``spread``, and the
likelihood is ``N(z; 0, I) * 1[logq(z) >= tau] / N(z; m, spread * S)``: the same target,
but the ellipses follow the region's shape, so that a step crosses the region instead of
the width of its narrowest direction (fitting the reference to the chains' population is
the idea of Nishihara, Murray and Adams 2014, "Parallel MCMC with generalized elliptical
slice sampling", JMLR). ``spread = 2`` is about the variance of a uniform draw in the
ellipsoid of a Gaussian's ``1 - 1e-4`` region, in the calibration's 38 dimensions,
relative to the Gaussian's; for a region of level 0.9 it would be about 1.24, so there
the reference starts wider than it needs (more shrinks a step until the first refit, the
same target).
At each quarter of the burn-in the reference is refitted to the chains (covariance times
``refit_spread``), which by then are nearer the target than q's draws; after the burn-in it
stays fixed, so the draws kept are those of one Markov chain kernel that leaves ``pi``
invariant.

Many chains run in lockstep, so that each shrink of their brackets is one batch of
``logq``. After ``burn_in`` steps (chains start in q's typical set, while in high dimension
``pi`` puts its mass near the region's boundary) every chain gives one draw each ``thin``
steps, in step-major order: the first ``n`` draws are the same whatever ``n``. The
randomness of step ``s`` comes from ``default_rng([seed, *keys, s])``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

MAX_SHRINKS = 60


@dataclass(frozen=True)
class Settings:
    """The sampler's settings (they enter a proposal's key)."""

    chains: int = 1000
    burn_in: int = 250
    thin: int = 30
    spread: float = 2.0
    refit_spread: float = 1.5

    def as_dict(self) -> dict:
        """Return the settings as plain data."""
        return asdict(self)


DEFAULT = Settings()


@dataclass
class _Reference:
    """The Gaussian reference ``N(mean, chol chol^T)`` and the whitened chains' state."""

    mean: np.ndarray
    chol: np.ndarray

    def to_z(self, w: np.ndarray) -> np.ndarray:
        return self.mean + w @ self.chol.T

    def to_w(self, z: np.ndarray) -> np.ndarray:
        return np.linalg.solve(self.chol, (z - self.mean).T).T


def _reference(starts: np.ndarray, spread: float) -> _Reference:
    """Return the Gaussian fitted to the starting points, its covariance times ``spread``."""
    cov = np.cov(starts.T) * spread + 1e-9 * np.eye(starts.shape[1])
    return _Reference(starts.mean(axis=0), np.linalg.cholesky(cov))


def _log_likelihood(z: np.ndarray, w: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Return log N(z; 0, I) - log N(w; 0, I) on the region, -inf outside it."""
    ll = 0.5 * (w**2).sum(axis=1) - 0.5 * (z**2).sum(axis=1)
    return np.where(inside, ll, -np.inf)


def _slice_step(w, ll, lq, logq, tau, ref, rng) -> tuple[int, int]:
    """Move every chain one elliptical slice step in place; return (evaluations, stuck)."""
    n, d = w.shape
    nu = rng.standard_normal((n, d))
    log_y = ll + np.log1p(-rng.random(n))
    theta = rng.uniform(0.0, 2 * np.pi, n)
    lo, hi = theta - 2 * np.pi, theta.copy()
    active = np.arange(n)
    evaluations = 0
    for _ in range(MAX_SHRINKS):
        if not len(active):
            return evaluations, 0
        t = theta[active, None]
        prop = w[active] * np.cos(t) + nu[active] * np.sin(t)
        z = ref.to_z(prop)
        lq_prop = logq(z)
        evaluations += len(active)
        ll_prop = _log_likelihood(z, prop, lq_prop >= tau)
        ok = ll_prop >= log_y[active]
        done = active[ok]
        w[done], ll[done], lq[done] = prop[ok], ll_prop[ok], lq_prop[ok]
        active = active[~ok]
        below = theta[active] < 0
        lo[active] = np.where(below, theta[active], lo[active])
        hi[active] = np.where(below, hi[active], theta[active])
        theta[active] = rng.uniform(lo[active], hi[active])
    # A bracket shrunk 60 times is within 2 pi / 2^60 of the current point: stay there.
    return evaluations, len(active)


def drift(before: np.ndarray, after: np.ndarray) -> float:
    """Return the change of the chains' mean between two steps, in standard errors.

    Chains at their stationary distribution keep it: with many short chains this checks
    the burn-in better than R-hat, whose windows are shorter than the autocorrelation.
    """
    error = np.sqrt((before.var(ddof=1) + after.var(ddof=1)) / len(before))
    return float((after.mean() - before.mean()) / error)


def split_rhat(x: np.ndarray) -> float:
    """Return the split potential scale reduction of draws ``x`` (chains, steps)."""
    half = x.shape[1] // 2
    chains = np.concatenate([x[:, :half], x[:, half : 2 * half]])
    within = chains.var(axis=1, ddof=1).mean()
    between = chains.mean(axis=1).var(ddof=1)
    return float(np.sqrt(((half - 1) / half * within + between) / within))


def effective_size(x: np.ndarray) -> float:
    """Return the multi-chain effective sample size of ``x`` (chains, steps).

    Autocorrelations pooled over chains, summed in pairs while positive and kept
    monotone (Geyer 1992; the form of Vehtari et al. 2021, without rank normalisation).
    """
    m, n = x.shape
    centred = x - x.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=2 * n, axis=1)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), axis=1)[:, :n] / n
    within = x.var(axis=1, ddof=1).mean()
    var_plus = (n - 1) / n * within + (x.mean(axis=1).var(ddof=1) if m > 1 else 0.0)
    rho = 1 - (within - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    pairs = rho[: 2 * (n // 2)].reshape(-1, 2).sum(axis=1)
    positive = np.cumprod(pairs > 0).astype(bool)
    pairs = np.minimum.accumulate(pairs[positive])
    tau = max(-1 + 2 * pairs.sum(), 1 / np.log10(m * n))
    return float(m * n / tau)


def _projections(z: np.ndarray, lq: np.ndarray) -> dict[str, np.ndarray]:
    """Return the scalar summaries of the chains' states that the diagnostics follow."""
    return {"log_density": lq.copy(), "radius2": (z**2).sum(axis=1), "z0": z[:, 0], "z1": z[:, 1]}


def restricted_prior_draws(
    logq: Callable[[np.ndarray], np.ndarray],
    tau: float,
    starts: np.ndarray,
    n: int,
    seed: int,
    keys: tuple[int, ...] = (),
    settings: Settings = DEFAULT,
) -> tuple[np.ndarray, dict]:
    """Return ``n`` draws of ``N(0, I)`` restricted to ``logq >= tau``, and diagnostics.

    ``starts`` are points of the region (at least ``settings.chains`` of them; the first
    ones start the chains, all of them fit the reference).

    Returns:
        The draws (chain draws in step-major order) and a description: settings,
        evaluations of ``logq`` per step, chains that stayed put after ``MAX_SHRINKS``
        shrinks, the mean log density at the start, after the burn-in and at the end, and
        for the log density, the squared radius and the first two coordinates the drift of
        the chains' mean from the end of the burn-in to the last step (``drift``) and the
        split R-hat and effective sample size over all steps after the burn-in.

    Raises:
        ValueError: if fewer starting points than chains lie in the region.
    """
    starts = starts[logq(starts) >= tau]
    if len(starts) < settings.chains:
        raise ValueError(f"{len(starts)} starting points in the region, need {settings.chains}")
    ref = _reference(starts, settings.spread)
    z = starts[: settings.chains]
    w = ref.to_w(z)
    lq = logq(z)
    ll = _log_likelihood(z, w, lq >= tau)
    per_chain = -(-n // settings.chains)
    steps = settings.burn_in + settings.thin * per_chain
    kept, trace = [], {name: [] for name in _projections(z, lq)}
    burnt = _projections(z, lq)
    evaluations, stuck, start_lq = 0, 0, float(lq.mean())
    burnt_lq = start_lq
    for step in range(steps):
        rng = np.random.default_rng([seed, *keys, step])
        e, s = _slice_step(w, ll, lq, logq, tau, ref, rng)
        evaluations, stuck = evaluations + e, stuck + s
        if step < settings.burn_in - 1 and (step + 1) % max(settings.burn_in // 4, 1) == 0:
            # Refit the reference to the chains, now nearer the target than q's draws.
            z = ref.to_z(w)
            ref = _reference(z, settings.refit_spread)
            w = ref.to_w(z)
            ll = _log_likelihood(z, w, lq >= tau)
        if step == settings.burn_in - 1:
            burnt_lq, burnt = float(lq.mean()), _projections(ref.to_z(w), lq)
        if step >= settings.burn_in:
            z = ref.to_z(w)
            for name, values in _projections(z, lq).items():
                trace[name].append(values)
            if (step - settings.burn_in + 1) % settings.thin == 0:
                kept.append(z)
    traces = {name: np.array(values).T for name, values in trace.items()}
    last = _projections(ref.to_z(w), lq)
    meta = {
        "sampler": "elliptical slice (Murray, Adams and MacKay 2010)",
        **settings.as_dict(),
        "steps": steps,
        "evaluations_per_step": evaluations / (steps * settings.chains),
        "stuck": stuck,
        "mean_log_density": {"start": start_lq, "burn_in": burnt_lq, "end": float(lq.mean())},
        "drift": {name: drift(burnt[name], last[name]) for name in last},
        "r_hat": {name: split_rhat(x) for name, x in traces.items()},
        "effective_size": {name: effective_size(x) for name, x in traces.items()},
    }
    return np.concatenate(kept)[:n], meta
