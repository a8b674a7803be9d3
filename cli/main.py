"""The ``ngo-abm`` command line: run scenarios, compare with the article, and more.

Bad input (a missing or malformed file, an unknown field, a value out of range) is
reported as one line naming the file and the field, with exit status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import select
import signal
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

from calibration.targets import DEFAULT_TARGETS, load_target_file
from experiments.lifetime import Terminated, raise_on_sigterm, terminated_by_signal
from experiments.locks import output_folder
from experiments.run_params import PARAM_MODES
from model import ScenarioError, load_scenario
from model.extends import resolve_path
from model.regional_files import is_regional_file

from .arguments import (
    EXIT_USAGE,
    OneLineParser,
    check_consecutive_seeds,
    file_path,
    replicates,
    seeds,
    workers,
)

# Shell convention: 128 + the signal's number.
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
# Each of these modules adds its subcommand(s) through ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = (
    "cli.calibrate",
    "cli.chains",
    "cli.bench",
    "cli.dashboard",
    "cli.experiment",
    "cli.reference",
    "cli.validate",
    "cli.sources",
    "cli.regional",
)


class UsageError(Exception):
    """A problem with the command's input that is reported in one line (exit 2)."""


def cmd_run(args: argparse.Namespace) -> int:
    """Run a scenario's replicates and write the run folder (checked and locked first).

    A regional scenario (a file with ``countries:``) runs the regional model instead.
    """
    from experiments.replaced_values import run_changes
    from experiments.run_params import replicate_params

    check_consecutive_seeds(args.seed, args.replicates)
    if is_regional_file(args.scenario):
        from .regional import cmd_run_region

        return cmd_run_region(args)
    scenario = load_scenario(args.scenario)
    params, source = replicate_params(args.params, args.replicates, args.seed)
    changes = run_changes(args.scenario, scenario, params[0] if params else {}, source)
    if changes:
        print(changes)
    with output_folder(args.out, kind="run"):
        return _run_and_write(args, scenario, params, source)


