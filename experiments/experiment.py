"""Policy experiments: counterfactual scenarios against a baseline, with uncertainty bands.

An experiment file (``experiments/*.yaml``) names a baseline scenario and counterfactuals
(scenario files under ``scenarios/counterfactuals/`` that ``extends:`` the baseline and
override a few policy or donor inputs), the outputs and key years to report, the end year
(for projections), and how many posterior draws and replicates to run from which seed.
Docs: ``docs/experiments.md``.

Design. Draw ``i`` is one parameter set from the committed posterior
(``calibration.posterior.draw_posterior``) or, with ``params: scenario``, the scenarios' own
behaviour values. Run ``(i, r)`` of every scenario uses the same parameter set and the same
seed, derived from the experiment seed with numpy's ``SeedSequence``; the model's keyed
random streams (``model/rng.py``) then give paired runs the same draws for the same NGOs
(common random numbers, CRN), so a counterfactual-minus-baseline difference carries the
parameter uncertainty and little of the model's noise. The summary measures that gain: it
also pairs counterfactual replicate ``r`` with baseline replicate ``r + 1`` of the same draw
(same parameters, independent seeds, no extra runs) and reports the ratio of the 90%
interval widths.

Storage. Runs are stored in chunks (one Parquet file per scenario and block of draws,
written to a temporary name and renamed, ``experiments.storage``). A chunk records a key
(scenario, seeds, parameters, model code); rerunning an experiment reuses every stored
chunk whose key matches and runs only the missing ones, so an interrupted experiment
resumes and a change of inputs never reuses stale runs; the summary reads only chunks
whose key matches. Results do not depend on the backend (in-process, local
processes or a dask.distributed cluster, ``experiments.runner``) or the number of workers.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from tqdm import tqdm

from calibration.atomic import write_text_atomic
from calibration.plotting import fan, quantity, reported_point, save_figure, shade_periods
from calibration.posterior import DEFAULT_POSTERIOR, draw_posterior
from calibration.targets import DEFAULT_TARGETS, load_target_file
from model import OUTPUT_COLUMNS, Scenario, ScenarioError, load_scenario
from model.limits import MAX_DRAWS, MAX_REPLICATES, MAX_RUNS, MAX_SEED
from model.scenario import Year, read_yaml_mapping

from .runner import RunTask, derived_seed, imap_runs, model_fingerprint, run_batch
from .runs import file_sha256, git_commit, package_versions
from .storage import load_results, stored_key, write_chunk

BASELINE = "baseline"
OUTPUT_NAMES: tuple[str, ...] = tuple(c for c in OUTPUT_COLUMNS if c != "year")
# Inputs that calibration sets: a counterfactual changing them would be overwritten by the
# posterior draws, so it is refused.
CALIBRATED_INPUTS = ("behaviour", "donor_budget_scale", "initial_registered")
# Fields that name or span a scenario rather than describe a policy.
DESCRIPTIVE_FIELDS = ("name", "description", "end_year")
FAN_PANELS = (
    "registered",
    "operational",
    "reporting",
    "share_income_foreign",
    "share_foreign_funded",
    "share_foreign_dependent",
)
INCOME_SOURCES = {
    "income_foreign_usd": ("foreign donors", "tab:blue"),
    "income_state_usd": ("state grants and prizes", "tab:red"),
    "income_domestic_usd": ("domestic (fees, local giving)", "tab:green"),
}


# --------------------------------------------------------------------------- the file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CounterfactualSpec(_Strict):
    """One counterfactual: a scenario file and the question it answers."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    scenario: str
    question: str = Field(min_length=10)


