"""Coverage near the reported figures: the validation's coverage by each truth's distance from them.

Why. ``ngo-abm validate`` counts how often the committed posterior's intervals hold
synthetic truths drawn from its whole prior (the prior's table and its truncated rounds).
A posterior can meet those bars on average over the truths and miss them nearer the
article's figures, which is where it is used. Under an exact posterior a truth's rank
(a parameter's among its posterior draws, a new run's among runs of those draws) is
uniform given the truth's figures, so coverage holds in every subset of truths chosen by
their figures alone: local coverage (Zhao, Dalmasso, Izbicki and Lee 2021, "Diagnostics
for conditional density models and Bayesian inference algorithms", UAI; Linhart, Gramfort
and Rodrigues 2023, "L-C2ST: local diagnostics for posterior approximations in
simulation-based inference", NeurIPS). Subsets chosen by the truths' parameters need not
keep that property (``tests/test_local_coverage.py`` shows one that does not), so both
kinds of subset here are functions of the figures:

- the truths in quarters by their distance from the article's figures, the root mean
  square of their features (``calibration.amortised.features_of``: asinh of each figure's
  signed error in tolerance units, 0 inside the reported interval; the article's own
  figures have every feature 0), quarter 1 the nearest;
- per statistic, quarters of the truths by the size of their own feature for it, quarter
  1 the nearest (ties, such as the zeros of a bound met, in the truths' order).

The truths and their noisy figures are ``ngo-abm validate``'s, and their posterior draws
and predictive runs are made as it makes them (``experiments.truth_draws``), without the
shuffled draws, for every truth (``validate`` checks the predictions of its first 100).
A truth's predictive draws depend on the other truths sampled with it, so those of the
first 100 differ from ``validate``'s. Writes ``local_coverage.csv`` (quarters by distance),
``local_coverage_statistics.csv`` (each statistic's quarters) and ``local_coverage.md``
to ``--out`` (``calibration/report`` by default); ``docs/calibration.md`` reads them.
Run (after ``make recalibrate``, which draws the tables the truths come from):
``python -m experiments.local_coverage [--truths 300] [--draws 1000]
[--predictive-draws 39] [--seed 1] [--workers 2]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.amortised import estimator_targets
from calibration.atomic import write_text_atomic
from calibration.emulation import load_committed
from calibration.reference import DEFAULT_TABLE
from model import ScenarioError
from model.limits import MAX_DRAWS, MAX_SEED, MAX_WORKERS

from .calibration_report import REPORT_DIR
from .markdown import markdown_table
from .options import OneLineParser, check_bounds
from .output_paths import check_folder, make_folder
from .truth_draws import (
    Sampler,
    parameter_ranks,
    posterior_draws,
    predictive_ranks,
    with_workers,
)
from .validation import BARS, LEVELS, inside_intervals, validation_truths, with_verdict

QUARTERS = 4
PROG = "python -m experiments.local_coverage"
# As ``ngo-abm validate``'s bounds (``cli.validate``): with fewer draws a truth, a central
# interval of 50% may hold no rank at all.
LEAST_TRUTHS, MOST_TRUTHS = 10, 100_000
LEAST_DRAWS, MOST_PREDICTIVE_DRAWS = 19, 10_000


def distance(features: np.ndarray) -> np.ndarray:
    """Return each truth's distance from the reported figures: its features' root mean square."""
    return np.sqrt(np.mean(np.square(features), axis=1))


def quarters_of(sizes: np.ndarray, quarters: int = QUARTERS) -> np.ndarray:
    """Return each truth's quarter (1 the smallest size): equal numbers by rank, ties in order."""
    order = np.argsort(sizes, kind="stable")
    quarter = np.empty(len(sizes), dtype=int)
    quarter[order] = np.arange(len(sizes)) * quarters // len(sizes) + 1
    return quarter


def coverage_by_quarter(
    inside: dict[float, np.ndarray], sizes: np.ndarray, quarter: np.ndarray
) -> list[dict]:
    """Return each quarter's row, then all truths': truths, size range, coverage per level.

    ``inside[level]`` is truths x quantities (or one quantity); a row's coverage is the
    share of its truths' ranks, over every quantity, inside the level's central interval.
    """
    rows = []
    for name, keep in [*((str(q), quarter == q) for q in np.unique(quarter)), ("all", quarter > 0)]:
        rows.append(
            {
                "quarter": name,
                "truths": int(keep.sum()),
                "low": float(sizes[keep].min()),
                "high": float(sizes[keep].max()),
                **{f"coverage_{int(lv * 100)}": float(inside[lv][keep].mean()) for lv in LEVELS},
            }
        )
    return rows


def distance_quarter_coverage(
    check: str, ranks: np.ndarray, draws: int, features: np.ndarray
) -> pd.DataFrame:
    """Return the mean coverage over quantities in each quarter of the truths by distance.

    ``ranks`` is truths x quantities (0 to ``draws``); ``features`` the truths' features.
    """
    distances = distance(features)
    rows = coverage_by_quarter(inside_intervals(ranks, draws), distances, quarters_of(distances))
    return pd.DataFrame([{"check": check, **row} for row in rows])


