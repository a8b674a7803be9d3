"""The command line of the studies run as ``python -m experiments.<study>``.

A study checks its options before any run, so that a bad ``--draws`` or ``--workers``
costs one line naming the option (exit 2) rather than a traceback after the computing;
the ``ngo-abm`` commands check theirs as argparse types (``cli.arguments.whole_number``).
Every study parses with ``OneLineParser``, so that an option that is not a number is one
line too. The studies of the committed posterior's runs (``experiments.age_hazards``,
``experiments.density_hazards``) share their options, their seeds (``draw_seeds``), their
CSV and the manifest written beside it (``run_study``, ``study_manifest``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd

from calibration.atomic import remove_output, write_text_atomic
from calibration.posterior import DEFAULT_POSTERIOR
from model import ScenarioError
from model.code import model_fingerprint
from model.limits import MAX_DRAWS, MAX_SEED, MAX_WORKERS
from model.scenario import Scenario, load_scenario

from .git_state import git_commit, git_dirty
from .output_paths import check_file, make_folder
from .runs import file_sha256, package_versions, posterior_record
from .storage import run_seed

# A study of posterior draws: (scenario file, draws, seed, workers) -> its table.
Study = Callable[[str, int, int, int], pd.DataFrame]


def check_bounds(args: argparse.Namespace, bounds: dict[str, tuple[int, int | None]]) -> None:
    """Raise ``ScenarioError`` for an option outside its ``(low, high)`` (``None``: no top)."""
    for name, (low, high) in bounds.items():
        value = getattr(args, name)
        if value < low or (high is not None and value > high):
            within = f"at least {low}" if high is None else f"from {low} to {high}"
            raise ScenarioError(f"--{name.replace('_', '-')}", "", f"{value}: {within}")


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors (``--draws abc``) take one line, exit status 2.

    As ``ngo-abm``'s own parser (``cli.arguments.OneLineParser``), which the studies,
    below the command line, do not import; an option is its whole name there too.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE`` and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def study_arguments(prog: str, argv: list[str] | None) -> argparse.Namespace:
    """Parse a posterior study's options."""
    parser = OneLineParser(prog=prog)
    parser.add_argument("--scenario", default="scenarios/kyrgyzstan.yaml")
    parser.add_argument("--draws", type=int, default=40, help="posterior draws")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="CSV of the table (medians, 5-95%%)")
    return parser.parse_args(argv)


def draw_seeds(seed: int, draws: int) -> list[int]:
    """Return the seed of each posterior draw's runs: the same in every variant (CRN)."""
    return [run_seed(seed, d, 0) for d in range(draws)]


def manifest_path(table: Path) -> Path:
    """Return the manifest's path beside a study's CSV: ``kyrgyzstan.manifest.json``."""
    return table.with_suffix(".manifest.json")


def study_manifest(
    prog: str, args: argparse.Namespace, scenario: Scenario, table: Path
) -> dict[str, Any]:
    """Return the manifest of a study's CSV: what reproduces it, as a run folder's records.

    The draws come from the committed posterior (``draw_posterior``'s default, which the
    studies read). Neither the workers nor the wall time are recorded: the table does not
    depend on them, and so the same inputs give a manifest that is the same byte for byte.
    """
    return {
        "study": prog.split()[-1],
        "table_file": table.name,
        "table_sha256": file_sha256(table),
        "scenario_file": str(args.scenario),
        "scenario_file_sha256": file_sha256(args.scenario),
        "scenario_resolved_sha256": scenario.fingerprint(),
        "country": scenario.country,
        "draws": args.draws,
        "seed": args.seed,
        "seeds": draw_seeds(args.seed, args.draws),
        **posterior_record(DEFAULT_POSTERIOR),
        "model_code_sha256": model_fingerprint(regional=False),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
    }


def run_study(prog: str, argv: list[str] | None, study: Study) -> pd.DataFrame | None:
    """Check a posterior study's options, run it and write its CSV, then its manifest.

    The manifest (``manifest_path``) is removed before the CSV is rewritten and written
    after it, so that one beside a CSV describes that CSV, also after an interrupted rerun.

    Returns the table, or None once bad input has been named in one line on stderr (the
    caller exits 2); nothing is written then.
    """
    args = study_arguments(prog, argv)
    bounds = {"draws": (1, MAX_DRAWS), "seed": (0, MAX_SEED), "workers": (1, MAX_WORKERS)}
    try:
        check_bounds(args, bounds)
        scenario = load_scenario(args.scenario)
        if args.out is not None:
            check_file(args.out, "--out")
            check_file(manifest_path(args.out), "--out")
        table = study(args.scenario, args.draws, args.seed, args.workers)
        if args.out is not None:
            make_folder(args.out.parent, "--out")
            remove_output(manifest_path(args.out))
            write_text_atomic(args.out, table.to_csv(index=False))
            manifest = study_manifest(prog, args, scenario, args.out)
            write_text_atomic(manifest_path(args.out), json.dumps(manifest, indent=2) + "\n")
    except ScenarioError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return None
    return table
