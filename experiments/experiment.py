"""Policy experiments: counterfactual scenarios against a baseline, with uncertainty bands.

``ngo-abm experiment FILE`` (docs: ``docs/experiments.md``) loads an experiment file, runs
every scenario over posterior draws and replicates on common random numbers, and writes
the summary of the paired differences, the figures and a manifest. The work is split by
concern, and this module puts it together and keeps the names other code imports:

- ``experiments.spec``: the experiment file's schema and the scenarios it resolves to;
- ``experiments.storage``: the design of the runs in chunks, and the chunk store (one
  Parquet file per scenario and block of draws, written atomically, reused only when its
  key matches, so an interrupted experiment resumes and a change of inputs never reuses
  stale runs);
- ``experiments.paired``: running the chunks (in-process, local processes or a
  dask.distributed cluster, ``experiments.runner``, with identical results) and the
  statistics of the paired differences;
- ``experiments.figures``: the fan charts, the paired differences and the funding mix.

Source of the scenarios and reported figures: Jaysanov (2023), CAJOTAS 4(6).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

from calibration.atomic import remove_output, write_text_atomic
from calibration.plotting import save_figure
from calibration.posterior import (
    WEIGHT,
    applies_to,
    calibrated_lacking,
    load_posterior,
    parameter_names,
)
from calibration.priors import PriorSpec, load_priors
from calibration.targets import DEFAULT_TARGETS, TargetFile, load_target_file
from model import ScenarioError
from model.code import model_fingerprint

from .calibration_report import identification_table
from .changes import DESCRIPTIVE_FIELDS, scenario_changes
from .effect_drivers import effect_drivers
from .figures import (
    FAN_PANELS,
    INCOME_SOURCES,
    difference_figure,
    effects_figure,
    fan_figure,
    income_figure,
)
from .forecast_drivers import DRAWS_PER_COEFFICIENT
from .git_state import git_commit, git_dirty
from .manifests import manifest_json
from .paired import (
    RunStats,
    collect_runs,
    describe,
    format_summary,
    paired_differences,
    parameter_sets,
    run_chunks,
    run_experiment,
    summary_table,
)
from .runs import file_sha256, package_versions, posterior_record, retract_manifest
from .spec import (
    BASELINE,
    OUTPUT_NAMES,
    CounterfactualSpec,
    Experiment,
    ExperimentSpec,
    Levers,
    build_experiment,
    experiment_from_mapping,
    load_experiment,
)
from .storage import Chunk, build_chunks, chunk_record, load_results, run_seed

# The figures written for each counterfactual, ``<kind>_<name>.png``.
FIGURE_KINDS = ("fan", "diff", "income")

__all__ = [
    "BASELINE",
    "DESCRIPTIVE_FIELDS",
    "FAN_PANELS",
    "INCOME_SOURCES",
    "OUTPUT_NAMES",
    "Chunk",
    "CounterfactualSpec",
    "Experiment",
    "ExperimentSpec",
    "Levers",
    "RunStats",
    "build_chunks",
    "build_experiment",
    "build_manifest",
    "collect_runs",
    "describe",
    "difference_figure",
    "effects_figure",
    "experiment_from_mapping",
    "experiment_outputs",
    "fan_figure",
    "format_summary",
    "income_figure",
    "load_experiment",
    "load_results",
    "output_inputs",
    "paired_differences",
    "parameter_sets",
    "retire_outputs",
    "run_chunks",
    "run_experiment",
    "run_seed",
    "scenario_changes",
    "summary_table",
    "write_outputs",
]


def output_inputs(experiment: Experiment) -> tuple[TargetFile, dict[str, PriorSpec] | None]:
    """Read the files the outputs need besides the runs: the targets and, on draws, the priors.

    Read before the runs (``cmd_experiment``), so that a bad file is one line before any
    simulation rather than after all of them, with the runs' figures half written.
    """
    priors = load_priors() if experiment.spec.params == "posterior" else None
    return load_target_file(DEFAULT_TARGETS), priors


def write_outputs(
    experiment: Experiment,
    out: str | Path,
    stats: RunStats,
    posterior: str | Path,
    inputs: tuple[TargetFile, dict[str, PriorSpec] | None],
) -> pd.DataFrame:
    """Write ``summary.csv``, the figures and ``manifest.json``; return the summary table.

    ``inputs`` are ``output_inputs(experiment)``, read before the runs.
    """
    out = Path(out)
    target_file, priors = inputs
    results = load_results(out, stats.chunks)
    table = summary_table(results, experiment)
    retire_outputs(experiment, out)
    save_figure(effects_figure(table, experiment), out / "effects.png")
    for name in experiment.counterfactuals:
        save_figure(fan_figure(results, experiment, name, target_file), out / f"fan_{name}.png")
        save_figure(difference_figure(results, experiment, name), out / f"diff_{name}.png")
        save_figure(income_figure(results, experiment, name), out / f"income_{name}.png")
    drivers = drivers_table(results, experiment, posterior, priors)
    if not drivers.empty:
        write_text_atomic(out / "drivers.csv", drivers.to_csv(index=False))
    # Last but the manifest: a run stopped while drawing leaves no summary to be read.
    write_text_atomic(out / "summary.csv", table.to_csv(index=False))
    manifest = build_manifest(experiment, stats, posterior)
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return table


def experiment_outputs(experiment: Experiment) -> tuple[str, ...]:
    """Return the files ``write_outputs`` writes in an experiment's folder."""
    figures = (f"{kind}_{name}.png" for name in experiment.counterfactuals for kind in FIGURE_KINDS)
    return ("summary.csv", "drivers.csv", "manifest.json", "effects.png", *figures)


