"""Values a file sets that a run's calibrated parameters replace, refused before any run.

The committed posterior's median or draws replace every calibrated parameter wherever a
file sets it: a behaviour value or a country's ``donor_budget_scale`` in a country file,
a regional parameter under ``parameters:`` (unless held under ``fixed:``). A file that
changes one of them from the file it extends (or, for a copy of the committed files that
extends no whole scenario, from the committed scenario of its country), run with those
parameters, would run unchanged without a word; it is refused here, for ``ngo-abm run``
and the regional experiments alike (``experiments.changes`` says what a file changes).
"""

from __future__ import annotations

from pathlib import Path

from calibration.posterior import check_extremes, has_posterior, posterior_median
from calibration.simulator import SCENARIO_FILES
from model import Scenario, ScenarioError, load_scenario
from model.extends import resolve_path
from model.regional_files import REGIONAL_SCENARIO, is_regional_file, load_region
from model.yaml_files import read_yaml_mapping

from .changes import (
    dated_changes,
    differs_in_run,
    region_changes,
    region_changes_in_run,
    region_differs_in_run,
    scenario_changes,
)


def scenario_values_replaced(parent: Scenario, child: Scenario, overrides: dict) -> list[str]:
    """Return the values ``child`` changes from ``parent`` that ``overrides`` replace in both."""
    values = [c for c in scenario_changes(parent, child) if c.endswith(".value")]
    if not values:
        return []
    kept = set(scenario_changes(parent.with_params(overrides), child.with_params(overrides)))
    return [c.removesuffix(".value") for c in values if c not in kept]


def calibrated_values(posterior: str | Path, scenario: Scenario) -> dict[str, float]:
    """Return the parameters ``posterior``'s draws set, at its medians (none if it is absent).

    The medians stand for any draw: which of a file's values a draw replaces depends on the
    parameters it sets, not on their values. An absent file is refused where the draws are
    taken (``experiments.paired.parameter_sets``).

    Raises:
        ScenarioError: naming ``posterior`` if ``scenario`` (the baseline the draws run)
            refuses the medians: an unknown name or a value out of range. The comparison
            of the counterfactuals with the medians set would otherwise refuse them first,
            naming ``params`` rather than the file.
    """
    if not has_posterior(posterior):
        return {}
    medians = posterior_median(posterior)
    check_extremes(scenario, medians, medians, posterior)
    return medians


def counterfactual_changes(
    path: Path, where: str, baseline: Scenario, other: Scenario, calibrated: dict
) -> list[str]:
    """Return what counterfactual ``other`` changes; refuse a change the draws replace.

    ``calibrated`` holds the parameters the runs' posterior draws set (``calibrated_values``;
    empty when the files' own values run, ``params: scenario``). A parameter the posterior
    does not hold (a fixed behaviour parameter, the initial register) is the file's to change.

    Raises:
        ScenarioError: naming ``where`` in ``path`` and the first value replaced.
    """
    replaced = scenario_values_replaced(baseline, other, calibrated) if calibrated else []
    if replaced:
        found = (
            f"changes {replaced[0]}, which the posterior's draws replace in every run; a "
            "counterfactual changes policy or donor inputs, or uses levers (applied after "
            "the draws), or runs with params: scenario"
        )
        raise ScenarioError(path, where, found)
    return scenario_changes(baseline, other)


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


def run_changes(
    path: Path,
    loaded,
    overrides: dict,
    source: str,
    remedy: str = "run with --params scenario to use the file's values",
) -> str | None:
    """Check a run of ``path`` and say what its file changes, for the run's log.

    ``loaded`` is the file's scenario (or region). Its changes are those from the farthest
    file up its ``extends:`` chain that is a whole scenario (or region) of its own: a chain
    of counterfactuals changes what every link changed. A change of a calibrated value
    that the ``overrides`` replace in every run is refused. ``source`` says where the
    overrides come from (``posterior median (posterior.parquet)``).

    A file that extends no whole scenario (a copy of the committed files, edited) is
    compared with the committed scenario of its country (or region) that the posterior
    was calibrated on.

    Returns:
        ``changes from FILE: ...`` (``none`` if nothing), or ``None`` for the committed
        scenario itself, which has nothing to compare with.
    """
    found = _farthest_whole_ancestor(path, loaded) or _calibrated_on(path, loaded)
    if found is None:
        return None
    base_name, base = found
    scenario = isinstance(loaded, Scenario)
    if overrides:
        values_replaced = scenario_values_replaced if scenario else region_values_replaced
        replaced = values_replaced(base, loaded, overrides)
        if replaced:
            message = (
                f"changed from {base_name}, but every run takes it from the {source}; {remedy}"
            )
            raise ScenarioError(path, replaced[0], message)
    if scenario:
        changes = scenario_changes(base, loaded)
        changed, differs = dated_changes(base, loaded, changes), differs_in_run(base, loaded)
    else:
        changed = region_changes(base, loaded)
        differs = region_differs_in_run(base, loaded, changed)
    # A shock in 2150, a point after the last year: listed, yet the run is the base's.
    idle = bool(changed) and not differs
    if loaded.end_year != base.end_year:
        # Not an input of the rules (so no change of an experiment), but the run's span.
        changed.append(f"end_year {base.end_year} -> {loaded.end_year}")
    listed = ", ".join(changed) if changed else "none"
    if idle:
        listed += f"; none of them changes the years run ({loaded.start_year}-{loaded.end_year})"
    return f"changes from {base_name}: {listed}"


def check_source_values_kept(path: Path, mode: str) -> None:
    """Load the scenario or regional file ``path`` and check it as ``ngo-abm run`` would.

    For ``compare``, which checks every source before the first one runs.
    """
    from .regional_runs import regional_replicate_params
    from .run_params import replicate_params

    if is_regional_file(path):
        loaded, params = load_region(path), regional_replicate_params(mode, 1, 0)
    else:
        loaded, params = load_scenario(path), replicate_params(mode, 1, 0)
    sets, source = params
    run_changes(path, loaded, sets[0] if sets else {}, source)


def _farthest_whole_ancestor(path: Path, loaded) -> tuple[str, object] | None:
    for file in reversed(_ancestors(path)):
        try:
            return file.name, _load_like(loaded, file)
        except ScenarioError:
            # A partial file (``base.yaml``) is no scenario of its own to compare with.
            continue
    return None


def _calibrated_on(path: Path, loaded) -> tuple[str, object] | None:
    """Return the committed scenario (or region) of ``loaded``'s country, unless it is ``path``."""
    scenario = isinstance(loaded, Scenario)
    file = SCENARIO_FILES[loaded.country] if scenario else REGIONAL_SCENARIO
    if resolve_path(path) == resolve_path(file):
        return None
    return f"the committed scenarios/{file.name}", _load_like(loaded, file)


def _ancestors(path: Path) -> list[Path]:
    """Return the files ``path`` extends, nearest first, as ``resolve_extends`` reads them."""
    chain, current = [], resolve_path(path)
    while isinstance(parent := read_yaml_mapping(current).get("extends"), str):
        current = resolve_path(current.parent / parent)
        if current in chain:  # a loop, which loading the file has refused already
            break
        chain.append(current)
    return chain


def _load_like(loaded, file: Path):
    return load_scenario(file) if isinstance(loaded, Scenario) else load_region(file)
