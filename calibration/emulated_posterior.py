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
  there, with the run's and the observation's variances added, given the figures seen
  as values (a conditional normal: the statistics are correlated);
- times the probability that every statistic of the run is defined, as the figures are;
  where a figure is undefined (a synthetic truth whose register ran away), the
  probability that some statistic is not, in place of that figure's term.

The posterior, prior ``N(0, I)`` in the normal scores times that likelihood, is drawn by
tempered sequential Monte Carlo with generalised elliptical slice moves
(``calibration.tempered_smc``), many data sets in lockstep, each likelihood call padded
to a power of two so that JAX compiles few shapes. The chains that preceded it
(sessions 51 and 52) started from table rows near the posterior and their draws stayed
close to their starts (states 50 steps apart correlated 0.48 to 0.72), so their spread
was partly the starts'. A synthetic truth's figures are its features, read
back into values (``observed_values``), so the same code draws the
posterior at the article's figures and at any truth's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import log_ndtr

from .compare import reported_band, tolerance_scales
from .emulator import Emulator, moments
from .observation import band_centre
from .simulator import ERROR_CAP
from .targets import Target
from .tempered_smc import SamplerSettings, tempered_smc

# Rows of one likelihood call: 65,536 rows of the four networks' 256 units take about a
# quarter of a gigabyte a layer.
CHUNK = 1 << 16


@dataclass(frozen=True)
class LocalCorrection:
    """The emulator's means shifted and its residual moments replaced, near one posterior.

    ``offset`` is added to the mixture's scaled means (targets); ``moment`` (targets x
    targets) rescales the mixture's covariance as ``Emulator.residual_moment`` does
    (``calibration.refined_posterior`` estimates both from new runs).
    """

    offset: np.ndarray
    moment: np.ndarray


def observed_values(targets: list[Target], features: np.ndarray) -> np.ndarray:
    """Return the figures' values behind features; NaN where inside the reported interval.

    The inverse of the observation model's features: ``sinh`` gives the signed error in
    tolerance units, measured from the interval's edge on its side. A feature at the cap
    (``ERROR_CAP`` units off) is an undefined statistic, or one so far off that the
    features cannot tell them apart: it reads ``inf``, and the likelihood then counts the
    chance of an undefined statistic rather than a value.
    """
    lo, hi, below, above = _bands(targets)
    error = np.sinh(np.asarray(features, dtype=float))
    values = np.where(
        error < 0, lo + error * below, np.where(error > 0, hi + error * above, np.nan)
    )
    return np.where(np.abs(error) >= ERROR_CAP * (1 - 1e-9), np.inf, values)


def _bands(targets: list[Target]) -> tuple[np.ndarray, ...]:
    lo, hi = np.array([reported_band(t) for t in targets]).T
    below, above = np.array([tolerance_scales(t) for t in targets]).T
    return lo, hi, below, above


def likelihood_function(
    emulator: Emulator,
    targets: list[Target],
    corrections: Sequence[LocalCorrection] | None = None,
):
    """Return ``f(z, values, group=None)``: the figures' log-likelihood, row by row, compiled.

    ``z`` is rows x parameters, ``values`` rows x targets (``observed_values``), ``group``
    each row's index in ``corrections`` (all 0 when not given). The networks' weights, the
    figures' constants and the corrections are arguments of one compiled program
    (``_likelihoods``), not constants in it: emulators of the same shape (a retraining,
    the held-back one) and corrections of as many data sets share its compilations, in
    this process and in JAX's persistent cache. Without corrections, the emulator's means
    and its residual moments from its held-out rows.
    """
    corrections = corrections or [
        LocalCorrection(np.zeros(len(targets)), np.asarray(emulator.residual_moment))
    ]
    offsets = jnp.asarray(np.stack([c.offset for c in corrections]))
    moments_ = jnp.asarray(np.stack([c.moment for c in corrections]))
    lo, hi, below, above = _bands(targets)
    centre = np.array([band_centre(t) for t in targets])
    constants = tuple(
        jnp.asarray(a)
        for a in (lo, hi, below, above, centre, emulator.unit, emulator.out_mean, emulator.out_sd)
    )

    def f(z, values, group=None):
        group = jnp.zeros(len(z), dtype=jnp.int32) if group is None else jnp.asarray(group)
        return _likelihoods(emulator.net, constants, offsets, moments_, z, values, group)

    return f


