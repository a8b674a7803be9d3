"""The scenarios an experiment file names: each read, and paired with the baseline.

A field of an experiment (``baseline``, ``counterfactuals[...].scenario``) names a country's
scenario file; a file of another kind is the field's mistake, and a counterfactual must
run the baseline's country from the baseline's start year for its runs to pair.
"""

from __future__ import annotations

from pathlib import Path

from model import Scenario, ScenarioError, load_scenario
from model.config_files import OtherKindError, named_file


def scenario_named(path: Path, where: str, file: Path) -> Scenario:
    """Return the scenario ``file`` that ``path``'s field ``where`` names.

    A file of another kind is named by that field, which is the mistake; any other
    problem by the scenario's own file and field.
    """
    try:
        return load_scenario(named_file(path, where, file))
    except OtherKindError as exc:
        raise ScenarioError(path, where, f"{file}: {exc.message}") from None


def check_pairable(path: Path, where: str, baseline: Scenario, other: Scenario) -> None:
    """Refuse a counterfactual of another country or start year than its baseline's."""
    for attr in ("country", "start_year"):
        if getattr(other, attr) != getattr(baseline, attr):
            raise ScenarioError(
                path,
                where,
                f"{attr} {getattr(other, attr)} differs from the baseline's "
                f"{getattr(baseline, attr)} (a counterfactual must pair with its baseline)",
            )
