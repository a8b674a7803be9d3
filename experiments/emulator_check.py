"""The emulated posterior checked beside the committed one, on the same truths and figures.

Trains the emulator (``calibration.emulator``) on the very rows the committed posterior
estimator was trained on, as ``ngo-abm calibrate emulated`` does (it keeps no file of
it: ``calibration/emulator/`` holds the committed emulated posterior's); then, for the
emulated posterior (``calibration.emulated_posterior``) and, where the committed
validation has not already measured it, for the committed estimator:

1. coverage of every parameter and of all parameters jointly on synthetic truths drawn
   from the prior alone, the emulated posterior's prior (``prior_truth_rows``: the prior
   table's rows after the training rows), and on the truths of ``ngo-abm validate`` (the
   same rows, features and bars as the committed estimator's; ``experiments.validation``),
   most of them drawn from truncated rounds, whose posterior is not the emulated one's;
2. coverage of the predictions on the first of the prior's truths (``predictive_ranks``);
3. at the article's figures: fresh runs of draws of each posterior, each figure's median
   and its error in tolerance units, the sum of the squared errors of every run, and the
   identification table of each posterior (``calibration_report.identification_table``).

Writes ``calibration/report/emulator_check.md`` and its tables. It informs the choice of
the committed calibration method (``docs/calibration.md``); it changes no committed
posterior. Run: ``python -m experiments.emulator_check [--truths 300] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.abc import HOLDOUT_LAST_YEAR
from calibration.amortised import (
    posterior_at_reported,
    scores_of,
)
from calibration.atomic import write_atomic, write_text_atomic
from calibration.compare import compare
from calibration.emulation import emulated_posterior, fit_emulator, training_rows
from calibration.emulator import (
    Emulator,
    standardised_residuals,
    transform,
)
from calibration.observation import signed_errors
from calibration.posterior import draw_posterior, load_posterior
from calibration.reference import DEFAULT_TABLE, simulate_statistics, simulator
from calibration.refined_posterior import LEAST_RUNS
from calibration.simulator import SCENARIO_FILES
from calibration.targets import DEFAULT_TARGETS, load_target_file
from model import ScenarioError

from .calibration_report import (
    REPORT_DIR,
    heldback_table,
    identification_table,
    predictive_runs,
)
from .emulator_report import report_text
from .options import OneLineParser
from .runner import map_runs
from .truth_draws import (
    density_levels,
    parameter_ranks,
    posterior_draws,
    predictive_ranks,
    with_workers,
)
from .validation import coverage, density_coverage, prior_truth_rows, truth_rows

FIT_STREAM = 13


def residual_scales(emulator: Emulator, sets: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Return, per set of rows, how the emulated variances match the rows' residuals.

    Each statistic's mean square of the residuals from the mixture's mean, in units of
    its rescaled standard deviation: about one where the emulated scatter is right, above
    where it understates the runs' and the emulator's errors. Before the rescaling, the
    held-out tenth's are the diagonal of ``residual_moment``.
    """
    scale = np.diag(emulator.residual_moment)
    out = [_scale_row("held-out tenth, before the rescaling", scale, emulator.targets, None)]
    for name, rows in sets.items():
        z = scores_of(rows, emulator.parameters).astype(np.float32)
        u = transform(rows[emulator.targets].to_numpy(dtype=float), emulator.unit)
        scaled = (u - emulator.out_mean) / emulator.out_sd
        r = standardised_residuals(emulator.net, z, scaled) / np.sqrt(scale)
        out.append(_scale_row(name, (r**2).mean(axis=0), emulator.targets, r))
    return pd.DataFrame(out)


def _scale_row(name: str, mean_square: np.ndarray, targets: list[str], r) -> dict:
    worst = int(np.argmax(mean_square))
    return {
        "rows": name,
        "defined rows": "" if r is None else len(r),
        "mean square, median of statistics": round(float(np.median(mean_square)), 2),
        "largest": round(float(mean_square[worst]), 2),
        "its statistic": targets[worst],
        "share beyond 3": "" if r is None else round(float((np.abs(r) > 3).mean()), 4),
    }


