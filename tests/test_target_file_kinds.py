"""Target files that are not what they seem: another kind of file, misplaced periods, bad ids.

Each is refused in one line naming the file and the field (``calibration.targets``), where
it was read as an unknown key, dropped, or named across two lines.
"""

from __future__ import annotations

import shutil

import pytest
import yaml
from cli_helpers import one_line, run_cli
from test_target_files_strict import CALIBRATION, edited_targets

from calibration.targets import load_target_file, load_targets
from model import ScenarioError


def test_a_scenario_given_as_the_targets_is_named_as_such(kg_one_run_copy):
    # It was "extends: unknown key", which points at the file rather than at the option.
    scenario = CALIBRATION.parent / "scenarios" / "kyrgyzstan.yaml"
    status, _, err = run_cli(["compare", str(kg_one_run_copy), "--targets", str(scenario)])
    one_line(status, err, "kyrgyzstan.yaml: country: a country's scenario file, not a targets file")
    assert not (kg_one_run_copy / "compare.csv").exists()


def test_periods_in_the_external_file_are_refused_rather_than_dropped(tmp_path):
    for name in ("targets.yaml", "targets_external.yaml"):
        shutil.copy(CALIBRATION / name, tmp_path / name)
    naming = yaml.safe_load((CALIBRATION / "targets.yaml").read_text(encoding="utf-8"))
    external = yaml.safe_load((CALIBRATION / "targets_external.yaml").read_text(encoding="utf-8"))
    external["periods"] = {"kazakhstan": naming["periods"]["kazakhstan"]}
    text = yaml.safe_dump(external, sort_keys=False)
    (tmp_path / "targets_external.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match="targets_external.yaml: periods: read only from"):
        load_target_file(tmp_path / "targets.yaml")


@pytest.mark.parametrize("bad", ["kg_registered_2000\nkg", "kg_registered_2000\n", "KG!", 3])
def test_a_bad_target_id_is_named_by_its_place_in_one_line(tmp_path, bad):
    place = next(
        i
        for i, t in enumerate(load_targets(CALIBRATION / "targets.yaml"))
        if t.id == "kg_registered_2000"
    )
    path = edited_targets(tmp_path, "kg_registered_2000", id=bad)
    with pytest.raises(ScenarioError) as raised:
        load_target_file(path)
    message = str(raised.value)
    assert "\n" not in message and f": targets.{place}.id: " in message, message


def test_a_key_with_a_line_break_in_a_target_stays_one_line(tmp_path):
    path = edited_targets(tmp_path, "kg_registered_2000", **{"bad\nkey": 1})
    with pytest.raises(ScenarioError) as raised:
        load_target_file(path)
    assert "\n" not in str(raised.value) and "'bad\\nkey'" in str(raised.value)


def test_an_external_file_of_another_kind_is_named_by_the_field_that_names_it(tmp_path):
    data = yaml.safe_load((CALIBRATION / "targets.yaml").read_text(encoding="utf-8"))
    data["external"] = str(CALIBRATION.parent / "scenarios" / "kyrgyzstan.yaml")
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"t.yaml: external: .*kyrgyzstan.yaml: a country's"):
        load_target_file(path)
