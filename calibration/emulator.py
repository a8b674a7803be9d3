"""An emulator of the target statistics: what a run gives, and how widely runs scatter.

A heteroscedastic Gaussian regression from the calibrated parameters' normal scores ``z``
to every target statistic, with a classifier of runs with an undefined statistic: a deep
ensemble (Lakshminarayanan, Pritzel and Blundell 2017) of neural networks (equinox and
optax on JAX, CPU), each with, per statistic, a mean and a log variance, and one logit.
Each statistic ``s`` is modelled on the scale ``asinh(s / unit)``, ``unit`` its target's
tolerance unit below the reported interval (``calibration.compare.tolerance_scales``):
like a logarithm for counts far above a tolerance unit, where runs scatter in proportion,
and linear near zero. It is fitted by the Gaussian negative log-likelihood to the
reference table's rows, the prior's and the truncated rounds' alike: the distribution of
a run's statistics given the parameters is the same whatever drew the parameters, so,
unlike a posterior estimator, the emulator needs no correction for the rounds (the neural
likelihood of Papamakarios, Sterratt and Murray 2019, in the Gaussian form of the
synthetic likelihood of Wood 2010 and Price et al. 2018, whose mean and variance are
learnt over the parameter space instead of estimated by new runs at every point).

The members are fitted on the same nine tenths of the rows, each from its own initial
weights and order of batches; a run's statistics are their equal mixture, whose variance
adds the members' disagreement (the emulator's own error, largest where the rows are
thin) to their mean variance (a run's noise plus what the networks miss on the rows they
were fitted to). A network's variances, fitted on its own rows, understate its error on
others (session 52: a variance of the standardised residuals of 1.4 on held-out rows, up
to 2.5 for a register, and up to 4.1 on rows of the prior's table). So on the tenth held
out, the second moments of the mixture's standardised residuals (``residual_moment``:
their scale, and their correlation, so that a run's registers of several years are not
counted as independent evidence) rescale its covariance: the recalibration of a
regression's variances on held-out data (Kuleshov, Fenner and Ermon 2018; Levi et al.
2022), per statistic and jointly. A row with any undefined statistic (a register that ran
away, or a ratio whose base is zero) is left out of the Gaussian fit and counts as
undefined for the classifier.

``calibration.emulated_posterior`` combines it with the observation model. Saved as the
network's leaves (``.eqx``, no pickle) and a JSON description.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.scipy.special import logsumexp

from .atomic import write_atomic, write_text_atomic
from .compare import tolerance_scales
from .compilation_cache import use_compilation_cache
from .npe import training_libraries
from .targets import Target


@dataclass(frozen=True)
class EmulatorSpec:
    """Architecture and training of the emulator (see ``docs/calibration.md``)."""

    width: int = 256
    depth: int = 3
    epochs: int = 150
    batch_size: int = 512
    learning_rate: float = 1e-3
    held_out: float = 0.1
    members: int = 4

    def least_rows(self) -> int:
        """Return the fewest training rows that leave one batch after those held out."""
        rows = self.batch_size
        while rows - int(rows * self.held_out) < self.batch_size:
            rows += 1
        return rows


@dataclass
class Emulator:
    """A trained emulator and what it was trained on."""

    net: object
    spec: EmulatorSpec
    parameters: list[str]
    targets: list[str]
    unit: np.ndarray
    out_mean: np.ndarray
    out_sd: np.ndarray
    residual_moment: np.ndarray
    table_key: str
    rows: int
    seed: int
    truncated: list[tuple[str, int]]


def units(targets: list[Target]) -> np.ndarray:
    """Return each target's tolerance unit below its reported interval: the scale's unit."""
    return np.array([tolerance_scales(t)[0] for t in targets])


def transform(stats: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """Return statistics on the emulator's scale, ``asinh(s / unit)`` (NaN stays NaN)."""
    return np.arcsinh(np.asarray(stats, dtype=float) / unit)


class Ensemble(eqx.Module):
    """Networks with stacked weights; called on ``z``, each member's outputs, a row each."""

    members: eqx.nn.MLP

    def __call__(self, z):
        """Return the members' outputs at ``z``: members x (2 statistics + 1)."""
        return eqx.filter_vmap(lambda member: member(z))(self.members)


