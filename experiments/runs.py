"""Run folders: what ``ngo-abm run`` writes and ``ngo-abm compare`` compares.

A run folder holds ``timeseries.csv`` (one row per replicate and year), ``manifest.json``
(scenario file hash, seeds, package versions, git commit and whether the working tree
had uncommitted changes, wall time) and ``timeseries.png``. Files are written to
temporary names and renamed into place, so an interrupted or failed run leaves no
half-written file. A folder is read back, and checked against its manifest, by
``experiments.run_tables``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from calibration.atomic import remove_output, write_text_atomic
from calibration.compare import compare
from calibration.plotting import comparison_figure, save_figure, timeseries_figure
from calibration.run_checks import check_targets_fit_runs
from calibration.targets import (
    DEFAULT_TARGETS,
    DEFAULT_UNFITTED,
    Target,
    load_target_file,
    load_targets,
    load_unfitted,
)
from calibration.versions import installed_versions
from model import OUTPUT_COLUMNS, Scenario, ScenarioError
from model.code import model_fingerprint
from model.yaml_files import read_yaml_mapping

from .git_state import git_commit, git_dirty
from .runner import RunTask, map_runs, replicate_seeds, run_task

# The comparison with the official figures the calibration never saw (``compare_unfitted``).
UNFITTED_CSV = "unfitted.csv"
# A run folder's files by the command that writes them. Writing a run makes the files a
# comparison or a run of the other kind left in the folder describe a run that is gone,
# so they are removed first (``remove_stale``).
COUNTRY_RUN_FILES = ("timeseries.csv", "manifest.json", "timeseries.png")
REGIONAL_RUN_FILES = ("timeseries.csv", "ties.csv", "network.csv", "manifest.json", "network.png")
COMPARE_RECORD = "compare.json"
COMPARE_FILES = ("compare.csv", "compare.png", UNFITTED_CSV, COMPARE_RECORD)
UNFITTED_FILE = "calibration/external_unfitted.yaml"
PACKAGES = (
    "mesa",
    "numpy",
    "numba",
    "pandas",
    "scipy",
    "pydantic",
    "pyabc",
    "SALib",
    "distributed",
)


def run_replicates(
    scenario: Scenario,
    seed: int,
    replicates: int,
    params: list[dict[str, float]] | None = None,
    workers: int = 1,
    progress: bool = False,
) -> tuple[pd.DataFrame, list[int]]:
    """Run ``replicates`` seeds of a scenario; return the stacked table and the seeds.

    Replicate ``r`` runs with seed ``seed + r`` and overrides ``params[r]`` (if given).
    """
    seeds = replicate_seeds(seed, replicates)
    per_replicate = [{} for _ in seeds] if params is None else checked_sets(params)
    if len(per_replicate) != len(seeds):
        found = f"{len(per_replicate)} parameter sets for {len(seeds)} replicates"
        raise ScenarioError("params", "", found)
    if scenario.set_by:
        # Here rather than in the runs: a set that would undo a lever is refused in one
        # line before any run starts, in this process.
        for values in per_replicate:
            scenario.with_params(values)
    tasks = [
        RunTask(scenario, s, dict(per_replicate[r]), {"replicate": r}) for r, s in enumerate(seeds)
    ]
    frames = map_runs(run_task, tasks, workers=workers, progress=progress, desc="replicates")
    frame = pd.concat(frames, ignore_index=True)
    return frame[["replicate", *OUTPUT_COLUMNS]], seeds


def checked_sets(params: Any) -> list[Mapping[str, float]]:
    """Return ``params`` as a list of parameter sets, or say how it is not one (``params``).

    A list or tuple of mappings, one per replicate: a single mapping, a string or a
    table would otherwise fail deep in the runs (``KeyError: 0``) or, an empty list,
    run the scenario's own values without a word.
    """
    if not isinstance(params, (list, tuple)) or not all(isinstance(p, Mapping) for p in params):
        found = f"must be a list of parameter sets (mappings), one a replicate: {params!r:.60}"
        raise ScenarioError("params", "", found)
    return list(params)


def file_sha256(path: str | Path) -> str:
    """Return the SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def package_versions() -> dict[str, str]:
    """Return the versions of Python and the main packages."""
    return installed_versions(PACKAGES)


