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
from contextlib import contextmanager
from pathlib import Path

from experiments.lifetime import Terminated, raise_on_sigterm, terminated_by_signal
from experiments.locks import output_folder
from experiments.run_params import PARAM_MODES
from model import ScenarioError, load_scenario, runaway_names
from model.regional_files import is_regional_file

from .arguments import (
    EXIT_USAGE,
    OneLineParser,
    check_consecutive_seeds,
    file_path,
    printable,
    replicates,
    seeds,
    workers,
)
from .entry import interrupted

# Shell convention: 128 + the signal's number.
EXIT_TERMINATED = 128 + signal.SIGTERM
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
# Each of these modules adds its subcommand(s) through ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = (
    "cli.compare",
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
    from calibration.posterior import check_drawn
    from calibration.scenario_inputs import changed_note
    from experiments.replaced_values import run_changes
    from experiments.run_params import params_file, replicate_params
    from experiments.runs import COUNTRY_RUN_FILES

    check_consecutive_seeds(args.seed, args.replicates)
    if is_regional_file(args.scenario):
        from .regional import cmd_run_region

        return cmd_run_region(args)
    scenario = load_scenario(args.scenario)
    params, source = replicate_params(args.params, args.replicates, args.seed)
    posterior = params_file(args.params)
    check_drawn(scenario, params, posterior)
    changes = run_changes(args.scenario, scenario, params[0] if params else {}, source)
    edited = changed_note(posterior, (scenario.country,)) if posterior else None
    writes = COUNTRY_RUN_FILES
    with output_folder(args.out, kind="run", writes=writes), runaway_names(args.scenario):
        # Printed once the output folder is accepted: a bad --out is then the only line.
        print_notes(changes, edited)
        note_first_compile()
        return _run_and_write(args, scenario, params, source)


def print_notes(*notes: str | None) -> None:
    """Print each note a command has for its log, skipping the empty ones."""
    for note in notes:
        if note:
            print(note)


def note_first_compile() -> None:
    """Say, on a terminal, that the runs wait for the model's rules to compile first.

    numba compiles them on first use and caches the machine code (``model.pairwise``),
    so the first run on a machine shows no progress for about half a minute. Only on a
    terminal: a log or a test reads the same output whatever the cache holds.
    """
    if not sys.stderr.isatty():
        return
    import numba

    from model.pairwise import NUMBA_CACHE

    cache = Path(numba.config.CACHE_DIR) if numba.config.CACHE_DIR else NUMBA_CACHE
    if not any(cache.rglob("year_loop*.nbi")):
        print(
            "note: compiling the model's rules for this machine first (numba; about half a "
            "minute, once)",
            file=sys.stderr,
            flush=True,
        )


def _run_and_write(args: argparse.Namespace, scenario, params: list[dict], source: str) -> int:
    from calibration.targets import load_targets
    from experiments.run_params import median_spread_note, params_file
    from experiments.runs import build_manifest, run_replicates, write_run

    # The figure marks the targets: a bad targets file is found before the runs, not after.
    targets = load_targets()
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
    out = write_run(args.out, frame, manifest, targets)
    last = frame[frame.year == frame.year.max()]
    print(
        f"{scenario.name}: {len(seeds)} replicate(s), {scenario.start_year}-{scenario.end_year}, "
        f"{manifest['wall_seconds']:.2f} s; in {int(last.year.iloc[0])} median registered "
        f"{last.registered.median():,.0f}, operational {last.operational.median():,.0f}, "
        f"reporting {last.reporting.median():,.0f} ({source})"
    )
    print_notes(median_spread_note(args.params, len(seeds), posterior))
    print(f"wrote {out / 'timeseries.csv'}, {out / 'manifest.json'}, {out / 'timeseries.png'}")
    return 0


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
    run.add_argument(
        "--seed", type=seeds, default=1, help="base seed (default 1; replicate r uses seed+r)"
    )
    run.add_argument(
        "--replicates",
        type=replicates,
        default=1,
        help="number of runs (default 1; seeds SEED to SEED+R-1)",
    )
    run.add_argument(
        "--params",
        choices=PARAM_MODES,
        default="auto",
        help="behaviour parameters: median (calibrated), posterior (a draw per replicate), "
        "scenario (behaviour.yaml), auto (the default: median if calibrated, else scenario)",
    )
    run.add_argument(
        "--workers", type=workers, default=1, help="local worker processes (default 1)"
    )
    run.add_argument(
        "--out",
        type=file_path,
        default=None,
        help="output folder (default out/<the scenario file's name without .yaml>)",
    )
    run.set_defaults(func=cmd_run)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def _default_out(args: argparse.Namespace) -> None:
    if getattr(args, "out", "unset") is None and hasattr(args, "scenario"):
        args.out = Path("out") / Path(args.scenario).stem


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        parser = build_parser()  # imports every command's module
    except KeyboardInterrupt:
        return interrupted()
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
            print(f"ngo-abm: error: {printable(str(exc))}", file=sys.stderr)
            return EXIT_USAGE
        except Terminated:
            print("ngo-abm: terminated", file=sys.stderr)
            return EXIT_TERMINATED
        except KeyboardInterrupt:
            return interrupted()
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
