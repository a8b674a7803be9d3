"""``ngo-abm chains``: pseudo-marginal chains at the reported figures, against the estimator.

Runs ``experiments.chains`` on the committed main estimator and writes the summary to
``calibration/report/chains.json`` (the share of the chains' states inside each of the
estimator's regions, which tells of which level a further truncated round may be) and
the kept states beside it, ``chains_states.npz`` (not committed). See
``docs/calibration.md``, "The chains as a command". A run smaller than the defaults is
refused there (``cli.committed``): ``--out DIR`` takes a trial run elsewhere.
"""

from __future__ import annotations

import argparse
import json

from experiments.locks import output_folder
from model.limits import MAX_RUNS

from .arguments import file_path, seeds, whole_number, workers
from .committed import refuse_smaller, writes_committed
from .main import UsageError

# The sizes of the committed chains.json (`make recalibrate` runs `ngo-abm chains` with
# these defaults): a smaller run may not replace it.
COMMITTED = {"chains": 16, "steps": 300, "burn_in": 100, "runs": 2}
# Each size's bounds and meaning, for its option.
SIZES = {
    "chains": (2, 1000, "chains"),
    "steps": (2, 100_000, "steps per chain"),
    "burn_in": (1, 100_000, "steps not kept"),
    "runs": (1, 100, "runs per likelihood estimate"),
}


def cmd_chains(args: argparse.Namespace) -> int:
    """Run the chains and write their summary and states."""
    from calibration.amortised import load_estimator
    from calibration.atomic import remove_output, write_atomic, write_text_atomic
    from experiments.calibration_report import REPORT_DIR
    from experiments.chains import ChainSettings, run_chains, summary

    if args.burn_in >= args.steps:
        raise UsageError(f"chains: --burn-in {args.burn_in} leaves no step of {args.steps} kept")
    runs = args.chains * args.steps * args.runs
    if runs > MAX_RUNS:
        sizes = f"--chains {args.chains} x --steps {args.steps} x --runs {args.runs}"
        raise UsageError(f"chains: {sizes} is {runs:,} model runs, over {MAX_RUNS:,}")
    if writes_committed(args.out):
        sizes = {f"--{k.replace('_', '-')}": (getattr(args, k), v) for k, v in COMMITTED.items()}
        refuse_smaller("chains", "the committed chains.json", sizes)
    settings = ChainSettings(
        chains=args.chains, steps=args.steps, burn_in=args.burn_in, runs=args.runs, seed=args.seed
    )
    out = args.out or REPORT_DIR
    estimator = load_estimator(False)
    flag = "--out" if args.out else "the report folder"
    with output_folder(out, flag, kind="calibration report"):
        chains = run_chains(estimator, settings, args.workers, progress=True)
        result = summary(estimator, chains, settings)
        # The summary goes first and comes back last: a states file of this run beside the
        # summary of an earlier one, after an interrupt, would pass for one run's pair.
        remove_output(out / "chains.json")
        states = write_atomic(out / "chains_states.npz", lambda tmp: _save(tmp, chains.states))
        path = write_text_atomic(out / "chains.json", json.dumps(result, indent=2) + "\n")
    print("\n".join(result_lines(result)))
    print(f"wrote {path} and {states}")
    return 0


def result_lines(result: dict) -> list[str]:
    """Return what the command prints of a summary (``experiments.chains.summary``).

    The shares inside the regions are read from where the chains went, so the acceptance
    and the split R-hat that say whether they went anywhere are printed with them: chains
    that never moved in their kept steps sit at one point each (a start, among the
    estimator's own draws, or where the burn-in left it), and were reported 100% inside
    every region.
    """
    low, high = result["acceptance_per_chain_range"]
    rhat = result["largest_split_rhat"]
    shares = ", ".join(f"{k}: {v:.3f}" for k, v in result["inside_region"].items())
    lines = [
        f"acceptance {result['acceptance']:.3f} of the kept steps ({low:.3f} to {high:.3f} by "
        f"chain); largest split R-hat {'undefined' if rhat is None else f'{rhat:.3f}'}",
        f"states inside the estimator's regions of level {shares}",
    ]
    defaults = f"--steps {COMMITTED['steps']} --burn-in {COMMITTED['burn_in']}"
    more = f"run more steps (the defaults: {defaults})"
    if result["acceptance"] == 0:
        lines.append(
            "warning: no chain accepted a kept step, so each chain's kept states are one point "
            f"(the chains did not move) and the shares above mean nothing; {more}"
        )
    elif rhat is None:
        lines.append(
            "warning: the split R-hat is undefined (fewer than four kept steps, or a "
            "parameter no chain moved on), so whether the chains mixed is unknown and the "
            f"shares above mean nothing; {more}"
        )
    return lines


def _save(path: str, states) -> None:
    import numpy as np

    # A file object: given a name, numpy would append ".npz" to the temporary file's.
    with open(path, "wb") as handle:
        np.savez(handle, states=states)


def register(sub) -> None:
    """Add the ``chains`` subcommand."""
    p = sub.add_parser(
        "chains",
        help="pseudo-marginal chains at the reported figures: how much of the posterior "
        "lies inside the estimator's regions",
    )
    for name, (low, high, what) in SIZES.items():
        p.add_argument(
            f"--{name.replace('_', '-')}",
            type=whole_number(low, high),
            default=COMMITTED[name],
            help=f"{what} (default {COMMITTED[name]})",
        )
    p.add_argument(
        "--seed", type=seeds, default=1, help="seed of the chains' starts and runs (default 1)"
    )
    p.add_argument("--workers", type=workers, default=2, help="local processes (default 2)")
    p.add_argument(
        "--out",
        type=file_path,
        default=None,
        help="folder (default calibration/report, the committed chains.json, which a run "
        "smaller than the defaults may not replace: give another folder for a trial)",
    )
    p.set_defaults(func=cmd_chains)
