"""``ngo-abm calibrate``: run or resume ABC-SMC, export the posterior, write the report.

Where the posterior goes: ``--posterior PATH`` (and the summary beside it, ``.yaml``) if
given; else, with ``--db DB``, beside that database (``DB-stem_posterior.parquet``,
``DB-stem_calibrated.yaml``), so that a scratch calibration never replaces the committed
posterior; else the committed files (``calibration/posterior.parquet`` and
``calibrated.yaml``, ``holdout_*`` with ``--holdout``), which the default database's
calibration and ``calibrate export`` write. ``calibrate npe`` writes its estimator beside
the posterior (``.eqx``), and into ``calibration/npe/`` only with the committed posterior;
``calibrate emulated`` its emulator likewise (``calibration/emulator/``). The database
(for ``npe`` and ``emulated``, the posterior) is locked while a command uses it, and
every path is checked before any simulation. ``calibrate report`` and ``calibrate
regional`` write the committed report (and regional posterior) unless given ``--out DIR``,
and refuse there a run smaller than the committed one (``cli.committed``).
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from experiments.lifetime import kill_forks_with_parent
from experiments.locks import database_lock, output_folder
from experiments.output_paths import check_file
from experiments.progress import on_terminal
from model import ScenarioError
from model.limits import MAX_DRAWS, MAX_GENERATIONS, MAX_POPULATION, MAX_RUNS

from .arguments import address, file_path, minutes, seeds, whole_number, workers
from .calibrate_options import ACTION_TEXT, actions_help, check_options
from .committed import writes_committed
from .main import UsageError


def _committed_paths(holdout: bool) -> tuple[Path, Path]:
    from calibration.posterior import DEFAULT_POSTERIOR, summary_named

    parquet = DEFAULT_POSTERIOR.with_name(f"{'holdout_' if holdout else ''}posterior.parquet")
    return parquet, summary_named(parquet, given=False)


def posterior_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """Return where the posterior table and its summary go (see the module's docstring)."""
    from calibration.posterior import summary_named

    own = _committed_paths(args.holdout)
    if args.posterior:
        if args.posterior.suffix != ".parquet":
            raise UsageError(f"--posterior {args.posterior}: must end in .parquet")
        _refuse_the_other_kind(args, args.posterior, "--posterior")
        # A committed table is written with its committed summary (calibrated.yaml), which
        # the report, validate and the runs read.
        if args.posterior.resolve() == own[0].resolve():
            return own
        return args.posterior, summary_named(args.posterior, given=True)
    if args.db:
        parquet = args.db.with_name(f"{args.db.stem}_posterior.parquet")
        _refuse_the_other_kind(args, parquet, "--db")
        return parquet, summary_named(parquet, given=False)
    return own


def _refuse_the_other_kind(args: argparse.Namespace, parquet: Path, flag: str) -> None:
    """Refuse to write the committed posterior of the other kind (main or held-back)."""
    if parquet.resolve() != _committed_paths(not args.holdout)[0].resolve():
        return
    mismatch = (
        "the committed main posterior: --holdout calibrates the held-back one"
        if args.holdout
        else "the committed held-back posterior: without --holdout the main one is calibrated"
    )
    given = args.posterior if flag == "--posterior" else args.db
    raise UsageError(f"{flag} {given}: writes {parquet.name}, {mismatch}")


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Run a calibration, export a stored generation as the posterior, or write the report."""
    check_options(args)
    if args.action == "report":
        from experiments.calibration_report import REPORT_DIR, write_report

        # check_options has refused a run smaller than the committed one into REPORT_DIR.
        folder, flag = (args.out, "--out") if args.out else (REPORT_DIR, "report")
        with output_folder(folder, flag, kind="calibration report"):
            out = write_report(
                draws=args.draws,
                seed=args.seed,
                workers=args.workers,
                out=folder,
                holdout_draws=args.holdout_draws,
            )
        print(f"wrote {out}")
        return 0
    if args.action == "npe":
        return _calibrate_npe(args)
    if args.action == "emulated":
        return _calibrate_emulated(args)
    if args.action == "regional":
        return _calibrate_regional(args)
    from calibration.abc import default_db

    db = args.db or default_db(args.holdout)
    parquet, summary = posterior_paths(args)
    with database_lock(db):
        for path in (parquet, summary):
            check_file(path, "--posterior")
        _calibrate_or_export(args, db, parquet, summary)
    print(f"wrote {parquet} and {summary}")
    return 0


def _calibrate_npe(args: argparse.Namespace) -> int:
    """Train the posterior estimator on the reference table; export its posterior."""
    from calibration.amortised import estimator_path, export, fit
    from calibration.reference import DEFAULT_TABLE

    def train_and_export(estimator_file: Path, parquet: Path, summary: Path) -> None:
        estimator, cost = fit(
            args.rows,
            args.holdout,
            seed=args.seed,
            folder=args.table or DEFAULT_TABLE,
            # flowjax's own bar, one per flow and a minute or two each: on a terminal only.
            progress=on_terminal(sys.stderr),
            truncated_rows=args.truncated_rows,
        )
        estimator_file.parent.mkdir(parents=True, exist_ok=True)
        export(estimator, cost, estimator_file, parquet, summary)

    return _trained_with_posterior(args, estimator_path(args.holdout), train_and_export)


def _calibrate_emulated(args: argparse.Namespace) -> int:
    """Train the emulator on the committed estimator's rows; export its posterior."""
    from calibration.emulation import calibrate_emulated, emulator_path, training_rows
    from calibration.reference import DEFAULT_TABLE
    from experiments.runner import map_runs

    def train_and_export(emulator_file: Path, parquet: Path, summary: Path) -> None:
        estimator, rows = training_rows(args.table or DEFAULT_TABLE, args.holdout)
        files = (emulator_file, parquet, summary)
        mapper = partial(map_runs, workers=args.workers)
        calibrate_emulated(estimator, rows, args.seed, files, runs=args.refine_runs, mapper=mapper)

    return _trained_with_posterior(args, emulator_path(args.holdout), train_and_export)


def _trained_with_posterior(args: argparse.Namespace, committed_file: Path, train) -> int:
    """Call ``train(model_file, parquet, summary)`` on checked, locked paths; say what it wrote.

    The trained model (estimator or emulator) goes with its posterior: beside a scratch
    one (--posterior or --db), so that only a training for the committed posterior
    replaces the committed model.
    """
    parquet, summary = posterior_paths(args)
    committed = Path(parquet).resolve() == _committed_paths(args.holdout)[0].resolve()
    model_file = committed_file if committed else parquet.with_suffix(".eqx")
    flag = "--posterior" if args.posterior else "--db" if args.db else "the posterior"
    # One training at a time per posterior: two would interleave their three files.
    with database_lock(parquet, flag):
        # Every file the training writes, before it trains: a bad one found after the
        # training left the files written before it (an estimator and no description).
        for path in (summary, model_file, model_file.with_suffix(".json"), parquet):
            check_file(path, flag)
        _say_unlocked_libraries()
        train(model_file, parquet, summary)
    description = model_file.with_suffix(".json")
    print(f"wrote {model_file} (described by {description.name}), {parquet} and {summary}")
    return 0


def _say_unlocked_libraries() -> None:
    """Say so if the libraries that train are not the lock's: the weights will not rebuild."""
    from calibration import versions
    from calibration.npe import training_libraries

    try:
        differ = versions.unlocked(training_libraries(), versions.LOCK_FILE)
    except ValueError as exc:  # an unreadable lock is worth a note, not a failed training
        print(f"note: {exc}", file=sys.stderr)
        return
    if differ:
        listed = ", ".join(f"{name} {v} (locked {lock})" for name, (v, lock) in differ.items())
        print(
            f"note: training with {listed}; {versions.LOCK_FILE.name}'s versions would train other "
            "weights from the same rows and seed (docs/calibration.md, 'The libraries' versions')",
            file=sys.stderr,
        )


def _calibrate_regional(args: argparse.Namespace) -> int:
    """Calibrate the regional layer on the article's regional patterns; write the report."""
    from calibration.regional import REGIONAL_POSTERIOR, NoDrawKept
    from experiments.regional_calibration import REPORT, calibrate_and_report
    from model.regional_files import load_region, resolve_region

    if "countries" not in resolve_region(Path(args.region)):
        found = "is not a regional scenario (it has no countries:)"
        raise ScenarioError(args.region, "--region", found)
    region = load_region(args.region)
    if region.spec.fixed:
        raise UsageError(
            f"calibrate regional: {args.region} holds fixed parameters (a counterfactual); "
            "calibrate the baseline it extends"
        )
    # A trial (--out DIR) writes the posterior beside its report, never beside the
    # committed one; check_options has refused one smaller than the committed run.
    if writes_committed(args.out):
        folder, flag, posterior = REPORT.parent, "report", REGIONAL_POSTERIOR
    else:
        folder, flag, posterior = args.out, "--out", args.out / REGIONAL_POSTERIOR.name
    # A folder named as one of them would fail its write after every run: refused first.
    writes = (posterior.name, posterior.with_suffix(".yaml").name, REPORT.name)
    with output_folder(folder, flag, kind="calibration report", writes=writes):
        try:
            out = calibrate_and_report(
                region, args.draws, args.seed, args.workers, posterior, folder / REPORT.name
            )
        except NoDrawKept as exc:
            raise UsageError(f"calibrate regional: {exc}") from None
    print(f"wrote {posterior}, {posterior.with_suffix('.yaml')} and {out}")
    return 0


def _calibrate_or_export(args: argparse.Namespace, db: Path, parquet: Path, summary: Path) -> None:
    from calibration.abc import calibrate, export_posterior, require_fingerprint, setup_fingerprint

    if args.action == "export":
        if not db.exists():
            raise ScenarioError(db, "", "no calibration database to export from")
        require_fingerprint(db, setup_fingerprint(args.holdout))
        export_posterior(db, parquet, summary, generation=args.generation)
        return
    if args.workers > 1 and not args.scheduler:
        # pyabc forks its local workers from this process; they are not a pool it stops.
        kill_forks_with_parent()
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


def register(sub) -> None:
    """Add the ``calibrate`` subcommand."""
    p = sub.add_parser(
        "calibrate",
        help="calibration against the reported figures: ABC-SMC (`run`), neural posterior "
        "estimation on the reference table (`npe`), the emulated likelihood's posterior "
        "(`emulated`), `report`, `export --generation T`, the "
        "regional layer on the article's regional patterns (`regional --draws N`)",
        description=actions_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # No default: `run` (ABC-SMC) replaces the committed posterior after minutes of runs,
    # which a bare `ngo-abm calibrate` typed to see what it does must not set off.
    p.add_argument(
        "action",
        choices=tuple(ACTION_TEXT),
        # The choices, not "action", in the line that says one is needed.
        metavar="{" + ",".join(ACTION_TEXT) + "}",
        help="what to calibrate or write (the actions above; `run` for ABC-SMC)",
    )
    p.add_argument(
        "--population",
        # Two at least: the t proposal is fitted to the last generation's particles.
        type=whole_number(2, MAX_POPULATION),
        default=None,
        help="particles per generation (default 200)",
    )
    p.add_argument(
        "--generations",
        type=whole_number(1, MAX_GENERATIONS),
        default=None,
        help="generations in this call (default 8)",
    )
    p.add_argument(
        "--db", type=file_path, default=None, help="history database (calibration/runs/)"
    )
    p.add_argument("--resume", action="store_true", help="continue the stored calibration")
    p.add_argument("--force", action="store_true", help="overwrite an existing database")
    p.add_argument("--holdout", action="store_true", help="fit only figures up to 2010")
    p.add_argument(
        "--scheduler", type=address, default=None, help="dask.distributed scheduler tcp://HOST:PORT"
    )
    p.add_argument("--workers", type=workers, default=None, help="local processes (default 2)")
    p.add_argument(
        "--max-minutes",
        type=minutes,
        default=None,
        help="start no generation after this many minutes (the last one then finishes; default 9)",
    )
    p.add_argument(
        "--posterior",
        type=file_path,
        default=None,
        help="where to write the posterior (.parquet; default: beside --db if given, else "
        "the committed calibration/posterior.parquet)",
    )
    p.add_argument(
        "--generation",
        type=whole_number(0, MAX_GENERATIONS),
        default=None,
        help="export: the generation to export (default: the last)",
    )
    p.add_argument(
        "--draws",
        type=whole_number(1, MAX_DRAWS),
        default=None,
        help="report: posterior draws (default 1000); regional: parameter sets drawn "
        "(default 200, for a trial with --out; the committed one was drawn with 2400)",
    )
    p.add_argument(
        "--holdout-draws",
        type=whole_number(1, MAX_DRAWS),
        default=None,
        help="report: draws of the held-back posterior that forecast the later figures "
        "(default 1000)",
    )
    p.add_argument(
        "--seed",
        type=seeds,
        default=None,
        help="report, npe, emulated, regional: seed of the draws (default 1)",
    )
    p.add_argument(
        "--rows",
        # The flows' training holds a tenth of the rows out to stop on: fewer than ten
        # leave it none (flowjax then divides by zero).
        type=whole_number(10, MAX_RUNS),
        default=None,
        help="npe: reference-table rows to train on (later rows stay out, for validate; "
        "default 20,000)",
    )
    p.add_argument(
        "--table",
        type=file_path,
        default=None,
        help="npe, emulated: the prior's reference table folder (the truncated rounds of "
        "--truncated-rows, or the estimator's, are always those under calibration/runs/)",
    )
    p.add_argument(
        "--refine-runs",
        type=whole_number(0, MAX_RUNS),
        default=None,
        help="emulated: model runs at the first posterior's draws that correct the emulator "
        "before the posterior is drawn again (docs/calibration.md, 'A round of runs at the "
        "posterior'; default 0: none)",
    )
    p.add_argument(
        "--truncated-rows",
        type=whole_number(1, MAX_RUNS),
        nargs="+",
        default=None,
        help="npe: rows of truncated rounds 1, 2, ... (`ngo-abm reference --truncate "
        "--round R`) to train on as well (later rows stay out, for validate)",
    )
    p.add_argument(
        "--out",
        type=file_path,
        default=None,
        help="report, regional: the folder of a trial run (default: the committed "
        "calibration/report/, with the regional posterior in calibration/, which a run "
        "smaller than the committed one may not replace)",
    )
    p.add_argument(
        "--region",
        type=file_path,
        default=None,
        help="regional: the regional scenario whose layer is calibrated (default the "
        "project's scenarios/central_asia.yaml)",
    )
    p.set_defaults(func=cmd_calibrate)
