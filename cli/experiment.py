"""``ngo-abm experiment`` and ``ngo-abm sensitivity``: counterfactuals and global sensitivity.

``experiment`` runs an experiment file (``experiments/*.yaml``: a baseline, counterfactuals,
outputs, key years) over posterior draws and replicates with common random numbers, stores
the runs in resumable chunks and writes the summary table and figures
(``experiments.experiment``). ``sensitivity`` runs a SALib Sobol or Morris analysis of the
behavioural parameters on key outputs (``experiments.sensitivity``). Both run in-process,
on local processes (``--workers``) or on an existing dask.distributed cluster
(``--scheduler``). See ``docs/experiments.md``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from experiments.locks import output_folder
from model import runaway_names
from model.limits import MAX_DRAWS, MAX_SAMPLES

from .arguments import address, file_path, replicates, seeds, whole_number, workers
from .main import note_first_compile

# The project's folder: default inputs are its files wherever the command runs.
PROJECT = Path(__file__).resolve().parents[1]


def check_out_folder(
    out: Path, kind: str, writes: tuple[str, ...], folders: tuple[str, ...] = ()
) -> None:
    """Refuse an ``--out`` the run would refuse, before anything runs or is created.

    ``folders`` are those the run keeps its runs in there (``experiments.storage``). A dry
    run checks it too: one that passes is followed by a run that does not refuse it.
    """
    from experiments.output_paths import (
        check_folder,
        check_outputs_kind,
        refuse_files_named,
        refuse_folders_globbed,
        refuse_source_folder,
    )

    check_folder(out, "--out")
    refuse_source_folder(out, "--out")
    if out.is_dir():
        check_outputs_kind(out, "--out", kind, writes)
        refuse_files_named(out, "--out", folders)
        refuse_folders_globbed(out, "--out", tuple(f"{f}/draws-*.parquet" for f in folders))


def cmd_experiment(args: argparse.Namespace) -> int:
    """Run an experiment file and write its summary and figures."""
    from calibration.posterior import DEFAULT_POSTERIOR
    from experiments.experiment import (
        describe,
        experiment_outputs,
        format_summary,
        load_experiment,
        no_drivers_note,
        output_inputs,
        retire_outputs,
        run_experiment,
        write_outputs,
    )
    from experiments.paired import parameter_sets
    from experiments.storage import chunk_folders
    from model import ScenarioError

    hint = "; or drop --posterior and pass --params scenario (the scenarios' own values)"
    refuse_missing_posterior(args.posterior, hint)
    posterior = args.posterior or DEFAULT_POSTERIOR
    try:
        experiment = load_experiment(args.file, args.draws, args.replicates, args.params, posterior)
    except ScenarioError:
        name_other_kind(args.file, regional=False)
        raise
    refuse_unread_posterior(args.posterior, experiment.spec.params)
    out = args.out or Path("out") / "experiments" / args.file.stem
    # What a run reads first, checked before anything is printed: the posterior draws and
    # their parameter names, and the folder it would write (nothing is created).
    parameter_sets(experiment, posterior)
    inputs = output_inputs(experiment)
    writes = experiment_outputs(experiment)
    check_out_folder(out, "experiment", writes, chunk_folders(experiment))
    if args.dry_run:
        print(describe(experiment, posterior), flush=True)
        return 0
    with output_folder(out, kind="experiment", writes=writes), runaway_names(args.file):
        # Once the folder is ours: a folder in use is one line, not a description first.
        print(describe(experiment, posterior), flush=True)
        note_first_compile()
        # Only once the inputs and the backend have passed: a refused rerun keeps the
        # earlier run's complete folder.
        stats = run_experiment(
            experiment,
            out,
            args.workers,
            args.scheduler,
            posterior,
            progress=True,
            before_first_write=lambda: retire_outputs(experiment, out),
        )
        print(
            f"ran {stats.ran:,} runs, reused {stats.reused:,} stored runs, "
            f"{stats.seconds:.1f} s on {stats.backend}; writing the summary, drivers and "
            "figures",
            flush=True,
        )
        table = write_outputs(experiment, out, stats, posterior, inputs)
    print()
    print(format_summary(table, experiment))
    drivers = f", {out / 'drivers.csv'}" if (out / "drivers.csv").exists() else ""
    written = f"{out / 'summary.csv'}{drivers}, {out / 'manifest.json'}"
    print(f"\nwrote {written}, figures {out}/*.png")
    if not drivers and experiment.spec.params == "posterior":
        print(no_drivers_note(experiment, posterior))
    return 0


def refuse_missing_posterior(named: Path | None, hint: str = "") -> None:
    """Refuse a ``--posterior`` named on the command line that does not exist.

    Raises:
        ScenarioError: one line naming the file and the option.
    """
    from model import ScenarioError
    from model.extends import path_exists

    if named is not None and not path_exists(named, named, "--posterior"):
        raise ScenarioError(named, "--posterior", f"file not found{hint}")


def refuse_unread_posterior(named: Path | None, params: str) -> None:
    """Refuse a ``--posterior`` when the runs take the scenarios' own values and read none.

    Raises:
        ScenarioError: one line naming the file given and the option.
    """
    from model import ScenarioError

    if named is not None and params == "scenario":
        raise ScenarioError(
            named,
            "--posterior",
            "given, but the runs take the scenarios' own behaviour values (params: scenario, "
            "from --params or the file), so no posterior is read; drop --posterior or run "
            "with --params posterior",
        )


def name_other_kind(file: Path, regional: bool) -> None:
    """Raise ``ScenarioError`` naming the command for ``file`` if it is the other kind.

    A regional experiment file given to ``experiment`` (or the reverse) would otherwise
    fail on its first field the other schema lacks (an output, a key), which names
    neither the file's kind nor the command that runs it. The baseline tells them apart.
    """
    from model import ScenarioError
    from model.regional_files import is_country_file, is_regional_file
    from model.yaml_files import read_yaml_mapping

    try:
        baseline = read_yaml_mapping(file).get("baseline")
    except ScenarioError:
        return
    # os.path: a name the system refuses (too long) is no file, not a traceback.
    if not isinstance(baseline, str) or not os.path.isfile(file.parent / baseline):
        return
    if is_regional_file(file.parent / baseline) == regional:
        return
    if regional and not is_country_file(file.parent / baseline):
        return  # no scenario of either kind: the loader names what is wrong with it
    if regional:
        found = "a country's scenario, so this is an experiment file (ngo-abm experiment runs it)"
    else:
        found = "a regional scenario, so this is a regional experiment file "
        found += "(ngo-abm regional-experiment runs it)"
    raise ScenarioError(file, "baseline", found)


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """Run a global sensitivity analysis; write its ranking, figure and manifest."""
    from calibration.posterior import DEFAULT_POSTERIOR
    from experiments.sensitivity import run_sensitivity

    posterior = args.posterior or DEFAULT_POSTERIOR
    # Without a posterior the ranges are the priors'; a file named on the command line
    # must be there.
    refuse_missing_posterior(args.posterior)
    # Refuses a folder of another command's outputs (its manifest says whose) before any
    # run; ``run_sensitivity`` refuses one of the other method's.
    with output_folder(args.out, kind="sensitivity analysis"), runaway_names(args.scenario):
        run_sensitivity(
            method=args.method,
            samples=args.samples,
            replicates=args.replicates,
            scenario_path=args.scenario,
            posterior=posterior,
            out=args.out,
            seed=args.seed,
            workers=args.workers,
            scheduler=args.scheduler,
            emit=print,
        )
    return 0


def _add_backend(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", type=workers, default=1, help="local worker processes (default 1)"
    )
    parser.add_argument(
        "--scheduler",
        type=address,
        default=None,
        metavar="ADDRESS",
        help="existing dask.distributed scheduler tcp://HOST:PORT (workers started from "
        "this project's venv); overrides --workers",
    )


def register(sub) -> None:
    """Add the ``experiment`` and ``sensitivity`` subcommands."""
    from calibration.posterior import DEFAULT_POSTERIOR

    p = sub.add_parser(
        "experiment",
        help="run policy counterfactuals against a baseline (experiments/*.yaml)",
    )
    p.add_argument(
        "file", type=file_path, help="experiment YAML, e.g. experiments/kyrgyzstan_2035.yaml"
    )
    p.add_argument(
        "--draws",
        type=whole_number(1, MAX_DRAWS),
        default=None,
        help="posterior draws (default: file)",
    )
    p.add_argument(
        "--replicates", type=replicates, default=None, help="seeds per draw (default: file)"
    )
    p.add_argument(
        "--params",
        choices=("posterior", "scenario"),
        default=None,
        help="posterior draws, or the scenarios' own behaviour values (default: file)",
    )
    p.add_argument(
        "--posterior",
        type=file_path,
        default=None,
        help=f"posterior file, read under --params posterior (default {DEFAULT_POSTERIOR})",
    )
    p.add_argument(
        "--out", type=file_path, default=None, help="output folder (default out/experiments/<file>)"
    )
    p.add_argument("--dry-run", action="store_true", help="validate and describe, run nothing")
    _add_backend(p)
    p.set_defaults(func=cmd_experiment)

    s = sub.add_parser(
        "sensitivity",
        help="global sensitivity analysis (SALib Sobol or Morris) of the behavioural parameters",
    )
    s.add_argument(
        "--method",
        choices=("sobol", "morris"),
        default="sobol",
        help="Sobol indices (variance shares) or Morris elementary effects (a screen)",
    )
    s.add_argument(
        "--samples",
        type=whole_number(2, MAX_SAMPLES),
        default=None,
        help="Sobol base samples (a power of 2, default 64) or Morris trajectories (default 20)",
    )
    s.add_argument(
        "--replicates",
        type=replicates,
        default=2,
        help="seeds averaged per sample point (default 2)",
    )
    s.add_argument(
        "--scenario",
        type=file_path,
        default=PROJECT / "scenarios" / "kyrgyzstan.yaml",
        help="a country's scenario file (default: the project's Kyrgyz scenario)",
    )
    s.add_argument(
        "--posterior",
        type=file_path,
        default=None,
        help=f"posterior whose 5-95%% ranges are varied (default {DEFAULT_POSTERIOR}; "
        "the priors' ranges where it is absent)",
    )
    s.add_argument(
        "--seed", type=seeds, default=1, help="seed of the sample and the runs (default 1)"
    )
    s.add_argument(
        "--out",
        type=file_path,
        default=Path("out") / "sensitivity",
        help="output folder (default out/sensitivity)",
    )
    _add_backend(s)
    s.set_defaults(func=cmd_sensitivity)
