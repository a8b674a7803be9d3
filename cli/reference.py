"""``ngo-abm reference``: build or extend the reference table of prior simulations.

The table (``calibration/runs/reference/`` by default) is what ``ngo-abm calibrate npe``
trains the posterior on and ``ngo-abm validate`` checks it with. Stored chunks are kept:
rerunning resumes, a larger ``--rows`` extends. With ``--truncate``, the rows come from the
prior truncated to the committed posterior's region (``calibration.truncation``), in their
own folder (``--sampler mcmc`` draws them by MCMC when the region is too small for
rejection). See ``docs/calibration.md``.
"""

from __future__ import annotations

import argparse

from calibration.truncation import EPS, SAMPLERS, THRESHOLD_DRAWS
from experiments.locks import output_folder
from model import ScenarioError
from model.limits import MAX_MINUTES, MAX_RUNS

from .arguments import address, file_path, minutes, seeds, share, whole_number, workers

DEFAULT_ROWS = 20_000
CHECK_ROWS = 4
# Below 1 / THRESHOLD_DRAWS the threshold is the least of the estimator's draws whatever the
# share; above a half the region leaves out more of the posterior than it keeps.
EPS_BOUNDS = (1 / THRESHOLD_DRAWS, 0.5)


def cmd_rekey(args: argparse.Namespace) -> int:
    """Check stored tables against the current code and carry them over to its keys."""
    from calibration.abc import RUNS_DIR
    from experiments.rekey import rekey_tables, table_folders

    clashing = [
        flag
        for flag, given in (
            ("--truncate", args.truncate is not None),
            ("--round", args.round != 1),
            ("--out", args.out is not None),
            ("--scheduler", args.scheduler is not None),
            ("--sampler", args.sampler is not None),
            ("--eps", args.eps is not None),
            ("--rows", args.rows is not None),
            ("--max-minutes", args.max_minutes is not None),
        )
        if given
    ]
    if clashing:
        raise ScenarioError(
            "--rekey", "", f"checks every table under {RUNS_DIR}: drop {clashing[0]}"
        )
    folders = table_folders(RUNS_DIR)
    if not folders:
        raise ScenarioError(RUNS_DIR, "", "no stored tables to carry over")
    summary = rekey_tables(folders, args.seed, args.check_rows or CHECK_ROWS, args.workers)
    for folder, chunks, rows in summary:
        if chunks:
            found = f"{chunks} chunks now under the current key ({rows} rows re-run, all equal)"
        else:
            found = "no chunk under another key: nothing to carry over"
        print(f"{folder}: {found}")
    return 0


def cmd_reference(args: argparse.Namespace) -> int:
    """Simulate the table's missing rows (drawing the truncated proposal first if asked)."""
    if args.rekey:
        return cmd_rekey(args)
    if args.check_rows is not None:
        raise ScenarioError("--check-rows", "", "only with --rekey")
    for flag, given in (("--sampler", args.sampler), ("--eps", args.eps)):
        if given is not None and args.truncate is None:
            raise ScenarioError(flag, "", "only with --truncate")
    if args.round != 1 and args.truncate is None:
        raise ScenarioError("--round", "", "only with --truncate (the prior's table has no rounds)")
    from calibration.reference import DEFAULT_TABLE, truncated_table
    from experiments.reference_table import build_table, write_truncated_proposal

    rows = DEFAULT_ROWS if args.rows is None else args.rows
    max_minutes = MAX_MINUTES if args.max_minutes is None else args.max_minutes
    holdout = args.truncate == "holdout"
    truncated = truncated_table(holdout, args.round)
    folder = args.out or (truncated if args.truncate else DEFAULT_TABLE)
    with output_folder(folder, kind="reference table"):
        proposal = None
        if args.truncate:
            meta = write_truncated_proposal(
                folder,
                holdout,
                rows,
                seed=args.seed,
                truncation_round=args.round,
                sampler=args.sampler or SAMPLERS[0],
                eps=EPS if args.eps is None else args.eps,
            )
            print(f"{folder}: proposal from {meta['estimator']}, {proposal_summary(meta)}")
            proposal = folder
        stored = build_table(
            folder,
            rows,
            seed=args.seed,
            workers=args.workers,
            scheduler=args.scheduler,
            max_minutes=max_minutes,
            progress=True,
            proposal=proposal,
            truncation_round=args.round,
        )
    print(f"{folder}: {stored} of {rows} rows stored")
    return 0


def proposal_summary(meta: dict) -> str:
    """Return one line on how a proposal was drawn (its prior mass or its chains' state)."""
    if "mcmc" not in meta:
        return f"prior mass of the region {meta['prior_mass']:.4f}"
    mcmc = meta["mcmc"]
    return (
        f"{mcmc['chains']} elliptical slice chains, largest split R-hat "
        f"{max(mcmc['r_hat'].values()):.3f}, smallest effective size "
        f"{min(mcmc['effective_size'].values()):.0f}, "
        f"{mcmc['evaluations_per_step']:.1f} densities per step"
    )


def register(sub) -> None:
    """Add the ``reference`` subcommand."""
    p = sub.add_parser("reference", help="build or extend the reference table of prior runs")
    p.add_argument(
        "--rows",
        type=whole_number(1, MAX_RUNS),
        default=None,
        help=f"table rows (default {DEFAULT_ROWS:,})",
    )
    p.add_argument("--seed", type=seeds, default=1, help="seed of the table's draws (default 1)")
    p.add_argument("--workers", type=workers, default=2, help="local processes (default 2)")
    p.add_argument(
        "--scheduler", type=address, default=None, help="dask.distributed scheduler tcp://HOST:PORT"
    )
    p.add_argument(
        "--max-minutes",
        type=minutes,
        default=None,
        help="wait for no chunk after this many minutes (rerun to resume; default a week)",
    )
    p.add_argument(
        "--out", type=file_path, default=None, help="table folder (calibration/runs/reference)"
    )
    p.add_argument(
        "--truncate",
        choices=("main", "holdout"),
        default=None,
        help="draw from the prior truncated to the committed main or held-back posterior "
        "(calibration/runs/truncated_main/roundR or truncated_holdout/roundR)",
    )
    p.add_argument(
        "--round",
        type=whole_number(1, 100),
        default=1,
        help="with --truncate: the round (its estimator must have been trained on the "
        "rows of the rounds before)",
    )
    p.add_argument(
        "--rekey",
        action="store_true",
        help="re-run sample rows of every stored table (calibration/runs) with the current "
        "code and, if all equal their stored values, keep the tables under the current key",
    )
    p.add_argument(
        "--check-rows",
        type=whole_number(2, 200),
        default=None,
        help=f"with --rekey: rows re-run per stored chunk (its first, its last and a sample; "
        f"default {CHECK_ROWS})",
    )
    p.add_argument(
        "--sampler",
        choices=SAMPLERS,
        default=None,
        help="with --truncate: rejection from the prior, or elliptical slice sampling "
        "(for a region of small prior mass; the proposal gets a key of its own)",
    )
    p.add_argument(
        "--eps",
        type=share(EPS_BOUNDS[0], EPS_BOUNDS[1]),
        default=None,
        help=f"with --truncate: the share of the estimator's posterior mass left outside the "
        f"region (default {EPS}; another share gives the proposal a key of its own)",
    )
    p.set_defaults(func=cmd_reference)
