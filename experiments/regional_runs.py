"""Regional run folders: what ``ngo-abm run scenarios/central_asia.yaml`` writes.

A regional run folder holds ``timeseries.csv`` (one row per replicate, country and year:
the country's output columns, ``cross_border_ties``, ``share_cross_border`` and
``ties_formed``), ``ties.csv`` (ties per replicate, year, country pair and sector),
``network.csv`` (every tie at the scenario's ``network_years``), ``manifest.json`` and
``network.png`` (the network at those years, and the ties over time); ``ngo-abm compare``
adds ``compare.csv`` and ``compare.png``: each country's rows against its reported
figures, with the comparison country runs use (``experiments.runs.compare_and_write``).
As for a country's run folder (``experiments.runs``), every file is written atomically
and replicates run through ``experiments.runner``, so the output does not depend on the
number of workers.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from calibration.atomic import write_text_atomic
from calibration.plotting import save_figure
from calibration.posterior import draw_posterior, has_posterior, posterior_median
from calibration.regional import REGIONAL_POSTERIOR
from model import ScenarioError
from model.code import model_fingerprint
from model.regional import REGIONAL_COLUMNS, TIE_TABLE_COLUMNS, simulate_region
from model.regional_scenario import Region

from .git_state import git_commit, git_dirty
from .manifests import check_country_years, manifest_json, read_manifest
from .regional_figures import network_figure
from .run_params import MEDIAN_SOURCE, check_mode, params_file, replicate_params
from .run_tables import check_layout, check_numbers, read_table
from .runner import map_runs, replicate_seeds
from .runs import (
    COMPARE_FILES,
    COUNTRY_RUN_FILES,
    REGIONAL_RUN_FILES,
    file_sha256,
    package_versions,
    posterior_record,
    remove_stale,
    retract_manifest,
    runs_described,
)


@dataclass(frozen=True)
class RegionTask:
    """One regional run: a region, a seed, parameter overrides and the replicate number."""

    region: Region
    seed: int
    params: dict[str, float] = field(default_factory=dict)
    replicate: int = 0


@dataclass(frozen=True)
class RegionalTables:
    """A regional run's tables (one replicate or several stacked)."""

    timeseries: pd.DataFrame
    ties: pd.DataFrame
    network: pd.DataFrame


def run_region_task(task: RegionTask) -> RegionalTables:
    """Run one regional task; return its tables with a ``replicate`` column first."""
    model = simulate_region(task.region.with_params(task.params), seed=task.seed)
    tables = (model.results(), model.tie_table(), model.network_table())
    return RegionalTables(*(t.assign(replicate=task.replicate) for t in tables))


def run_region_replicates(
    region: Region,
    seed: int,
    replicates: int,
    params: list[dict[str, float]] | None = None,
    workers: int = 1,
    progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    pool: ProcessPoolExecutor | None = None,
) -> tuple[RegionalTables, list[int]]:
    """Run ``replicates`` seeds (``seed + r``) of a region; return the stacked tables.

    ``on_progress`` is called with ``(replicates done, replicates)`` after each replicate;
    ``pool`` (``experiments.runner.worker_pool``) keeps the workers for several regions.
    """
    seeds = replicate_seeds(seed, replicates)
    per_replicate = params or [{} for _ in seeds]
    tasks = [RegionTask(region, s, dict(per_replicate[r]), r) for r, s in enumerate(seeds)]
    results = map_runs(
        run_region_task,
        tasks,
        workers=workers,
        progress=progress,
        on_progress=on_progress,
        pool=pool,
    )
    timeseries = pd.concat([r.timeseries for r in results], ignore_index=True)
    ties = pd.concat([r.ties for r in results], ignore_index=True)
    network = pd.concat([r.network for r in results], ignore_index=True)
    return (
        RegionalTables(
            timeseries[["replicate", *REGIONAL_COLUMNS]],
            ties[["replicate", *TIE_TABLE_COLUMNS]],
            network[["replicate", *(c for c in network.columns if c != "replicate")]],
        ),
        seeds,
    )


def regional_replicate_params(mode: str, replicates: int, seed: int) -> tuple[list[dict], str]:
    """Return each regional replicate's parameter overrides and their source.

    As ``experiments.run_params.replicate_params``, from the regional posterior when one is
    committed (``calibration.regional``: joint draws of the country and regional
    parameters); without it, the country posterior with the regional file's own values.
    """
    if regional_params_file(mode) != REGIONAL_POSTERIOR:
        return replicate_params(mode, replicates, seed)
    if mode in ("median", "auto"):
        median = posterior_median(REGIONAL_POSTERIOR)
        # One dict a replicate, as replicate_params gives.
        median_sets = [dict(median) for _ in range(replicates)]
        return median_sets, f"regional {MEDIAN_SOURCE} ({REGIONAL_POSTERIOR.name})"
    draws = draw_posterior(replicates, seed, REGIONAL_POSTERIOR)
    return draws, f"regional posterior draws ({REGIONAL_POSTERIOR.name})"


def regional_params_file(mode: str) -> Path | None:
    """Return the posterior file ``regional_replicate_params`` reads in ``mode``, if any."""
    check_mode(mode)
    if not has_posterior(REGIONAL_POSTERIOR) or mode == "scenario":
        return params_file(mode)
    return REGIONAL_POSTERIOR


def country_file_hashes(region: Region) -> dict[str, dict[str, str]]:
    """Return each country's scenario file, its SHA-256 and its resolved scenario's.

    The file's hash misses what it reads from others (``extends:``, the behaviour file):
    ``resolved_sha256`` is the scenario as run (``Scenario.fingerprint``), as a country
    run's ``scenario_resolved_sha256``.
    """
    return {
        c: {
            "file": name,
            "sha256": file_sha256(name),
            "resolved_sha256": region.countries[c].fingerprint(),
        }
        for c, name in region.spec.countries.items()
    }


