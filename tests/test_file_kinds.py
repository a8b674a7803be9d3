"""A file of one kind given where another is read is named as what it is, in one line.

Each loader (scenario, behaviour, targets, priors, experiment) recognises the project's
other kinds of file by the key that marks them (``model.config_files.file_kind``): a
priors file or a calibration's record was named "a behaviour file", a targets file or a
behaviour file given as the targets failed on an "unknown key", a scenario given as the
behaviour on a misspelt parameter.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cli_helpers import one_line, run_cli

from calibration.priors import load_priors
from calibration.targets import load_target_file
from model import ScenarioError
from model.config_files import file_kind
from model.parameters import load_behaviour

ROOT = Path(__file__).resolve().parents[1]
# Each of the project's files of a kind, with the words that name its kind.
KINDS = {
    "scenarios/kyrgyzstan.yaml": "country: a country's scenario file",
    "scenarios/central_asia.yaml": "countries: a regional scenario file",
    "scenarios/behaviour.yaml": "parameters: a behaviour file",
    "calibration/priors.yaml": "parameters: a priors file",
    "calibration/priors_regional.yaml": "parameters: a priors file",
    "calibration/targets.yaml": "targets: a targets file",
    "calibration/external_unfitted.yaml": "targets: a targets file",
    "calibration/calibrated.yaml": "particles: a calibration's record",
    "calibration/regional_posterior.yaml": "fitted: a regional calibration's record",
    "calibration/baselines.yaml": "anchors: the held-back curves' anchors",
    "calibration/regional_patterns.yaml": "patterns: a file of regional patterns",
    "experiments/kyrgyzstan_mechanisms.yaml": "baseline: an experiment file",
}
LOADERS = {
    "a behaviour file": (load_behaviour, {"scenarios/behaviour.yaml"}),
    "a targets file": (
        load_target_file,
        {"calibration/targets.yaml", "calibration/external_unfitted.yaml"},
    ),
    "a priors file": (
        load_priors,
        {"calibration/priors.yaml", "calibration/priors_regional.yaml"},
    ),
}


@pytest.mark.parametrize(
    ("loader", "name"),
    [(loader, name) for loader, (_, own) in LOADERS.items() for name in KINDS if name not in own],
)
def test_each_loader_names_a_file_of_another_kind(loader, name):
    with pytest.raises(ScenarioError) as raised:
        LOADERS[loader][0](ROOT / name)
    assert str(raised.value) == (f"{ROOT / name}: {KINDS[name]}, not {loader} ({_hint(name)})")


def _hint(name: str) -> str:
    return file_kind(yaml.safe_load((ROOT / name).read_text(encoding="utf-8")))[3]


SCENARIO = ROOT / "scenarios" / "kyrgyzstan.yaml"
# Each command, the file it is given in the wrong place, and the kind it wanted there.
COMMANDS = [
    *(("run", n, "a country's scenario") for n in KINDS if n.startswith(("calibration", "exp"))),
    ("run", "scenarios/behaviour.yaml", "a country's scenario"),
    *(
        ("compare", n, "a targets file")
        for n in (
            "scenarios/behaviour.yaml",
            "calibration/priors.yaml",
            "calibration/calibrated.yaml",
        )
    ),
    ("experiment", "calibration/priors.yaml", "an experiment"),
    ("experiment", "calibration/targets.yaml", "an experiment"),
]


@pytest.mark.parametrize(("command", "name", "wanted"), COMMANDS)
def test_a_command_names_a_file_of_another_kind_and_writes_nothing(command, name, wanted, tmp_path):
    out = tmp_path / "out"
    given = [SCENARIO, "--targets", ROOT / name] if command == "compare" else [ROOT / name]
    status, _, err = run_cli([command, *given, "--out", out])
    one_line(status, err, f"{name}: {KINDS[name]}, not {wanted}")
    assert not out.exists()


@pytest.mark.parametrize(
    "name", ["calibration/priors.yaml", "calibration/targets.yaml", "scenarios/uzbekistan.yaml"]
)
def test_a_scenario_names_its_behaviour_field_for_a_file_of_another_kind(name, tmp_path):
    scenario = tmp_path / "mine.yaml"
    scenario.write_text(f"extends: {SCENARIO}\nbehaviour: {ROOT / name}\n", encoding="utf-8")
    status, _, err = run_cli(["run", scenario, "--out", tmp_path / "out"])
    what = "country: a country's scenario file" if "uzbekistan" in name else KINDS[name]
    what = what.split(": ", 1)[1]
    one_line(status, err, f"mine.yaml: behaviour: {ROOT / name}: {what}, not a behaviour file")
    assert not (tmp_path / "out").exists()


def test_a_behaviour_file_is_told_from_priors_by_its_entries():
    behaviour = {"parameters": {"civic_rate": {"value": 12, "source": "x"}}}
    priors = {"version": 1, "parameters": {"civic_rate": {"distribution": "uniform"}}}
    assert file_kind(behaviour)[1] == "behaviour"
    assert file_kind(priors)[1] == "priors"
    # A malformed entry is the loader's to name, not a reason to call the file priors.
    assert file_kind({"parameters": {"civic_rate": 12}})[1] == "behaviour"
    assert file_kind({"parameters": [1, 2]})[1] == "behaviour"


def test_the_first_marking_key_names_a_file_with_several():
    # A regional file sets parameters: too; an experiment may name a country.
    assert file_kind({"countries": [], "parameters": {}})[1] == "regional"
    assert file_kind({"baseline": "x.yaml", "country": "kyrgyzstan"})[1] == "experiment"
    assert file_kind({"particles": 4000, "parameters": {}})[1] == "record"
    assert file_kind({"name": "x"}) is None
