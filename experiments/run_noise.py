"""A run's scatter at fixed parameters beside the emulator's variance: a replicate study.

The emulated likelihood (``calibration.emulated_posterior``) reads a run's statistics as
Gaussian around the emulator's means, with its variances rescaled on held-out rows
(``Emulator.residual_moment``). Held-out rows each lie at other parameters, so that
variance holds two things they cannot tell apart: the run's own noise (its seed) and the
emulator's error in the mean. Many runs at the same parameters can: their scatter is the
noise alone (the replicate runs of the synthetic likelihood, Wood 2010). At each truth
(rows of the prior's table after the emulator's training rows), ``runs`` runs with seeds
of their own give, per statistic on the emulator's scale:

- ``noise_ratio``: the runs' variance over the emulated variance (1 where the emulated
  variance is all run noise; near 0 where it is mostly the emulator's error);
- ``offset``: the runs' mean minus the emulated mean, in emulated standard deviations
  (the emulator's error at that truth);
- ``skewness`` and ``kurtosis`` (excess) of the runs on the emulator's scale: 0 for a
  Gaussian there (the likelihood carries the emulated Gaussian to the statistic's own
  scale to first order, so this is the shape it assumes only where that is linear);
- ``total``: ``noise_ratio + offset**2``, the runs' mean square off the emulated mean
  in emulated variances, which the held-out rescaling makes one on average over the prior.

Writes ``calibration/report/run_noise.csv`` (per truth and statistic) and
``run_noise.md`` (medians over the truths); docs/calibration.md reads them. Run (after
``ngo-abm reference --rows`` at least ``rows + truths``): ``python -m
experiments.run_noise [--rows 10200] [--truths 10] [--runs 200] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from calibration.amortised import load_estimator, scores_of
from calibration.atomic import write_text_atomic
from calibration.emulation import fit_emulator
from calibration.emulator import Emulator, mixture_at, transform
from calibration.reference import DEFAULT_TABLE, load_table, table_key
from calibration.refined_posterior import Simulate, model_runs
from model import ScenarioError
from model.limits import MAX_SEED, MAX_WORKERS

from .calibration_report import REPORT_DIR
from .markdown import markdown_table
from .options import OneLineParser, check_bounds
from .runner import map_runs

# The stream of the runs' seeds, under the study's seed and the truth's table row.
NOISE_STREAM = 23
# Fewer runs with every statistic defined than this and a truth is left out: a variance
# and a kurtosis of so few runs say little.
LEAST_DEFINED = 50


def run_seeds(rows: np.ndarray, runs: int, seed: int) -> np.ndarray:
    """Return each truth's runs' seeds (truths x runs), keyed by its table row."""
    return np.stack(
        [
            np.random.default_rng([seed, NOISE_STREAM, int(row)]).integers(0, 2**31 - 1, runs)
            for row in rows
        ]
    )


def noise_at_truths(
    emulator: Emulator, z: np.ndarray, rows: np.ndarray, runs: int, seed: int, simulate: Simulate
) -> pd.DataFrame:
    """Return, per truth (scores ``z``, table ``rows``) and statistic, the runs' moments.

    ``simulate(z, seeds)`` runs the model once per row (``calibration.refined_posterior
    .model_runs``). A truth with fewer than ``LEAST_DEFINED`` runs whose every statistic
    is defined (a register that ran away) is left out.
    """
    seeds = run_seeds(rows, runs, seed)
    stats = simulate(np.repeat(z, runs, axis=0), seeds.reshape(-1)).reshape(len(z), runs, -1)
    centre, variance = mixture_at(emulator.net, z)
    variance = variance * np.diag(emulator.residual_moment)
    out = []
    for i, row in enumerate(rows):
        scaled = (transform(stats[i], emulator.unit) - emulator.out_mean) / emulator.out_sd
        scaled = scaled[np.isfinite(scaled).all(axis=1)]
        if len(scaled) < LEAST_DEFINED:
            continue
        mean, sd = scaled.mean(axis=0), scaled.std(axis=0)
        standard = (scaled - mean) / np.where(sd > 0, sd, 1.0)
        out.append(
            pd.DataFrame(
                {
                    "row": int(row),
                    "target": emulator.targets,
                    "defined_runs": len(scaled),
                    "noise_ratio": sd**2 / variance[i],
                    "offset": (mean - centre[i]) / np.sqrt(variance[i]),
                    "skewness": (standard**3).mean(axis=0),
                    "kurtosis": (standard**4).mean(axis=0) - 3,
                    "total": sd**2 / variance[i] + (mean - centre[i]) ** 2 / variance[i],
                }
            )
        )
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def summary(per_truth: pd.DataFrame) -> pd.DataFrame:
    """Return the medians over the truths per statistic (``offset`` as its absolute value)."""
    table = per_truth.assign(offset=per_truth["offset"].abs())
    columns = ["noise_ratio", "offset", "total", "skewness", "kurtosis"]
    medians = table.groupby("target", sort=False)[columns].median()
    return medians.rename(columns={"offset": "abs_offset"}).reset_index()


def report_text(args: argparse.Namespace, cost: dict, per_truth: pd.DataFrame) -> str:
    """Return ``run_noise.md``: what was run and the medians over the truths."""
    table = summary(per_truth)
    truths = per_truth["row"].nunique()
    ratio = table["noise_ratio"]
    per_truth_medians = per_truth.groupby("row")["noise_ratio"].median()
    return "\n".join(
        [
            "# A run's scatter at fixed parameters beside the emulator's variance",
            "",
            "Written by `python -m experiments.run_noise` (`experiments/run_noise.py`; "
            "its reading in `docs/calibration.md`). An emulator trained on the prior "
            f"table's first {cost['rows']:,} rows ({cost['training_seconds']} s); "
            f"{args.runs} runs (seeds of their own) at each of {truths} truths of the "
            f"{args.truths} after them (a truth needs {LEAST_DEFINED} runs with every "
            "statistic defined). Per statistic, medians over the truths of: the runs' "
            "variance over the emulated variance (`noise_ratio`), the runs' mean off the "
            "emulated mean in emulated standard deviations (`abs_offset`), their mean "
            "square off it in emulated variances (`total`, the two together: one where "
            "the rescaled variance is right), and the runs' skewness and excess kurtosis "
            "on the emulator's scale (0 for a Gaussian).",
            "",
            f"Median `noise_ratio` over the statistics {ratio.median():.3g} "
            f"({ratio.min():.3g} to {ratio.max():.3g}); under 0.25 for "
            f"{int((ratio < 0.25).sum())} of {len(table)}. Median `total` "
            f"{table['total'].median():.3g} ({table['total'].min():.3g} to "
            f"{table['total'].max():.3g}). Per truth, the median `noise_ratio` over the "
            f"statistics ranges from {per_truth_medians.min():.3g} to "
            f"{per_truth_medians.max():.3g}; {int((per_truth['noise_ratio'] > 1).sum())} of "
            f"{len(per_truth)} truth-statistic pairs exceed 1. The runs' moments are those of "
            "the defined runs only.",
            "",
            markdown_table(table.round(3)),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the study and write its report; exit 2 with one line on bad input."""
    parser = OneLineParser(prog="python -m experiments.run_noise")
    parser.add_argument("--rows", type=int, default=10200, help="prior table rows to train on")
    parser.add_argument("--truths", type=int, default=10, help="table rows after them")
    parser.add_argument("--runs", type=int, default=200, help="runs per truth")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        check_arguments(args)
        per_truth, cost = study(args)
    except ScenarioError as exc:
        print(f"python -m experiments.run_noise: error: {exc}", file=sys.stderr)
        return 2
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    write_text_atomic(REPORT_DIR / "run_noise.csv", per_truth.to_csv(index=False))
    write_text_atomic(REPORT_DIR / "run_noise.md", report_text(args, cost, per_truth))
    print(f"wrote {REPORT_DIR / 'run_noise.md'}")
    return 0


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse, before any training or run, options the study would fail on later."""
    bounds = {
        "rows": (1, None),
        "truths": (1, None),
        "runs": (LEAST_DEFINED, None),
        "seed": (0, MAX_SEED),
        "workers": (1, MAX_WORKERS),
    }
    check_bounds(args, bounds)


def study(args: argparse.Namespace) -> tuple[pd.DataFrame, dict]:
    """Train the emulator, run the truths; return the per-truth table and the training cost.

    Raises:
        ScenarioError: if the prior's table (under the current code's key) has too few
            rows, or every truth's runs ran away.
    """
    try:
        table = load_table(DEFAULT_TABLE, table_key(1), args.rows + args.truths)
    except ScenarioError as exc:
        found = f"{exc.message} (`ngo-abm reference --rows` builds the prior's table)"
        raise ScenarioError("--rows + --truths", "", found) from None
    emulator, cost = fit_emulator(load_estimator(), table.iloc[: args.rows], args.seed)
    truths = table.iloc[args.rows :]
    simulate = model_runs(
        emulator.parameters,
        emulator.targets,
        lambda fn, tasks: map_runs(fn, tasks, args.workers, progress=True),
    )
    z = scores_of(truths, emulator.parameters)
    rows = truths["row"].to_numpy()
    per_truth = noise_at_truths(emulator, z, rows, args.runs, args.seed, simulate)
    if per_truth.empty:
        found = f"every one of {args.truths} truths had fewer than {LEAST_DEFINED} defined runs"
        raise ScenarioError("--truths", "", found)
    return per_truth, cost


if __name__ == "__main__":
    sys.exit(main())