def truth_coverage(posterior, truths: pd.DataFrame, draws: int, seed: int):
    """Return per-parameter and joint (highest-density) coverage on ``truths``.

    Also the tempering stages each truth's posterior took.
    """
    drawn = posterior_draws(posterior, truths, draws, seed)
    stages = posterior.stages.copy()
    levels = density_levels(posterior, drawn)
    return coverage(parameter_ranks(posterior, drawn), draws), density_coverage(levels), stages


def heldback_forecasts(
    table: Path, draws: int, seed: int, workers: int, runs: int = 0
) -> pd.DataFrame:
    """Return the held-back emulated posterior's forecasts beside the curves (as heldback.csv).

    The emulator is trained on the held-back estimator's rows (the prior's and the held-back
    rounds', drawn without the figures after 2010) and given the figures up to 2010 only.
    """
    estimator, rows = training_rows(table, holdout=True)
    emulator, _ = fit_emulator(estimator, rows, seed)
    posterior = with_workers(emulated_posterior(emulator, estimator, runs), workers)
    frame = posterior_at_reported(posterior, n=draws, seed=seed)
    target_file = load_target_file(DEFAULT_TARGETS)
    held = [t for t in target_file.targets if t.last_year > HOLDOUT_LAST_YEAR]
    countries = tuple(c for c in SCENARIO_FILES if any(t.country == c for t in held))
    param_sets = draw_posterior(draws, seed, frame)
    runs = predictive_runs(frame, draws, seed, workers, countries, param_sets)
    return heldback_table(compare(runs, held), target_file.targets, held)


def fresh_runs(posterior: pd.DataFrame, n: int, seed: int, workers: int) -> np.ndarray:
    """Return the target statistics of one new run of each of ``n`` posterior draws."""
    draws = draw_posterior(n, seed, posterior)
    rng = np.random.default_rng([seed, FIT_STREAM])
    tasks = [(d, int(rng.integers(0, 2**31 - 1))) for d in draws]
    return np.asarray(map_runs(simulate_statistics, tasks, workers))


def fit_at_figures(posteriors: dict[str, pd.DataFrame], n: int, seed: int, workers: int):
    """Return each posterior's medians and errors per figure, and its runs' fit."""
    targets = simulator().targets
    per_target, fits = [], []
    for name, posterior in posteriors.items():
        stats = fresh_runs(posterior, n, seed, workers)
        errors = np.stack([signed_errors(t, stats[:, j]) for j, t in enumerate(targets)], 1)
        sse = (errors**2).sum(axis=1)
        fits.append({"posterior": name, "runs": n, **_quantiles(sse, "sse")})
        for j, t in enumerate(targets):
            median = float(np.nanmedian(stats[:, j]))
            q05, q95 = np.nanpercentile(stats[:, j], [5, 95])
            error = float(signed_errors(t, np.array([median]))[0])
            per_target.append(
                {
                    "posterior": name,
                    "target": t.id,
                    "median": median,
                    "q05": q05,
                    "q95": q95,
                    "error_tolerance_units": round(error, 3),
                    "within_tolerance": abs(error) <= 1.0,
                }
            )
    return pd.DataFrame(per_target), pd.DataFrame(fits)


