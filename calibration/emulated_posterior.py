"""The posterior under the observation model, with the emulator in place of new runs.

The observation model (``calibration.observation``) reads each reported figure as the
run's statistic plus an error of one tolerance unit. With the emulator
(``calibration.emulator``) a run's statistics given the normal scores ``z`` are Gaussian
on the emulator's scale; carried to the statistics' own scale to first order (the delta
method), the figures' likelihood has a closed form:

- the figures observed as values (a point figure; a bound or range seen outside its
  interval, as a synthetic truth's noisy statistic can be) are jointly Gaussian around the
  emulated means, with the emulated covariance of the runs plus the observation errors;
- a bound or range seen inside its interval contributes the normal probability of lying
  there, with the run's and the observation's variances added;
- times the probability that every statistic of the run is defined, as the figures are.

The posterior, prior ``N(0, I)`` in the normal scores times that likelihood, is drawn by
elliptical slice sampling (Murray, Adams and MacKay 2010), which needs no step size: many
chains in lockstep, each shrink of their brackets one batch of likelihoods, only for the
chains still shrinking, padded to a power of two so that JAX compiles few shapes. Chains
start from table rows drawn with weights proportional to a tempered likelihood (so they
start spread out, near the posterior) and take ``adapt`` steps on the prior's ellipses;
then the chains of each data set move on ellipses of a Gaussian fitted to their states
(generalised elliptical slice sampling, Nishihara, Murray and Adams 2014), run
``burn_in`` more steps and keep a draw every ``thin`` steps. On the prior's ellipses a
chain crosses the posterior slowly (session 52: at 8 truths of the prior, a chain's
states 50 steps apart correlate 0.72, median over the parameters, measured from the
truth's pooled mean; 0.48 on the fitted ellipses). A synthetic truth's figures are its
features, read back into values (``observed_values``), so the same code draws the
posterior at the article's figures and at any truth's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .compare import reported_band, tolerance_scales
from .emulator import Emulator, moments
from .observation import band_centre
from .simulator import ERROR_CAP
from .targets import Target

START_TEMPERATURE = 4.0
START_POOL = 4000
# States kept for the fitted Gaussians: every fifth step of the second half of the
# adaptation; the Gaussians' covariance is widened by half (see ``Reference.fitted``).
PILOT_EVERY = 5
REFERENCE_WIDENING = 1.5


@dataclass(frozen=True)
class SamplerSettings:
    """Elliptical slice sampling of the emulated posterior."""

    adapt: int = 200
    burn_in: int = 100
    thin: int = 20
    kept_per_chain: int = 5

    @property
    def steps(self) -> int:
        """Return the steps a chain takes on its fitted Gaussian: burn-in, thinned draws."""
        return self.burn_in + self.thin * self.kept_per_chain


def observed_values(targets: list[Target], features: np.ndarray) -> np.ndarray:
    """Return the figures' values behind features; NaN where inside the reported interval.

    The inverse of the observation model's features: ``sinh`` gives the signed error in
    tolerance units, measured from the interval's edge on its side. An undefined statistic
    (``ERROR_CAP`` units off) is read ``ERROR_CAP`` units beyond the interval's finite edge.
    """
    lo, hi, below, above = _bands(targets)
    error = np.sinh(np.asarray(features, dtype=float))
    values = np.where(
        error < 0, lo + error * below, np.where(error > 0, hi + error * above, np.nan)
    )
    edge = np.where(np.isfinite(lo), lo - ERROR_CAP * below, hi + ERROR_CAP * above)
    return np.where(np.isinf(values), edge, values)


def _bands(targets: list[Target]) -> tuple[np.ndarray, ...]:
    lo, hi = np.array([reported_band(t) for t in targets]).T
    below, above = np.array([tolerance_scales(t) for t in targets]).T
    return lo, hi, below, above


def likelihood_function(emulator: Emulator, targets: list[Target]):
    """Return a compiled ``f(z, values)``: the figures' log-likelihood, row by row.

    ``z`` is rows x parameters, ``values`` rows x targets (``observed_values``).
    """
    import jax
    import jax.numpy as jnp
    from jax.scipy.special import log_ndtr

    lo, hi, below, above = (jnp.asarray(a) for a in _bands(targets))
    centre = jnp.asarray([band_centre(t) for t in targets])
    point = lo == hi
    unit, moment = jnp.asarray(emulator.unit), jnp.asarray(emulator.residual_moment)
    out_mean, out_sd = jnp.asarray(emulator.out_mean), jnp.asarray(emulator.out_sd)

    def one(z, values):
        mean, variance, log_defined = moments(emulator.net, z)
        u = mean * out_sd + out_mean
        stat = unit * jnp.sinh(u)
        spread = unit * jnp.cosh(u) * jnp.sqrt(variance) * out_sd
        inside = jnp.isnan(values)
        seen = jnp.where(inside, lo, values)
        as_value = point | ~inside
        # The observation error's scale is the tolerance on the statistic's side of the
        # interval's centre, as ``calibration.observation.noise_side`` reads it.
        error_sd = jnp.where(stat < centre, below, above)
        w = as_value.astype(float)
        cov = spread[:, None] * moment * spread[None, :] + jnp.diag(error_sd**2)
        cov = cov * w[:, None] * w[None, :] + jnp.diag(1.0 - w)
        chol = jnp.linalg.cholesky(cov)
        solved = jax.scipy.linalg.solve_triangular(chol, jnp.where(as_value, seen - stat, 0.0))
        density = -0.5 * jnp.sum(solved**2) - jnp.sum(jnp.log(jnp.diag(chol)) * w)
        density -= 0.5 * jnp.log(2 * jnp.pi) * jnp.sum(w)
        sd = jnp.sqrt(spread**2 * jnp.diag(moment) + error_sd**2)
        a = jnp.where(jnp.isfinite(lo), (lo - stat) / sd, -jnp.inf)
        b = jnp.where(jnp.isfinite(hi), (hi - stat) / sd, jnp.inf)
        # log(Phi(b) - Phi(a)), on the side away from a mass near one.
        flip = a > 0
        a, b = jnp.where(flip, -b, a), jnp.where(flip, -a, b)
        log_b, log_a = log_ndtr(b), log_ndtr(a)
        # A rounding that put log Phi(a) above log Phi(b) would make the log NaN.
        mass = log_b + jnp.log1p(-jnp.exp(jnp.minimum(log_a - log_b, -1e-12)))
        return density + jnp.sum(jnp.where(as_value, 0.0, mass)) + log_defined

    return jax.jit(jax.vmap(one))


class EmulatedPosterior:
    """Posterior draws given features, as ``Estimator.sample`` gives them.

    ``starts`` are normal scores (table rows) the chains start from.
    """

    def __init__(
        self,
        emulator: Emulator,
        targets: list[Target],
        starts: np.ndarray,
        settings: SamplerSettings | None = None,
        seed: int = 1,
    ):
        self.emulator = emulator
        self.targets_ = targets
        self.settings = settings or SamplerSettings()
        self.seed = seed
        self.starts = starts
        self._likelihood = likelihood_function(emulator, targets)

    @property
    def parameters(self) -> list[str]:
        """Return the calibrated parameters, in the emulator's order."""
        return self.emulator.parameters

    @property
    def targets(self) -> list[str]:
        """Return the ids of the targets whose figures the posterior is given."""
        return [t.id for t in self.targets_]

    def log_likelihood(self, z: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Return the log-likelihood of rows ``z`` given rows ``values`` (NaN: -inf)."""
        import jax.numpy as jnp

        rows = len(z)
        size = 1 << int(np.ceil(np.log2(max(rows, 64))))
        pad = np.resize(np.arange(rows), size)
        out = np.asarray(self._likelihood(jnp.asarray(z[pad]), jnp.asarray(values[pad])))
        return np.nan_to_num(out[:rows].astype(float), nan=-np.inf)

    def log_posterior(self, z: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Return the unnormalised log posterior of rows ``z`` given one row of features."""
        values = np.broadcast_to(observed_values(self.targets_, features), (len(z), len(features)))
        return self.log_likelihood(z, np.array(values)) - 0.5 * np.sum(z**2, axis=1)

    def sample(self, features: np.ndarray, n: int, seed: int, iid: bool = False) -> np.ndarray:
        """Return ``n`` draws given one row of features, or a batch of rows.

        Draws: ``(n, parameters)`` for a row, ``(n, rows, parameters)`` for a batch; ``n /
        kept_per_chain`` chains per row (rounded up), or with ``iid`` one draw from each
        of ``n`` chains: exchangeable, as they share the Gaussian fitted to all of them,
        rather than a chain's successive draws (at several times the cost).
        """
        settings = replace(self.settings, kept_per_chain=1) if iid else self.settings
        features = np.asarray(features, dtype=float)
        batch = np.atleast_2d(features)
        chains = -(-n // settings.kept_per_chain)
        values = np.repeat(observed_values(self.targets_, batch), chains, axis=0)
        rng = np.random.default_rng([self.seed, seed])
        z = self._starts(values, chains, rng)
        kept = elliptical_slice(self.log_likelihood, values, z, settings, rng, chains)
        draws = kept.reshape(-1, len(batch), chains, z.shape[1]).transpose(0, 2, 1, 3)
        draws = draws.reshape(-1, len(batch), z.shape[1])[:n]
        return draws if features.ndim > 1 else draws[:, 0, :]

    def _starts(self, values: np.ndarray, chains: int, rng) -> np.ndarray:
        """Return each chain's start: table rows drawn by their tempered likelihood."""
        pool = self.starts[rng.choice(len(self.starts), min(START_POOL, len(self.starts)))]
        starts = np.empty((len(values), pool.shape[1]))
        for i in range(0, len(values), chains):
            at = np.broadcast_to(values[i], (len(pool), values.shape[1]))
            log_w = self.log_likelihood(pool, np.array(at)) / START_TEMPERATURE
            # A pool with no finite likelihood (figures no row comes near) starts anywhere.
            top = np.max(log_w)
            weights = np.exp(log_w - top) if np.isfinite(top) else np.ones(len(pool))
            starts[i : i + chains] = pool[rng.choice(len(pool), chains, p=weights / weights.sum())]
        return starts


def elliptical_slice(
    log_likelihood, values, z, settings: SamplerSettings, rng, chains: int | None = None
) -> np.ndarray:
    """Run chains from ``z`` (rows) on prior ``N(0, I)`` times ``log_likelihood(z, values)``.

    The rows are blocks of ``chains`` consecutive chains (all of them one block by
    default), each block given one data set. After ``settings.adapt`` steps on the
    prior, each block's chains move on a Gaussian fitted to their states since half of
    those steps (``Reference.fitted``): generalised elliptical slice sampling (Nishihara,
    Murray and Adams 2014), whose ellipses follow the posterior's shape, so that a chain
    crosses a posterior much narrower than the prior in far fewer steps.

    Returns the kept draws, ``kept_per_chain x rows x parameters``.
    """
    chains = chains or len(z)
    if len(z) % chains:
        raise ValueError(f"{len(z)} chains do not make blocks of {chains}")
    pilot = []
    reference = Reference.standard(len(z), z.shape[1])

    def keep_pilot(step, z):
        if step >= settings.adapt // 2 and step % PILOT_EVERY == 0:
            pilot.append(z.copy())

    z = _slice_steps(log_likelihood, values, z, reference, settings.adapt, rng, keep_pilot)
    # Too few pilot states for a covariance in every direction (a short adaptation, or
    # few chains a block): the chains stay on the prior's ellipses.
    if len(pilot) * chains > z.shape[1]:
        reference = Reference.fitted(np.stack(pilot), chains)
    kept = []

    def keep(step, z):
        past = step - settings.burn_in
        if past >= 0 and (past + 1) % settings.thin == 0:
            kept.append(z.copy())

    _slice_steps(log_likelihood, values, z, reference, settings.steps, rng, keep)
    return np.stack(kept)


@dataclass(frozen=True)
class Reference:
    """The Gaussian each block of chains moves on: centre, Cholesky factor and its inverse."""

    block: np.ndarray
    centre: np.ndarray
    chol: np.ndarray
    inverse: np.ndarray

    @classmethod
    def standard(cls, rows: int, dim: int) -> Reference:
        """Return the prior ``N(0, I)`` for every row: plain elliptical slice sampling."""
        return cls(
            np.zeros(rows, dtype=int), np.zeros((1, dim)), np.eye(dim)[None], np.eye(dim)[None]
        )

    @classmethod
    def fitted(cls, states: np.ndarray, chains: int) -> Reference:
        """Return each block's Gaussian fitted to its chains' ``states`` (steps x rows x dim).

        Its covariance is shrunk a tenth towards its diagonal (correlated states, 20 a
        chain at the default settings, in 39 dimensions), widened by
        ``REFERENCE_WIDENING`` so that its tails hold the posterior's, and floored so that
        chains stuck together still move.
        """
        steps, rows, dim = states.shape
        blocks = states.reshape(steps, rows // chains, chains, dim).transpose(1, 0, 2, 3)
        blocks = blocks.reshape(rows // chains, steps * chains, dim)
        centre = blocks.mean(axis=1)
        deviations = blocks - centre[:, None, :]
        cov = np.einsum("bni,bnj->bij", deviations, deviations) / (steps * chains - 1)
        diagonal = np.einsum("bii->bi", cov)
        cov = 0.9 * cov + 0.1 * diagonal[:, :, None] * np.eye(dim)
        cov = REFERENCE_WIDENING * cov + 1e-3 * np.eye(dim)
        chol = np.linalg.cholesky(cov)
        inverse = np.linalg.inv(chol)
        return cls(np.repeat(np.arange(rows // chains), chains), centre, chol, inverse)

    def log_density_ratio(self, z: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Return ``log N(z; 0, I) - log N(z; centre, cov)`` (up to a constant per block)."""
        b = self.block[rows]
        scaled = np.einsum("rij,rj->ri", self.inverse[b], z - self.centre[b])
        return -0.5 * np.sum(z**2, axis=1) + 0.5 * np.sum(scaled**2, axis=1)

    def draw(self, rows: np.ndarray, rng) -> np.ndarray:
        """Return a draw from each row's Gaussian, less its centre."""
        b = self.block[rows]
        return np.einsum(
            "rij,rj->ri", self.chol[b], rng.standard_normal((len(rows), self.centre.shape[1]))
        )


def _slice_steps(log_likelihood, values, z, reference: Reference, steps: int, rng, after_step):
    """Run ``steps`` elliptical slice steps around ``reference``; call ``after_step(step, z)``.

    The target is the prior times the likelihood; the ellipses are the reference's, so
    the slice is taken on the likelihood times the prior over the reference's density.
    """
    every = np.arange(len(z))

    def target(x, rows):
        return log_likelihood(x, values[rows]) + reference.log_density_ratio(x, rows)

    z = z.copy()
    ll = target(z, every)
    centre = reference.centre[reference.block]
    for step in range(steps):
        nu = reference.draw(every, rng)
        level = ll + np.log(rng.random(len(z)))
        angle = rng.uniform(0.0, 2 * np.pi, len(z))
        low, high = angle - 2 * np.pi, angle.copy()
        active = np.ones(len(z), dtype=bool)
        while active.any():
            rows = np.flatnonzero(active)
            cos, sin = np.cos(angle[rows])[:, None], np.sin(angle[rows])[:, None]
            proposal = centre[rows] + (z[rows] - centre[rows]) * cos + nu[rows] * sin
            proposed = target(proposal, rows)
            accept = proposed > level[rows]
            z[rows[accept]], ll[rows[accept]] = proposal[accept], proposed[accept]
            active[rows[accept]] = False
            # A bracket shrunk to nothing keeps the current state (a likelihood of -inf
            # all around it, where no proposal can be accepted).
            active[rows[~accept & (high[rows] - low[rows] < 1e-12)]] = False
            shrink = rows[~accept]
            low[shrink] = np.where(angle[shrink] < 0, angle[shrink], low[shrink])
            high[shrink] = np.where(angle[shrink] >= 0, angle[shrink], high[shrink])
            angle[shrink] = rng.uniform(low[shrink], high[shrink])
        after_step(step, z)
    return z