def region_fingerprint(region: Region) -> str:
    """Return a SHA-256 of the resolved regional scenario: its spec and its countries'.

    The spec is the regional file with what it ``extends:`` merged in; each country file's
    name in it is replaced by its resolved scenario's fingerprint, so that the hash changes
    with any value a run reads (a behaviour file's included) and not with the folder the
    project sits in (the names are absolute paths).
    """
    resolved = region.spec.model_dump(mode="json")
    resolved["countries"] = {c: s.fingerprint() for c, s in region.countries.items()}
    return hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()


def regional_manifest(
    region: Region,
    seeds: list[int],
    wall_seconds: float,
    params: list[dict[str, float]],
    params_source: str,
    posterior: Path | None = None,
) -> dict[str, Any]:
    """Return the manifest of a regional run folder (each country file hashed too).

    The scenario is recorded by its files' hashes and by what they resolve to
    (``region_fingerprint``, and each country's in ``country_files``).

    ``posterior`` is the file the parameters came from (``regional_params_file``).
    """
    return {
        "scenario_file": str(region.path),
        "scenario_file_sha256": file_sha256(region.path),
        # The files' hashes miss the files they read (a behaviour file, say): these do not.
        "scenario_resolved_sha256": region_fingerprint(region),
        "country_files": country_file_hashes(region),
        "countries": list(region.countries),
        # Each country runs within its own years (its file's start and end).
        "country_years": {c: [s.start_year, s.end_year] for c, s in region.countries.items()},
        "scenario_name": region.name,
        "start_year": region.start_year,
        "end_year": region.end_year,
        # The file's values; each replicate's own (from a posterior, say) are in "params".
        "file_regional_parameters": region.params,
        "network_years": region.spec.network_years,
        "seeds": seeds,
        "replicates": len(seeds),
        "params_source": params_source,
        "params": params,
        **posterior_record(posterior),
        "model_code_sha256": model_fingerprint(),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "wall_seconds": round(wall_seconds, 3),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_regional_run(out_dir: str | Path, tables: RegionalTables, manifest: dict) -> Path:
    """Write a regional run folder (tables, manifest, network figure), each file atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale(out, (*COMPARE_FILES, *COUNTRY_RUN_FILES), REGIONAL_RUN_FILES)
    retract_manifest(out)
    title = f"{manifest['scenario_name']} ({runs_described(manifest)})"
    fig = network_figure(tables, manifest["network_years"], title)
    save_figure(fig, out / "network.png")
    write_text_atomic(out / "timeseries.csv", tables.timeseries.to_csv(index=False))
    write_text_atomic(out / "ties.csv", tables.ties.to_csv(index=False))
    write_text_atomic(out / "network.csv", tables.network.to_csv(index=False))
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return out


def ties_by_country(timeseries: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """Return the median ``cross_border_ties`` over replicates, one row per country, by year."""
    chosen = timeseries[timeseries.year.isin(years)]
    table = chosen.groupby(["country", "year"]).cross_border_ties.median().unstack("year")
    return table.reindex(columns=[y for y in years if y in table.columns])


def ties_text(timeseries: pd.DataFrame, years: list[int]) -> str:
    """Return ``ties_by_country`` as printed: medians of counts, a half as ``.5``, no ``.0``."""
    return ties_by_country(timeseries, years).to_string(float_format=_count)


def _count(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def is_regional_run(run_dir: str | Path) -> bool:
    """Return whether a folder is a regional run folder (its manifest lists ``countries``)."""
    try:
        manifest = manifest_json(Path(run_dir) / "manifest.json")
    except ScenarioError:
        return False
    return isinstance(manifest.get("countries"), list)


def read_regional_runs(run_dir: str | Path) -> tuple[dict[str, pd.DataFrame], dict]:
    """Return a regional run folder's tables by country, and its manifest.

    Raises:
        ScenarioError: for a malformed folder.
    """
    run = Path(run_dir)
    manifest = read_manifest(run / "manifest.json", REGIONAL_MANIFEST_FIELDS)
    check_country_years(run / "manifest.json", manifest.get("country_years", {}))
    table = run / "timeseries.csv"
    frame = read_table(table, ("replicate", *REGIONAL_COLUMNS), "regional run table")
    check_numbers(frame, [c for c in ("replicate", *REGIONAL_COLUMNS) if c != "country"], table)
    runs = {
        country: frame[frame.country == country].drop(columns="country").reset_index(drop=True)
        for country in manifest["countries"]
    }
    for country, rows in runs.items():
        if rows.empty:
            raise ScenarioError(table, "country", f"no rows of {country}, a country of the run")
        span = country_span(manifest, country, rows)
        check_layout(rows, manifest["replicates"], span, table, country)
    return runs, manifest


REGIONAL_MANIFEST_FIELDS = {"countries": list, "replicates": int, "end_year": int}


def country_span(manifest: dict, country: str, rows: pd.DataFrame) -> range:
    """Return the years a country of a regional run folder has rows for.

    Its own years, as the manifest records them (``country_years``). A folder written
    before manifests recorded them is read by its rows: from the country's first year to
    its last, which must not pass the region's last (a table cut short in one country
    then goes unseen).
    """
    years = manifest.get("country_years", {}).get(country)
    if isinstance(years, list) and len(years) == 2 and all(isinstance(y, int) for y in years):
        return range(years[0], years[1] + 1)
    last = min(int(rows.year.max()), manifest["end_year"])
    return range(int(rows.year.min()), last + 1)
