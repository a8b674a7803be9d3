"""Tempered sequential Monte Carlo with generalised elliptical slice moves.

Draws the posterior ``N(0, I)`` times a likelihood, for many data sets at once (blocks
of particles): particles from the prior are reweighted by the likelihood raised to a
rising temperature (adaptive tempering: Del Moral, Doucet and Jasra 2006; Jasra et al.
2011), resampled (systematic resampling), and moved by elliptical slice sampling (Murray,
Adams and MacKay 2010) on ellipses of a Gaussian fitted to them (generalised elliptical
slice sampling, Nishihara, Murray and Adams 2014). Knows nothing of the emulator: the
likelihood is any ``f(z, values)`` of rows (``calibration.emulated_posterior``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The Gaussians the particles move on are widened by half (see ``Reference.fitted``).
REFERENCE_WIDENING = 1.5


@dataclass(frozen=True)
class SamplerSettings:
    """Tempered sequential Monte Carlo of the emulated posterior.

    ``particles``: the least number of particles a data set gets (more when more draws
    are asked for); ``ess_fraction``: the share of them each stage's weights keep
    effective, which sets the next temperature; ``moves``: slice steps after each
    resampling; ``final_moves``: slice steps at the posterior itself.
    """

    particles: int = 400
    ess_fraction: float = 0.5
    moves: int = 5
    final_moves: int = 20


def tempered_smc(
    log_likelihood, values, particles: int, dim: int, settings: SamplerSettings, rng
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw the posterior, prior ``N(0, I)`` times ``log_likelihood(z, values)``.

    The rows of ``values`` are blocks of ``particles`` rows, each block one data set.
    Particles start from the prior; at each stage the likelihood's exponent (the
    temperature) rises as far as keeps ``ess_fraction`` of a block's particles effective
    (adaptive tempering, Jasra et al. 2011), the particles are resampled by their
    weights and move by ``moves`` slice steps on the tempered posterior, on ellipses of
    a Gaussian fitted to them (generalised elliptical slice sampling, Nishihara, Murray
    and Adams 2014). At temperature one they take ``final_moves`` more steps. No
    particle depends on a start chosen near the posterior, and a posterior far narrower
    than the prior is reached by stages rather than crossed by chains.

    Returns the particles (rows x dim), the stages each block took and the effective
    sample size of each block's last weights (the usual diagnostic of a sequential
    Monte Carlo run; by construction at least ``ess_fraction`` of the particles whose
    likelihood is above zero).
    """
    if particles <= dim:
        raise ValueError(f"{particles} particles cannot fit a Gaussian in {dim} dimensions")
    blocks = len(values) // particles
    z = rng.standard_normal((len(values), dim))
    ll = log_likelihood(z, values)
    temperature = np.zeros(blocks)
    stages = np.zeros(blocks, dtype=int)
    final_ess = np.full(blocks, float(particles))
    while (temperature < 1).any():
        by_block = ll.reshape(blocks, particles)
        step = next_temperature(by_block, temperature, settings.ess_fraction)
        log_w = tempered(step[:, None], by_block)
        final_ess = np.where(step > 0, effective_size(log_w), final_ess)
        picks = resample(log_w, rng)
        z, ll = z[picks], ll[picks]
        temperature = np.where(step > 0, np.minimum(temperature + step, 1.0), temperature)
        rising = np.repeat(step > 0, particles)
        stages += step > 0
        z[rising], ll[rising] = _moves(
            log_likelihood,
            values[rising],
            z[rising],
            ll[rising],
            np.repeat(temperature[step > 0], particles),
            particles,
            settings.moves,
            rng,
        )
    z, ll = _moves(
        log_likelihood, values, z, ll, np.ones(len(z)), particles, settings.final_moves, rng
    )
    return z, stages, final_ess


def tempered(temperature, ll):
    """Return ``temperature * ll``, with a likelihood of zero (-inf) kept at -inf."""
    return np.where(np.isfinite(ll), temperature * np.where(np.isfinite(ll), ll, 0.0), -np.inf)


def next_temperature(ll: np.ndarray, temperature: np.ndarray, fraction: float) -> np.ndarray:
    """Return each block's rise of temperature (blocks x particles of log-likelihoods).

    The largest rise, up to one, whose weights ``exp(rise * ll)`` keep an effective
    sample of ``fraction`` of the block's particles with a likelihood above zero, found by
    bisection. A block with none rises to one at once: no weights can tell its particles
    apart.
    """
    remaining = 1.0 - temperature
    target = fraction * np.isfinite(ll).sum(axis=1)
    low, high = np.zeros(len(ll)), remaining.copy()
    done = (effective_size(tempered(remaining[:, None], ll)) >= target) | (target == 0)
    for _ in range(60):
        mid = 0.5 * (low + high)
        enough = effective_size(tempered(mid[:, None], ll)) >= target
        low, high = np.where(enough, mid, low), np.where(enough, high, mid)
    return np.where(done, remaining, np.where(remaining > 0, np.maximum(low, 1e-12), 0.0))


def effective_size(log_w: np.ndarray) -> np.ndarray:
    """Return each row's effective sample size of weights ``exp(log_w)``."""
    top = np.max(log_w, axis=1, keepdims=True)
    w = np.exp(log_w - np.where(np.isfinite(top), top, 0.0))
    total = w.sum(axis=1)
    return np.where(total > 0, total**2 / np.maximum((w**2).sum(axis=1), 1e-300), 0.0)


