"""The options of ``ngo-abm calibrate``: which action reads which, their defaults, the checks.

An option given to an action that does not read it is refused, not ignored, and every
option not on the command line gets its default here: the parser's defaults are None, so
that an option typed at its default value is told apart from one left out.
"""

from __future__ import annotations

import argparse
import textwrap

from model.regional_files import REGIONAL_SCENARIO

from .committed import REGIONAL_DRAWS, refuse_smaller, writes_committed
from .main import UsageError

# The options each action reads. One given to an action that does not read it is refused,
# not ignored: pyabc's samplers take no seed, `report` reports the committed posterior
# whatever --posterior says, and a mistyped action would otherwise run another one.
USES = {
    "run": {"population", "generations", "db", "resume", "force", "holdout", "scheduler"}
    | {"workers", "max_minutes", "posterior"},
    "export": {"db", "holdout", "posterior", "generation"},
    "npe": {"db", "holdout", "posterior", "seed", "rows", "table", "truncated_rows"},
    "emulated": {"db", "holdout", "posterior", "seed", "table", "workers", "refine_runs"},
    "report": {"draws", "holdout_draws", "seed", "workers", "out"},
    "regional": {"region", "draws", "seed", "workers", "out"},
}


# The options' values when not given. The parser's defaults are None (False for flags),
# so that an option typed on the command line is seen even when it equals its default.
DEFAULTS = {
    "population": 200,
    "generations": 8,
    "workers": 2,
    "max_minutes": 9.0,
    "draws": 200,
    # experiments.calibration_report.HOLDOUT_DRAWS, written out so that the command line
    # is parsed before the experiments are imported.
    "holdout_draws": 1000,
    "seed": 1,
    "rows": 20_000,
    "truncated_rows": [],
    "refine_runs": 0,
    # Anchored to the project, as every default file.
    "region": REGIONAL_SCENARIO,
}
# calibration.refined_posterior.LEAST_RUNS, written out (as holdout_draws above) so that
# the command line is checked before JAX is imported; a test holds the two equal.
LEAST_RUNS = 16
# Defaults that differ by action. The report's medians from 200 draws left the Kyrgyz
# reporting count of today unsettled (-29.4% against a 30% tolerance; 2,000 draws put it at
# -31.8%), so it draws 1,000, as its held-back forecasts do.
ACTION_DEFAULTS = {"report": {"draws": 1000}}


def check_options(args: argparse.Namespace) -> None:
    """Raise ``UsageError`` for an option the action does not read, or two that conflict.

    Then give every option not on the command line its default value (``DEFAULTS``), and
    refuse a report or regional layer smaller than the committed one written over it.
    """
    unread = set().union(*USES.values()) - USES[args.action]
    for name in sorted(unread):
        value = getattr(args, name)
        # `is`: a 0 typed for --seed or --generation equals False
        if value is not None and value is not False:
            option = "--" + name.replace("_", "-")
            readers = ", ".join(f"`calibrate {a}`" for a, uses in USES.items() if name in uses)
            raise UsageError(f"calibrate {args.action}: {option} goes with {readers} only")
    if args.resume and args.force:
        raise UsageError("calibrate: --resume continues a database, --force replaces it: one")
    if args.action == "emulated" and args.workers is not None and not args.refine_runs:
        # The workers run the refinement's runs; without them they would do nothing.
        raise UsageError("calibrate emulated: --workers goes with --refine-runs only")
    if args.action == "emulated" and args.refine_runs and args.refine_runs < LEAST_RUNS:
        raise UsageError(
            f"calibrate emulated: --refine-runs {args.refine_runs}: 0 (none) or at least "
            f"{LEAST_RUNS} (fewer leave the emulator uncorrected)"
        )
    if args.action in ("npe", "emulated") and args.db and args.posterior:
        # No database: --db only names where the posterior goes, as --posterior does.
        raise UsageError(
            f"calibrate {args.action}: --db and --posterior both name the posterior: one"
        )
    typed = {"--" + name.replace("_", "-") for name in DEFAULTS if getattr(args, name) is not None}
    for name, value in DEFAULTS.items():
        value = ACTION_DEFAULTS.get(args.action, {}).get(name, value)
        if getattr(args, name) is None:
            setattr(args, name, list(value) if isinstance(value, list) else value)
    _refuse_a_trial_over_the_committed(args, typed)


def _refuse_a_trial_over_the_committed(args: argparse.Namespace, typed: set[str]) -> None:
    """Refuse a report or regional layer smaller than the committed one, written over it.

    ``typed``: the options given on the command line (the message marks the defaults).
    """
    if args.action not in ("report", "regional") or not writes_committed(args.out):
        return
    if args.action == "report":
        made = ACTION_DEFAULTS["report"]["draws"], DEFAULTS["holdout_draws"]
        sizes = {"--draws": (args.draws, made[0]), "--holdout-draws": (args.holdout_draws, made[1])}
        refuse_smaller("calibrate report", "the committed report", sizes, typed)
    else:
        sizes = {"--draws": (args.draws, REGIONAL_DRAWS)}
        what = "the committed regional posterior and report"
        refuse_smaller("calibrate regional", what, sizes, typed)


# What each action does, for `calibrate --help`; the options it reads come from USES.
ACTION_TEXT = {
    "run": "ABC-SMC (pyabc), the previous calibration",
    "npe": "neural posterior estimation on the reference table, the committed calibration",
    "emulated": "the emulated likelihood's posterior, trained on the rows npe was trained "
    "on (docs/calibration.md, 'The emulated posterior')",
    "report": "the report of the committed posterior (calibration/report/, or --out DIR for "
    "a trial)",
    "export": "a posterior from an ABC-SMC database",
    "regional": "the regional layer on the article's regional patterns (the committed "
    "calibration/regional_posterior.parquet and report, or --out DIR for a trial)",
}


def actions_help() -> str:
    """Return the ``calibrate --help`` text of the actions and the options each reads."""
    lines = ["actions (each refuses an option it does not read):"]
    for action, text in ACTION_TEXT.items():
        options = ", ".join("--" + name.replace("_", "-") for name in sorted(USES[action]))
        first = f"  {action:<10} "
        entry = f"{text}; reads {options}"
        lines.append(textwrap.fill(entry, 88, initial_indent=first, subsequent_indent=" " * 13))
    return "\n".join(lines)
