"""``ngo-abm validate``: can the committed calibration be trusted? Four checks, one report.

1. Coverage on synthetic truths (simulation-based calibration, Talts et al. 2018): rows of
   the reference tables kept out of training, drawn under the posterior's own prior, are
   truths; the committed posterior's sampler (the emulated posterior, or the estimator's
   flows) given each truth's noisy figures ranks the truth's parameters (``sbc.csv``,
   ``sbc.png``), and the posterior predictive of every target's statistic ranks a new run
   of the truth (``predictive_coverage.csv``). Under a correct posterior the ranks are
   uniform and a central interval of level L holds the truth a fraction L of the time.
   All parameters at once: the level of the smallest highest-density region holding each
   truth (``density_levels``, ``hpd_coverage.csv``; Hermans et al. 2022), uniform too.
   The same check on draws whose parameters are shuffled among themselves
   (``predictive_coverage_marginals.csv``) shows how much the posterior's dependence
   between parameters narrows the predictions.
2. Held-back forecasts beside curve baselines (``heldback.csv``, from the calibration report),
   and the spread of their medians over several trainings of the held-back sampler
   (``heldback_trainings.csv``, ``experiments.heldback_trainings``).
3. Identification: prior against posterior widths, and the pairs of parameters that trade
   off (``ridges``: the largest rank correlations in the posterior).
4. Stability: the predictive medians of every target's statistic from two independent sets
   of posterior draws, and their difference.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.amortised import (
    ROUND,
    features_of,
    row_keys,
    scores_of,
)
from calibration.atomic import write_atomic, write_text_atomic
from calibration.baselines import load_anchors
from calibration.emulated_posterior import EmulatedPosterior
from calibration.emulation import has_committed_sampler, load_committed
from calibration.median_interval import median_interval
from calibration.npe import Estimator
from calibration.posterior import draw_posterior, has_posterior, load_posterior
from calibration.priors import load_priors, model_values, sampled_name
from calibration.reference import (
    DEFAULT_TABLE,
    load_table,
    simulate_statistics,
    stored_key,
    truncated_tables,
)
from calibration.refined_posterior import RefinedPosterior, model_runs
from calibration.targets import DEFAULT_TARGETS, load_target_file
from calibration.truncation import log_density
from model import ScenarioError

from .calibration_report import HOLDOUT_DRAWS, HOLDOUT_POSTERIOR, REPORT_DIR, holdout_section
from .heldback_trainings import heldback_spread
from .runner import map_runs
from .validation_report import heldback_figure, rank_figure, report_sections

LEVELS = (0.5, 0.9)
# Keys the predictive runs' seeds apart from the table's own rows (keyed by seed and row).
PREDICTIVE_STREAM = 11
BARS = {0.5: (0.40, 0.60), 0.9: (0.82, 0.97)}
# What draws a committed posterior: ``calibration.emulation.load_committed``.
Sampler = Estimator | EmulatedPosterior
NO_HELD_ESTIMATOR = (
    "No held-back posterior sampler (`ngo-abm calibrate npe --holdout`, or `emulated`), so "
    "no forecasts over its trainings."
)


def truth_rows(
    estimator: Estimator,
    n: int,
    folder: Path = DEFAULT_TABLE,
    truncated: Sequence[Path] | None = None,
) -> pd.DataFrame:
    """Return ``n`` synthetic truths: rows after the estimator's training rows.

    An estimator trained on prior and truncated rows learnt the posterior under their
    mixture, so its truths are drawn from every table in the training proportions,
    interleaved so that any first ``k`` of them keep those proportions.
    """
    folders = truncated or truncated_tables(False, len(estimator.truncated))
    total = estimator.rows + estimator.truncated_rows
    shares = [round(n * rows / total) for _, rows in estimator.truncated]
    parts = [_rows_after(folder, estimator.table_key, estimator.rows, n - sum(shares))]
    for r, ((key, rows), share, where) in enumerate(
        zip(estimator.truncated, shares, folders, strict=True), start=1
    ):
        parts.append(_rows_after(where, key, rows, share).assign(**{ROUND: r}))
    for part in parts:
        part["position"] = (np.arange(len(part)) + 0.5) / max(len(part), 1)
    mixed = pd.concat(parts, ignore_index=True).sort_values("position", kind="stable")
    return mixed.drop(columns="position").reset_index(drop=True)


def validation_truths(estimator: Sampler, n: int, folder: Path = DEFAULT_TABLE) -> pd.DataFrame:
    """Return ``n`` truths drawn from the prior the posterior was drawn under.

    The emulated posterior's prior is the prior (``prior_truth_rows``); the flows'
    is the mixture of the tables they were trained on (``truth_rows``).
    """
    if isinstance(estimator, EmulatedPosterior):
        return prior_truth_rows(estimator, n, folder)
    return truth_rows(estimator, n, folder)


def prior_truth_rows(estimator: Sampler, n: int, folder: Path = DEFAULT_TABLE) -> pd.DataFrame:
    """Return ``n`` synthetic truths from the prior alone: its table's rows after training.

    The truths for a posterior whose prior is the prior itself (not the estimator's
    mixture with the truncated rounds), such as the emulated posterior's.
    """
    return _rows_after(folder, estimator.table_key, estimator.rows, n)


def _rows_after(folder: Path, key: str, trained: int, n: int) -> pd.DataFrame:
    """Return the ``n`` rows of a table after its first ``trained`` rows.

    Read under ``key``, the table key the estimator recorded when it was trained, not the
    current code's: a table the current code built or re-keyed has none of its rows.
    """
    if not Path(folder).is_dir():
        found = (
            "is a file, not a table folder"
            if Path(folder).exists()
            else "not found: the tables are not committed; `make recalibrate` draws them "
            "(docs/calibration.md)"
        )
        raise ScenarioError(folder, "", found)
    if not any(stored_key(path) == key for path in Path(folder).glob("rows_*.parquet")):
        found = (
            f"no rows under table key {key}, which the committed sampler was trained on: "
            "give the tables that key (`ngo-abm reference --rekey` at the estimator's "
            "commit), or retrain (`make recalibrate`; docs/calibration.md)"
        )
        raise ScenarioError(folder, "--table", found)
    table = load_table(folder, key, trained + n)
    rows = table[table["row"] >= trained].iloc[:n]
    if len(rows) < n:
        raise ScenarioError(
            folder, "rows", f"{len(rows)} rows beyond the {trained} trained on, {n} needed"
        )
    return rows.reset_index(drop=True)


@dataclass(frozen=True)
class Drawn:
    """Posterior draws given each truth's figures: the check's common input."""

    features: np.ndarray
    z_true: np.ndarray
    z_post: np.ndarray
    # A refined posterior's correction of each truth (``RefinedPosterior.corrections``).
    corrections: list = field(default_factory=list)


def posterior_draws(estimator: Sampler, truths: pd.DataFrame, draws: int, seed: int) -> Drawn:
    """Return ``draws`` posterior draws given each truth's noisy figures, and its scores."""
    features = np.asarray(features_of(truths, _targets(estimator), estimator.seed))
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