def resample(log_w: np.ndarray, rng) -> np.ndarray:
    """Return rows drawn by systematic resampling within each block (blocks x particles).

    A block with no positive weight keeps its particles as they are.
    """
    blocks, particles = log_w.shape
    top = np.max(log_w, axis=1, keepdims=True)
    w = np.exp(log_w - np.where(np.isfinite(top), top, 0.0))
    w[w.sum(axis=1) == 0] = 1.0
    cdf = np.cumsum(w, axis=1)
    cdf /= cdf[:, -1:]
    u = (rng.random((blocks, 1)) + np.arange(particles)) / particles
    local = np.array([np.searchsorted(c, v) for c, v in zip(cdf, u, strict=True)])
    return (np.minimum(local, particles - 1) + particles * np.arange(blocks)[:, None]).ravel()


def _moves(log_likelihood, values, z, ll, temperature, particles, steps, rng):
    """Return particles moved ``steps`` slice steps, on a Gaussian fitted to each block."""
    reference = Reference.fitted(z, particles)
    return _slice_steps(log_likelihood, values, z, ll, temperature, reference, steps, rng)


@dataclass(frozen=True)
class Reference:
    """The Gaussian each block of particles moves on: centre, Cholesky factor and its inverse."""

    block: np.ndarray
    centre: np.ndarray
    chol: np.ndarray
    inverse: np.ndarray

    @classmethod
    def fitted(cls, z: np.ndarray, particles: int) -> Reference:
        """Return each block's Gaussian fitted to its ``particles`` rows of ``z``.

        Its covariance is shrunk a tenth towards its diagonal (resampled particles repeat
        one another), widened by ``REFERENCE_WIDENING`` so that its tails hold the
        tempered posterior's, and floored so that particles stuck together still move.
        """
        rows, dim = z.shape
        blocks = z.reshape(rows // particles, particles, dim)
        centre = blocks.mean(axis=1)
        deviations = blocks - centre[:, None, :]
        cov = np.einsum("bni,bnj->bij", deviations, deviations) / (particles - 1)
        diagonal = np.einsum("bii->bi", cov)
        cov = 0.9 * cov + 0.1 * diagonal[:, :, None] * np.eye(dim)
        cov = REFERENCE_WIDENING * cov + 1e-3 * np.eye(dim)
        chol = np.linalg.cholesky(cov)
        inverse = np.linalg.inv(chol)
        return cls(np.repeat(np.arange(rows // particles), particles), centre, chol, inverse)

    def log_density_ratio(self, z: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Return ``log N(z; 0, I) - log N(z; centre, cov)`` (up to a constant per block)."""
        scaled = self._by_block(self.inverse, z - self.centre[self.block[rows]], rows)
        return -0.5 * np.sum(z**2, axis=1) + 0.5 * np.sum(scaled**2, axis=1)

    def draw(self, rows: np.ndarray, rng) -> np.ndarray:
        """Return a draw from each row's Gaussian, less its centre."""
        normal = rng.standard_normal((len(rows), self.centre.shape[1]))
        return self._by_block(self.chol, normal, rows)

    def _by_block(self, matrices: np.ndarray, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Return each row of ``x`` times its block's matrix, one product per block."""
        b = self.block[rows]
        order = np.argsort(b, kind="stable")
        out = np.empty_like(x)
        for part in np.split(order, np.flatnonzero(np.diff(b[order])) + 1):
            out[part] = x[part] @ matrices[b[part[0]]].T
        return out


def _slice_steps(log_likelihood, values, z, ll, temperature, reference: Reference, steps, rng):
    """Return ``(z, ll)`` after ``steps`` elliptical slice steps around ``reference``.

    The target is the prior times the likelihood raised to each row's ``temperature``;
    the ellipses are the reference's, so the slice is taken on that target over the
    reference's density. ``ll`` is the untempered log-likelihood, kept for the weights.
    """
    every = np.arange(len(z))

    def target(x, rows, lx):
        return tempered(temperature[rows], lx) + reference.log_density_ratio(x, rows)

    z, ll = z.copy(), ll.copy()
    current = target(z, every, ll)
    centre = reference.centre[reference.block]
    for _ in range(steps):
        nu = reference.draw(every, rng)
        level = current + np.log(rng.random(len(z)))
        angle = rng.uniform(0.0, 2 * np.pi, len(z))
        low, high = angle - 2 * np.pi, angle.copy()
        active = np.ones(len(z), dtype=bool)
        while active.any():
            rows = np.flatnonzero(active)
            cos, sin = np.cos(angle[rows])[:, None], np.sin(angle[rows])[:, None]
            proposal = centre[rows] + (z[rows] - centre[rows]) * cos + nu[rows] * sin
            l_proposed = log_likelihood(proposal, values[rows])
            proposed = target(proposal, rows, l_proposed)
            accept = proposed > level[rows]
            moved = rows[accept]
            z[moved], ll[moved] = proposal[accept], l_proposed[accept]
            current[moved] = proposed[accept]
            active[moved] = False
            # A bracket shrunk to nothing keeps the current state (a likelihood of -inf
            # all around it, where no proposal can be accepted).
            active[rows[~accept & (high[rows] - low[rows] < 1e-12)]] = False
            shrink = rows[~accept]
            low[shrink] = np.where(angle[shrink] < 0, angle[shrink], low[shrink])
            high[shrink] = np.where(angle[shrink] >= 0, angle[shrink], high[shrink])
            angle[shrink] = rng.uniform(low[shrink], high[shrink])
    return z, ll