def _run_and_write(args: argparse.Namespace, scenario, params: list[dict], source: str) -> int:
    from experiments.run_params import params_file
    from experiments.runs import build_manifest, run_replicates, write_run

    started = time.perf_counter()
    frame, seeds = run_replicates(
        scenario,
        args.seed,
        args.replicates,
        params=params,
        workers=args.workers,
        progress=args.replicates > 1,
    )
    posterior = params_file(args.params)
    manifest = build_manifest(
        args.scenario, scenario, seeds, time.perf_counter() - started, params, source, posterior
    )
    out = write_run(args.out, frame, manifest)
    last = frame[frame.year == frame.year.max()]
    print(
        f"{scenario.name}: {len(seeds)} replicate(s), {scenario.start_year}-{scenario.end_year}, "
        f"{manifest['wall_seconds']:.2f} s; in {int(last.year.iloc[0])} median registered "
        f"{last.registered.median():,.0f}, operational {last.operational.median():,.0f}, "
        f"reporting {last.reporting.median():,.0f} ({source})"
    )
    print(f"wrote {out / 'timeseries.csv'}, {out / 'manifest.json'}, {out / 'timeseries.png'}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare run folders (or freshly run scenarios) with the article's figures.

    A regional scenario or run folder compares each country's rows with its figures.
    Every source is checked before any scenario runs or any file is written.
    """
    plan = _compare_plan(args)
    _refuse_other_outputs(plan)
    with ExitStack() as held:
        # Every folder claimed before its contents are checked and before the first run:
        # one held by another command stops the comparison before anything is written,
        # and no other command changes a folder between its check and its comparison.
        for _, run_dir, scenario in plan:
            held.enter_context(output_folder(run_dir, _flag(scenario, args.out), kind="run"))
        _check_comparable(plan, args.targets, args.params)
        for source, run_dir, scenario in plan:
            _compare_one(args, source, run_dir, scenario)
    return 0


def _refuse_other_outputs(plan: list[tuple[Path, Path, bool]]) -> None:
    """Refuse a source folder that another command wrote: compare reads run folders."""
    from experiments.output_paths import outputs_kind

    for _, run_dir, scenario in plan:
        kind = None if scenario else outputs_kind(run_dir)
        if kind not in (None, "run"):
            article = "an" if kind[0] in "aeiou" else "a"
            found = f"holds {article} {kind}'s outputs: compare reads the folders of ngo-abm run"
            raise ScenarioError(run_dir, "source", found)


def _compare_one(args: argparse.Namespace, source: Path, run_dir: Path, scenario: bool) -> None:
    """Run a scenario source into its folder if need be, then compare the folder and print."""
    import pandas as pd

    from calibration.compare import format_table
    from experiments.runs import COMPARE_RECORD, UNFITTED_CSV, UNFITTED_FILE, compare_and_write

    if scenario:
        run = dict(params=args.params, seed=args.seed, replicates=args.replicates)
        cmd_run(argparse.Namespace(scenario=source, workers=args.workers, out=run_dir, **run))
    runs, manifest = _folder_runs(run_dir)
    table = compare_and_write(run_dir, runs, manifest, args.targets)
    # Each table under its folder: with several sources, the country alone tells none apart.
    print(f"{run_dir}:")
    print(format_table(table))
    wrote = [run_dir / "compare.csv", run_dir / "compare.png", run_dir / COMPARE_RECORD]
    unfitted = run_dir / UNFITTED_CSV
    if unfitted.exists():
        print(f"\nOfficial counts the calibration never saw ({UNFITTED_FILE}):")
        counts = pd.read_csv(unfitted)
        # Countries in the order of the table above, not of the counts' file.
        order = {c: i for i, c in enumerate(dict.fromkeys(table["country"]))}
        counts = counts.sort_values("country", key=lambda c: c.map(order), kind="stable")
        print(format_table(counts, noun="counts"))
        wrote.append(unfitted)
    print(f"wrote {', '.join(map(str, wrote))}")


def _flag(scenario: bool, out: Path | None) -> str:
    """Return what named a run folder, for a message: the option, or what it defaults to."""
    if not scenario:
        return "source"
    return "--out" if out is not None else "the run folder out/<scenario>"


def _compare_plan(args: argparse.Namespace) -> list[tuple[Path, Path, bool]]:
    """Return each source with its run folder and whether it is a scenario to run first.

    Raises:
        UsageError: a source that is neither a folder nor a scenario, ``--out`` with several
            scenarios or none, or two sources sharing a run folder.
        ScenarioError: a bad targets file, or a folder name that cannot be resolved.
    """
    try:
        load_target_file(args.targets)
    except ScenarioError as exc:
        raise ScenarioError(exc.file, exc.field or "--targets", exc.message) from None
    plan = []
    for source in args.sources:
        if source.is_dir():
            plan.append((source, source, False))
        elif source.suffix in (".yaml", ".yml") or not source.exists():
            plan.append((source, args.out or Path("out") / source.stem, True))
        else:
            raise UsageError(f"{source}: neither a run folder nor a scenario file")
    scenarios = sum(scenario for _, _, scenario in plan)
    if args.out is not None and scenarios > 1:
        raise UsageError("--out: one run folder for several scenarios; give each its own run")
    if args.out is not None and not scenarios:
        # A run folder's comparison is written beside its run, never elsewhere.
        raise UsageError("--out: names the run folder of a scenario to run; no source is one")
    claimed: dict[Path, Path] = {}
    for source, run_dir, scenario in plan:
        folder = resolve_path(run_dir, _flag(scenario, args.out))
        if folder in claimed:
            both = f"{claimed[folder]} and {source}"
            raise UsageError(f"{both} would compare in one run folder, {run_dir}: one at a time")
        claimed[folder] = source
    return plan


def _check_comparable(plan: list[tuple[Path, Path, bool]], targets: Path, params: str) -> None:
    """Refuse a bad scenario or run folder, or one whose years leave out a figure.

    A scenario is also refused, as ``ngo-abm run`` would, when it changes a calibrated value
    that the ``params`` replace: here, before the first source runs.

    Raises:
        ScenarioError: naming the scenario (or the country's file) or the folder's file.
    """
    from calibration.compare import check_run_table
    from experiments.replaced_values import check_source_values_kept
    from experiments.runs import check_comparable, run_spans

    for source, run_dir, scenario in plan:
        if scenario:
            spans, files = _scenario_years(source)
            check_comparable(spans, targets, files)
            check_source_values_kept(source, params)
        else:
            runs = _folder_runs(run_dir)[0]
            try:
                _, chosen = check_comparable(run_spans(runs), targets)
            except ScenarioError as exc:
                # A figure outside the run may be the run's doing (a short run) or the
                # targets file's: the message names both.
                found = f"{exc.message} of {run_dir / 'timeseries.csv'}"
                raise ScenarioError(exc.file, exc.field, found) from None
            # Every folder's cells checked before the first folder's comparison is written.
            for country, frame in runs.items():
                mine = [t for t in chosen if t.country == country]
                check_run_table(frame, mine, run_dir / "timeseries.csv")


def _scenario_years(path: Path) -> tuple[dict[str, tuple[int, int]], dict[str, Path]]:
    """Return a (regional) scenario's years by country and the file that sets each."""
    from model.regional_files import load_region

    if is_regional_file(path):
        region = load_region(path)
        # A country's years are set in its own file, which the regional file names.
        files = {c: region.path.parent / f for c, f in region.spec.countries.items()}
        countries = region.countries
    else:
        scenario = load_scenario(path)
        files, countries = {scenario.country: path}, {scenario.country: scenario}
    return {c: (s.start_year, s.end_year) for c, s in countries.items()}, files


def _folder_runs(run_dir: Path) -> tuple[dict, dict]:
    """Return a run folder's tables by country and its manifest (country or regional)."""
    from experiments.regional_runs import is_regional_run, read_regional_runs
    from experiments.runs import read_run

    if is_regional_run(run_dir):
        return read_regional_runs(run_dir)
    frame, manifest = read_run(run_dir)
    return {manifest["country"]: frame}, manifest


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``ngo-abm``."""
    parser = OneLineParser(
        prog="ngo-abm",
        description="Agent-based model of NGO-sector growth and donor dependence in Central Asia.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a scenario and write a run folder")
    run.add_argument(
        "scenario", type=file_path, help="scenario YAML, e.g. scenarios/kyrgyzstan.yaml"
    )
    run.add_argument("--seed", type=seeds, default=1, help="base seed (replicate r uses seed+r)")
    run.add_argument(
        "--replicates", type=replicates, default=1, help="number of runs (seeds SEED to SEED+R-1)"
    )
    run.add_argument(
        "--params",
        choices=PARAM_MODES,
        default="auto",
        help="behaviour parameters: median (calibrated), posterior (a draw per replicate), "
        "scenario (behaviour.yaml), auto (median if calibrated, else scenario)",
    )
    run.add_argument("--workers", type=workers, default=1, help="local worker processes")
    run.add_argument(
        "--out", type=file_path, default=None, help="output folder (default out/<name>)"
    )
    run.set_defaults(func=cmd_run)

    cmp_ = sub.add_parser(
        "compare", help="compare run folders (or scenarios, run first) with reported figures"
    )
    cmp_.add_argument(
        "sources", type=file_path, nargs="+", help="run folder(s) or scenario YAML(s)"
    )
    cmp_.add_argument(
        "--targets", type=file_path, default=DEFAULT_TARGETS, help="figures to compare with"
    )
    cmp_.add_argument("--replicates", type=replicates, default=20, help="when running a scenario")
    cmp_.add_argument("--params", choices=PARAM_MODES, default="auto", help="when running")
    cmp_.add_argument("--seed", type=seeds, default=1, help="when running a scenario")
    cmp_.add_argument("--workers", type=workers, default=1, help="when running a scenario")
    cmp_.add_argument("--out", type=file_path, default=None, help="run folder for a scenario")
    cmp_.set_defaults(func=cmd_compare)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def _default_out(args: argparse.Namespace) -> None:
    if getattr(args, "out", "unset") is None and hasattr(args, "scenario"):
        args.out = Path("out") / Path(args.scenario).stem


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # A bad command line (one line printed, status 2) or --help (status 0).
        return exc.code
    _default_out(args)
    with sigterm_raises():
        try:
            status = args.func(args)
            # Flushed here, not at the interpreter's exit, so that a reader gone away is
            # met by the handler below (a printout to a pipe is held in a buffer till then).
            sys.stdout.flush()
            return status
        except (ScenarioError, UsageError) as exc:
            print(f"ngo-abm: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except Terminated:
            print("ngo-abm: terminated", file=sys.stderr)
            return EXIT_TERMINATED
        except KeyboardInterrupt:
            print("ngo-abm: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            if not _stdout_closed():
                raise  # another pipe (a worker's, a socket): not the reader's going away
            return EXIT_BROKEN_PIPE
        except Exception as exc:
            if not terminated_by_signal(exc):
                raise
            print("ngo-abm: terminated", file=sys.stderr)
            return EXIT_TERMINATED


def _stdout_closed() -> bool:
    """Return whether the reader of the printout went away (``| head``).

    If so, stdout is pointed at devnull (Python's advice), so that the interpreter's own
    flush at exit meets no broken pipe either; what the command had not yet written (a
    later source of ``compare``) is not written.
    """
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):
        return False  # not a file of the system's (a test's StringIO)
    # A pipe whose reader has gone reports an error to poll on its writing end.
    watch = select.poll()
    watch.register(fd, select.POLLOUT)
    if not any(event & select.POLLERR for _, event in watch.poll(0)):
        return False
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    return True


@contextmanager
def sigterm_raises():
    """Turn SIGTERM into ``Terminated`` while the body runs, so that it unwinds cleanly.

    Worker pools are then stopped and output locks released (``experiments.lifetime``).
    Signal handlers can only be set from the main thread; elsewhere SIGTERM is left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, raise_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    # ``python -m cli.main`` runs this file as ``__main__``, a second copy of the module
    # whose UsageError is not the one the subcommands raise: run the package's copy.
    from cli.main import main as package_main

    sys.exit(package_main())
