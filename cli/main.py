"""The ``ngo-abm`` command line: run scenarios, compare with the article, and more.

Bad input (a missing or malformed file, an unknown field, a value out of range) is
reported as one line naming the file and the field, with exit status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from calibration.targets import DEFAULT_TARGETS
from model import ScenarioError, load_scenario

EXIT_USAGE = 2
PARAM_MODES = ("auto", "median", "posterior", "scenario")
# Each of these modules adds its subcommand(s) through ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = (
    "cli.calibrate",
    "cli.bench",
    "cli.dashboard",
    "cli.experiment",
)


class UsageError(Exception):
    """A problem with the command's input that is reported in one line (exit 2)."""


def positive_int(text: str) -> int:
    """Parse a whole number of at least 1 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seed_int(text: str) -> int:
    """Parse a non-negative whole number (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def cmd_run(args: argparse.Namespace) -> int:
    """Run a scenario's replicates and write the run folder."""
    from experiments.runs import build_manifest, replicate_params, run_replicates, write_run

    scenario = load_scenario(args.scenario)
    params, source = replicate_params(args.params, args.replicates, args.seed)
    started = time.perf_counter()
    frame, seeds = run_replicates(
        scenario,
        args.seed,
        args.replicates,
        params=params,
        workers=args.workers,
        progress=args.replicates > 1,
    )
    manifest = build_manifest(
        args.scenario, scenario, seeds, time.perf_counter() - started, params, source
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
    """Compare run folders (or freshly run scenarios) with the article's figures."""
    from calibration.compare import format_table
    from experiments.runs import compare_run_folder

    for source in args.sources:
        if source.is_dir():
            run_dir = source
        elif source.suffix in (".yaml", ".yml") or not source.exists():
            run_dir = args.out or Path("out") / source.stem
            cmd_run(
                argparse.Namespace(
                    scenario=source,
                    params=args.params,
                    seed=args.seed,
                    replicates=args.replicates,
                    workers=args.workers,
                    out=run_dir,
                )
            )
        else:
            raise UsageError(f"{source}: neither a run folder nor a scenario file")
        table = compare_run_folder(run_dir, args.targets)
        print(format_table(table))
        print(f"wrote {run_dir / 'compare.csv'}, {run_dir / 'compare.png'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``ngo-abm``."""
    parser = argparse.ArgumentParser(
        prog="ngo-abm",
        description="Agent-based model of NGO-sector growth and donor dependence in Central Asia.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a scenario and write a run folder")
    run.add_argument("scenario", type=Path, help="scenario YAML, e.g. scenarios/kyrgyzstan.yaml")
    run.add_argument("--seed", type=seed_int, default=1, help="base seed (replicate r uses seed+r)")
    run.add_argument("--replicates", type=positive_int, default=1)
    run.add_argument(
        "--params",
        choices=PARAM_MODES,
        default="auto",
        help="behaviour parameters: median (calibrated), posterior (a draw per replicate), "
        "scenario (behaviour.yaml), auto (median if calibrated, else scenario)",
    )
    run.add_argument("--workers", type=positive_int, default=1, help="local worker processes")
    run.add_argument("--out", type=Path, default=None, help="output folder (default out/<name>)")
    run.set_defaults(func=cmd_run)

    cmp_ = sub.add_parser(
        "compare", help="compare run folders (or scenarios, run first) with reported figures"
    )
    cmp_.add_argument("sources", type=Path, nargs="+", help="run folder(s) or scenario YAML(s)")
    cmp_.add_argument("--targets", type=Path, default=DEFAULT_TARGETS)
    cmp_.add_argument("--replicates", type=positive_int, default=20, help="when running a scenario")
    cmp_.add_argument("--params", choices=PARAM_MODES, default="auto", help="when running")
    cmp_.add_argument("--seed", type=seed_int, default=1, help="when running a scenario")
    cmp_.add_argument("--workers", type=positive_int, default=1, help="when running a scenario")
    cmp_.add_argument("--out", type=Path, default=None, help="run folder for a scenario")
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
    args = parser.parse_args(argv)
    _default_out(args)
    try:
        return args.func(args)
    except (ScenarioError, UsageError) as exc:
        print(f"ngo-abm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ngo-abm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
