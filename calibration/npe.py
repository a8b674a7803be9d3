"""Neural posterior estimation: a conditional normalising flow trained on the reference table.

The flow ``q(z | features)`` is a masked autoregressive flow (Papamakarios, Pavlakou and
Murray 2017) over the calibrated parameters' normal scores ``z`` (standard normal under the
prior, ``calibration.priors.pyabc_prior``), conditioned on the features of the observation
model (``calibration.observation``), and fitted by maximum likelihood to the reference
table's rows (Papamakarios and Murray 2016; Greenberg, Nonnenmacher and Macke 2019): once
trained it gives the posterior for any data without further simulation (amortised), which
is what makes coverage on hundreds of synthetic truths affordable. It is built and
trained with flowjax (JAX). Several flows trained from different initialisations are
pooled as an equal mixture (Hermans et al. 2022, "A trust crisis in simulation-based
inference?": ensembles are less often overconfident).

A trained estimator is saved as two files: the flows' weights (``.eqx``, equinox's leaf
format, no pickle) and a JSON of what rebuilds them (architecture, feature scaling,
targets, parameters, the keys of the tables it was trained on and seed; and, as a record,
the versions of Python and of the libraries that trained it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from model import ScenarioError

from .atomic import write_atomic, write_text_atomic
from .compilation_cache import use_compilation_cache
from .versions import installed_versions


@dataclass(frozen=True)
class FlowSpec:
    """Architecture and training of the flows (see ``docs/calibration.md``)."""

    layers: int = 6
    width: int = 128
    depth: int = 2
    ensemble: int = 3
    learning_rate: float = 5e-4
    batch_size: int = 256
    max_epochs: int = 300
    patience: int = 15
    # Standardised features beyond this many standard deviations are set to it, in training
    # and in sampling: rows up to 184 deviations out made one flow's validation loss
    # rise from its third epoch, which early stopping then kept (docs/calibration.md,
    # session 58). None: not clipped, as estimators saved before the setting were trained.
    feature_clip: float | None = 10.0


@dataclass
class Estimator:
    """A trained posterior estimator and what it was trained on."""

    flows: list
    spec: FlowSpec
    parameters: list[str]
    targets: list[str]
    feature_mean: np.ndarray
    feature_sd: np.ndarray
    table_key: str
    rows: int
    seed: int
    truncated: list[tuple[str, int]] = field(default_factory=list)

    def condition(self, features: np.ndarray) -> np.ndarray:
        """Return what the flows are conditioned on: the features standardised (``FlowSpec``)."""
        return standardised(features, self.feature_mean, self.feature_sd, self.spec.feature_clip)

    @property
    def truncated_rows(self) -> int:
        """Return how many truncated rows (all rounds) it was trained on."""
        return sum(rows for _, rows in self.truncated)

    def sample(self, features: np.ndarray, n: int, seed: int, iid: bool = False) -> np.ndarray:
        """Return ``n`` draws of the normal scores given ``features``.

        ``features`` is one row (draws: ``(n, parameters)``) or a batch of rows, one per
        data set (draws: ``(n, rows, parameters)``). The ensemble is an equal mixture: by
        default its flows give equal shares of the draws (stratified, for the committed
        posterior); with ``iid`` each draw's flow is drawn at random, so that the draws are
        independent draws of the mixture, as rank checks need. The same seed gives the
        same draws.
        """
        import jax.numpy as jnp
        import jax.random as jr

        condition = jnp.asarray(self.condition(features))
        keys = jr.split(jr.key(seed), len(self.flows))
        k = len(self.flows)
        if iid:
            counts = np.random.default_rng(seed).multinomial(n, [1.0 / k] * k)
        else:
            counts = np.diff(np.linspace(0, n, k + 1).round().astype(int))
        draws = [
            np.asarray(flow.sample(key, (int(k),), condition=condition))
            for flow, key, k in zip(self.flows, keys, counts, strict=True)
        ]
        return np.concatenate(draws).astype(float)


def standardised(
    features: np.ndarray, mean: np.ndarray, sd: np.ndarray, clip: float | None
) -> np.ndarray:
    """Return the features in standard deviations from their mean, within ``clip`` of 0."""
    scaled = (np.asarray(features) - mean) / sd
    return scaled if clip is None else np.clip(scaled, -clip, clip)


def _build_flow(spec: FlowSpec, dim: int, cond_dim: int, key):
    import jax.numpy as jnp
    from flowjax.distributions import Normal
    from flowjax.flows import masked_autoregressive_flow

    return masked_autoregressive_flow(
        key,
        base_dist=Normal(jnp.zeros(dim)),
        cond_dim=cond_dim,
        flow_layers=spec.layers,
        nn_width=spec.width,
        nn_depth=spec.depth,
    )


def train(
    z: np.ndarray,
    features: np.ndarray,
    spec: FlowSpec,
    seed: int,
    progress: bool = False,
) -> tuple[list, np.ndarray, np.ndarray, list[list[float]]]:
    """Fit the ensemble's flows to ``(z, features)`` pairs.

    Returns:
        The flows, the features' mean and standard deviation (their scaling), and each
        flow's validation losses by epoch.
    """
    import jax.random as jr
    from flowjax.train import fit_to_data

    use_compilation_cache()
    mean, sd = features.mean(axis=0), features.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    scaled = standardised(features, mean, sd, spec.feature_clip)
    flows, losses = [], []
    for member in range(spec.ensemble):
        init_key, fit_key = jr.split(jr.key(seed * 1000 + member))
        flow = _build_flow(spec, z.shape[1], features.shape[1], init_key)
        flow, history = fit_to_data(
            fit_key,
            flow,
            (z.astype(np.float32), scaled.astype(np.float32)),
            learning_rate=spec.learning_rate,
            max_epochs=spec.max_epochs,
            max_patience=spec.patience,
            batch_size=spec.batch_size,
            show_progress=progress,
        )
        flows.append(flow)
        losses.append([float(v) for v in history["val"]])
    return flows, mean, sd, losses


# What the weights depend on besides the rows, the spec and the seed: on one machine a
# training gives the same weights bit for bit, but jax 0.12.0 and 0.12.1 give different ones
# (docs/calibration.md, "The libraries' versions move the weights"); constraints.txt pins them.
TRAINING_LIBRARIES = ("jax", "jaxlib", "flowjax", "equinox", "optax", "numpy")


def training_libraries() -> dict[str, str]:
    """Return the versions of Python and of the libraries that train the flows."""
    return installed_versions(TRAINING_LIBRARIES)


def save(estimator: Estimator, path: Path) -> None:
    """Write the estimator's weights (``path``, ``.eqx``) and its description (``.json``)."""
    import equinox as eqx

    meta = {
        "spec": asdict(estimator.spec),
        "parameters": estimator.parameters,
        "targets": estimator.targets,
        "feature_mean": estimator.feature_mean.tolist(),
        "feature_sd": estimator.feature_sd.tolist(),
        "table_key": estimator.table_key,
        "rows": estimator.rows,
        "seed": estimator.seed,
        "truncated": [[key, rows] for key, rows in estimator.truncated],
        "trained_with": training_libraries(),
    }
    write_atomic(path, lambda tmp: eqx.tree_serialise_leaves(tmp, estimator.flows))
    write_text_atomic(path.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")


def load(path: Path) -> Estimator:
    """Read an estimator written by ``save``."""
    import equinox as eqx
    import jax.random as jr

    use_compilation_cache()
    try:
        meta = json.loads(path.with_suffix(".json").read_text("utf-8"))
        # An estimator saved before ``feature_clip`` existed was trained without it.
        spec = FlowSpec(**{"feature_clip": None, **meta["spec"]})
        dim, cond_dim = len(meta["parameters"]), len(meta["targets"])
        skeleton = [_build_flow(spec, dim, cond_dim, jr.key(0)) for _ in range(spec.ensemble)]
        # equinox raises a RuntimeError (its TreePathError) on weights of another shape.
        flows = eqx.tree_deserialise_leaves(path, skeleton)
    except (OSError, KeyError, TypeError, ValueError, RuntimeError) as exc:
        found = f"unreadable estimator ({type(exc).__name__}): retrain it, `ngo-abm calibrate npe`"
        raise ScenarioError(path, "", found) from None
    return Estimator(
        flows=flows,
        spec=spec,
        parameters=meta["parameters"],
        targets=meta["targets"],
        feature_mean=np.asarray(meta["feature_mean"]),
        feature_sd=np.asarray(meta["feature_sd"]),
        table_key=meta["table_key"],
        rows=meta["rows"],
        seed=meta["seed"],
        truncated=[(key, rows) for key, rows in meta.get("truncated", [])],
    )