class ExperimentSpec(_Strict):
    """An experiment file as written (paths relative to the file)."""

    name: str
    description: str = ""
    baseline: str
    counterfactuals: list[CounterfactualSpec] = Field(min_length=1)
    outputs: list[str] = Field(min_length=1)
    key_years: list[Year] = Field(min_length=1)
    end_year: Year | None = None
    draws: int = Field(ge=1, le=MAX_DRAWS)
    replicates: int = Field(ge=1, le=MAX_REPLICATES)
    seed: int = Field(ge=0, le=MAX_SEED)
    params: Literal["posterior", "scenario"] = "posterior"
    chunk_draws: int = Field(default=10, ge=1, le=MAX_DRAWS)
    notes: str = ""

    @model_validator(mode="after")
    def _bounded_runs(self) -> ExperimentSpec:
        runs = (len(self.counterfactuals) + 1) * self.draws * self.replicates
        if runs > MAX_RUNS:
            raise ValueError(
                f"{runs:,} runs (scenarios x draws x replicates); at most {MAX_RUNS:,}"
            )
        return self

    @field_validator("outputs")
    @classmethod
    def _known_outputs(cls, outputs: list[str]) -> list[str]:
        for name in outputs:
            if name not in OUTPUT_NAMES:
                raise ValueError(f"unknown output {name!r} (outputs are model.OUTPUT_COLUMNS)")
        if len(set(outputs)) != len(outputs):
            raise ValueError("an output is listed twice")
        return outputs

    @field_validator("counterfactuals")
    @classmethod
    def _unique_names(cls, items: list[CounterfactualSpec]) -> list[CounterfactualSpec]:
        names = [c.name for c in items]
        if BASELINE in names:
            raise ValueError(f"{BASELINE!r} is reserved for the baseline")
        if len(set(names)) != len(names):
            raise ValueError("counterfactual names must be unique")
        return items

    @field_validator("key_years")
    @classmethod
    def _sorted_years(cls, years: list[int]) -> list[int]:
        return sorted(set(years))


@dataclass(frozen=True)
class Experiment:
    """A loaded, validated experiment: resolved scenarios and what each counterfactual changes."""

    path: Path
    spec: ExperimentSpec
    scenarios: dict[str, Scenario]
    changes: dict[str, list[str]]

    @property
    def baseline(self) -> Scenario:
        """The baseline scenario (end year applied)."""
        return self.scenarios[BASELINE]

    @property
    def counterfactuals(self) -> list[str]:
        """Names of the counterfactuals, in file order."""
        return [name for name in self.scenarios if name != BASELINE]

    @property
    def runs(self) -> int:
        """Number of model runs of the whole experiment."""
        return len(self.scenarios) * self.spec.draws * self.spec.replicates

    def question(self, name: str) -> str:
        """Return the question a counterfactual answers."""
        return next(c.question for c in self.spec.counterfactuals if c.name == name)


def load_experiment(
    path: str | Path,
    draws: int | None = None,
    replicates: int | None = None,
    params: str | None = None,
) -> Experiment:
    """Load and validate an experiment file and its scenarios.

    Args:
        path: The experiment YAML.
        draws: Overrides the file's number of draws.
        replicates: Overrides the file's number of replicates.
        params: Overrides the file's ``params`` (``posterior`` or ``scenario``).

    Raises:
        ScenarioError: one line naming the file (experiment or scenario) and the field.
    """
    path = Path(path)
    spec = _read_spec(path, draws, replicates, params)
    folder = path.parent
    baseline = _with_end_year(path, load_scenario(folder / spec.baseline), spec.end_year)
    scenarios = {BASELINE: baseline}
    changes = {}
    for i, item in enumerate(spec.counterfactuals):
        where = f"counterfactuals.{i}.scenario"
        scenario = _with_end_year(path, load_scenario(folder / item.scenario), baseline.end_year)
        _check_pairable(path, where, baseline, scenario)
        changes[item.name] = _policy_changes(path, where, baseline, scenario)
        scenarios[item.name] = scenario
    _check_years(path, spec, baseline)
    return Experiment(path, spec, scenarios, changes)


def _read_spec(
    path: Path, draws: int | None, replicates: int | None, params: str | None
) -> ExperimentSpec:
    data = read_yaml_mapping(path)
    overrides = {"draws": draws, "replicates": replicates, "params": params}
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ScenarioError(path, field, _message(err)) from None


def _message(err: dict[str, Any]) -> str:
    return {"extra_forbidden": "unknown key", "missing": "required field is missing"}.get(
        err["type"], err["msg"].removeprefix("Value error, ")
    )


