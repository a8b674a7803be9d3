"""What a counterfactual scenario changes in its baseline, input by input.

An experiment reports, for each counterfactual, the inputs in which its scenario differs
from the baseline (``donors[NDI].exit_year``, ``state.shocks[X] removed``), and refuses one
that changes nothing (``experiments.spec``), or nothing in the years it runs
(``check_changes_in_run``), or that would end elsewhere than the run. Source notes, names
and the end year are not inputs of the model's rules, so they are not changes.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from model import Scenario, ScenarioError
from model.config_files import without_keys
from model.levers import apply_levers
from model.limits import MIN_YEAR
from model.mechanisms import MECHANISMS
from model.scenario import Donor, NeighbourRevolution, Shock, YearFact
from model.series import Series
from model.yaml_files import read_yaml_mapping

if TYPE_CHECKING:  # the regional layer is imported only where it runs
    from model.regional_scenario import Region

    from .spec import Experiment

# How a lever's change is named among a counterfactual's changes.
LEVERS = "levers: "
# A regional file's years of printed ties and of network snapshots (outputs only).
REGIONAL_OUTPUT_YEARS = ("report_years", "network_years")
# Fields that name, span or source a scenario rather than describe a policy.
DESCRIPTIVE_FIELDS = ("name", "description", "end_year", "years_source")
# Source notes, wherever they stand: a changed note changes no input.
SOURCES = frozenset({"source"})


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
    changes = _diff(without_keys(a, SOURCES), without_keys(b, SOURCES), "")
    before, after = (math.fsum(d.weight.value for d in s.donors) for s in (baseline, other))
    if not math.isclose(before, after):
        # Each donor's money is its weight over all the donors' (docs/experiments.md).
        shares = f"every donor's share of the country's money (weights {before:g} -> {after:g})"
        changes.append(shares)
    return changes


def dated_changes(baseline: Scenario, other: Scenario, changes: list[str]) -> list[str]:
    """Return ``changes`` with each yearly series' first year of a different value.

    ``state.registration_burden (from 1993)``: a change of a few points can move years
    far from them (a series' interpolation applies to the points it inherits too), and an
    effect before the year the user meant would otherwise read as the policy's.
    """
    years = range(baseline.start_year, max(baseline.end_year, other.end_year) + 1)
    dated = []
    for change in changes:
        a, b = (_yearly_values(s, change, years) for s in (baseline, other))
        first = None
        if a is not None and b is not None:
            first = next((year for year, u, v in zip(years, a, b, strict=True) if u != v), None)
        dated.append(change if first is None else f"{change} (from {first})")
    return dated


def _yearly_values(scenario: Scenario, change: str, years: range) -> list[float] | None:
    """Return the yearly values of the series a change names; an unset factor is 1."""
    value = _at_path(scenario, change)
    if isinstance(value, Series):
        return value.over(years)
    if value is None and change.endswith(".budget_factor"):
        return [1.0] * len(years)
    return None


def every_donor(lines: list[str], donors: list[str]) -> list[str]:
    """Return ``lines`` with one line for a change made alike to every donor (a lever's).

    ``donors[*].budget_factor (from 2015)`` rather than one line per donor.
    """
    if len(donors) < 2:
        return lines
    pattern = re.compile(r"donors\[(" + "|".join(re.escape(d) for d in donors) + r")\]")
    kept: list[str] = []
    for line in lines:
        alike = pattern.sub("donors[*]", line)
        if alike == line:
            kept.append(line)
        elif sum(pattern.sub("donors[*]", other) == alike for other in lines) == len(donors):
            if alike not in kept:
                kept.append(alike)
        else:
            kept.append(line)
    return kept


def dated_experiment_changes(experiment: Experiment, name: str) -> list[str]:
    """Return counterfactual ``name``'s changes as printed: each series with its first year.

    A scenario's changes are dated against the baseline, its levers' against the scenario
    they act on; switched-off mechanisms have no year.
    """
    scenario = experiment.scenarios[name]
    levers = experiment.levers(name)
    levered = apply_levers(scenario, **levers) if levers else scenario
    lines = []
    for change in experiment.changes[name]:
        if change.startswith(LEVERS):
            lines.append(LEVERS + dated_changes(scenario, levered, [change[len(LEVERS) :]])[0])
        elif change.startswith("switch_off: "):
            lines.append(change)
        else:
            lines.append(dated_changes(experiment.baseline, scenario, [change])[0])
    return every_donor(lines, [d.name for d in levered.donors])


def _at_path(scenario: Scenario, change: str) -> Any:
    """Return the input a change path names (``donors[NDI].grant_mean``), or ``None``."""
    value: Any = scenario
    for name, item in re.findall(r"(\w+)(?:\[([^\]]*)\])?(?:\.|$)", change):
        value = getattr(value, name, None)
        if item:
            value = next((i for i in value or () if getattr(i, "name", None) == item), None)
        if value is None:
            return None
    return value


def lever_changes(path: Path, where: str, levers: dict[str, Any], scenario: Scenario) -> list[str]:
    """Return what a counterfactual's active ``levers`` change, as ``levers: <input>`` paths.

    Raises:
        ScenarioError: a lever the scenario refuses, named under ``where`` in ``path``.
    """
    if not levers:
        return []
    try:
        levered = apply_levers(scenario, **levers)
    except ScenarioError as exc:
        field = f"{where}.{exc.field}" if exc.field else where
        raise ScenarioError(path, field, exc.message) from None
    if not differs_in_run(scenario, levered):
        # A lever restating the scenario's own path (a start year it already has) ran as a
        # change with differences of exactly 0.
        found = "change nothing in the run: every input keeps its value in the years run"
        raise ScenarioError(path, where, f"{found} ({scenario.start_year}-{scenario.end_year})")
    return [LEVERS + c for c in scenario_changes(scenario, levered)]


def switch_changes(names: list[str]) -> list[str]:
    """Return the mechanisms a counterfactual switches off, as ``switch_off: <name>`` lines."""
    lines = []
    for name in names:
        mechanism = MECHANISMS[name]
        values = ", ".join(f"{k} = {v:g}" for k, v in mechanism.off.items())
        lines.append(f"switch_off: {name} ({values}: {mechanism.neutral})")
    return lines


def check_own_end_year(
    path: Path, where: str, file: Path, baseline_end: int, baseline: Scenario
) -> None:
    """Refuse a counterfactual file that sets an end year the experiment would not run.

    Every scenario of an experiment runs the experiment's years (its ``end_year``, or the
    baseline's): an end year the file inherits is replaced without a word, as is the
    baseline file's own (``baseline_end``: the baseline file itself may be the
    counterfactual, with levers), but another that it sets would be overridden silently.
    """
    own = read_yaml_mapping(file).get("end_year")
    if own is not None and own not in (baseline.end_year, baseline_end):
        found = f"sets end_year {own}, but the experiment runs to {baseline.end_year}"
        raise ScenarioError(path, where, f"{found} (its end_year or the baseline's)")


def check_changes_in_run(path: Path, where: str, baseline, other, changes: list[str]) -> None:
    """Refuse scenario (or regional) ``changes`` that leave every value the run reads as it was.

    They fall outside the years run, or restate the baseline's values in them (a point on
    the baseline's own line).
    """
    if isinstance(baseline, Scenario):
        differs = differs_in_run(baseline, other)
    else:
        differs = region_differs_in_run(baseline, other, changes)
    if changes and not differs:
        years = f"{baseline.start_year}-{baseline.end_year}"
        found = (
            f"its changes ({', '.join(changes)}) leave every value of the years run ({years}) "
            "as it was: they fall outside them or restate the baseline's values"
        )
        raise ScenarioError(path, where, f"changes nothing in the run: {found}")


def differs_in_run(baseline: Scenario, other: Scenario) -> bool:
    """Return whether ``other`` differs from ``baseline`` in what a run of its years reads.

    A change that falls after the run's last year (a shock in 2060, a budget changed from
    2005 in a run to 2003) changes nothing in it, though ``scenario_changes`` lists it.
    Series are compared year by year up to the end (and the CPI also at its base year,
    which may come later and converts every year's dollars), events only where they fall
    in the run.
    """
    return _as_run(baseline) != _as_run(other)


def _as_run(scenario: Scenario) -> dict[str, Any]:
    # From the first possible year: a rule may read a series before the start (lags).
    years = range(MIN_YEAR, scenario.end_year + 1)
    view = _in_run(scenario, scenario.start_year, scenario.end_year, years)
    view["cpi_at_base_year"] = scenario.usd_cpi.at(scenario.cpi_base_year)
    for field in DESCRIPTIVE_FIELDS:
        view.pop(field, None)
    return view


def _in_run(value: Any, start: int, end: int, years: range) -> Any:
    if isinstance(value, Series):
        return value.over(years)
    if isinstance(value, YearFact):
        return min(value.year, end)
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        view = {k: _in_run(getattr(value, k), start, end, years) for k in fields}
        view.pop("source", None)
        if isinstance(value, Shock):
            view["duration_years"] = min(value.duration_years, end - value.year + 1)
        if isinstance(value, Donor):
            if value.exit_year is not None and value.exit_year > end:
                view["exit_year"] = None
            view["budget_factor"] = _factor_while_giving(value, years)
        return view
    if isinstance(value, (list, tuple)):
        return [_in_run(v, start, end, years) for v in value if not _outside(v, start, end)]
    if isinstance(value, dict):
        return {k: _in_run(v, start, end, years) for k, v in value.items()}
    return value


def _factor_while_giving(donor: Donor, years: range) -> list[float]:
    """Return a donor's budget factor in the years it gives (1 where unset or idle).

    A factor in years the donor gives nothing, or one of 1, changes no run.
    """
    factor = donor.budget_factor
    last = donor.exit_year if donor.exit_year is not None else years.stop
    return [
        factor.at(y) if factor is not None and donor.entry_year <= y <= last else 1.0 for y in years
    ]


def _outside(item: Any, start: int, end: int) -> bool:
    """Whether ``item`` is an event the run's years never see.

    One after the last year, or, a shock, over before the first; a neighbour's revolution
    before the start is not remembered either (the State's threat starts at the first
    year run, ``model.timeline``).
    """
    if isinstance(item, Shock):
        return item.year > end or item.year + item.duration_years <= start
    return isinstance(item, NeighbourRevolution) and not start <= item.year <= end


def region_changes(baseline: Region, other: Region) -> list[str]:
    """Return the inputs in which regional scenario ``other`` differs from ``baseline``.

    As ``scenario_changes``: the regional file's own inputs, its countries and their years
    (the country files by what they hold, not by their names), then each country's inputs,
    prefixed with the country.
    """
    return _region_diff(baseline, other, in_run=False)


def region_changes_in_run(baseline: Region, other: Region) -> list[str]:
    """Return what ``other`` changes in ``baseline`` as their runs read it.

    As ``region_changes``, but with each regional parameter at the value the run uses (a
    file's ``parameters:`` value, unless an override from ``with_params`` replaced it and
    the file does not hold it ``fixed:``), and the countries' scenarios as overridden.
    """
    return _region_diff(baseline, other, in_run=True)


def region_differs_in_run(baseline: Region, other: Region, changes: list[str]) -> bool:
    """Return whether regional ``other`` differs from ``baseline`` in what its runs read.

    ``changes`` are ``region_changes(baseline, other)``, which the caller has. The regional
    file's dated items lie within the run (``model.regional_files``), so its own changes
    count, but for the years it prints or draws; a country file's count only where they
    fall in the run's years (``differs_in_run``).
    """
    shared = set(baseline.countries) & set(other.countries)
    # The years printed or drawn choose outputs, not what the model does.
    read = [c for c in changes if c not in REGIONAL_OUTPUT_YEARS]
    own = [c for c in read if c.split(".")[0] not in shared]
    return bool(own) or any(
        differs_in_run(baseline.countries[c], other.countries[c]) for c in shared
    )


def _region_diff(baseline: Region, other: Region, in_run: bool) -> list[str]:
    """Return ``region_changes`` (the files' values) or ``region_changes_in_run``."""
    exclude = {"name", "description"} | ({"parameters", "fixed"} if in_run else set())
    a, b = (
        without_keys(r.spec.model_dump(mode="json", exclude=exclude), SOURCES)
        | ({"parameters": r.params} if in_run else {})
        for r in (baseline, other)
    )
    # Which countries run, and over which years (a country file may end early), by name.
    a["countries"], b["countries"] = (
        {c: [s.start_year, s.end_year] for c, s in r.countries.items()} for r in (baseline, other)
    )
    changes = _diff(a, b, "")
    for country, scenario in other.countries.items():
        if country in baseline.countries:
            found = scenario_changes(baseline.countries[country], scenario)
            changes += [f"{country}.{change}" for change in found]
    return changes


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