def statistic_quarters(ranks: pd.DataFrame, draws: int, features: pd.DataFrame) -> pd.DataFrame:
    """Return each statistic's coverage in quarters of the truths by its own feature's size.

    ``features`` has a column per statistic the estimator conditions on (its targets); a
    statistic of ``ranks`` without one is left out. Each row says whether its coverage is
    within both bars.
    """
    inside = inside_intervals(ranks.to_numpy(), draws)
    rows = []
    for j, quantity in enumerate(ranks.columns):
        if quantity not in features:
            continue
        sizes = np.abs(features[quantity].to_numpy())
        own = {lv: inside[lv][:, j] for lv in LEVELS}
        for row in coverage_by_quarter(own, sizes, quarters_of(sizes)):
            rows.append({"quantity": quantity, **row})
    return with_verdict(pd.DataFrame(rows))


def study(
    truths: int,
    draws: int,
    predictive_draws: int,
    seed: int,
    workers: int,
    estimator: Sampler | None = None,
    table: Path = DEFAULT_TABLE,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Return the bands' and the statistics' local coverage, and the seconds each part took.

    ``estimator`` defaults to the committed sampler, whose truths are read from ``table``.
    """
    cost = {}
    estimator = with_workers(estimator or load_committed(), workers)
    rows = validation_truths(estimator, truths, table)
    start = time.monotonic()
    drawn = posterior_draws(estimator, rows, draws, seed)
    ranks = parameter_ranks(estimator, drawn).to_numpy()
    parameters = distance_quarter_coverage("parameters", ranks, draws, drawn.features)
    cost["parameters"] = time.monotonic() - start
    start = time.monotonic()
    (ranks,) = predictive_ranks(estimator, rows, predictive_draws, seed, workers, marginals=False)
    cost["predictions"] = time.monotonic() - start
    predictions = distance_quarter_coverage(
        "predictions", ranks.to_numpy(), predictive_draws, drawn.features
    )
    ids = [t.id for t in estimator_targets(estimator)]
    own = statistic_quarters(ranks, predictive_draws, pd.DataFrame(drawn.features, columns=ids))
    return pd.concat([parameters, predictions], ignore_index=True), own, cost


def report_text(
    bands: pd.DataFrame, statistics: pd.DataFrame, cost: dict[str, float], command: str
) -> str:
    """Return ``local_coverage.md``: the two tables and what they mean."""
    truths = int(bands.loc[bands["quarter"] == "all", "truths"].iloc[0])
    per_quarter = statistics[statistics["quarter"] != "all"]
    within = per_quarter.groupby("quarter")["within_bars"].agg(["sum", "size"])
    counts = ", ".join(
        f"quarter {q} {int(r['sum'])} of {int(r['size'])}" for q, r in within.iterrows()
    )
    minutes = ", ".join(f"{k} {v / 60:.1f} min" for k, v in cost.items())
    bars = ", ".join(f"{lo:.2f}-{hi:.2f} for {int(lv * 100)}%" for lv, (lo, hi) in BARS.items())
    return "\n\n".join(
        [
            "# Coverage near the reported figures",
            f"`{command}` ({minutes}). Code and reasoning: `experiments/local_coverage.py`; "
            "what it shows: docs/calibration.md. Under an exact posterior every row below "
            "holds 0.5 and 0.9 up to chance: with n truths a coverage of 0.5 has a "
            "standard deviation of about sqrt(0.25 / n) for one quantity. `low` and `high` "
            "bound a quarter: in the first table the truths' distances (the root mean "
            "square of their features), in the second the size of the statistic's own "
            "feature (asinh of its error in tolerance units); the article's figures are "
            "at 0 in both.",
            f"## By distance from the figures ({truths} truths in {QUARTERS} quarters, 1 the "
            "nearest; mean over the parameters or the statistics)",
            markdown_table(bands),
            "## Each statistic, by the size of its own feature",
            f"Within both bars ({bars}): {counts}.",
            markdown_table(statistics),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the study and write its tables; exit 2 with one line on bad input."""
    parser = OneLineParser(prog=PROG)
    parser.add_argument("--truths", type=int, default=300, help="synthetic truths")
    parser.add_argument("--draws", type=int, default=1000, help="posterior draws a truth")
    parser.add_argument("--predictive-draws", type=int, default=39, help="runs of draws a truth")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPORT_DIR, help="folder of the tables")
    args = parser.parse_args(argv)
    bounds = {
        "truths": (LEAST_TRUTHS, MOST_TRUTHS),
        "draws": (LEAST_DRAWS, MAX_DRAWS),
        "predictive_draws": (LEAST_DRAWS, MOST_PREDICTIVE_DRAWS),
        "seed": (0, MAX_SEED),
        "workers": (1, MAX_WORKERS),
    }
    try:
        check_bounds(args, bounds)
        check_folder(args.out, "--out")
        bands, statistics, cost = study(
            args.truths, args.draws, args.predictive_draws, args.seed, args.workers
        )
        make_folder(args.out, "--out")
    except ScenarioError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    command = " ".join([PROG, *(sys.argv[1:] if argv is None else argv)])
    write_text_atomic(args.out / "local_coverage.csv", bands.to_csv(index=False))
    write_text_atomic(args.out / "local_coverage_statistics.csv", statistics.to_csv(index=False))
    text = report_text(bands, statistics, cost, command)
    write_text_atomic(args.out / "local_coverage.md", text + "\n")
    print(f"wrote {args.out / 'local_coverage.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
