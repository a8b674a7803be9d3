"""Posterior draws at synthetic truths, and where each truth ranks among them.

The common machinery of ``ngo-abm validate`` (``experiments.validation``) and the emulator
check (``experiments.emulator_check``): each truth's noisy figures (the observation model's,
``calibration.amortised.features_of``), the committed sampler's draws given them, the
truth's rank per parameter (simulation-based calibration, Talts et al. 2018), the level of
the smallest highest-density region that holds it (Hermans et al. 2022), and a new run's
rank among runs of its draws per statistic (the predictive check), also with the prior in
the sampler's place (``PriorSampler``, the predictive check's reference).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from calibration.amortised import estimator_targets, features_of, row_keys, scores_of
from calibration.emulated_posterior import EmulatedPosterior
from calibration.npe import Estimator
from calibration.priors import load_priors, model_values, sampled_name
from calibration.reference import simulate_statistics
from calibration.refined_posterior import RefinedPosterior, model_runs
from calibration.targets import load_targets
from calibration.truncation import log_density

from .runner import map_runs

# Keys the predictive runs' seeds apart from the table's own rows (keyed by seed and row).
PREDICTIVE_STREAM = 11
# Keys the prior's draws of the predictive check's reference (``PriorSampler``) as a row
# of the predictive stream that no table reaches: a key of two numbers would be a table
# row's own (``calibration.reference``), and one of a truth's row its new run's.
PRIOR_ROW = 2**32 - 1
# Keys the shuffles of ``marginal_draws`` as another such row: ``[seed, PREDICTIVE_STREAM]``
# alone is the prior table's row 11 when the validation's seed is the table's.
SHUFFLE_ROW = 2**32 - 2
# What draws a committed posterior: ``calibration.emulation.load_committed``.
Sampler = Estimator | EmulatedPosterior


@dataclass(frozen=True)
class Drawn:
    """Posterior draws given each truth's figures: the check's common input."""

    features: np.ndarray
    z_true: np.ndarray
    z_post: np.ndarray
    # A refined posterior's correction of each truth (``RefinedPosterior.corrections``).
    corrections: list = field(default_factory=list)


@dataclass(frozen=True)
class PriorSampler:
    """The prior in place of a posterior: normal scores ``N(0, I)``, whatever the figures.

    The predictive check's reference (``experiments.validation``). With truths drawn from
    the prior, a new run of a truth and the runs of this sampler's draws come from the
    same distribution, the prior predictive, so a new run's rank among them is uniform
    whatever the model: every statistic's coverage should be its interval's level up to
    the chance of the number of truths. A check that found otherwise would be wrong
    itself, whatever it says of a posterior. What it cannot see is what depends on the
    figures, which the prior ignores: how they condition the draws, or a truth's new run
    sharing randomness with the run its figures came from (``docs/calibration.md``).
    """

    parameters: list[str]
    targets: list[str]
    seed: int

    @classmethod
    def like(cls, sampler: Sampler) -> PriorSampler:
        """Return the prior over ``sampler``'s parameters, reading its targets and seed."""
        return cls(list(sampler.parameters), list(sampler.targets), sampler.seed)

    def sample(self, features: np.ndarray, n: int, seed: int, iid: bool = False) -> np.ndarray:
        """Return ``n`` prior draws per row of ``features``, shaped as ``Estimator.sample``'s.

        The draws are independent whatever ``iid``, and do not depend on the figures.
        """
        rows = () if np.ndim(features) == 1 else (len(features),)
        rng = np.random.default_rng([seed, PREDICTIVE_STREAM, PRIOR_ROW])
        return rng.standard_normal((n, *rows, len(self.parameters)))


def posterior_draws(estimator: Sampler, truths: pd.DataFrame, draws: int, seed: int) -> Drawn:
    """Return ``draws`` posterior draws given each truth's noisy figures, and its scores."""
    features = np.asarray(features_of(truths, estimator_targets(estimator), estimator.seed))
    z_true = scores_of(truths, estimator.parameters)
    z_post = estimator.sample(features, draws, seed, iid=True)
    return Drawn(features, z_true, z_post, list(getattr(estimator, "corrections", [])))


def parameter_ranks(estimator: Sampler, drawn: Drawn) -> pd.DataFrame:
    """Return each truth's rank among its posterior draws, per parameter (0 to draws)."""
    ranks = (drawn.z_post < drawn.z_true[None, :, :]).sum(axis=0)
    return pd.DataFrame(ranks, columns=estimator.parameters)


def density_levels(estimator: Sampler, drawn: Drawn) -> np.ndarray:
    """Return, per truth, the level of the smallest highest-density region that holds it.

    Under a correct posterior it is uniform on 0-1, so a region of level L holds the truth
    a fraction L of the time (Hermans et al. 2022, "expected coverage"): a joint check over
    all parameters at once, where ``parameter_ranks`` checks one at a time, on the same
    draws. The density is the flows' or the emulated posterior's (unnormalised: a
    constant per truth does not move its ranks).
    """

    def log_q(z: np.ndarray, i: int) -> np.ndarray:
        if isinstance(estimator, RefinedPosterior):
            own = estimator.corrected([drawn.corrections[i]])
            return own.log_posterior(z, drawn.features[i])
        if isinstance(estimator, EmulatedPosterior):
            return estimator.log_posterior(z, drawn.features[i])
        return log_density(estimator, z, drawn.features[i])

    return region_levels(drawn.z_true, drawn.z_post, log_q)


