"""Regional counterfactuals: regional scenarios against the baseline, paired replicate by replicate.

A regional experiment file (``experiments/regional/*.yaml``) names the regional baseline
(``scenarios/central_asia.yaml``) and counterfactual regional files that ``extends:`` it
(``scenarios/counterfactuals/regional/``), the outputs and key years to report, and the
replicates, seed and behaviour parameters. Every scenario runs with the same seeds and
parameters (common random numbers), and the summary gives each counterfactual's paired
difference from the baseline per country, output and key year (median and 10-90% over
replicates). The country experiments (``experiments.spec``) are built on one country's
``Scenario`` and its chunk store; this smaller runner is the regional layer's until that
machinery takes a ``Region``. Source: Jaysanov (2023) on regional cooperation.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import Field, ValidationError, field_validator, model_validator

from calibration.atomic import remove_output, write_text_atomic
from calibration.plotting import column_unit, save_figure
from calibration.posterior import check_drawn
from model import ScenarioError
from model.code import model_fingerprint
from model.config_files import (
    KeyYears,
    Name,
    Question,
    Strict,
    check_own_values,
    first_repeated,
    refuse_other_kind,
)
from model.input_errors import first_error, named_item
from model.limits import MAX_NAME, MAX_REPLICATES, MAX_RUNS, MAX_SEED
from model.regional import REGIONAL_COLUMNS
from model.regional_files import load_named_region
from model.regional_scenario import Region
from model.yaml_files import read_yaml_mapping

from .changes import check_changes_in_run, region_changes
from .git_state import git_commit, git_dirty
from .paired import format_difference, quantiles
from .regional_calibration import changed_note
from .regional_figures import difference_figure, restriction_spans
from .regional_runs import (
    country_file_hashes,
    region_fingerprint,
    regional_params_file,
    regional_replicate_params,
    run_region_replicates,
)
from .replaced_values import region_values_replaced
from .runner import replicate_seeds, worker_pool
from .runs import (
    file_sha256,
    package_versions,
    posterior_record,
    retract_manifest,
)
from .spec import run_count_error

BASELINE = "baseline"
OUTPUTS: tuple[str, ...] = tuple(c for c in REGIONAL_COLUMNS if c not in ("country", "year"))
QUANTILES = (0.1, 0.5, 0.9)
REGIONAL_RUNS_OVER = "runs (scenarios x replicates); at most"


class RegionalCounterfactual(Strict):
    """One regional counterfactual: a regional scenario file and its question."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=MAX_NAME)
    scenario: str
    question: Question


class RegionalExperimentSpec(Strict):
    """A regional experiment file as written (paths relative to the file)."""

    name: Name
    description: str = ""
    baseline: str
    counterfactuals: list[RegionalCounterfactual] = Field(min_length=1)
    outputs: list[Literal[OUTPUTS]] = Field(min_length=1)  # type: ignore[valid-type]
    key_years: KeyYears
    replicates: int = Field(ge=1, le=MAX_REPLICATES)
    seed: int = Field(ge=0, le=MAX_SEED)
    # Posterior draws, as the country experiments: with the median in every run the
    # intervals carry the runs' noise only (6 to 11 times narrower for the ties after Osh).
    params: Literal["median", "posterior", "scenario", "auto"] = "posterior"
    notes: str = ""

    @field_validator("outputs")
    @classmethod
    def _unique_outputs(cls, outputs: list[str]) -> list[str]:
        if len(set(outputs)) != len(outputs):
            raise ValueError("must not repeat")
        return outputs

    @model_validator(mode="after")
    def _unique_names(self) -> RegionalExperimentSpec:
        names = [BASELINE, *(c.name for c in self.counterfactuals)]
        twice = first_repeated(names)
        if twice is not None:
            found = "is reserved" if twice == BASELINE else "is given twice"
            raise ValueError(f"counterfactual names must be unique: {twice!r} {found}")
        return self

    @model_validator(mode="after")
    def _bounded_runs(self) -> RegionalExperimentSpec:
        # Each run's tables are kept in memory until the summary, as a country experiment's.
        runs = (len(self.counterfactuals) + 1) * self.replicates
        if runs > MAX_RUNS:
            raise ValueError(f"{runs:,} {REGIONAL_RUNS_OVER} {MAX_RUNS:,}")
        return self