def _build(spec: EmulatorSpec, dim: int, outputs: int, key):
    def member(k):
        return eqx.nn.MLP(dim, 2 * outputs + 1, spec.width, spec.depth, jax.nn.silu, key=k)

    return Ensemble(eqx.filter_vmap(member)(jr.split(key, spec.members)))


def heads(net, z):
    """Return each member's scaled means, log variances and logit of an undefined run."""
    out = jnp.atleast_2d(net(z))
    d = (out.shape[1] - 1) // 2
    return out[:, :d], out[:, d : 2 * d], out[:, -1]


def moments(net, z):
    """Return the members' mixture at ``z``: mean, variance, log P(defined), log P(undefined).

    Mean and variance are on the scaled scale; the mixture's variance is the members'
    mean variance plus the variance of their means. Both logs are computed from the
    logits, so that a chance near one leaves its complement's log exact in 32-bit floats.
    """
    mean, log_var, logit = heads(net, z)
    centre = mean.mean(axis=0)
    variance = jnp.exp(log_var).mean(axis=0) + ((mean - centre) ** 2).mean(axis=0)
    members = jnp.log(logit.shape[0])
    log_defined = logsumexp(-jax.nn.softplus(logit)) - members
    log_undefined = logsumexp(-jax.nn.softplus(-logit)) - members
    return centre, variance, log_defined, log_undefined


def _loss(member, z, u):
    """Gaussian negative log-likelihood of the defined runs, plus the undefined runs' log loss."""
    out = jax.vmap(member)(z)
    d = (out.shape[1] - 1) // 2
    mean, log_var, logit = out[:, :d], out[:, d : 2 * d], out[:, -1]
    undefined = jnp.isnan(u).any(axis=1)
    defined = jnp.where(jnp.isnan(u), 0.0, u)
    nll = 0.5 * ((defined - mean) ** 2 * jnp.exp(-log_var) + log_var)
    nll = jnp.where(undefined[:, None], 0.0, nll).sum() / jnp.maximum((~undefined).sum(), 1)
    return (nll + jnp.mean(jax.nn.softplus(logit) - undefined * logit)) / u.shape[1]


def _ensemble_loss(net, z, u):
    """Return the members' summed losses, each on its own batch (members x rows)."""
    return eqx.filter_vmap(_loss)(net.members, z, u).sum()


