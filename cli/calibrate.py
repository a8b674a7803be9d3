"""``ngo-abm calibrate``: run or resume ABC-SMC, export the posterior, write the report."""

from __future__ import annotations

import argparse
from pathlib import Path

from model import ScenarioError

from .main import UsageError, positive_int


def _paths(holdout: bool) -> tuple[Path, Path]:
    from calibration.posterior import DEFAULT_POSTERIOR

    folder = DEFAULT_POSTERIOR.parent
    stem = "holdout_" if holdout else ""
    return folder / f"{stem}posterior.parquet", folder / f"{stem}calibrated.yaml"


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Run a calibration, export a stored generation as the posterior, or write the report."""
    if args.generation is not None and args.action != "export":
        raise UsageError("calibrate: --generation goes with `calibrate export` only")
    if args.action == "report":
        from experiments.calibration_report import write_report

        out = write_report(draws=args.draws, seed=args.seed, workers=args.workers)
        print(f"wrote {out}")
        return 0
    from calibration.abc import (
        calibrate,
        default_db,
        export_posterior,
        require_fingerprint,
        setup_fingerprint,
    )

    db = args.db or default_db(args.holdout)
    parquet, summary = (
        (args.posterior, args.posterior.with_suffix(".yaml"))
        if args.posterior
        else _paths(args.holdout)
    )
    if args.action == "export":
        if not db.exists():
            raise ScenarioError(db, "", "no calibration database to export from")
        require_fingerprint(db, setup_fingerprint(args.holdout))
        export_posterior(db, parquet, summary, generation=args.generation)
        print(f"wrote {parquet} and {summary}")
        return 0
    calibrate(
        db,
        population=args.population,
        generations=args.generations,
        resume=args.resume,
        force=args.force,
        workers=args.workers,
        scheduler=args.scheduler,
        holdout=args.holdout,
        max_minutes=args.max_minutes,
    )
    export_posterior(db, parquet, summary)
    print(f"wrote {parquet} and {summary}")
    return 0


def register(sub) -> None:
    """Add the ``calibrate`` subcommand."""
    p = sub.add_parser(
        "calibrate",
        help="ABC-SMC calibration against the article's figures (`calibrate report`, "
        "`calibrate export --generation T`)",
    )
    p.add_argument("action", nargs="?", choices=("run", "report", "export"), default="run")
    p.add_argument("--population", type=positive_int, default=200, help="particles per generation")
    p.add_argument("--generations", type=positive_int, default=8, help="generations in this call")
    p.add_argument("--db", type=Path, default=None, help="history database (calibration/runs/)")
    p.add_argument("--resume", action="store_true", help="continue the stored calibration")
    p.add_argument("--force", action="store_true", help="overwrite an existing database")
    p.add_argument("--holdout", action="store_true", help="fit only figures up to 2010")
    p.add_argument("--scheduler", default=None, help="dask.distributed scheduler tcp://HOST:PORT")
    p.add_argument("--workers", type=positive_int, default=2, help="local processes")
    p.add_argument(
        "--max-minutes",
        type=float,
        default=9.0,
        help="start no generation after this many minutes (the last one then finishes)",
    )
    p.add_argument("--posterior", type=Path, default=None, help="where to export the posterior")
    p.add_argument(
        "--generation",
        type=int,
        default=None,
        help="export: the generation to export (default: the last)",
    )
    p.add_argument("--draws", type=positive_int, default=200, help="report: posterior draws")
    p.add_argument("--seed", type=int, default=1, help="report: seed of the draws")
    p.set_defaults(func=cmd_calibrate)
