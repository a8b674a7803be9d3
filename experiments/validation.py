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
   between parameters narrows the predictions. The predictive check's own reference
   (``predictive_reference.csv``): the same check with the prior in place of the
   posterior (``PriorSampler``) on truths from the prior's table, which it must pass
   whatever the model.
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
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.amortised import ROUND
from calibration.atomic import remove_output, write_atomic, write_text_atomic
from calibration.baselines import load_anchors
from calibration.emulated_posterior import EmulatedPosterior
from calibration.emulation import has_committed_sampler, load_committed
from calibration.median_interval import median_interval
from calibration.npe import Estimator
from calibration.posterior import draw_posterior, has_posterior, load_posterior
from calibration.reference import (
    DEFAULT_TABLE,
    load_table,
    simulate_statistics,
    stored_key,
    truncated_tables,
)
from calibration.targets import DEFAULT_TARGETS, load_target_file
from model import ScenarioError

from .calibration_report import HOLDOUT_DRAWS, HOLDOUT_POSTERIOR, REPORT_DIR, holdout_section
from .heldback_trainings import check_training_rows, heldback_spread
from .runner import map_runs
from .truth_draws import (
    PriorSampler,
    Sampler,
    density_levels,
    parameter_ranks,
    posterior_draws,
    predictive_ranks,
    with_workers,
)
from .validation_report import heldback_figure, rank_figure, report_sections

LEVELS = (0.5, 0.9)
BARS = {0.5: (0.40, 0.60), 0.9: (0.82, 0.97)}
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


def predictive_reference(
    estimator: Sampler, n: int, draws: int, seed: int, workers: int, folder: Path = DEFAULT_TABLE
) -> pd.DataFrame:
    """Return the predictive check's coverage with the prior as the posterior.

    Its truths are the ``n`` rows of the prior's table after the estimator's training rows:
    draws of ``PriorSampler``'s prior, ``N(0, I)``, whatever mixture of the prior and the
    truncated rounds the estimator was trained on.
    """
    truths = prior_truth_rows(estimator, n, folder)
    (ranks,) = predictive_ranks(
        PriorSampler.like(estimator), truths, draws, seed, workers, marginals=False
    )
    return coverage(ranks, draws)


def density_coverage(levels: np.ndarray) -> pd.DataFrame:
    """Return the share of truths inside the highest-density regions of ``LEVELS``."""
    row = {f"coverage_{int(lv * 100)}": float((levels < lv).mean()) for lv in LEVELS}
    return with_verdict(pd.DataFrame([{"quantity": "all parameters jointly", **row}]))


def inside_intervals(ranks: np.ndarray, draws: int) -> dict[float, np.ndarray]:
    """Return, per level of ``LEVELS``, whether each rank (0 to ``draws``) is in its interval."""
    u = (np.asarray(ranks) + 0.5) / (draws + 1)
    return {level: (u > (1 - level) / 2) & (u < (1 + level) / 2) for level in LEVELS}


def coverage(ranks: pd.DataFrame, draws: int) -> pd.DataFrame:
    """Return, per column, the share of truths inside each central interval of ``LEVELS``."""
    rows = {
        f"coverage_{int(level * 100)}": inside.mean(axis=0)
        for level, inside in inside_intervals(ranks.to_numpy(), draws).items()
    }
    return with_verdict(
        pd.DataFrame(rows, index=ranks.columns).rename_axis("quantity").reset_index()
    )


def with_verdict(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with ``within_bars``: every level's coverage within its ``BARS``."""
    frame["within_bars"] = np.logical_and.reduce(
        [frame[f"coverage_{int(lv * 100)}"].between(*BARS[lv]) for lv in LEVELS]
    )
    return frame


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

    ``validation.md`` is removed before the first check writes its files and written last:
    an interrupted validation leaves no report over files it did not write.

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
    held_estimator = None
    if has_posterior(HOLDOUT_POSTERIOR) and (
        holdout_estimator is not None or has_committed_sampler(holdout=True)
    ):
        held_estimator = with_workers(holdout_estimator or load_committed(True), workers)
        # Its retrainings read their rows after the coverage checks, minutes in.
        if trainings > 1:
            check_training_rows(held_estimator, table)
    remove_output(out / "validation.md")

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
    rcov = predictive_reference(
        estimator, predictive_truths, predictive_draws, seed, workers, table
    )
    cost["coverage of the predictions' reference (the prior)"] = time.monotonic() - start
    write_atomic(out / "predictive_reference.csv", lambda tmp: rcov.to_csv(tmp, index=False))

    start = time.monotonic()
    held = holdout_section(holdout_draws, seed, workers, load_target_file(DEFAULT_TARGETS), out)
    cost["held-back forecasts"] = time.monotonic() - start
    spread = ""
    if has_posterior(HOLDOUT_POSTERIOR):
        heldback_figure(pd.read_csv(out / "heldback.csv"), out / "heldback.png")
        spread = NO_HELD_ESTIMATOR
        if held_estimator is not None:
            start = time.monotonic()
            spread = heldback_spread(
                held_estimator, trainings, training_draws, seed, workers, table, out
            )
            cost["held-back forecasts over trainings"] = time.monotonic() - start

    posterior = load_posterior()
    start = time.monotonic()
    stable = stability(stability_draws, (seed, seed + 1), workers)
    cost["stability"] = time.monotonic() - start
    write_atomic(out / "stability.csv", lambda tmp: stable.to_csv(tmp, index=False))

    coverages = (sbc, joint, pcov, mcov, rcov)
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
