"""An emulator of the target statistics: what a run gives, and how widely runs scatter.

A heteroscedastic Gaussian regression from the calibrated parameters' normal scores ``z``
to every target statistic, with a classifier of runs with an undefined statistic: one
neural network (equinox and optax on JAX, CPU) with, per statistic, a mean and a log
variance, and one logit. Each statistic ``s`` is modelled on the scale
``asinh(s / unit)``, ``unit`` its target's tolerance unit below the reported interval
(``calibration.compare.tolerance_scales``): like a logarithm for counts far above a
tolerance unit, where runs scatter in proportion, and linear near zero. It is fitted by
the Gaussian negative log-likelihood to the reference table's rows, the prior's and the
truncated rounds' alike: the distribution of a run's statistics given the parameters is
the same whatever drew the parameters, so, unlike a posterior estimator, the emulator
needs no correction for the rounds (the neural likelihood of Papamakarios, Sterratt and
Murray 2019, in the Gaussian form of the synthetic likelihood of Wood 2010 and Price et
al. 2018, whose mean and variance are learnt over the parameter space instead of
estimated by new runs at every point). The means and variances are fitted on nine tenths
of the rows (the variances: a run's own noise plus what the network misses on those
rows); on the tenth held out, the correlation between the statistics' standardised
residuals is the emulator's correlation, so that a run's registers of several years are
not counted as independent evidence. A row with any undefined statistic (a register that
ran away, or a ratio whose base is zero) is left out of the Gaussian fit and counts as
undefined for the classifier.

``calibration.emulated_posterior`` combines it with the observation model. Saved as the
network's leaves (``.eqx``, no pickle) and a JSON description.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .atomic import write_atomic, write_text_atomic
from .compare import tolerance_scales
from .compilation_cache import use_compilation_cache
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
    correlation: np.ndarray
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


def _build(spec: EmulatorSpec, dim: int, outputs: int, key):
    import equinox as eqx
    import jax

    return eqx.nn.MLP(dim, 2 * outputs + 1, spec.width, spec.depth, activation=jax.nn.silu, key=key)


def heads(net, z):
    """Return the scaled means, log variances and the logit of an undefined run for ``z``."""
    out = net(z)
    d = (out.shape[0] - 1) // 2
    return out[:d], out[d : 2 * d], out[-1]


def _loss(net, z, u):
    """Gaussian negative log-likelihood of the defined runs, plus the undefined runs' log loss."""
    import jax
    import jax.numpy as jnp

    mean, log_var, logit = jax.vmap(lambda x: heads(net, x))(z)
    undefined = jnp.isnan(u).any(axis=1)
    defined = jnp.where(jnp.isnan(u), 0.0, u)
    nll = 0.5 * ((defined - mean) ** 2 * jnp.exp(-log_var) + log_var)
    nll = jnp.where(undefined[:, None], 0.0, nll).sum() / jnp.maximum((~undefined).sum(), 1)
    return (nll + jnp.mean(jax.nn.softplus(logit) - undefined * logit)) / u.shape[1]


def train(
    z: np.ndarray, stats: np.ndarray, unit: np.ndarray, spec: EmulatorSpec, seed: int
) -> tuple[object, np.ndarray, np.ndarray, np.ndarray, dict]:
    """Fit the network to ``(z, stats)`` rows.

    A NaN is an undefined statistic: its row counts only for the classifier.

    Returns:
        The network, the scaled outputs' mean and standard deviation, the held-out
        residuals' correlation and the cost (seconds, held-out loss).
    """
    import equinox as eqx
    import jax.numpy as jnp
    import jax.random as jr
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
        loss, grads = eqx.filter_value_and_grad(_loss)(net, zb, ub)
        updates, state = optimiser.update(grads, state, eqx.filter(net, eqx.is_array))
        return eqx.apply_updates(net, updates), state

    for _ in range(spec.epochs):
        shuffled = rng.permutation(fit_rows)
        for b in range(batches):
            rows = shuffled[b * spec.batch_size : (b + 1) * spec.batch_size]
            net, state = step(net, state, z[rows], scaled[rows])
    correlation = _residual_correlation(net, z[held], np.asarray(scaled[held]))
    cost = {
        "training_seconds": round(time.monotonic() - start, 1),
        "held_out_loss": round(float(eqx.filter_jit(_loss)(net, z[held], scaled[held])), 4),
    }
    return net, mean, sd, correlation, cost


def _residual_correlation(net, z, scaled: np.ndarray) -> np.ndarray:
    """Return the correlation of the held-out rows' standardised residuals."""
    import jax

    mean, log_var, _ = jax.vmap(lambda x: heads(net, x))(z)
    residuals = (scaled - np.asarray(mean)) / np.exp(0.5 * np.asarray(log_var))
    residuals = residuals[np.isfinite(residuals).all(axis=1)]
    return np.corrcoef(residuals.T)


def save(emulator: Emulator, path: Path) -> None:
    """Write the emulator's weights (``path``, ``.eqx``) and its description (``.json``)."""
    import equinox as eqx

    meta = {
        "spec": asdict(emulator.spec),
        "parameters": emulator.parameters,
        "targets": emulator.targets,
        "unit": emulator.unit.tolist(),
        "out_mean": emulator.out_mean.tolist(),
        "out_sd": emulator.out_sd.tolist(),
        "correlation": emulator.correlation.tolist(),
        "table_key": emulator.table_key,
        "rows": emulator.rows,
        "seed": emulator.seed,
        "truncated": [[key, rows] for key, rows in emulator.truncated],
    }
    write_atomic(path, lambda tmp: eqx.tree_serialise_leaves(tmp, emulator.net))
    write_text_atomic(path.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")


def load(path: Path) -> Emulator:
    """Read an emulator written by ``save``."""
    import equinox as eqx
    import jax.random as jr

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
        correlation=np.asarray(meta["correlation"]),
        table_key=meta["table_key"],
        rows=meta["rows"],
        seed=meta["seed"],
        truncated=[(key, rows) for key, rows in meta["truncated"]],
    )