def _with_end_year(path: Path, scenario: Scenario, end_year: int | None) -> Scenario:
    if end_year is None or end_year == scenario.end_year:
        return scenario
    try:
        return Scenario.model_validate({**scenario.model_dump(), "end_year": end_year})
    except ValidationError as exc:
        raise ScenarioError(path, "end_year", _message(exc.errors()[0])) from None


def _check_pairable(path: Path, where: str, baseline: Scenario, other: Scenario) -> None:
    for attr in ("country", "start_year"):
        if getattr(other, attr) != getattr(baseline, attr):
            raise ScenarioError(
                path,
                where,
                f"{attr} {getattr(other, attr)} differs from the baseline's "
                f"{getattr(baseline, attr)} (a counterfactual must pair with its baseline)",
            )


def _policy_changes(path: Path, where: str, baseline: Scenario, other: Scenario) -> list[str]:
    changed = scenario_changes(baseline, other)
    calibrated = [c for c in changed if c.split(".")[0].split("[")[0] in CALIBRATED_INPUTS]
    if calibrated:
        raise ScenarioError(
            path,
            where,
            f"changes {calibrated[0]}, which calibration sets; a counterfactual changes "
            "policy or donor inputs",
        )
    if not changed:
        raise ScenarioError(path, where, "changes nothing in the baseline")
    return changed


def _check_years(path: Path, spec: ExperimentSpec, baseline: Scenario) -> None:
    for year in spec.key_years:
        if not baseline.start_year <= year <= baseline.end_year:
            raise ScenarioError(
                path,
                "key_years",
                f"{year} is outside the runs ({baseline.start_year}-{baseline.end_year})",
            )


def scenario_changes(baseline: Scenario, other: Scenario) -> list[str]:
    """Return the inputs in which ``other`` differs from ``baseline``, as dotted paths.

    Source notes, names and the end year are ignored; a yearly series counts as one input;
    donors and shocks are matched by name (``donors[NDI].exit_year``, ``state.shocks[X]
    removed``).
    """
    a, b = baseline.model_dump(mode="json"), other.model_dump(mode="json")
    for field in DESCRIPTIVE_FIELDS:
        a.pop(field, None)
        b.pop(field, None)
    return _diff(_without_sources(a), _without_sources(b), "")


def _without_sources(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_sources(v) for k, v in value.items() if k != "source"}
    if isinstance(value, list):
        return [_without_sources(v) for v in value]
    return value


def _diff(a: Any, b: Any, path: str) -> list[str]:
    if a == b:
        return []
    if isinstance(a, dict) and isinstance(b, dict) and "points" not in a:
        keys = list(a) + [k for k in b if k not in a]
        return [c for k in keys for c in _diff(a.get(k), b.get(k), _join(path, k))]
    if _named(a) and _named(b):
        left, right = {i["name"]: i for i in a}, {i["name"]: i for i in b}
        changes = [f"{path}[{n}] removed" for n in left if n not in right]
        changes += [f"{path}[{n}] added" for n in right if n not in left]
        for name in (n for n in left if n in right):
            changes += _diff(left[name], right[name], f"{path}[{name}]")
        return changes
    return [path]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _named(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "name" in i for i in value)


# --------------------------------------------------------------------------- the design


def run_seed(seed: int, draw: int, replicate: int) -> int:
    """Return the seed of run ``(draw, replicate)``: the same for every scenario (CRN)."""
    return derived_seed(seed, draw, replicate)


def parameter_sets(
    experiment: Experiment, posterior: str | Path = DEFAULT_POSTERIOR
) -> list[dict[str, float]]:
    """Return one parameter set per draw (empty sets with ``params: scenario``).

    Raises:
        ScenarioError: if the posterior is needed and missing, or names an unknown parameter.
    """
    spec = experiment.spec
    if spec.params == "scenario":
        return [{} for _ in range(spec.draws)]
    if not Path(posterior).exists():
        raise ScenarioError(
            posterior,
            "",
            "no posterior: run `ngo-abm calibrate` first, or pass --params scenario to use "
            "the scenarios' own behaviour values",
        )
    sets = draw_posterior(spec.draws, spec.seed, posterior)
    experiment.baseline.with_params(sets[0])
    return sets