def train(
    z: np.ndarray, stats: np.ndarray, unit: np.ndarray, spec: EmulatorSpec, seed: int
) -> tuple[object, np.ndarray, np.ndarray, np.ndarray, dict]:
    """Fit the members to ``(z, stats)`` rows.

    A NaN is an undefined statistic: its row counts only for the classifier.

    Returns:
        The ensemble, the scaled outputs' mean and standard deviation, the second moments
        of the held-out rows' standardised residuals and the cost (seconds, held-out loss
        of the members, mean).
    """
    import optax

    use_compilation_cache()
    start = time.monotonic()
    u = transform(stats, unit)
    mean, sd = np.nanmean(u, axis=0), np.nanstd(u, axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    scaled = jnp.asarray((u - mean) / sd, dtype=jnp.float32)
    z = jnp.asarray(z, dtype=jnp.float32)
    rng = np.random.default_rng([seed, 1])
    order = rng.permutation(len(z))
    held = order[: int(len(z) * spec.held_out)]
    fit_rows = order[len(held) :]
    batches = len(fit_rows) // spec.batch_size
    net = _build(spec, z.shape[1], u.shape[1], jr.key(seed))
    optimiser = optax.adam(optax.cosine_decay_schedule(spec.learning_rate, spec.epochs * batches))
    state = optimiser.init(eqx.filter(net, eqx.is_array))

    @eqx.filter_jit
    def step(net, state, zb, ub):
        grads = eqx.filter_grad(_ensemble_loss)(net, zb, ub)
        updates, state = optimiser.update(grads, state, eqx.filter(net, eqx.is_array))
        return eqx.apply_updates(net, updates), state

    for _ in range(spec.epochs):
        # Each member its own order of the rows: with their own initial weights, what
        # makes their errors differ where the rows do not pin them down.
        shuffled = np.stack([rng.permutation(fit_rows) for _ in range(spec.members)])
        for b in range(batches):
            rows = shuffled[:, b * spec.batch_size : (b + 1) * spec.batch_size]
            net, state = step(net, state, z[rows], scaled[rows])
    held_z, held_scaled = z[held], scaled[held]
    losses = eqx.filter_jit(eqx.filter_vmap(_loss, in_axes=(eqx.if_array(0), None, None)))(
        net.members, held_z, held_scaled
    )
    cost = {
        "training_seconds": round(time.monotonic() - start, 1),
        "held_out_loss": round(float(np.mean(losses)), 4),
    }
    return net, mean, sd, residual_moment(net, held_z, np.asarray(held_scaled)), cost


def residual_moment(net, z, scaled: np.ndarray) -> np.ndarray:
    """Return the second moments of rows' residuals from the mixture, in its standard units.

    Its diagonal is how much the mixture's variance understates (above one) or overstates
    the residuals' mean square on rows it was not fitted to; off the diagonal, their
    correlation in those units.
    """
    residuals = standardised_residuals(net, z, scaled)
    return residuals.T @ residuals / len(residuals)


def standardised_residuals(net, z, scaled: np.ndarray) -> np.ndarray:
    """Return rows' residuals from the mixture's mean in its standard deviations.

    ``scaled`` are the rows' statistics on the networks' scale; rows with an undefined
    statistic are left out.
    """
    centre, variance = mixture_at(net, z)
    residuals = (scaled - centre) / np.sqrt(variance)
    return residuals[np.isfinite(residuals).all(axis=1)]


def mixture_at(net, z) -> tuple[np.ndarray, np.ndarray]:
    """Return the mixture's scaled mean and variance at each row of ``z`` (rows x targets)."""
    centre, variance, *_ = _moments_of_rows(net, jnp.asarray(z, dtype=jnp.float32))
    return np.asarray(centre, dtype=float), np.asarray(variance, dtype=float)


@eqx.filter_jit
def _moments_of_rows(net, z):
    return jax.vmap(lambda x: moments(net, x))(z)


def save(emulator: Emulator, path: Path) -> None:
    """Write the emulator's weights (``path``, ``.eqx``) and its description (``.json``)."""
    meta = {
        "spec": asdict(emulator.spec),
        "parameters": emulator.parameters,
        "targets": emulator.targets,
        "unit": emulator.unit.tolist(),
        "out_mean": emulator.out_mean.tolist(),
        "out_sd": emulator.out_sd.tolist(),
        "residual_moment": emulator.residual_moment.tolist(),
        "table_key": emulator.table_key,
        "rows": emulator.rows,
        "seed": emulator.seed,
        "truncated": [[key, rows] for key, rows in emulator.truncated],
        "trained_with": training_libraries(),
    }
    write_atomic(path, lambda tmp: eqx.tree_serialise_leaves(tmp, emulator.net))
    write_text_atomic(path.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")


def load(path: Path) -> Emulator:
    """Read an emulator written by ``save``."""
    use_compilation_cache()
    meta = json.loads(path.with_suffix(".json").read_text("utf-8"))
    spec = EmulatorSpec(**meta["spec"])
    skeleton = _build(spec, len(meta["parameters"]), len(meta["targets"]), jr.key(0))
    return Emulator(
        net=eqx.tree_deserialise_leaves(path, skeleton),
        spec=spec,
        parameters=meta["parameters"],
        targets=meta["targets"],
        unit=np.asarray(meta["unit"]),
        out_mean=np.asarray(meta["out_mean"]),
        out_sd=np.asarray(meta["out_sd"]),
        residual_moment=np.asarray(meta["residual_moment"]),
        table_key=meta["table_key"],
        rows=meta["rows"],
        seed=meta["seed"],
        truncated=[(key, rows) for key, rows in meta["truncated"]],
    )
