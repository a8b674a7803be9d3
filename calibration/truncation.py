"""Truncated proposals for sequential neural posterior estimation (TSNPE).

A posterior estimator trained on the prior alone spends almost all of its simulations where
the reported figures are not: in the committed prior, about 30 of 15,800 rows meet the
Kyrgyz register counts within 15%. Truncated sequential NPE (Deistler, Goncalves and Macke
2022, "Truncated proposals for scalable and hassle-free simulation-based inference")
simulates a further round from the prior restricted to the region where a first
estimator's posterior at the reported figures has its mass: the highest-density region of
level ``1 - eps`` (``eps = 1e-4`` by default, ``ngo-abm reference --eps``), found by
ranking the posterior's own draws by their density. Inside that region the truncated prior
is proportional to the prior, so an estimator trained by plain maximum likelihood on the
prior's rows and the truncated rows together is still an estimator of the posterior at the
reported figures (the mixture of the two is the prior times a step function that is
constant over the posterior's mass), as long as the region holds the posterior's mass:
with a tiny ``eps`` that holds by construction; a larger one (the last rounds, level 0.9)
rests on the estimator's posterior being wider than the posterior it estimates, which
``docs/calibration.md`` checks against the observation model's own posterior.

Draws come from standard normal candidates (the prior's normal scores) in blocks keyed by
``(seed, block, round)``, kept in order where the estimator's density clears the threshold: the
same estimator and seed give the same proposal rows whatever the machine's load. They are
written once to a Parquet file whose metadata carry their key (the estimator's weights,
the observed features, ``eps`` and the seed): a table of truncated rows
(``calibration.reference``) reads its normal scores from that file.

When the region's prior mass is small (about 3e-4 by the fourth round, so that rejection
needs millions of the estimator's densities per thousand rows), ``sampler="mcmc"`` draws
the same truncated prior by elliptical slice sampling (``calibration.restricted_prior``)
from chains started at the estimator's own draws; the sampler and its settings then enter
the proposal's key, which is unchanged for rejection.
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from model import ScenarioError

from .atomic import write_atomic
from .npe import Estimator
from .restricted_prior import DEFAULT, Settings, restricted_prior_draws

EPS = 1e-4
THRESHOLD_DRAWS = 50_000
BLOCK = 50_000
MAX_BLOCKS = 2_000
PROPOSAL_KEY = b"ngo_abm_proposal_key"
PROPOSAL_FILE = "proposal.parquet"
TRUNCATION_STREAM = 13
MCMC_STREAM = 1
SAMPLERS = ("rejection", "mcmc")


@lru_cache(maxsize=1)
def _compiled_log_prob():
    """Return a flow's log density compiled once (JAX traces it per flow structure)."""
    import equinox as eqx

    @eqx.filter_jit
    def log_prob(flow, z, condition):
        return flow.log_prob(z, condition=condition)

    return log_prob


