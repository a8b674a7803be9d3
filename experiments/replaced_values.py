"""Values a file sets that a run's calibrated parameters replace, refused before any run.

The committed posterior's median or draws replace every calibrated parameter wherever a
file sets it: a behaviour value or a country's ``donor_budget_scale`` in a country file,
a regional parameter under ``parameters:`` (unless held under ``fixed:``). A file that
changes one of them from the file it extends, run with those parameters, would run
unchanged without a word; it is refused here, for ``ngo-abm run`` and the regional
experiments alike (``experiments.changes`` says what a file changes).
"""

from __future__ import annotations

from pathlib import Path

from model import Scenario, ScenarioError, load_scenario
from model.config_files import read_yaml_mapping

from .changes import region_changes, region_changes_in_run, scenario_changes


def scenario_values_replaced(parent: Scenario, child: Scenario, overrides: dict) -> list[str]:
    """Return the values ``child`` changes from ``parent`` that ``overrides`` replace in both."""
    values = [c for c in scenario_changes(parent, child) if c.endswith(".value")]
    if not values:
        return []
    kept = set(scenario_changes(parent.with_params(overrides), child.with_params(overrides)))
    return [c.removesuffix(".value") for c in values if c not in kept]


def region_values_replaced(parent, child, overrides: dict) -> list[str]:
    """Return the values regional ``child`` changes from ``parent`` that ``overrides`` replace.

    As the inputs they set: ``parameters.NAME``, or ``COUNTRY.FIELD`` for a country file's.
    """
    as_run = region_changes_in_run(parent.with_params(overrides), child.with_params(overrides))
    in_run = {_input(c) for c in as_run}
    values = [c for c in region_changes(parent, child) if c.endswith(".value")]
    return [_input(c) for c in values if _input(c) not in in_run]


def _input(change: str) -> str:
    """Return the input a value's change sets, as ``region_changes_in_run`` names it.

    Without the sourced number's ``.value``; a ``fixed:`` regional parameter as the
    parameter it holds (``parameters.NAME``).
    """
    change = change.removesuffix(".value")
    return "parameters." + change.removeprefix("fixed.") if change.startswith("fixed.") else change


def check_run_values_kept(path: Path, loaded, overrides: dict, source: str) -> None:
    """Refuse a run of ``path`` whose own changes of calibrated values ``overrides`` replace.

    ``loaded`` is the file's scenario (or region); its changes are those from the file it
    ``extends:``. A file that extends nothing has nothing to compare with and is not checked.
    ``source`` says where the overrides come from (``posterior median (posterior.parquet)``).
    """
    parent_file = _extended_file(path)
    if parent_file is None or not overrides:
        return
    try:
        parent = _load_like(loaded, parent_file)
    except ScenarioError:
        # A partial file (``base.yaml``) is no scenario of its own to compare with.
        return
    if isinstance(loaded, Scenario):
        replaced = scenario_values_replaced(parent, loaded, overrides)
    else:
        replaced = region_values_replaced(parent, loaded, overrides)
    if replaced:
        found = (
            f"changed from {parent_file.name}, but the {source} replaces it in every run; "
            "run with --params scenario to use the file's values"
        )
        raise ScenarioError(path, replaced[0], found)


def _load_like(loaded, file: Path):
    if isinstance(loaded, Scenario):
        return load_scenario(file)
    from model.regional_scenario import load_region

    return load_region(file)


def _extended_file(path: Path) -> Path | None:
    parent = read_yaml_mapping(path).get("extends")
    return Path(path).parent / parent if isinstance(parent, str) else None