def load_regional_experiment(
    path: str | Path, replicates: int | None = None
) -> tuple[RegionalExperimentSpec, dict[str, Region]]:
    """Load a regional experiment file and its regional scenarios (baseline first).

    Raises:
        ScenarioError: one line naming the file (experiment or scenario) and the field.
    """
    path = Path(path)
    data = read_yaml_mapping(path)
    given = {} if replicates is None else {"replicates": replicates}
    refuse_other_kind(path, data, ("experiment",), "an experiment")
    check_own_values(RegionalExperimentSpec, path, data, given)
    try:
        spec = _validated_spec(path, {**data, **given})
    except ScenarioError as exc:
        raise run_count_error(path, exc, given, REGIONAL_RUNS_OVER) from None
    try:
        replicate_seeds(spec.seed, spec.replicates)
    except ScenarioError as exc:
        # Named here, with the file: the runs would find it only after loading the regions.
        raise ScenarioError(path, "seed", exc.message) from None
    fields = {BASELINE: "baseline"}
    regions = {BASELINE: load_named_region(path, "baseline", spec.baseline)}
    # Every replicate's values, checked before any run, with the file they come from named.
    drawn = regional_replicate_params(spec.params, spec.replicates, spec.seed)[0]
    check_drawn(regions[BASELINE], drawn, regional_params_file(spec.params))
    # Every replicate replaces the same parameters, so the first one's overrides tell.
    overrides = drawn[0]
    for item in spec.counterfactuals:
        fields[item.name] = named_item("counterfactuals", item.name) + ".scenario"
        regions[item.name] = load_named_region(path, fields[item.name], item.scenario)
        changed = region_changes(regions[BASELINE], regions[item.name])
        if not changed:
            raise ScenarioError(path, fields[item.name], "changes nothing in the baseline")
        pair = (regions[BASELINE], regions[item.name])
        check_changes_in_run(path, fields[item.name], *pair, changed)
        kept = (spec.params, overrides, regions[BASELINE], regions[item.name])
        _check_values_kept(path, fields[item.name], *kept)
    for name, region in regions.items():
        _check_key_years(path, fields[name], region, spec.key_years)
    return spec, regions


def _check_values_kept(
    path: Path, field: str, mode: str, overrides: dict[str, float], base: Region, other: Region
) -> None:
    """Refuse a counterfactual value that the runs' parameter ``overrides`` replace.

    The posterior's draws or median replace a calibrated parameter wherever it is set: a
    regional one under ``parameters:`` (unless held under ``fixed:``) and a country one in
    a country file, so a change of it would report no effect without a word.
    """
    replaced = region_values_replaced(base, other, overrides)
    if replaced:
        # Only a regional parameter can be held under ``fixed:``; a country file's cannot.
        hold = "hold it under fixed:, or " if replaced[0].startswith("parameters.") else ""
        found = (
            f"sets {replaced[0]}, which the posterior replaces in every run (params: "
            f"{mode}); {hold}run with params: scenario"
        )
        raise ScenarioError(path, field, found)


def _scenario_record(region: Region) -> dict:
    """Return what the manifest records of one regional scenario: its files and their hashes.

    ``resolved_sha256`` covers what the files resolve to (a file it extends included), as
    a regional run's ``scenario_resolved_sha256`` (``region_fingerprint``), so the two
    manifests of one scenario name it alike.
    """
    return {
        "file": str(region.path),
        "sha256": file_sha256(region.path),
        "country_files": country_file_hashes(region),
        "resolved_sha256": region_fingerprint(region),
    }


