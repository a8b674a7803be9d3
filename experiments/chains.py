"""Pseudo-marginal Metropolis chains at the reported figures: a check of the estimator.

The observation model (``calibration.observation``) defines the posterior the estimator
approximates: the prior, standard normal over the parameters' normal scores, times the
likelihood of the reported figures given a run's statistics. That likelihood has no closed
form over runs, but the mean of ``runs`` runs' likelihoods is an unbiased estimate of it,
and a Metropolis chain that keeps each state's estimate with the state samples the exact
posterior (Andrieu and Roberts 2009, "The pseudo-marginal approach for efficient Monte
Carlo computations", Annals of Statistics). The chains start at the best of a batch of
the estimator's draws at the figures, re-estimated with fresh runs so that the start's
estimate is not the lucky one it was picked for. Their Gaussian steps take the chains'
pooled covariance, adapted during the burn-in only (Haario, Saksman and Tamminen 2001,
"An adaptive Metropolis algorithm", Bernoulli), so that the states kept come from one
fixed kernel; the step's scale is tuned in the burn-in towards the acceptance rate that
is best for a noisy likelihood, 7% (Sherlock, Thiery, Roberts and Rosenthal 2015, "On
the efficiency of pseudo-marginal random walk Metropolis algorithms", Annals of
Statistics).

What it checks: a truncated round of level L (``calibration.truncation``) assumes that
the estimator's region of level L holds the posterior; the share of the kept states
inside each region says whether it does (``docs/calibration.md``, "The chains as a
command"). The randomness of step ``s`` comes from ``default_rng([seed, CHAIN_STREAM,
s])`` and a run's seed from its step, chain and replicate, so the chains do not depend on
the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import logsumexp

from calibration.amortised import fitted_targets, reported_features
from calibration.npe import Estimator
from calibration.observation import log_likelihood, signed_errors
from calibration.priors import load_priors, model_values, sampled_name
from calibration.reference import simulate_statistics, simulator
from calibration.restricted_prior import split_rhat
from calibration.truncation import log_density
from experiments.progress import progress_bar

from .runner import derived_seed, map_runs, worker_pool

CHAIN_STREAM = 17
REGION_STREAM = 1
LEVELS = (0.5, 0.9, 0.99, 1 - 1e-4)
# Draws of the estimator that place each level's region (its density quantiles).
REGION_DRAWS = 20_000
# Sherlock et al. 2015: for a noisy likelihood the best random-walk step is about
# 2.562 / sqrt(d) in the posterior's own scale, accepted about 7% of the time.
SCALE = 2.562**2
TARGET_ACCEPTANCE = 0.07

Estimate = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class ChainSettings:
    """The chains' settings (written beside their results)."""

    chains: int = 16
    steps: int = 300
    burn_in: int = 100
    runs: int = 2
    start_batch: int = 8
    seed: int = 1

    def as_dict(self) -> dict:
        """Return the settings as plain data."""
        return asdict(self)


@dataclass
class Start:
    """The chains' first states, their estimates, and the batch they were picked from."""

    z: np.ndarray
    estimates: np.ndarray
    sse: np.ndarray
    batch_sse: np.ndarray
    batch_cov: np.ndarray


@dataclass
class Chains:
    """The chains' kept states (steps x chains x parameters) and what they did."""

    states: np.ndarray
    estimates: np.ndarray
    sse: np.ndarray
    accepted: np.ndarray
    start_sse: np.ndarray


def run_seed(settings: ChainSettings, step: int, chain: int, replicate: int) -> int:
    """Return the model seed of one run of one chain's estimate at one step."""
    return derived_seed(settings.seed, CHAIN_STREAM, step, chain, replicate)


