"""The regional commands: ``ngo-abm run`` on a regional file, ``ngo-abm regional-experiment``.

A regional scenario is a file with ``countries:`` (e.g. central_asia.yaml). ``run`` runs
the replicates of the regional model and writes a regional run folder
(``experiments.regional_runs``); a country scenario file keeps the usual ``ngo-abm run``.
The parameters come as for a country run (``--params``): the regional posterior's median
or draws (country and regional parameters together, ``calibration.regional``) when it is
committed, else the country posterior's with the regional file's own values.
``regional-experiment`` runs regional counterfactuals (``experiments.regional_experiment``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from experiments.locks import output_folder
from model import runaway_names
from model.regional_files import load_region

from .arguments import file_path, replicates, workers
from .main import note_first_compile, print_notes


def cmd_run_region(args: argparse.Namespace) -> int:
    """Run a regional scenario's replicates and write the regional run folder."""
    from calibration.posterior import check_drawn
    from experiments.regional_calibration import changed_note
    from experiments.regional_runs import (
        regional_manifest,
        regional_params_file,
        regional_replicate_params,
        run_region_replicates,
        ties_text,
        write_regional_run,
    )
    from experiments.replaced_values import run_changes
    from experiments.run_params import median_spread_note
    from experiments.runs import REGIONAL_RUN_FILES

    region = load_region(args.scenario)
    params, source = regional_replicate_params(args.params, args.replicates, args.seed)
    posterior = regional_params_file(args.params)
    # Parameters that do not apply (a posterior of other parameters) or values out of their
    # bounds fail here, in one line naming the posterior.
    check_drawn(region, params, posterior)
    changes = run_changes(args.scenario, region, params[0] if params else {}, source)
    edited = changed_note(posterior, "run with --params scenario")
    writes = REGIONAL_RUN_FILES
    with output_folder(args.out, kind="run", writes=writes), runaway_names(args.scenario):
        print_notes(changes, edited)
        note_first_compile()
        started = time.perf_counter()
        tables, seeds = run_region_replicates(
            region, args.seed, args.replicates, params, args.workers, args.replicates > 1
        )
        wall = time.perf_counter() - started
        manifest = regional_manifest(region, seeds, wall, params, source, posterior)
        out = write_regional_run(args.out, tables, manifest)
    print(
        f"{region.name}: {len(seeds)} replicate(s), {region.start_year}-{region.end_year}, "
        f"{manifest['wall_seconds']:.2f} s ({source}); median cross-border ties:"
    )
    years = region.spec.report_years or region.spec.network_years
    if years:
        # Medians of counts: whole numbers print as such ("312", not "312.0").
        print(ties_text(tables.timeseries, years))
    else:
        print("(the file names no report_years or network_years: no years to print)")
    print_notes(median_spread_note(args.params, len(seeds), posterior))
    names = ("timeseries.csv", "ties.csv", "network.png", "network.csv", "manifest.json")
    print(f"wrote {', '.join(str(out / name) for name in names)}")
    return 0


def cmd_regional_experiment(args: argparse.Namespace) -> int:
    """Run a regional experiment file and print its paired differences, output by output."""
    from experiments.output_paths import check_folder
    from experiments.paired import UNSEEN, all_exactly_zero
    from experiments.regional_experiment import (
        describe_regional,
        difference_table,
        load_regional_experiment,
        regional_experiment_outputs,
        run_regional_experiment,
    )
    from model import ScenarioError

    from .experiment import check_out_folder, name_other_kind

    out = Path(args.out or Path("out") / "experiments" / Path(args.file).stem)
    try:
        spec, regions = load_regional_experiment(args.file, args.replicates)
    except ScenarioError:
        name_other_kind(Path(args.file), regional=True)
        raise
    # Checked before its earlier figures are listed: a name too long to look in is one line.
    check_folder(out, "--out")
    writes = regional_experiment_outputs(regions, out)
    check_out_folder(out, "regional experiment", writes)
    if args.dry_run:
        print(describe_regional(args.file, spec, regions))
        return 0
    with output_folder(out, kind="regional experiment", writes=writes), runaway_names(args.file):
        print(describe_regional(args.file, spec, regions), flush=True)
        note_first_compile()
        summary = run_regional_experiment(args.file, out, args.replicates, args.workers)
    years = sorted(summary.year.unique())
    print(
        "paired difference from the baseline (counterfactual - baseline), median [10%, 90%] "
        "over the replicates; 0 exactly zero, +0 or -0 not zero but below the last digit at "
        "which the baseline's and counterfactual's medians would be shown (summary.csv has "
        "every value):"
    )
    if spec.replicates < 2:
        print("one replicate: each interval is that run's difference alone (no spread)")
    for name, part in summary.groupby("counterfactual", sort=False):
        print(f"\n{name}:")
        if all_exactly_zero(part[["difference_q10", "difference_q90"]]):
            print(UNSEEN)
        print(difference_table(part, years).to_string())
    written = ", ".join(str(out / n) for n in ("summary.csv", "runs.csv", "manifest.json"))
    print(f"wrote {written}, figures {out / 'diff_*.png'}")
    return 0


def register(sub) -> None:
    """Add ``ngo-abm regional-experiment``."""
    p = sub.add_parser(
        "regional-experiment",
        help="run regional counterfactuals (experiments/regional/*.yaml) against the baseline",
        description=(
            "Run a regional experiment: every scenario with the same seeds and parameters "
            "(common random numbers). The file's params: says where the parameters come "
            "from: posterior (the default) one draw of the committed regional posterior per "
            "replicate; median the posterior's medians in every run, whose intervals then "
            "carry the runs' noise only; scenario the files' own values; auto the regional "
            "posterior's medians when one is committed (else the country posterior's, or the "
            "files' values). Differences are "
            "given as median [10%, 90%] over the replicates (docs/experiments.md)."
        ),
    )
    p.add_argument("file", type=file_path, help="regional experiment YAML")
    p.add_argument("--replicates", type=replicates, default=None, help="default: the file's")
    p.add_argument("--workers", type=workers, default=1, help="local worker processes")
    p.add_argument("--out", type=file_path, default=None, help="default out/experiments/<file>")
    p.add_argument(
        "--dry-run", action="store_true", help="check the file and describe the runs; run nothing"
    )
    p.set_defaults(func=cmd_regional_experiment)