@eqx.filter_jit
def _likelihoods(net, constants, offsets, moments_, z, values, group):
    """Return the log-likelihood of each row of ``z`` given its row of ``values``."""

    def row(z, values, g):
        return _likelihood_of_row(net, (*constants, moments_[g], offsets[g]), z, values)

    return jax.vmap(row)(z, values, group)


def _likelihood_of_row(net, constants, z, values):
    """Return the figures' log-likelihood at one row of scores ``z`` (``likelihood_function``)."""
    lo, hi, below, above, centre, unit, out_mean, out_sd, moment, offset = constants
    point = lo == hi
    mean, variance, log_defined, log_undefined = moments(net, z)
    u = (mean + offset) * out_sd + out_mean
    stat = unit * jnp.sinh(u)
    spread = unit * jnp.cosh(u) * jnp.sqrt(variance) * out_sd
    inside, undefined = jnp.isnan(values), jnp.isinf(values)
    seen = jnp.where(inside, lo, values)
    as_value = (point | ~inside) & ~undefined
    # The observation error's scale is the tolerance on the statistic's side of the
    # interval's centre, as ``calibration.observation.noise_side`` reads it.
    error_sd = jnp.where(stat < centre, below, above)
    full = spread[:, None] * moment * spread[None, :] + jnp.diag(error_sd**2)
    # The figures seen as values first: in the Cholesky factor of the covariance so
    # ordered, their block gives their joint density, and the rows below it give each
    # other statistic's normal given them (a conditional normal: registers of the same
    # country are correlated), from one factor and one triangular solve.
    order = jnp.argsort(~as_value, stable=True)
    first = as_value[order]
    w = first.astype(float)
    chol = jnp.linalg.cholesky(full[order][:, order])
    residual = jnp.where(first, (seen - stat)[order], 0.0)
    solved = jax.scipy.linalg.solve_triangular(chol, residual, lower=True) * w
    density = -0.5 * jnp.sum(solved**2) - jnp.sum(jnp.log(jnp.diag(chol)) * w)
    density -= 0.5 * jnp.log(2 * jnp.pi) * jnp.sum(w)
    explained = chol * w[None, :]
    given = stat[order] + explained @ solved
    sd = jnp.sqrt(jnp.maximum(jnp.diag(full)[order] - jnp.sum(explained**2, axis=1), 1e-12))
    lo, hi = lo[order], hi[order]
    a = jnp.where(jnp.isfinite(lo), (lo - given) / sd, -jnp.inf)
    b = jnp.where(jnp.isfinite(hi), (hi - given) / sd, jnp.inf)
    # log(Phi(b) - Phi(a)), on the side away from a mass near one.
    flip = a > 0
    a, b = jnp.where(flip, -b, a), jnp.where(flip, -a, b)
    log_b, log_a = log_ndtr(b), log_ndtr(a)
    # A rounding that put log Phi(a) above log Phi(b) would make the log NaN.
    gap = jnp.minimum(log_a - log_b, -jnp.finfo(log_a.dtype).eps)
    mass = log_b + jnp.log1p(-jnp.exp(gap))
    mass = jnp.sum(jnp.where(first | undefined[order], 0.0, mass))
    defined = jnp.where(undefined.any(), log_undefined, log_defined)
    return density + mass + defined