def log_density(estimator: Estimator, z: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Return the ensemble's log density of the rows of ``z`` given one row of features."""
    import jax
    import jax.numpy as jnp

    log_prob = _compiled_log_prob()
    condition = jnp.asarray(estimator.condition(features))
    z = jnp.asarray(z, dtype=jnp.float32)
    per_flow = jnp.stack([log_prob(flow, z, condition) for flow in estimator.flows])
    mixture = jax.scipy.special.logsumexp(per_flow, axis=0) - np.log(len(estimator.flows))
    return np.asarray(mixture, dtype=float)


def hpd_threshold(estimator: Estimator, features: np.ndarray, eps: float, seed: int) -> float:
    """Return the density above which the posterior keeps all but ``eps`` of its mass."""
    draws = estimator.sample(features, THRESHOLD_DRAWS, seed, iid=True)
    return float(np.quantile(log_density(estimator, draws, features), eps))


def padded_log_density(estimator: Estimator, features: np.ndarray):
    """Return ``log_density`` at ``features`` as a batch function of ``z`` alone.

    Batches are padded to a power of two (at least 64 rows), so that JAX compiles the
    flows for a few shapes only however many chains are still shrinking their brackets.
    """

    def logq(z: np.ndarray) -> np.ndarray:
        size = max(64, 1 << (len(z) - 1).bit_length())
        padded = np.zeros((size, z.shape[1]))
        padded[: len(z)] = z
        return log_density(estimator, padded, features)[: len(z)]

    return logq


def truncated_draws(
    estimator: Estimator,
    features: np.ndarray,
    n: int,
    eps: float = EPS,
    seed: int = 1,
    truncation_round: int = 1,
    sampler: str = "rejection",
    settings: Settings = DEFAULT,
) -> tuple[np.ndarray, float, dict]:
    """Return ``n`` prior draws (normal scores) inside the posterior's HPD region.

    Each round draws its own candidates (or chains), so that a later round does not re-run
    the parameter sets of an earlier one. ``settings`` are those of the ``mcmc`` sampler.

    Returns:
        The draws in order, the density threshold, and a description: for rejection the
        share of prior candidates kept (the prior mass of the region), for MCMC the
        sampler's diagnostics.

    Raises:
        ScenarioError: if the region holds too little prior mass to fill ``n`` rows.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}: one of {SAMPLERS}")
    tau = hpd_threshold(estimator, features, eps, seed)
    if sampler == "mcmc":
        return _mcmc_draws(estimator, features, n, eps, tau, seed, truncation_round, settings)
    dim = len(estimator.parameters)
    kept, tried = [], 0
    for block in range(MAX_BLOCKS):
        rng = np.random.default_rng([seed, TRUNCATION_STREAM, block, truncation_round + 1])
        candidates = rng.standard_normal((BLOCK, dim))
        kept.append(candidates[log_density(estimator, candidates, features) >= tau])
        tried += BLOCK
        if sum(len(k) for k in kept) >= n:
            draws = np.concatenate(kept)[:n]
            return draws, tau, {"prior_mass": sum(len(k) for k in kept) / tried}
    raise ScenarioError(
        "truncation", "rows", f"fewer than {n} prior draws in {tried} fall inside the region"
    )


def _mcmc_draws(estimator, features, n, eps, tau, seed, truncation_round, settings):
    """Return draws of the truncated prior by MCMC from the estimator's draws, and diagnostics."""
    keys = (TRUNCATION_STREAM, truncation_round + 1, MCMC_STREAM)
    start_seed = int(np.random.default_rng([seed, *keys]).integers(2**31))
    # About eps of q's draws fall outside the region: draw a tenth more than the chains,
    # divided by the share inside. At eps = 1e-4 the division adds less than one draw for
    # up to about 9,000 chains, so the proposals drawn before eps could be chosen stand.
    count = math.floor((settings.chains + settings.chains // 10 + 10) / (1 - eps))
    starts = estimator.sample(features, count, start_seed, iid=True)
    logq = padded_log_density(estimator, features)
    try:
        draws, meta = restricted_prior_draws(logq, tau, starts, n, seed, keys, settings)
    except ValueError as error:
        raise ScenarioError("truncation", "mcmc", str(error)) from None
    return draws, tau, meta


def sampler_key(sampler: str, settings: Settings = DEFAULT) -> dict | None:
    """Return what a proposal's key holds of its sampler: nothing for rejection."""
    return None if sampler == "rejection" else {"name": sampler, **settings.as_dict()}


def proposal_key(
    estimator_file: Path, features: np.ndarray, eps: float, seed: int, sampler: dict | None = None
) -> str:
    """Return the key of a proposal: what its rows depend on.

    ``sampler`` (``sampler_key``) is left out for rejection, so that the keys of the
    proposals drawn before there was a choice, and of the tables keyed by them, stand.
    """
    weights = hashlib.sha256(estimator_file.read_bytes()).hexdigest()
    payload = {"weights": weights, "features": features.tolist(), "eps": eps, "seed": seed}
    if sampler is not None:
        payload["sampler"] = sampler
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def write_proposal(folder: Path, draws: np.ndarray, names: list[str], key: str, meta: dict):
    """Write the proposal's normal scores (columns ``names``) with its key and description."""
    frame = pd.DataFrame(draws, columns=names)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    extra = {PROPOSAL_KEY: key.encode(), b"ngo_abm_proposal": json.dumps(meta).encode()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / PROPOSAL_FILE, lambda tmp: pq.write_table(table, tmp))


def read_proposal(folder: Path) -> tuple[pd.DataFrame, str, dict]:
    """Return a proposal's normal scores, key and description.

    Raises:
        ScenarioError: if the folder holds no proposal.
    """
    path = Path(folder) / PROPOSAL_FILE
    if not path.exists():
        raise ScenarioError(path, "", "no truncated proposal: run `ngo-abm reference --truncate`")
    if not path.is_file():
        raise ScenarioError(
            path, "", "not a regular file: remove it and rerun `ngo-abm reference --truncate`"
        )
    try:
        meta = pq.read_schema(path).metadata or {}
        key = meta.get(PROPOSAL_KEY, b"").decode()
        return pd.read_parquet(path), key, json.loads(meta.get(b"ngo_abm_proposal", b"{}"))
    except (OSError, pa.ArrowInvalid, UnicodeDecodeError, ValueError) as exc:
        found = (
            f"unreadable ({type(exc).__name__}): remove it and rerun `ngo-abm reference --truncate`"
        )
        raise ScenarioError(path, "", found) from None
