"""A regional run's manifest names the scenarios it ran, not only their files.

The files' hashes miss what they read from other files: a value edited in
``scenarios/behaviour.yaml`` changed a regional run's table while its manifest differed
only in its times. The manifest records what the files resolve to
(``scenario_resolved_sha256``, ``experiments.regional_runs.region_fingerprint``) and each
country's resolved scenario, as a country run's manifest does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from experiments.regional_experiment import BASELINE, _scenario_record, load_regional_experiment
from experiments.regional_runs import regional_manifest
from experiments.runs import build_manifest
from model import COUNTRIES, load_scenario
from model.regional_files import load_region

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
EXPERIMENT = SCENARIOS.parent / "experiments" / "regional" / "central_asia_counterfactuals.yaml"
ONE_DAY_EXIT = "  one_day_exit:\n    value: 0.8\n"
TIE_DECAY = "  tie_decay:\n    value: 0.1\n"


def _manifest(folder: Path) -> dict:
    region = load_region(folder / "central_asia.yaml")
    return regional_manifest(region, [1], 0.5, [{}], "file values")


@pytest.fixture
def copies(tmp_path) -> tuple[Path, Path]:
    """Two copies of the scenarios folder, one with a behaviour value edited."""
    same, edited = tmp_path / "same", tmp_path / "edited"
    shutil.copytree(SCENARIOS, same)
    shutil.copytree(SCENARIOS, edited)
    behaviour = edited / "behaviour.yaml"
    text = behaviour.read_text(encoding="utf-8")
    assert ONE_DAY_EXIT in text
    behaviour.write_text(text.replace(ONE_DAY_EXIT, ONE_DAY_EXIT.replace("0.8", "0.7")))
    return same, edited


def test_a_behaviour_value_edited_changes_the_regional_manifest(copies):
    same, edited = (_manifest(folder) for folder in copies)
    # The files the manifest hashed are the same...
    assert same["scenario_file_sha256"] == edited["scenario_file_sha256"]
    for country in COUNTRIES:
        assert (
            same["country_files"][country]["sha256"] == edited["country_files"][country]["sha256"]
        )
    # ...what they resolve to is not: the region's, and each country's.
    assert same["scenario_resolved_sha256"] != edited["scenario_resolved_sha256"]
    for country in COUNTRIES:
        resolved = (m["country_files"][country]["resolved_sha256"] for m in (same, edited))
        assert len(set(resolved)) == 2, country


def test_the_fingerprints_are_a_country_runs_and_do_not_depend_on_the_folder(copies):
    here, there = _manifest(SCENARIOS), _manifest(copies[0])
    # The country files are named by absolute paths: the hash leaves them out.
    assert (
        here["country_files"]["kyrgyzstan"]["file"] != there["country_files"]["kyrgyzstan"]["file"]
    )
    assert here["scenario_resolved_sha256"] == there["scenario_resolved_sha256"]
    for country in COUNTRIES:
        path = SCENARIOS / f"{country}.yaml"
        scenario = load_scenario(path)
        country_run = build_manifest(path, scenario, [1], 0.5)
        assert (
            here["country_files"][country]["resolved_sha256"]
            == there["country_files"][country]["resolved_sha256"]
            == country_run["scenario_resolved_sha256"]
        )


def test_a_regional_value_edited_changes_the_regions_fingerprint_alone(tmp_path):
    folder = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, folder)
    before = _manifest(folder)
    regional = folder / "central_asia.yaml"
    text = regional.read_text(encoding="utf-8")
    assert TIE_DECAY in text
    regional.write_text(text.replace(TIE_DECAY, TIE_DECAY.replace("0.1", "0.12")))
    after = _manifest(folder)
    assert before["scenario_resolved_sha256"] != after["scenario_resolved_sha256"]
    assert before["country_files"] == after["country_files"]


def test_a_regional_experiment_names_its_baseline_as_a_regional_run_of_it_does():
    _, regions = load_regional_experiment(EXPERIMENT)
    record = _scenario_record(regions[BASELINE])
    run = _manifest(SCENARIOS)
    assert record["resolved_sha256"] == run["scenario_resolved_sha256"]
    assert record["country_files"] == run["country_files"]