@dataclass(frozen=True)
class Chunk:
    """A block of runs stored in one file: one scenario, draws ``first``..``last - 1``."""

    scenario: str
    first: int
    last: int
    tasks: tuple[RunTask, ...]
    key: str

    @property
    def relpath(self) -> Path:
        """The chunk's file, relative to the experiment's output folder."""
        return Path("runs") / self.scenario / f"draws-{self.first:05d}-{self.last - 1:05d}.parquet"


def build_chunks(experiment: Experiment, param_sets: list[dict[str, float]]) -> list[Chunk]:
    """Return every chunk of the experiment, scenario by scenario, draws in order."""
    spec = experiment.spec
    code = model_fingerprint()
    chunks = []
    for name, scenario in experiment.scenarios.items():
        for first in range(0, spec.draws, spec.chunk_draws):
            last = min(first + spec.chunk_draws, spec.draws)
            tasks = tuple(
                RunTask(
                    scenario,
                    seed,
                    param_sets[draw],
                    {"scenario": name, "draw": draw, "replicate": rep, "seed": seed},
                )
                for draw in range(first, last)
                for rep in range(spec.replicates)
                for seed in [run_seed(spec.seed, draw, rep)]
            )
            chunks.append(Chunk(name, first, last, tasks, _chunk_key(scenario, tasks, code)))
    return chunks


def _chunk_key(scenario: Scenario, tasks: tuple[RunTask, ...], code: str) -> str:
    runs = [[t.tags, sorted(t.params.items())] for t in tasks]
    text = json.dumps(
        {"scenario": scenario.fingerprint(), "code": code, "columns": OUTPUT_COLUMNS, "runs": runs}
    )
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class RunStats:
    """What ``run_experiment`` did."""

    chunks: list[Chunk]
    ran: int
    reused: int
    seconds: float
    backend: str


def run_experiment(
    experiment: Experiment,
    out: str | Path,
    workers: int = 1,
    scheduler: str | None = None,
    posterior: str | Path = DEFAULT_POSTERIOR,
    progress: bool = False,
) -> RunStats:
    """Run the experiment's missing chunks and store each as it completes.

    Args:
        experiment: A loaded experiment.
        out: Output folder; chunks go to ``out/runs/<scenario>/``.
        workers: Local worker processes (1 runs in this process).
        scheduler: Address of an existing dask.distributed scheduler (overrides workers).
        posterior: The posterior file (with ``params: posterior``).
        progress: Show a progress bar (on a terminal only).

    Returns:
        The chunks and how many runs were run and reused.

    Raises:
        ScenarioError: for a missing posterior or an unreachable scheduler (before
            anything is written).
    """
    started = time.perf_counter()
    out = Path(out)
    chunks = build_chunks(experiment, parameter_sets(experiment, posterior))
    missing = [c for c in chunks if stored_key(out / c.relpath) != c.key]
    batches = [list(c.tasks) for c in missing]
    total = sum(len(b) for b in batches)
    with tqdm(
        total=total, desc="runs", unit="run", disable=None if progress else True, leave=False
    ) as bar:
        for index, frame in imap_runs(run_batch, batches, workers, scheduler):
            chunk = missing[index]
            write_chunk(out / chunk.relpath, frame, chunk.key)
            bar.update(len(chunk.tasks))
    backend = f"dask {scheduler}" if scheduler else f"{workers} local process(es)"
    return RunStats(chunks, total, experiment.runs - total, time.perf_counter() - started, backend)


# --------------------------------------------------------------------------- the summary


