"""The country scenarios' inputs a calibration was fitted to, recorded beside its posterior.

A posterior is fitted to the inputs of the committed country files
(``calibration.simulator.SCENARIO_FILES``). ``ngo-abm calibrate npe`` (and the export of an
ABC-SMC history, ``calibrate run`` and ``calibrate export``) records each file's
``Scenario.inputs_fingerprint`` (every number, year and name a run reads; not the prose
of its sources) under ``scenario_inputs`` in the posterior's summary
(``calibrated.yaml``), so that a committed file edited in place afterwards is seen: a run
with the posterior's parameters says so (``changed_note``), and the test suite fails
until the calibration is redone (the project's rule: an input changes only with a
recalibration, ``scenarios/CHANGELOG.md``).
"""

from __future__ import annotations

from pathlib import Path

from model import load_scenario
from model.yaml_files import read_yaml_mapping

from .posterior import summary_named
from .simulator import SCENARIO_FILES

KEY = "scenario_inputs"


def current_inputs() -> dict[str, str]:
    """Return ``{country: inputs fingerprint}`` of the committed country files as they are."""
    return {c: load_scenario(path).inputs_fingerprint() for c, path in SCENARIO_FILES.items()}


def recorded_inputs(summary: Path) -> dict[str, str]:
    """Return the fingerprints recorded in a posterior's summary (none if it has none)."""
    if not summary.exists():
        return {}
    recorded = read_yaml_mapping(summary).get(KEY)
    return dict(recorded) if isinstance(recorded, dict) else {}


def changed_countries(summary: Path, countries: tuple[str, ...] | None = None) -> list[str]:
    """Return the countries whose committed file no longer has the recorded inputs."""
    recorded = recorded_inputs(summary)
    chosen = countries if countries is not None else tuple(recorded)
    return [
        c
        for c in chosen
        if c in recorded and load_scenario(SCENARIO_FILES[c]).inputs_fingerprint() != recorded[c]
    ]


def changed_note(posterior: Path, countries: tuple[str, ...]) -> str | None:
    """Return a note if a run with ``posterior``'s parameters meets edited country files."""
    changed = changed_countries(summary_path(posterior), countries)
    if not changed:
        return None
    files = ", ".join(SCENARIO_FILES[c].name for c in changed)
    return (
        f"note: the inputs of {files} are not those the posterior was fitted to "
        f"({posterior.name}; {KEY} in its summary): its parameters were calibrated for "
        "other inputs; recalibrate (make recalibrate) or run with --params scenario"
    )


def summary_path(posterior: Path) -> Path:
    """Return the summary ``ngo-abm calibrate`` wrote beside a posterior.

    Either name ``summary_named`` gives (``cli.calibrate.posterior_paths`` writes one of
    them): ``X.yaml`` if it exists, else ``<stem>calibrated.yaml``.
    """
    beside = summary_named(posterior, given=True)
    return beside if beside.exists() else summary_named(posterior, given=False)
