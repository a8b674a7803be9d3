"""A regional experiment's baseline that is no regional scenario: named as what it is.

``model.regional_files.load_named_region``; the other kind of experiment file (a country's
baseline) is tested in ``test_regional_experiment.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cli_helpers import run_cli

from model.regional_files import is_regional_file, load_region

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = REPO / "experiments" / "regional" / "central_asia_counterfactuals.yaml"


@pytest.mark.parametrize(
    ("baseline", "expected"),
    [
        (
            "../kyrgyzstan_2035.yaml",
            "../kyrgyzstan_2035.yaml is an experiment file, not a regional",
        ),
        ("empty.yaml", "empty.yaml: expected a mapping at the top level"),
    ],
    ids=["an experiment", "an empty file"],
)
def test_a_baseline_of_no_scenario_is_named_as_what_it_is(baseline, expected, repo, tmp_path):
    # Both were called "a country's scenario, so this is an experiment file".
    data = yaml.safe_load(EXPERIMENT.read_text(encoding="utf-8"))
    folder = tmp_path / "regional"
    folder.mkdir()
    (tmp_path / "kyrgyzstan_2035.yaml").write_bytes(
        (repo / "experiments" / "kyrgyzstan_2035.yaml").read_bytes()
    )
    (folder / "empty.yaml").write_text("", encoding="utf-8")
    path = folder / "e.yaml"
    path.write_text(yaml.safe_dump({**data, "baseline": baseline}), encoding="utf-8")
    status, _, stderr = run_cli(["regional-experiment", str(path), "--dry-run"])
    assert status == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert f"{path}: baseline: {expected}" in stderr, stderr


def test_a_fault_in_a_file_the_baseline_extends_is_named_there(tmp_path):
    data = yaml.safe_load(EXPERIMENT.read_text(encoding="utf-8"))
    (tmp_path / "mid.yaml").write_text("extends: empty.yaml\n", encoding="utf-8")
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump({**data, "baseline": "mid.yaml"}), encoding="utf-8")
    status, _, stderr = run_cli(["regional-experiment", str(path), "--dry-run"])
    assert status == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert f"{tmp_path / 'empty.yaml'}: expected a mapping" in stderr, stderr


def test_a_regional_file_may_extend_a_regional_counterfactual(tmp_path):
    # The counterfactual holds extends: but no countries:, the kind a country's file shares.
    parent = REPO / "scenarios" / "counterfactuals" / "regional" / "ca_no_closures_after_2010.yaml"
    child = tmp_path / "chain.yaml"
    child.write_text(f"extends: {parent}\nname: A chain of regional files\n", encoding="utf-8")
    assert load_region(child).spec.name == "A chain of regional files"
    assert is_regional_file(child)


def test_a_regional_file_extending_a_country_s_is_named_in_extends_by_run(tmp_path):
    bad = tmp_path / "region.yaml"
    bad.write_text(f"extends: {REPO / 'scenarios' / 'kyrgyzstan.yaml'}\ncountries: {{}}\n")
    status, _, stderr = run_cli(["run", str(bad), "--out", str(tmp_path / "o")])
    assert status == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert f"{bad}: extends: kyrgyzstan.yaml: a country's scenario file, not a regional" in stderr