def _check_key_years(path: Path, field: str, region: Region, years: list[int]) -> None:
    """Raise ``ScenarioError`` for a key year that one of the region's countries does not run.

    ``field`` names the scenario (``baseline`` or a counterfactual's) for the message.
    """
    for country, scenario in region.countries.items():
        first, last = scenario.start_year, scenario.end_year
        outside = [y for y in years if not first <= y <= last]
        if outside:
            found = f"{outside[0]} is outside the runs of {country} in {field} ({first}-{last})"
            raise ScenarioError(path, "key_years", found)


def _validated_spec(path: Path, data: dict) -> RegionalExperimentSpec:
    try:
        return RegionalExperimentSpec.model_validate(data)
    except ValidationError as exc:
        field, msg = first_error(exc, data)
        raise ScenarioError(path, field, msg) from None


def paired_summary(
    runs: dict[str, pd.DataFrame], outputs: list[str], years: list[int]
) -> pd.DataFrame:
    """Return each counterfactual's paired differences from the baseline.

    One row per counterfactual, country, output and key year: the baseline's and the
    counterfactual's medians, and the 10%, 50% and 90% quantiles of the difference
    counterfactual minus baseline over the replicates (same seed and parameters).
    """
    keys = ["replicate", "country", "year"]
    base = runs[BASELINE]
    base = base[base.year.isin(years)].set_index(keys)[outputs]
    rows = []
    for name, frame in runs.items():
        if name == BASELINE:
            continue
        other = frame[frame.year.isin(years)].set_index(keys)[outputs]
        difference = (other - base).groupby(["country", "year"])
        for (country, year), group in difference:
            for output in outputs:
                values = group[output].dropna().to_numpy()
                q = dict(zip(QUANTILES, quantiles(values, QUANTILES), strict=True))
                rows.append(
                    {
                        "counterfactual": name,
                        "country": country,
                        "output": output,
                        "year": year,
                        "baseline_median": base.xs((country, year), level=[1, 2])[output].median(),
                        "counterfactual_median": other.xs((country, year), level=[1, 2])[
                            output
                        ].median(),
                        **{f"difference_q{int(p * 100)}": q[p] for p in QUANTILES},
                    }
                )
    return pd.DataFrame(rows)