def density_coverage(levels: np.ndarray) -> pd.DataFrame:
    """Return the share of truths inside the highest-density regions of ``LEVELS``."""
    row = {f"coverage_{int(lv * 100)}": float((levels < lv).mean()) for lv in LEVELS}
    return _with_verdict(pd.DataFrame([{"quantity": "all parameters jointly", **row}]))


def coverage(ranks: pd.DataFrame, draws: int) -> pd.DataFrame:
    """Return, per column, the share of truths inside each central interval of ``LEVELS``."""
    u = (ranks.to_numpy() + 0.5) / (draws + 1)
    rows = {}
    for level in LEVELS:
        inside = (u > (1 - level) / 2) & (u < (1 + level) / 2)
        rows[f"coverage_{int(level * 100)}"] = inside.mean(axis=0)
    return _with_verdict(
        pd.DataFrame(rows, index=ranks.columns).rename_axis("quantity").reset_index()
    )


def _with_verdict(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with ``within_bars``: every level's coverage within its ``BARS``."""
    frame["within_bars"] = np.logical_and.reduce(
        [frame[f"coverage_{int(lv * 100)}"].between(*BARS[lv]) for lv in LEVELS]
    )
    return frame


def predictive_ranks(
    estimator: Sampler, truths: pd.DataFrame, draws: int, seed: int, workers: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rank a new run of each truth among runs of its posterior draws, per statistic.

    The new run has its own seed, so it is independent of the figures the posterior saw:
    under a correct posterior its rank among ``draws`` predictive runs is uniform. Ties
    (counts, shares at zero) are broken at random; an undefined statistic ranks highest.

    Returns the ranks among the joint draws, and among the same draws with each
    parameter's values shuffled across them (``marginal_draws``): the product of the
    posterior's marginals, run on the same seeds, which shows how much of the
    predictive's width the posterior's dependence between parameters removes.
    """
    priors = load_priors()
    targets = _targets(estimator, every=True)
    features = features_of(truths, _targets(estimator), estimator.seed)
    z_post = estimator.sample(features, draws, seed, iid=True)
    z_marginal = marginal_draws(z_post, seed)
    names = [sampled_name(p) for p in estimator.parameters]
    tasks = []
    keys = row_keys(truths)
    for i, row in truths.iterrows():
        rng = np.random.default_rng([seed, PREDICTIVE_STREAM, *keys[i]])
        truth = {name: row[name] for name in names}
        tasks.append((model_values(truth, priors), int(rng.integers(0, 2**31 - 1))))
        run_seeds = [int(rng.integers(0, 2**31 - 1)) for _ in range(draws)]
        for z in (z_post, z_marginal):
            for d in range(draws):
                values = dict(zip(names, z[d, i], strict=True))
                tasks.append((model_values(values, priors), run_seeds[d]))
    stats = np.asarray(map_runs(simulate_statistics, tasks, workers, progress=True, desc="runs"))
    stats = np.where(np.isnan(stats), np.inf, stats).reshape(len(truths), 2 * draws + 1, -1)
    # One tie-break per truth, run and statistic, shared by the joint and the shuffled
    # draws' runs (paired like their seeds).
    tie_break = np.random.default_rng(seed).random((len(truths), draws + 1, stats.shape[2]))
    new = stats[:, :1, :]
    columns = [t.id for t in targets]
    return tuple(
        pd.DataFrame(_ranks(new, stats[:, runs, :], tie_break), columns=columns)
        for runs in (slice(1, draws + 1), slice(draws + 1, None))
    )


def marginal_draws(z: np.ndarray, seed: int) -> np.ndarray:
    """Return ``z`` (draws x truths x parameters) with each parameter shuffled across draws.

    Each truth's draws keep every parameter's values (its marginal) but lose which values
    came together (the dependence); the shuffles are keyed by the seed.
    """
    rng = np.random.default_rng([seed, PREDICTIVE_STREAM])
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


def stability(draws: int, seeds: tuple[int, int], workers: int) -> pd.DataFrame:
    """Return the predictive medians of every statistic from two independent draw sets.

    ``noise_floor`` is the half-width of each median's 90% confidence interval
    (``median_interval``) relative to the median, averaged over the two sets: how far a
    median of ``draws`` runs moves by chance. Two sets agree within a few per cent only
    for statistics whose floor is well below that.
    """
    targets = load_target_file(DEFAULT_TARGETS).targets
    medians, floors = [], []
    for seed in seeds:
        params = draw_posterior(draws, seed, load_posterior())
        tasks = [(p, seed * 1_000_003 + i) for i, p in enumerate(params)]
        stats = np.asarray(map_runs(simulate_statistics, tasks, workers, progress=True))
        median = np.nanmedian(stats, axis=0)
        medians.append(median)
        bounds = np.array([median_interval(stats[:, j]) for j in range(stats.shape[1])])
        floors.append((bounds[:, 1] - bounds[:, 0]) / 2 / np.maximum(np.abs(median), 1e-12))
    a, b = medians
    return pd.DataFrame(
        {
            "target": [t.id for t in targets],
            f"median_seed{seeds[0]}": a,
            f"median_seed{seeds[1]}": b,
            "difference": np.abs(a - b) / np.maximum(np.abs(a + b) / 2, 1e-12),
            "noise_floor": (floors[0] + floors[1]) / 2,
        }
    )


def _targets(estimator: Sampler, every: bool = False):
    targets = load_target_file(DEFAULT_TARGETS).targets
    if every:
        return targets
    by_id = {t.id: t for t in targets}
    return [by_id[i] for i in estimator.targets]


def validate(
    truths: int = 300,
    predictive_truths: int = 100,
    draws: int = 1000,
    predictive_draws: int = 39,
    stability_draws: int = 60,
    holdout_draws: int = HOLDOUT_DRAWS,
    seed: int = 1,
    workers: int = 2,
    out: Path = REPORT_DIR,
    estimator: Sampler | None = None,
    table: Path = DEFAULT_TABLE,
    trainings: int = 5,
    training_draws: int = 1000,
    holdout_estimator: Sampler | None = None,
) -> Path:
    """Run the four checks; write ``validation.md`` and its tables and figures to ``out``.

    ``estimator`` and ``holdout_estimator`` default to the committed samplers (the
    emulated posterior or the estimator, as the committed posterior's summary says); the
    truths are read from ``table``, and the held-back sampler is trained ``trainings - 1``
    more times on the rows of ``table`` and the truncated rounds it was trained on.
    """
    cost = {}
    # The curves' anchors are read late (held-back forecasts): named before any check runs.
    load_anchors(targets=load_target_file(DEFAULT_TARGETS).targets)
    estimator = with_workers(estimator or load_committed(), workers)
    rows = validation_truths(estimator, max(truths, predictive_truths), table)

    start = time.monotonic()
    drawn = posterior_draws(estimator, rows.iloc[:truths], draws, seed)
    ranks = parameter_ranks(estimator, drawn)
    sbc = coverage(ranks, draws)
    cost["coverage of the parameters"] = time.monotonic() - start
    write_atomic(out / "sbc.csv", lambda tmp: sbc.to_csv(tmp, index=False))
    start = time.monotonic()
    joint = density_coverage(density_levels(estimator, drawn))
    cost["coverage of the highest-density regions"] = time.monotonic() - start
    write_atomic(out / "hpd_coverage.csv", lambda tmp: joint.to_csv(tmp, index=False))
    rank_figure(ranks, draws, out / "sbc.png")

    start = time.monotonic()
    pranks, mranks = predictive_ranks(
        estimator, rows.iloc[:predictive_truths], predictive_draws, seed, workers
    )
    pcov = coverage(pranks, predictive_draws)
    mcov = coverage(mranks, predictive_draws)
    cost["coverage of the predictions (joint and marginal draws)"] = time.monotonic() - start
    write_atomic(out / "predictive_coverage.csv", lambda tmp: pcov.to_csv(tmp, index=False))
    write_atomic(
        out / "predictive_coverage_marginals.csv", lambda tmp: mcov.to_csv(tmp, index=False)
    )

    start = time.monotonic()
    held = holdout_section(holdout_draws, seed, workers, load_target_file(DEFAULT_TARGETS), out)
    cost["held-back forecasts"] = time.monotonic() - start
    spread = ""
    if has_posterior(HOLDOUT_POSTERIOR):
        heldback_figure(pd.read_csv(out / "heldback.csv"), out / "heldback.png")
        spread = NO_HELD_ESTIMATOR
        if holdout_estimator is not None or has_committed_sampler(holdout=True):
            start = time.monotonic()
            held_estimator = with_workers(holdout_estimator or load_committed(True), workers)
            spread = heldback_spread(
                held_estimator, trainings, training_draws, seed, workers, table, out
            )
            cost["held-back forecasts over trainings"] = time.monotonic() - start

    posterior = load_posterior()
    start = time.monotonic()
    stable = stability(stability_draws, (seed, seed + 1), workers)
    cost["stability"] = time.monotonic() - start
    write_atomic(out / "stability.csv", lambda tmp: stable.to_csv(tmp, index=False))

    coverages = (sbc, joint, pcov, mcov)
    sections = report_sections(
        coverages,
        BARS,
        held,
        spread,
        posterior,
        stable,
        cost,
        truths,
        predictive_truths,
        isinstance(estimator, EmulatedPosterior),
    )
    path = out / "validation.md"
    write_text_atomic(path, "\n\n".join(s for s in sections if s) + "\n")
    return path