def drivers_table(
    results: pd.DataFrame,
    experiment: Experiment,
    posterior: str | Path,
    priors: dict[str, PriorSpec] | None,
) -> pd.DataFrame:
    """Return what each effect rests on (``experiments.effect_drivers``; runs on draws only).

    With ``params: scenario`` every draw has the same parameters, so there is nothing to
    read: the table is empty. ``priors`` are the calibration's (``output_inputs``).
    """
    if experiment.spec.params != "posterior":
        return pd.DataFrame()
    frame = load_posterior(posterior)
    # A posterior may hold parameters with no prior (a user's, of a fixed behaviour value):
    # their width ratio is unknown, not an error after every run is done.
    known = [n for n in parameter_names(frame) if n in priors]
    widths = identification_table(frame[[*known, WEIGHT]]).set_index("parameter")
    sets = parameter_sets(experiment, posterior)
    return effect_drivers(results, experiment, sets, widths["width ratio"])


def no_drivers_note(experiment: Experiment, posterior: str | Path) -> str:
    """Say why an experiment on posterior draws wrote no ``drivers.csv``."""
    country = experiment.baseline.country
    names = [n for n in parameter_names(load_posterior(posterior)) if applies_to(n, country)]
    needed = DRAWS_PER_COEFFICIENT * (len(names) + 1)
    if experiment.spec.draws < needed:
        return (
            f"no drivers.csv: what the effects rest on takes at least {needed} draws (two per "
            f"coefficient of a fit on the {len(names)} parameters that apply to {country} and "
            f"a constant), and {experiment.spec.draws} ran (docs/experiments.md)"
        )
    return "no drivers.csv: no effect varies across enough draws"


def retire_outputs(experiment: Experiment, out: Path) -> None:
    """Ready ``out`` for a (re)run: remove what the last run wrote, the manifest last.

    Done before the first chunk is written (``cmd_experiment``), and again before the
    summary: a chunk's file is named by its scenario and draws only, so a rerun with other
    inputs rewrites it in place, and a manifest left over it would list other keys. The
    figures of this run's counterfactuals go too: a rerun stopped before its figures were
    drawn left the last run's, titled with its draws, beside runs of other draws.
    """
    remove_stale_figures(out, experiment.counterfactuals)
    for name in experiment_outputs(experiment):
        if name != "manifest.json":
            remove_output(out / name)
    retract_manifest(out)


def remove_stale_figures(out: Path, names) -> None:
    """Delete the figures of the counterfactuals that the folder's last run had and ``names`` lack.

    A folder is reused when an experiment is rerun or resumed; the figures of a
    counterfactual since removed from its file would otherwise sit beside a summary that
    no longer holds it. The names are read from the folder's manifest, so nothing but
    this tool's own figures is removed.
    """
    try:
        earlier = manifest_json(out / "manifest.json")["scenarios"]
    except (ScenarioError, KeyError):
        return
    for name in set(earlier) - set(names):
        if not isinstance(name, str) or "/" in name:
            continue  # not a name this tool writes
        for kind in FIGURE_KINDS:
            remove_output(out / f"{kind}_{name}.png")


def _sha256_or_none(path: str | Path) -> str | None:
    return file_sha256(path) if Path(path).exists() else None


def build_manifest(
    experiment: Experiment, stats: RunStats, posterior: str | Path
) -> dict[str, Any]:
    """Return the experiment's manifest: inputs, design, backend and what was run."""
    spec = experiment.spec
    uses_posterior = spec.params == "posterior"
    return {
        "experiment_file": str(experiment.path),
        "experiment_file_sha256": _sha256_or_none(experiment.path),
        "spec": spec.model_dump(mode="json"),
        "scenarios": {
            name: {
                "name": s.name,
                "resolved_sha256": s.fingerprint(),
                "years": [s.start_year, s.end_year],
                "changes": experiment.changes.get(name, []),
            }
            for name, s in experiment.scenarios.items()
        },
        "params": spec.params,
        **posterior_record(Path(posterior) if uses_posterior else None),
        # Run at the scenario's values though calibrated: what the posterior did not give.
        "calibrated_not_in_posterior": (
            calibrated_lacking(parameter_names(load_posterior(posterior)), experiment.countries)
            if uses_posterior
            else None
        ),
        "seeds": "run (draw, replicate) uses SeedSequence(seed, spawn_key=(draw, replicate))",
        "model_code_sha256": model_fingerprint(),
        "runs": experiment.runs,
        "runs_run": stats.ran,
        "runs_reused": stats.reused,
        "chunks": len(stats.chunks),
        # Which of the folder's chunks are this experiment's (``load_results(out)``).
        "chunk_files": chunk_record(stats.chunks),
        "backend": stats.backend,
        "wall_seconds": round(stats.seconds, 3),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
