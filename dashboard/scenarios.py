"""The scenario files the dashboard offers, and the parameters it runs them with.

Every country and counterfactual file under ``scenarios/`` that loads as a country's
scenario (regional files and shared fragments are skipped), each run with the committed
posterior median (``calibration/posterior.parquet``) when there is one; a file that
changes a calibrated value is refused, as ``ngo-abm run`` refuses it. Used by ``app.py``.
"""

from __future__ import annotations

from pathlib import Path

from calibration.posterior import has_posterior, posterior_median
from experiments.replaced_values import run_changes
from model import COUNTRIES, Scenario, ScenarioError, load_scenario
from model.regional_files import is_regional_file

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
# Shared fragments; regional files (``countries:``) are skipped too, not being a country's.
NOT_SCENARIOS = frozenset({"base.yaml", "behaviour.yaml"})
DASHBOARD_REMEDY = (
    "the dashboard runs the posterior median; change it with the levers, or run the file "
    "with ngo-abm run --params scenario"
)


def discover_scenarios(folder: Path = SCENARIO_DIR) -> tuple[dict[str, Scenario], dict[str, str]]:
    """Load every scenario YAML in ``folder`` and ``folder/counterfactuals``.

    Args:
        folder: The scenarios folder.

    Returns:
        ``({key: scenario}, {key: reason})``: the scenarios offered, keyed by their path
        under ``folder`` without ``.yaml`` (countries first), and the files that did not
        load as a country scenario with the one-line reason.
    """
    found: dict[str, Scenario] = {}
    skipped: dict[str, str] = {}
    median = readable_median()
    paths = sorted(folder.glob("*.yaml")) + sorted((folder / "counterfactuals").glob("*.yaml"))
    for path in paths:
        if path.name in NOT_SCENARIOS or is_regional_file(path):
            continue
        key = path.relative_to(folder).with_suffix("").as_posix()
        try:
            scenario = load_scenario(path)
            refuse_replaced_values(path, scenario, median)
        except ScenarioError as exc:
            skipped[key] = str(exc)
        else:
            found[key] = scenario
    countries = [k for k in found if k in COUNTRIES]
    return {k: found[k] for k in countries + [k for k in found if k not in countries]}, skipped


def readable_median() -> dict[str, float] | None:
    """Return the posterior median the dashboard runs, or None without a readable one.

    An unreadable posterior leaves every run on the file's own values, and ``calibrated``
    says why.
    """
    if not has_posterior():
        return None
    try:
        return posterior_median()
    except ScenarioError:
        return None


def refuse_replaced_values(path: Path, scenario: Scenario, median: dict | None) -> None:
    """Refuse a file that changes a calibrated value, as ``ngo-abm run`` does.

    The dashboard runs the posterior ``median`` (``calibrated``), which would replace the
    file's value without a word.
    """
    if median is not None:
        source = "posterior median (posterior.parquet)"
        run_changes(path, scenario, median, source, DASHBOARD_REMEDY)


def calibrated(scenario: Scenario) -> tuple[Scenario, str]:
    """Return the scenario with the posterior median applied (when there is one) and a note."""
    if not has_posterior():
        return scenario, "uncalibrated: no calibration/posterior.parquet yet (values as written)"
    try:
        # Said on the page: a run at the median is read as the calibrated prediction, which
        # it is not (the Kyrgyz register runs 11-22% above the draws', README).
        note = "calibrated: posterior median (one run at the median parameters, not the "
        note += "posterior's prediction: the counterfactual page runs posterior draws)"
        return scenario.with_params(posterior_median()), note
    except ScenarioError as exc:
        return scenario, f"uncalibrated: the posterior could not be used ({exc})"