def paired_differences(
    results: pd.DataFrame, experiment: Experiment, name: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return a counterfactual's differences from the baseline, run by run.

    Returns:
        ``(crn, independent)``: tables indexed by (draw, replicate, year) with one column
        per reported output. ``crn`` pairs runs with the same parameters and seed;
        ``independent`` pairs counterfactual replicate r with baseline replicate r + 1 of
        the same draw (same parameters, independent seeds); it is all NaN with one replicate.
    """
    index = ["draw", "replicate", "year"]
    outputs = experiment.spec.outputs
    base = results[results.scenario == BASELINE].set_index(index)[outputs].astype(float)
    other = results[results.scenario == name].set_index(index)[outputs].astype(float)
    crn = (other - base).sort_index()
    reps = experiment.spec.replicates
    if reps < 2:
        return crn, crn * np.nan
    shifted = base.rename(index=lambda r: (r - 1) % reps, level="replicate")
    return crn, (other - shifted).sort_index()


def summary_table(results: pd.DataFrame, experiment: Experiment) -> pd.DataFrame:
    """Return the summary: per counterfactual, output and key year, the paired difference.

    Columns: counterfactual, output, year, baseline_median, counterfactual_median,
    diff_median, diff_q05, diff_q95, independent_q05, independent_q95, crn_width_ratio
    (90% width with CRN over the width with independent seeds), runs.
    """
    spec = experiment.spec
    medians = results.groupby(["scenario", "year"])[spec.outputs].median()
    rows = []
    for name in experiment.counterfactuals:
        crn, independent = paired_differences(results, experiment, name)
        for output in spec.outputs:
            for year in spec.key_years:
                d = crn.xs(year, level="year")[output].to_numpy()
                i = independent.xs(year, level="year")[output].to_numpy()
                q05, q50, q95 = np.quantile(d, [0.05, 0.5, 0.95])
                i05, i95 = np.quantile(i, [0.05, 0.95]) if np.isfinite(i).all() else (np.nan,) * 2
                rows.append(
                    {
                        "counterfactual": name,
                        "output": output,
                        "year": year,
                        "baseline_median": medians.loc[(BASELINE, year), output],
                        "counterfactual_median": medians.loc[(name, year), output],
                        "diff_median": q50,
                        "diff_q05": q05,
                        "diff_q95": q95,
                        "independent_q05": i05,
                        "independent_q95": i95,
                        "crn_width_ratio": _ratio(q95 - q05, i95 - i05),
                        "runs": d.size,
                    }
                )
    return pd.DataFrame(rows)


def _ratio(width: float, reference: float) -> float:
    return float(width / reference) if np.isfinite(reference) and reference > 0 else np.nan


def format_summary(table: pd.DataFrame, experiment: Experiment) -> str:
    """Return the summary as text, one block per counterfactual."""
    blocks = []
    for name, part in table.groupby("counterfactual", sort=False):
        shown = pd.DataFrame(
            {
                "output": part["output"],
                "year": part["year"],
                "baseline": part["baseline_median"].map(_fmt),
                "counterfactual": part["counterfactual_median"].map(_fmt),
                "difference [90% interval]": [
                    f"{_fmt(m, True)} [{_fmt(a, True)}, {_fmt(b, True)}]"
                    for m, a, b in zip(part.diff_median, part.diff_q05, part.diff_q95, strict=True)
                ],
                "CRN/indep. width": part["crn_width_ratio"].map(
                    lambda r: "n/a" if not np.isfinite(r) else f"{r:.2f}"
                ),
            }
        )
        blocks.append(
            f"{name}: {experiment.question(name)}\n"
            f"  changes: {', '.join(experiment.changes[name])}\n" + shown.to_string(index=False)
        )
    note = (
        "baseline / counterfactual: medians over runs; difference: median and 90% interval "
        "of the paired differences (same parameters and seeds).\nCRN/indep. width: 90% "
        "width with common random numbers over the width with independent seeds (same "
        "parameters); below 1 means the paired design narrows the interval."
    )
    if experiment.spec.replicates < 2:
        note += " n/a: needs at least 2 replicates."
    return "\n\n".join(blocks) + "\n\n" + note


def _fmt(x: float, signed: bool = False) -> str:
    if not np.isfinite(x):
        return "nan"
    sign = "+" if signed else ""
    if abs(x) >= 1e6:
        return f"{x / 1e6:{sign},.2f}M"
    if abs(x) >= 100:
        return f"{x:{sign},.0f}"
    return f"{x:{sign}.3g}"


# --------------------------------------------------------------------------- the plots


def _unit(column: str, scenario: Scenario) -> tuple[str, float]:
    """Return the axis label and the scale of an output column."""
    if column.endswith("_usd"):
        return f"million constant {scenario.cpi_base_year} US$", 1e-6
    if column.endswith("_local"):
        return f"million {scenario.currency} (nominal)", 1e-6
    if column.startswith("share_"):
        return "share (0-1)", 1.0
    if column == "donors_active":
        return "donors", 1.0
    return "NGOs", 1.0


def _runs_table(results: pd.DataFrame, name: str, column: str, scale: float) -> pd.DataFrame:
    """Return a years x runs table of one scenario's column (scaled)."""
    part = results[results.scenario == name]
    runs = part.assign(replicate=part["draw"] * (part["replicate"].max() + 1) + part["replicate"])
    return quantity(runs, column) * scale


def fan_figure(results: pd.DataFrame, experiment: Experiment, name: str, target_file):
    """Return the fan charts of the baseline and one counterfactual, with reported points."""
    base = experiment.baseline
    targets = [
        t
        for t in target_file.targets
        if t.country == base.country
        and t.denominator is None
        and t.base_year is None
        and base.start_year <= t.first_year <= t.last_year <= base.end_year
    ]
    fig, axes = _subplots(3, 2, (12, 11))
    for ax, column in zip(axes.flat, FAN_PANELS, strict=True):
        unit, scale = _unit(column, base)
        shade_periods(ax, _periods_within(target_file.periods.get(base.country, []), base))
        fan(ax, _runs_table(results, BASELINE, column, scale), "tab:blue", "baseline")
        fan(ax, _runs_table(results, name, column, scale), "tab:orange", name)
        for t in targets:
            if t.column == column:
                reported_point(ax, t)
        _label(ax, column, unit, base.years)
    _figure_legend(fig, axes.flat[0], reported=bool(targets))
    fig.suptitle(
        f"{experiment.scenarios[name].name} against the baseline: median, 50% and 90% bands "
        f"over {_runs_text(experiment)}",
        fontsize=11,
    )
    return fig


def difference_figure(results: pd.DataFrame, experiment: Experiment, name: str):
    """Return the paired differences (counterfactual minus baseline) of the reported outputs."""
    crn, independent = paired_differences(results, experiment, name)
    outputs = experiment.spec.outputs
    ncols = min(3, len(outputs))
    nrows = -(-len(outputs) // ncols)
    fig, axes = _subplots(nrows, ncols, (5 * ncols, 3.6 * nrows))
    for ax, column in zip(axes.flat, outputs, strict=False):
        unit, scale = _unit(column, experiment.baseline)
        fan(ax, _by_year(crn[column]) * scale, "tab:purple", "paired (CRN)")
        table = _by_year(independent[column]) * scale
        if table.notna().all().all():
            q = np.quantile(table.to_numpy(), [0.05, 0.95], axis=1)
            for k, row in enumerate(q):
                label = "90% with independent seeds" if k == 0 else None
                ax.plot(table.index, row, color="0.3", ls="--", lw=1, label=label)
        ax.axhline(0, color="black", lw=0.8)
        _label(ax, column, f"difference, {unit}", experiment.baseline.years)
    for ax in list(axes.flat)[len(outputs) :]:
        ax.axis("off")
    _figure_legend(fig, axes.flat[0], reported=False)
    fig.suptitle(
        f"{experiment.scenarios[name].name} minus baseline, run by run (same parameters and "
        f"seeds): median, 50% and 90% bands over {_runs_text(experiment)}",
        fontsize=11,
    )
    return fig


def income_figure(results: pd.DataFrame, experiment: Experiment, name: str):
    """Return stacked areas of NGO income by source (medians), baseline and counterfactual."""
    unit, scale = _unit("income_foreign_usd", experiment.baseline)
    fig, axes = _subplots(1, 2, (13, 4.5), sharey=True)
    for ax, key in zip(axes.flat, (BASELINE, name), strict=True):
        medians = results[results.scenario == key].groupby("year")[list(INCOME_SOURCES)].median()
        ax.stackplot(
            medians.index,
            *(medians[c] * scale for c in INCOME_SOURCES),
            labels=[label for label, _ in INCOME_SOURCES.values()],
            colors=[color for _, color in INCOME_SOURCES.values()],
            alpha=0.8,
        )
        ax.set_title(experiment.scenarios[key].name, fontsize=10)
        ax.set_xlabel("year")
        ax.grid(alpha=0.3)
    axes.flat[0].set_ylabel(f"NGO income, {unit}")
    axes.flat[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(
        f"NGO income by source (median of each source over {_runs_text(experiment)}, stacked)",
        fontsize=11,
    )
    return fig


def _periods_within(periods: list, scenario: Scenario) -> list:
    """Return the article's periods clipped to the simulated years."""
    return [
        p.model_copy(
            update={
                "start": max(p.start, scenario.start_year),
                "end": min(p.end, scenario.end_year),
            }
        )
        for p in periods
        if p.start < scenario.end_year and p.end > scenario.start_year
    ]


def _subplots(nrows: int, ncols: int, size: tuple[float, float], sharey: bool = False):
    return plt.subplots(
        nrows, ncols, figsize=size, squeeze=False, sharey=sharey, layout="constrained"
    )


def _sha256_or_none(path: str | Path) -> str | None:
    return file_sha256(path) if Path(path).exists() else None


def _by_year(series: pd.Series) -> pd.DataFrame:
    """Return a years x runs table from a series indexed by (draw, replicate, year)."""
    return series.unstack(["draw", "replicate"])


def _label(ax, column: str, unit: str, years: range) -> None:
    ax.set_xlim(years.start, years.stop - 1)
    ax.set_title(column.replace("_", " "), fontsize=9, pad=12)
    ax.set_xlabel("year", fontsize=8)
    ax.set_ylabel(unit, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def _figure_legend(fig, ax, reported: bool) -> None:
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    if reported:
        handles.append(Line2D([], [], color="black", marker="o", ls=""))
        labels.append("reported in the article (bar: tolerance)")
    fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize=8, frameon=False)


def _runs_text(experiment: Experiment) -> str:
    spec = experiment.spec
    if spec.params == "posterior":
        return f"{spec.draws} posterior draws x {spec.replicates} replicate(s)"
    return f"{spec.draws * spec.replicates} seeds of the scenarios' own parameter values"


# --------------------------------------------------------------------------- outputs


def write_outputs(
    experiment: Experiment, out: str | Path, stats: RunStats, posterior: str | Path
) -> pd.DataFrame:
    """Write ``summary.csv``, the figures and ``manifest.json``; return the summary table."""
    out = Path(out)
    results = load_results(out, stats.chunks)
    table = summary_table(results, experiment)
    write_text_atomic(out / "summary.csv", table.to_csv(index=False))
    target_file = load_target_file(DEFAULT_TARGETS)
    for name in experiment.counterfactuals:
        save_figure(fan_figure(results, experiment, name, target_file), out / f"fan_{name}.png")
        save_figure(difference_figure(results, experiment, name), out / f"diff_{name}.png")
        save_figure(income_figure(results, experiment, name), out / f"income_{name}.png")
    manifest = build_manifest(experiment, stats, posterior)
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return table


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
        "posterior_file": str(posterior) if uses_posterior else None,
        "posterior_sha256": _sha256_or_none(posterior) if uses_posterior else None,
        "seeds": "run (draw, replicate) uses SeedSequence(seed, spawn_key=(draw, replicate))",
        "model_code_sha256": model_fingerprint(),
        "runs": experiment.runs,
        "runs_run": stats.ran,
        "runs_reused": stats.reused,
        "chunks": len(stats.chunks),
        "backend": stats.backend,
        "wall_seconds": round(stats.seconds, 3),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def describe(experiment: Experiment, posterior: str | Path) -> str:
    """Return a short description of the experiment's design (printed before running)."""
    spec, base = experiment.spec, experiment.baseline
    params = (
        f"posterior draws ({posterior})"
        if spec.params == "posterior"
        else "the scenarios' own behaviour values (no posterior)"
    )
    lines = [
        f"{spec.name} ({experiment.path}): baseline '{base.name}' {base.start_year}-"
        f"{base.end_year}; {len(experiment.counterfactuals)} counterfactual(s); "
        f"{len(experiment.scenarios)} scenarios x {spec.draws} draws x {spec.replicates} "
        f"replicate(s) = {experiment.runs:,} runs; parameters: {params}; seed {spec.seed}"
    ]
    for name in experiment.counterfactuals:
        lines.append(f"  {name}: {', '.join(experiment.changes[name])}")
    return "\n".join(lines)