def with_workers(sampler: Sampler, workers: int) -> Sampler:
    """Return ``sampler``, a refined posterior's model runs mapped over ``workers`` processes.

    A refined posterior given its own ``simulate`` keeps it.
    """
    if isinstance(sampler, RefinedPosterior) and sampler.runs_in_process:
        sampler.simulate = model_runs(
            sampler.parameters, sampler.targets, partial(map_runs, workers=workers)
        )
    return sampler


def region_levels(z_true: np.ndarray, z_post: np.ndarray, log_q) -> np.ndarray:
    """Return, per truth ``i``, the share of its draws denser than it under ``log_q(z, i)``.

    ``z_true`` is truths x parameters, ``z_post`` draws x truths x parameters.
    """
    levels = np.empty(len(z_true))
    for i in range(len(z_true)):
        at = log_q(np.vstack([z_true[i : i + 1], z_post[:, i, :]]), i)
        levels[i] = (at[1:] > at[0]).mean()
    return levels


def predictive_ranks(
    estimator: Sampler | PriorSampler,
    truths: pd.DataFrame,
    draws: int,
    seed: int,
    workers: int,
    marginals: bool = True,
) -> tuple[pd.DataFrame, ...]:
    """Rank a new run of each truth among runs of its posterior draws, per statistic.

    The new run has its own seed, so it is independent of the figures the posterior saw:
    under a correct posterior its rank among ``draws`` predictive runs is uniform. Ties
    (counts, shares at zero) are broken at random; an undefined statistic ranks highest.

    Returns the ranks among the joint draws, and, if ``marginals``, among the same draws
    with each parameter's values shuffled across them (``marginal_draws``): the product of
    the posterior's marginals, run on the same seeds, which shows how much of the
    predictive's width the posterior's dependence between parameters removes. The joint
    draws' ranks are the same either way (same seeds, same tie-breaks).
    """
    priors = load_priors()
    targets = load_targets()
    features = features_of(truths, estimator_targets(estimator), estimator.seed)
    z_post = estimator.sample(features, draws, seed, iid=True)
    draw_sets = (z_post, marginal_draws(z_post, seed)) if marginals else (z_post,)
    names = [sampled_name(p) for p in estimator.parameters]
    tasks = []
    keys = row_keys(truths)
    for i, row in truths.iterrows():
        rng = np.random.default_rng([seed, PREDICTIVE_STREAM, *keys[i]])
        truth = {name: row[name] for name in names}
        tasks.append((model_values(truth, priors), int(rng.integers(0, 2**31 - 1))))
        run_seeds = [int(rng.integers(0, 2**31 - 1)) for _ in range(draws)]
        for z in draw_sets:
            for d in range(draws):
                values = dict(zip(names, z[d, i], strict=True))
                tasks.append((model_values(values, priors), run_seeds[d]))
    stats = np.asarray(map_runs(simulate_statistics, tasks, workers, progress=True, desc="runs"))
    runs_per_truth = len(draw_sets) * draws + 1
    stats = np.where(np.isnan(stats), np.inf, stats).reshape(len(truths), runs_per_truth, -1)
    # One tie-break per truth, run and statistic, shared by the joint and the shuffled
    # draws' runs (paired like their seeds).
    tie_break = np.random.default_rng(seed).random((len(truths), draws + 1, stats.shape[2]))
    new = stats[:, :1, :]
    columns = [t.id for t in targets]
    return tuple(
        pd.DataFrame(_ranks(new, stats[:, runs, :], tie_break), columns=columns)
        for runs in (slice(1 + k * draws, 1 + (k + 1) * draws) for k in range(len(draw_sets)))
    )


def marginal_draws(z: np.ndarray, seed: int) -> np.ndarray:
    """Return ``z`` (draws x truths x parameters) with each parameter shuffled across draws.

    Each truth's draws keep every parameter's values (its marginal) but lose which values
    came together (the dependence); the shuffles are keyed by the seed.
    """
    rng = np.random.default_rng([seed, PREDICTIVE_STREAM, SHUFFLE_ROW])
    shuffled = np.empty_like(z)
    for i in range(z.shape[1]):
        for k in range(z.shape[2]):
            shuffled[:, i, k] = z[rng.permutation(z.shape[0]), i, k]
    return shuffled


def _ranks(new: np.ndarray, draws: np.ndarray, tie_break: np.ndarray) -> np.ndarray:
    """Return each truth's new run's rank among its draws' runs, per statistic.

    ``tie_break[:, 0]`` is the new run's and ``tie_break[:, 1:]`` the draws' runs'.
    """
    ties = (draws == new) & (tie_break[:, 1:, :] < tie_break[:, :1, :])
    return ((draws < new) | ties).sum(axis=1)