class EmulatedPosterior:
    """Posterior draws given features, as ``Estimator.sample`` gives them."""

    def __init__(
        self,
        emulator: Emulator,
        targets: list[Target],
        settings: SamplerSettings | None = None,
        seed: int = 1,
        corrections: Sequence[LocalCorrection] | None = None,
    ):
        self.emulator = emulator
        self.targets_ = targets
        self.settings = settings or SamplerSettings()
        self.seed = seed
        self._corrections = list(corrections or [])
        self.stages = np.zeros(0, dtype=int)
        self.final_ess = np.zeros(0)
        self._likelihood = likelihood_function(emulator, targets, corrections)

    def corrected(self, corrections: Sequence[LocalCorrection]) -> EmulatedPosterior:
        """Return the same posterior with the emulator locally corrected (same settings, seed).

        One correction for every data set, or one for each data set of a batch, in order.
        """
        return EmulatedPosterior(
            self.emulator, self.targets_, self.settings, self.seed, corrections
        )

    @property
    def parameters(self) -> list[str]:
        """Return the calibrated parameters, in the emulator's order."""
        return self.emulator.parameters

    @property
    def targets(self) -> list[str]:
        """Return the ids of the targets whose figures the posterior is given."""
        return [t.id for t in self.targets_]

    @property
    def table_key(self) -> str:
        """Return the key of the prior's table the emulator's rows came from."""
        return self.emulator.table_key

    @property
    def rows(self) -> int:
        """Return the prior table's rows the emulator was trained on (later rows: truths)."""
        return self.emulator.rows

    def log_likelihood(
        self, z: np.ndarray, values: np.ndarray, group: np.ndarray | None = None
    ) -> np.ndarray:
        """Return the log-likelihood of rows ``z`` given rows ``values`` (NaN: -inf).

        ``group``: each row's index in ``corrections`` (all 0 when not given). In chunks of
        at most ``CHUNK`` rows, each padded to a power of two, so that JAX compiles few
        shapes and the networks' activations stay within memory.
        """
        group = np.zeros(len(z), dtype=np.int32) if group is None else np.asarray(group)
        # JAX would clamp an index out of range to the last correction, silently.
        if len(group) and not 0 <= group.min() <= group.max() < max(len(self._corrections), 1):
            raise ValueError(f"groups up to {group.max()} for {len(self._corrections)} corrections")
        out = np.empty(len(z))
        for start in range(0, len(z), CHUNK):
            rows = min(CHUNK, len(z) - start)
            size = 1 << int(np.ceil(np.log2(max(rows, 64))))
            pad = start + np.resize(np.arange(rows), size)
            chunk = self._likelihood(
                jnp.asarray(z[pad]), jnp.asarray(values[pad]), jnp.asarray(group[pad])
            )
            out[start : start + rows] = np.asarray(chunk)[:rows]
        return np.where(np.isnan(out), -np.inf, out)

    def _grouped_log_likelihood(self, z: np.ndarray, tagged: np.ndarray) -> np.ndarray:
        # Rows of values tagged with their data set's index in a last column, so that the
        # sampler, which passes rows of values through, keeps each row's correction.
        return self.log_likelihood(z, tagged[:, :-1], tagged[:, -1].astype(np.int32))

    def log_posterior(self, z: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Return the unnormalised log posterior of rows ``z`` given one row of features.

        Under the posterior's one correction, if any: one with a correction for each data
        set of a batch has no single posterior.
        """
        if len(self._corrections) > 1:
            raise ValueError("a posterior corrected per data set: take one correction")
        values = np.broadcast_to(observed_values(self.targets_, features), (len(z), len(features)))
        return self.log_likelihood(z, np.array(values)) - 0.5 * np.sum(z**2, axis=1)

    def sample(
        self, features: np.ndarray, n: int, seed: int | list[int], iid: bool = False
    ) -> np.ndarray:
        """Return ``n`` draws given one row of features, or a batch of rows.

        ``seed`` is an integer or a list of them (a stream of its own). Draws: ``(n,
        parameters)`` for a row, ``(n, rows, parameters)`` for a batch; ``n`` of a
        row's particles (at least ``settings.particles``), taken at random. The
        particles are exchangeable but not independent (they descend from the last
        resampling; the final moves spread them); ``iid``, the estimators' common
        interface, changes nothing. A row's draws depend on the other rows of the batch,
        which share the generator. The tempering stages each row took are kept in
        ``stages``, and the effective sample size of its last stage's weights in
        ``final_ess``. With one correction for each row of the batch (``corrected``),
        row ``i`` is drawn under the ``i``-th.
        """
        features = np.asarray(features, dtype=float)
        batch = np.atleast_2d(features)
        if len(self._corrections) > 1 and len(self._corrections) != len(batch):
            raise ValueError(f"{len(self._corrections)} corrections for {len(batch)} data sets")
        particles = max(n, self.settings.particles)
        values = np.repeat(observed_values(self.targets_, batch), particles, axis=0)
        group = np.repeat(np.arange(len(batch)), particles) if len(self._corrections) > 1 else 0
        tagged = np.column_stack([values, np.broadcast_to(group, len(values))])
        rng = np.random.default_rng([self.seed, *np.atleast_1d(seed).tolist()])
        z, self.stages, self.final_ess = tempered_smc(
            self._grouped_log_likelihood,
            tagged,
            particles,
            len(self.parameters),
            self.settings,
            rng,
        )
        chosen = rng.permutation(particles)[:n]
        draws = z.reshape(len(batch), particles, -1)[:, chosen].transpose(1, 0, 2)
        return draws if features.ndim > 1 else draws[:, 0, :]