def _quantiles(x: np.ndarray, name: str) -> dict[str, float]:
    q05, q50, q95 = np.percentile(x, [5, 50, 95])
    return {
        f"{name}_median": round(q50, 1),
        f"{name}_q05": round(q05, 1),
        f"{name}_q95": round(q95, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Train, check and write the report."""
    p = OneLineParser(prog="python -m experiments.emulator_check")
    p.add_argument("--truths", type=int, default=300)
    p.add_argument("--prior-truths", type=int, default=100)
    p.add_argument("--draws", type=int, default=400)
    p.add_argument("--predictive-truths", type=int, default=100)
    p.add_argument("--fit-runs", type=int, default=200)
    p.add_argument("--refine-runs", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--table", type=Path, default=DEFAULT_TABLE)
    p.add_argument("--out", type=Path, default=REPORT_DIR)
    args = p.parse_args(argv)
    try:
        check_arguments(args)
        text = check(args)
    except ScenarioError as exc:
        print(f"python -m experiments.emulator_check: error: {exc}", file=sys.stderr)
        return 2
    write_text_atomic(args.out / "emulator_check.md", text)
    print(f"wrote {args.out / 'emulator_check.md'}")
    return 0


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse, before any training or run, options the check would fail on later."""
    least = {
        "truths": 10,
        "prior_truths": 10,
        "draws": 19,
        "predictive_truths": 10,
        "fit_runs": 2,
        "refine_runs": 0,
        "workers": 1,
    }
    for name, low in least.items():
        if getattr(args, name) < low:
            flag = "--" + name.replace("_", "-")
            raise ScenarioError(flag, "", f"{getattr(args, name)}: at least {low}")
    if 0 < args.refine_runs < LEAST_RUNS:
        found = f"{args.refine_runs}: 0 (none) or at least {LEAST_RUNS}"
        raise ScenarioError("--refine-runs", "", found)
    if not args.out.is_dir() or not os.access(args.out, os.W_OK):
        found = "not a writable folder" if args.out.exists() else "not found"
        raise ScenarioError(args.out, "--out", f"{found}: the check writes into a folder")


def check(args: argparse.Namespace) -> str:
    """Train, check, write the tables; return the report's text."""
    cost = {}
    start = time.monotonic()
    estimator, rows = training_rows(args.table)
    emulator, training = fit_emulator(estimator, rows, args.seed)
    cost["training"] = time.monotonic() - start
    posterior = with_workers(
        emulated_posterior(emulator, estimator, args.refine_runs), args.workers
    )

    start = time.monotonic()
    emulated = posterior_at_reported(posterior, n=4000, seed=args.seed)
    cost["posterior at the figures (4,000 draws)"] = time.monotonic() - start
    start = time.monotonic()
    posteriors = {"committed": load_posterior(), "emulated": emulated}
    per_target, fits = fit_at_figures(posteriors, args.fit_runs, args.seed, args.workers)
    cost["fresh runs at the figures"] = time.monotonic() - start
    identified = {
        name: identification_table(frame)["width ratio"].lt(0.6).sum()
        for name, frame in posteriors.items()
    }

    prior = prior_truth_rows(estimator, max(args.prior_truths, args.predictive_truths), args.table)
    start = time.monotonic()
    sbc_prior, joint_prior, stages = truth_coverage(
        posterior, prior.iloc[: args.prior_truths], args.draws, args.seed
    )
    cost["coverage of the parameters, the prior's truths"] = time.monotonic() - start
    start = time.monotonic()
    truths = truth_rows(estimator, args.truths, args.table)
    sbc, joint, _ = truth_coverage(posterior, truths, args.draws, args.seed)
    scales = residual_scales(
        emulator,
        {
            f"{len(prior)} truths from the prior": prior,
            f"{args.truths} truths of ngo-abm validate": truths,
        },
    )
    cost["coverage of the parameters, validation's truths"] = time.monotonic() - start
    joint = pd.concat(
        [
            joint_prior.assign(truths=f"{args.prior_truths} from the prior"),
            joint.assign(truths=f"{args.truths} of ngo-abm validate"),
        ],
        ignore_index=True,
    )
    sbc_both = pd.concat(
        [sbc_prior.assign(truths="prior"), sbc.assign(truths="validate")], ignore_index=True
    )
    start = time.monotonic()
    pranks, _ = predictive_ranks(
        posterior, prior.iloc[: args.predictive_truths], 39, args.seed, args.workers
    )
    pcov = coverage(pranks, 39)
    cost["coverage of the predictions"] = time.monotonic() - start

    start = time.monotonic()
    held = heldback_forecasts(args.table, 1000, args.seed, args.workers, args.refine_runs)
    cost["held-back forecasts (1,000 draws)"] = time.monotonic() - start

    # Written once everything is computed: a check that fails leaves the old files.
    for name, frame in (
        ("emulator_heldback.csv", held),
        ("emulator_sbc.csv", sbc_both),
        ("emulator_hpd.csv", joint),
        ("emulator_predictive.csv", pcov),
        ("emulator_fit.csv", per_target),
        ("emulator_scales.csv", scales),
    ):
        write_atomic(args.out / name, lambda tmp, f=frame: f.to_csv(tmp, index=False))
    coverages = (sbc_prior, sbc, joint, pcov, stages)
    return report_text(args, training, scales, cost, coverages, per_target, fits, identified, held)


if __name__ == "__main__":
    sys.exit(main())
