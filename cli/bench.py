"""``ngo-abm bench``: the benchmark of issue 6 (``experiments.benchmark``).

Prints one JSON line per case (a header line with the machine and commit first, a summary
line with ratios and goals last) and then a readable table; ``--out`` also writes the JSON
lines to a file, atomically. Goals are reported, never turned into a failing exit status.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.arguments import file_path
from cli.main import UsageError
from experiments import bench_report, benchmark
from experiments.output_paths import check_file


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark, print its JSON lines and table, and write ``--out`` if given."""
    if args.out is not None:
        # The benchmark writes one file and creates no folder for it; a file in the way
        # is named as such first.
        check_file(args.out, "--out")
        if not args.out.parent.is_dir():
            raise UsageError(f"{args.out}: --out: folder {args.out.parent} does not exist")
        refuse_other_file(args.out)
    settings = benchmark.QUICK if args.quick else benchmark.FULL
    records = benchmark.run_benchmark(
        args.cases,
        settings,
        emit=lambda record: print(bench_report.to_json_line(record), flush=True),
    )
    print()
    print(bench_report.format_table(records))
    if args.out is not None:
        bench_report.write_json_lines(args.out, records)
        print(f"wrote {args.out}")
    return 0


def refuse_other_file(out: Path) -> None:
    """Refuse to replace a file that is not an earlier benchmark's JSON lines.

    A mistyped ``--out`` (a scenario, a notebook) would otherwise be replaced at the end of
    a two-minute run. An empty file holds nothing to lose.

    Raises:
        UsageError: one line naming the file.
    """
    if not out.is_file() or out.stat().st_size == 0:
        return
    try:
        ours = bench_report.is_benchmark_output(out)
    except OSError as exc:
        raise UsageError(f"{out}: --out: cannot be read ({exc.strerror})") from None
    if not ours:
        raise UsageError(
            f"{out}: --out: exists and is not an earlier benchmark's output "
            "(its first line is no header record); name a new file or remove it"
        )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bench`` subcommand."""
    bench = subparsers.add_parser(
        "bench", help="benchmark the model against Mesa and numpy floors (issue 6)"
    )
    bench.add_argument(
        "--quick", action="store_true", help="tiny smoke version (its numbers mean nothing)"
    )
    bench.add_argument(
        "--cases",
        nargs="+",
        choices=benchmark.CASES,
        default=list(benchmark.CASES),
        metavar="CASE",
        help=f"cases to run (default all: {', '.join(benchmark.CASES)})",
    )
    bench.add_argument("--out", type=file_path, default=None, help="also write the JSON lines here")
    bench.set_defaults(func=cmd_bench)