def estimate(
    z: np.ndarray,
    step: int,
    settings: ChainSettings,
    estimator: Estimator,
    pool=None,
    first_replicate: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's log-likelihood estimate and its runs' mean squared-error sum.

    The estimate is the log of the mean of ``settings.runs`` runs' likelihoods; the sum of
    squared errors (in tolerance units, over the fitted figures) is reported, not used.
    ``pool``: workers kept for all the steps (``runner.worker_pool``), else in-process.
    """
    priors = load_priors()
    names = [sampled_name(p) for p in estimator.parameters]
    replicates = range(first_replicate, first_replicate + settings.runs)
    tasks = [
        (model_values(dict(zip(names, row, strict=True)), priors), run_seed(settings, step, c, r))
        for c, row in enumerate(z)
        for r in replicates
    ]
    stats = np.asarray(map_runs(simulate_statistics, tasks, pool=pool))
    targets = fitted_targets(False)
    ids = [t.id for t in simulator().targets]
    fitted = stats[:, [ids.index(t.id) for t in targets]]
    per_run = log_likelihood(targets, fitted).sum(axis=1).reshape(len(z), settings.runs)
    errors = np.column_stack([signed_errors(t, fitted[:, j]) for j, t in enumerate(targets)])
    sse = (errors**2).sum(axis=1).reshape(len(z), settings.runs).mean(axis=1)
    return logsumexp(per_run, axis=1) - np.log(settings.runs), sse


def log_target(z: np.ndarray, estimates: np.ndarray) -> np.ndarray:
    """Return the log posterior (up to a constant): estimate plus the N(0, I) prior."""
    return estimates - 0.5 * (z**2).sum(axis=1)


def starting_states(estimator: Estimator, settings: ChainSettings, pool=None) -> Start:
    """Return the best ``chains`` of a batch of the estimator's draws, freshly estimated."""
    features = reported_features(estimator)
    batch = estimator.sample(features, settings.start_batch * settings.chains, settings.seed)
    picked, batch_sse = estimate(batch, 0, settings, estimator, pool)
    best = np.argsort(-log_target(batch, picked), kind="stable")[: settings.chains]
    z = batch[best]
    estimates, sse = estimate(z, 0, settings, estimator, pool, first_replicate=settings.runs)
    return Start(z, estimates, sse, batch_sse, np.cov(batch.T))


def metropolis(
    start: Start, settings: ChainSettings, estimate_at: Estimate, progress: bool = False
) -> Chains:
    """Run the chains from ``start``; ``estimate_at(z, step)`` estimates proposals.

    A state keeps the estimate it was accepted with. Until the burn-in's pooled states
    outnumber twice the parameters, steps take the start batch's covariance.
    """
    z, estimates, sse = start.z, start.estimates, start.sse
    dim = z.shape[1]
    cov, scale = start.batch_cov, SCALE / dim
    history, kept_estimates, kept_sse, accepted = [], [], [], []
    for step in progress_bar(range(1, settings.steps + 1), show=progress, desc="steps"):
        rng = np.random.default_rng([settings.seed, CHAIN_STREAM, step])
        proposal = z + rng.multivariate_normal(np.zeros(dim), scale * cov, size=len(z))
        p_estimates, p_sse = estimate_at(proposal, step)
        log_ratio = log_target(proposal, p_estimates) - log_target(z, estimates)
        accept = np.log(rng.random(len(z))) < log_ratio
        z, estimates, sse = (np.where(accept[:, None], proposal, z),) + tuple(
            np.where(accept, new, old) for new, old in ((p_estimates, estimates), (p_sse, sse))
        )
        history.append(z)
        if step <= settings.burn_in:
            pooled = np.concatenate(history[len(history) // 2 :])
            if len(pooled) > 2 * dim:
                cov = np.cov(pooled.T) + 1e-6 * np.eye(dim)
            scale *= np.exp(0.05 * (accept.mean() - TARGET_ACCEPTANCE))
        else:
            kept_estimates.append(estimates)
            kept_sse.append(sse)
            accepted.append(accept)
    return Chains(
        states=np.array(history[settings.burn_in :]),
        estimates=np.array(kept_estimates),
        sse=np.array(kept_sse),
        accepted=np.array(accepted),
        start_sse=start.batch_sse,
    )


def run_chains(
    estimator: Estimator, settings: ChainSettings, workers: int = 1, progress: bool = False
) -> Chains:
    """Run the chains on the model; return the states after the burn-in and diagnostics."""
    with worker_pool(workers) as pool:
        start = starting_states(estimator, settings, pool)
        return metropolis(
            start,
            settings,
            lambda z, step: estimate(z, step, settings, estimator, pool),
            progress,
        )


def region_shares(estimator: Estimator, states: np.ndarray, seed: int) -> dict[float, float]:
    """Return, for each level of ``LEVELS``, the share of ``states`` inside its region.

    A region of level L holds the points whose estimator density is at least the density
    that L of the estimator's own draws reach.
    """
    features = reported_features(estimator)
    own_seed = derived_seed(seed, CHAIN_STREAM, REGION_STREAM)
    own_draws = estimator.sample(features, REGION_DRAWS, own_seed, iid=True)
    own = log_density(estimator, own_draws, features)
    flat = states.reshape(-1, states.shape[-1])
    at_states = log_density(estimator, flat, features)
    return {level: float(np.mean(at_states >= np.quantile(own, 1 - level))) for level in LEVELS}


def summary(estimator: Estimator, chains: Chains, settings: ChainSettings) -> dict:
    """Return the check's results as plain data (``calibration/report/chains.json``)."""
    shares = region_shares(estimator, chains.states, settings.seed)
    per_chain = chains.accepted.mean(axis=0)
    return {
        "settings": settings.as_dict(),
        "estimator": {"rows": estimator.rows, "truncated_rounds": len(estimator.truncated)},
        "acceptance": float(chains.accepted.mean()),
        "acceptance_per_chain_range": [float(per_chain.min()), float(per_chain.max())],
        "largest_split_rhat": largest_rhat(chains.states),
        "sse_median": float(np.median(chains.sse)),
        "sse_5_95": [float(q) for q in np.percentile(chains.sse, [5, 95])],
        "start_batch_sse_median": float(np.median(chains.start_sse)),
        "inside_region": {f"{level:g}": share for level, share in shares.items()},
    }


def largest_rhat(states: np.ndarray) -> float | None:
    """Return the largest split R-hat over the parameters, or None where it is undefined.

    Undefined: fewer than four kept steps, or a parameter no chain moved on.
    """
    if len(states) < 4:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        rhat = [split_rhat(states[:, :, k].T) for k in range(states.shape[2])]
    return float(max(rhat)) if np.all(np.isfinite(rhat)) else None
