"""What a counterfactual scenario changes in its baseline, input by input.

An experiment reports, for each counterfactual, the inputs in which its scenario differs
from the baseline (``donors[NDI].exit_year``, ``state.shocks[X] removed``), and refuses one
that changes nothing (``experiments.spec``). Source notes, names and the end year are not
inputs of the model's rules, so they are not changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from model import Scenario

if TYPE_CHECKING:  # the regional layer is imported only where it runs
    from model.regional_scenario import Region

# Fields that name or span a scenario rather than describe a policy.
DESCRIPTIVE_FIELDS = ("name", "description", "end_year")


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


def region_changes(baseline: Region, other: Region) -> list[str]:
    """Return the inputs in which regional scenario ``other`` differs from ``baseline``.

    As ``scenario_changes``: the regional file's own inputs, its countries and their years
    (the country files by what they hold, not by their names), then each country's inputs,
    prefixed with the country.
    """
    a, b = (
        _without_sources(r.spec.model_dump(mode="json", exclude={"name", "description"}))
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