def build_manifest(
    scenario_path: str | Path,
    scenario: Scenario,
    seeds: list[int],
    wall_seconds: float,
    params: list[dict[str, float]] | None = None,
    params_source: str = "scenario behaviour values",
    posterior: Path | None = None,
) -> dict[str, Any]:
    """Return the manifest of a run folder (``posterior``: the file the params came from)."""
    return {
        "scenario_file": str(scenario_path),
        "scenario_file_sha256": file_sha256(scenario_path),
        "scenario_resolved_sha256": scenario.fingerprint(),
        "country": scenario.country,
        "scenario_name": scenario.name,
        "start_year": scenario.start_year,
        "end_year": scenario.end_year,
        "seeds": seeds,
        "replicates": len(seeds),
        "params_source": params_source,
        "params": [own_params(p, scenario.country) for p in params or []],
        **posterior_record(posterior),
        # The commit alone does not tell uncommitted changes to the model's code.
        "model_code_sha256": model_fingerprint(regional=False),
        "packages": package_versions(),
        "git_commit": git_commit(),
        # Whether the tree held more than the commit (``experiments.git_state``).
        "git_dirty": git_dirty(),
        "wall_seconds": round(wall_seconds, 3),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def own_params(params: dict[str, float], country: str) -> dict[str, float]:
    """Return the parameters that apply to ``country``: a posterior draw holds every country's."""
    prefix = f"{country}."
    return {k: v for k, v in params.items() if "." not in k or k.startswith(prefix)}


def posterior_record(posterior: Path | None) -> dict[str, str | None]:
    """Return a manifest's record of the posterior file parameters were drawn from."""
    if posterior is None:
        return {"posterior_file": None, "posterior_sha256": None}
    digest = file_sha256(posterior) if Path(posterior).exists() else None
    return {"posterior_file": str(posterior), "posterior_sha256": digest}


def retract_manifest(folder: Path) -> None:
    """Remove ``folder``'s manifest before its outputs are rewritten.

    Every command writes its manifest last: removed first, a manifest in a folder means
    that its files are complete and its own, even after an interrupted rewrite.
    """
    remove_output(folder / "manifest.json")


def write_run(
    out_dir: str | Path,
    frame: pd.DataFrame,
    manifest: dict[str, Any],
    targets: list[Target] | None = None,
) -> Path:
    """Write a run folder (table, manifest, figure), each file atomically.

    ``targets`` are the figures its plot marks (default: ``calibration/targets.yaml``'s),
    read before anything in the folder is removed, so that a bad targets file leaves an
    earlier run's folder whole.
    """
    targets = load_targets(DEFAULT_TARGETS) if targets is None else targets
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale(out, (*COMPARE_FILES, *REGIONAL_RUN_FILES), COUNTRY_RUN_FILES)
    retract_manifest(out)
    title = f"{manifest['scenario_name']}: {runs_described(manifest)}"
    fig = timeseries_figure(frame, manifest["country"], targets, title)
    save_figure(fig, out / "timeseries.png")
    write_text_atomic(out / "timeseries.csv", frame.to_csv(index=False))
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return out


def runs_described(manifest: dict[str, Any]) -> str:
    """Return how many runs a figure's bands are over, and with which parameters."""
    runs = f"{manifest['replicates']} replicate(s)"
    # A run folder written before manifests named their parameters says only its runs.
    source = manifest.get("params_source")
    return f"{runs}, {source}" if source else runs


def remove_stale(folder: Path, written_before: tuple[str, ...], kept: tuple[str, ...]) -> None:
    """Delete from ``folder`` the files of ``written_before`` that are not in ``kept``.

    The names are this tool's own outputs, which a new run in the folder makes stale; only
    in a folder that an earlier run wrote (it holds a manifest), so that files of the same
    names in a folder of the user's are left alone.
    """
    if not (folder / "manifest.json").is_file():
        return
    for name in set(written_before) - set(kept):
        remove_output(folder / name)


def compare_unfitted(
    runs: dict[str, pd.DataFrame], sources: dict[str, Path] | None = None
) -> pd.DataFrame:
    """Compare each country's table with the official figures never fitted that it spans.

    ``calibration/external_unfitted.yaml``: figures the calibration never saw, so a check
    of the model against what it was not fitted to (``docs/targets.md``).
    """
    spans = run_spans(runs)
    chosen = []
    for t in load_unfitted():
        first, last = spans.get(t.country, (1, 0))
        if first <= t.first_year and t.last_year <= last:
            chosen.append(t)
    return compare(runs, chosen, sources)


def run_spans(runs: dict[str, pd.DataFrame]) -> dict[str, tuple[int, int]]:
    """Return ``{country: (first year, last year)}`` of each country's yearly table."""
    return {country: (int(f.year.min()), int(f.year.max())) for country, f in runs.items()}


def check_comparable(
    spans: dict[str, tuple[int, int]],
    targets_path: str | Path,
    year_files: dict[str, Path] | None = None,
):
    """Return the targets file and the targets of the runs' countries, checked against them.

    ``spans`` is ``{country: (first year, last year)}`` of the runs, or of the scenarios
    about to run (``year_files`` then names each country's file, for the message), so
    that a comparison that cannot be made is refused before they run.

    Raises:
        ScenarioError: for a malformed targets file, a country with no target, or a target
            whose years fall outside its country's run.
    """
    target_file = load_target_file(targets_path)
    targets = [t for t in target_file.targets if t.country in spans]
    for country, years in spans.items():
        if not any(t.country == country for t in targets):
            raise ScenarioError(
                targets_path, "targets", f"no target for {country}, the run's country"
            )
        check_targets_fit_runs(targets, {country: years}, str(targets_path), year_files)
    return target_file, targets


def compare_and_write(
    run_dir: str | Path,
    runs: dict[str, pd.DataFrame],
    manifest: dict[str, Any],
    targets_path: str | Path = DEFAULT_TARGETS,
) -> pd.DataFrame:
    """Compare each country's table with its targets; write ``compare.csv`` and ``.png``.

    Shared by country and regional run folders (``runs``: ``{country: yearly table}``).
    The record of what was compared against (``compare.json``) is removed before the
    first file is rewritten and written last: where it is, the comparison's files are
    complete and made against it, even after an interrupted comparison.

    Raises:
        ScenarioError: for a malformed targets file, a targets file with no target for
            one of the countries, or a target whose years fall outside the run.
    """
    target_file, targets = check_comparable(run_spans(runs), targets_path)
    out = Path(run_dir)
    sources = {country: out / "timeseries.csv" for country in runs}
    table = compare(runs, targets, sources)
    unfitted = compare_unfitted(runs, sources)  # before anything is written: its file may be bad
    remove_output(out / COMPARE_RECORD)
    write_text_atomic(out / "compare.csv", table.to_csv(index=False))
    if len(unfitted):
        write_text_atomic(out / UNFITTED_CSV, unfitted.to_csv(index=False))
    else:
        remove_output(out / UNFITTED_CSV)
    fig = comparison_figure(
        runs,
        targets,
        target_file.periods,
        f"{manifest['scenario_name']}: model ({runs_described(manifest)}) "
        "against the reported figures",
    )
    save_figure(fig, out / "compare.png")
    write_text_atomic(out / COMPARE_RECORD, json.dumps(compare_record(targets_path), indent=2))
    return table


def compare_record(targets_path: str | Path) -> dict[str, Any]:
    """Return what a comparison was made against: the figure files and their hashes."""
    targets_path = Path(targets_path)
    files = [targets_path, DEFAULT_UNFITTED]
    external = read_yaml_mapping(targets_path).get("external")
    if isinstance(external, str):
        files.insert(1, targets_path.parent / external)
    return {
        "figure_files": {str(f): file_sha256(f) for f in files},
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
