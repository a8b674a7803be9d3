"""A counterfactual's scenario paired with its experiment's baseline.

Each is read by ``model.scenario_files.load_named_scenario``; a counterfactual must run the
baseline's country from the baseline's start year for its runs to pair.
"""

from __future__ import annotations

from pathlib import Path

from model import Scenario, ScenarioError


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