def difference_table(summary: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """Return the paired differences in ``years``: "median [10%, 90%]" per output and country.

    Shown no finer than the medians are (``experiments.paired.format_difference``).
    """
    chosen = summary[summary.year.isin(years)]
    # The rows' own units where the summary has them (``with_units``: the base year named).
    units = chosen["unit"] if "unit" in chosen else chosen.output.map(column_unit)
    # An amount in local currency has a unit per country: its rows stay with the output.
    order = list(dict.fromkeys(chosen.output))
    rank = chosen.output.map(order.index)
    labels = [f"{o} ({u})" for o, u in zip(chosen.output, units, strict=True)]
    chosen = chosen.assign(output=labels, rank=rank).sort_values("rank", kind="stable")
    cells = [
        format_difference((q50, q10, q90), max(abs(b), abs(c)))
        for q10, q50, q90, b, c in zip(
            chosen.difference_q10,
            chosen.difference_q50,
            chosen.difference_q90,
            chosen.baseline_median,
            chosen.counterfactual_median,
            strict=True,
        )
    ]
    table = chosen.assign(cell=cells)
    # Outputs in the file's order (as summary.csv), which pivot would sort by name.
    pivot = table.pivot(index=["output", "country"], columns="year", values="cell")
    return pivot.reindex(pd.unique(table.output), level="output")


def with_units(summary: pd.DataFrame, region: Region) -> pd.DataFrame:
    """Return ``summary`` with each row's unit after its output, in its country's money."""
    countries = region.countries
    units = [
        column_unit(o, countries[c].cpi_base_year, countries[c].currency)
        for c, o in zip(summary.country, summary.output, strict=True)
    ]
    table = summary.copy()
    table.insert(table.columns.get_loc("output") + 1, "unit", units)
    return table


def describe_regional(path: str | Path, spec: RegionalExperimentSpec, regions: dict) -> str:
    """Return a short description of a regional experiment (printed before it runs)."""
    base = regions[BASELINE]
    source = regional_replicate_params(spec.params, 1, spec.seed)[1]
    runs = len(regions) * spec.replicates
    lines = [
        f"{spec.name} ({path}): baseline '{base.name}' {base.start_year}-{base.end_year}; "
        f"{len(regions) - 1} counterfactual(s); {len(regions)} scenarios x {spec.replicates} "
        f"replicate(s) = {runs:,} runs; parameters: {source}; seed {spec.seed}"
    ]
    for name, region in regions.items():
        if name != BASELINE:
            lines.append(f"  {name}: {', '.join(region_changes(base, region))}")
    note = changed_note(regional_params_file(spec.params), "set params: scenario in the file")
    return "\n".join(lines + ([note] if note else []))


def regional_experiment_outputs(regions: dict, out: Path) -> tuple[str, ...]:
    """Return the files a regional experiment writes in ``out``, or removes (earlier figures)."""
    figures = [f"diff_{name}.png" for name in regions if name != BASELINE]
    figures += [p.name for p in out.glob("diff_*.png")]
    return ("summary.csv", "runs.csv", "manifest.json", *figures)


def write_difference_figures(
    out: Path, runs: dict[str, pd.DataFrame], spec: RegionalExperimentSpec, regions: dict
) -> None:
    """Write ``diff_<name>.png``: each counterfactual's paired differences in every year.

    An earlier run's figures in the folder go first: another file's counterfactuals would
    otherwise be left beside this one's.
    """
    for stale in out.glob("diff_*.png"):
        stale.unlink()
    base = regions[BASELINE]
    years = sorted(runs[BASELINE].year.unique())
    for name in runs:
        if name == BASELINE:
            continue
        pair = {BASELINE: runs[BASELINE], name: runs[name]}
        summary = with_units(paired_summary(pair, list(spec.outputs), years), base)
        fig = difference_figure(summary, restriction_spans(base), regions[name].name)
        save_figure(fig, out / f"diff_{name}.png")


def run_regional_experiment(
    path: str | Path, out: str | Path, replicates: int | None = None, workers: int = 1
) -> pd.DataFrame:
    """Run a regional experiment and write ``summary.csv``, ``runs.csv`` and a manifest."""
    spec, regions = load_regional_experiment(path, replicates)
    params, source = regional_replicate_params(spec.params, spec.replicates, spec.seed)
    started = time.perf_counter()
    runs = {}
    # One pool for every scenario: a new one each paid the workers' start-up again (about
    # 8 s a worker), which made two workers several times slower than one.
    with worker_pool(workers) as pool:
        for name, region in regions.items():
            tables, seeds = run_region_replicates(
                region, spec.seed, spec.replicates, params, workers, pool=pool
            )
            runs[name] = tables.timeseries
    paired = paired_summary(runs, list(spec.outputs), list(spec.key_years))
    summary = with_units(paired, regions[BASELINE])
    (out := Path(out)).mkdir(parents=True, exist_ok=True)
    retract_manifest(out)
    remove_output(out / "summary.csv")  # an earlier run's would sit beside these runs if stopped
    stacked = pd.concat([f.assign(scenario=n) for n, f in runs.items()], ignore_index=True)
    write_text_atomic(out / "runs.csv", stacked.to_csv(index=False))
    write_difference_figures(out, runs, spec, regions)
    # Last but the manifest, as an experiment's: a run stopped while drawing leaves no summary.
    write_text_atomic(out / "summary.csv", summary.to_csv(index=False))
    manifest = {
        "experiment_file": str(path),
        "experiment_file_sha256": file_sha256(path),
        "spec": spec.model_dump(mode="json"),
        "scenarios": {n: _scenario_record(r) for n, r in regions.items()},
        "seeds": seeds,
        "params_source": source,
        "params": params,
        **posterior_record(regional_params_file(spec.params)),
        "model_code_sha256": model_fingerprint(),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        # As the country experiments record it; the results do not depend on it.
        "backend": f"{workers} local process(es)",
        "wall_seconds": round(time.perf_counter() - started, 3),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return summary
