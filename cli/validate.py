"""``ngo-abm validate``: checks of the committed calibration, written to a report.

Coverage on synthetic truths, held-back forecasts, identification and stability
(``experiments.validation``), in ``calibration/report/validation.md``. See
``docs/calibration.md``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from experiments.locks import output_folder
from model import ScenarioError

from .arguments import file_path, seeds, whole_number, workers


@contextmanager
def _named(path: Path, flag: str) -> Iterator[None]:
    """Name ``flag`` in an error about ``path`` that names no field (the option gave it)."""
    try:
        yield
    except ScenarioError as exc:
        if exc.field or Path(exc.file) != Path(path):
            raise
        raise ScenarioError(exc.file, flag, exc.message) from None


def cmd_validate(args: argparse.Namespace) -> int:
    """Run the checks and write the validation report."""
    from calibration.reference import DEFAULT_TABLE
    from experiments.calibration_report import REPORT_DIR
    from experiments.validation import validate

    out = args.out or REPORT_DIR
    table = args.table or DEFAULT_TABLE
    folder = "--out" if args.out else "the report folder"
    named = "--table" if args.table else "the reference table (--table)"
    with output_folder(out, folder, kind="calibration report"), _named(table, named):
        path = validate(
            truths=args.truths,
            predictive_truths=args.predictive_truths,
            draws=args.draws,
            predictive_draws=args.predictive_draws,
            stability_draws=args.stability_draws,
            holdout_draws=args.holdout_draws,
            trainings=args.trainings,
            training_draws=args.training_draws,
            seed=args.seed,
            workers=args.workers,
            out=out,
            table=table,
        )
    print(f"wrote {path}")
    return 0


def register(sub) -> None:
    """Add the ``validate`` subcommand."""
    p = sub.add_parser("validate", help="check the committed calibration (coverage, forecasts)")
    p.add_argument(
        "--truths",
        type=whole_number(10, 100_000),
        default=300,
        help="synthetic truths (default 300)",
    )
    p.add_argument(
        "--predictive-truths",
        type=whole_number(10, 100_000),
        default=100,
        help="truths whose predictions are checked (each costs draws + 1 runs; default 100)",
    )
    p.add_argument(
        "--draws",
        type=whole_number(19, 100_000),
        default=1000,
        help="posterior draws (default 1000)",
    )
    p.add_argument(
        "--predictive-draws",
        type=whole_number(19, 10_000),
        default=39,
        help="runs per truth (default 39)",
    )
    p.add_argument(
        "--stability-draws",
        type=whole_number(10, 10_000),
        default=60,
        help="draws per set (default 60)",
    )
    # experiments.calibration_report.HOLDOUT_DRAWS, written out so that the command line is
    # parsed before the experiments are imported.
    p.add_argument(
        "--holdout-draws",
        type=whole_number(10, 10_000),
        default=1000,
        help="held-back draws (default 1000)",
    )
    p.add_argument(
        "--trainings",
        type=whole_number(2, 100),
        default=5,
        help="trainings of the held-back sampler whose forecasts are compared (the "
        "committed one and retrainings with the next seeds; default 5)",
    )
    p.add_argument(
        "--training-draws",
        type=whole_number(10, 100_000),
        default=1000,
        help="posterior draws each training forecasts from (default 1000)",
    )
    p.add_argument(
        "--seed", type=seeds, default=1, help="seed of the truths, draws and runs (default 1)"
    )
    p.add_argument("--workers", type=workers, default=2, help="local processes (default 2)")
    p.add_argument(
        "--out", type=file_path, default=None, help="folder (default calibration/report)"
    )
    p.add_argument(
        "--table",
        type=file_path,
        default=None,
        help="reference table folder (default calibration/runs/reference)",
    )
    p.set_defaults(func=cmd_validate)
