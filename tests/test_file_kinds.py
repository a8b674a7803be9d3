"""A file of one kind given where another is read is named as what it is, in one line.

Each loader (scenario, behaviour, targets, priors, experiment) recognises the project's
other kinds of file by the key that marks them (``model.config_files.file_kinds``): a
priors file or a calibration's record was named "a behaviour file", a targets file or a
behaviour file given as the targets failed on an "unknown key", a scenario given as the
behaviour on a misspelt parameter. A file of the loader's own kind with a stray key of
another's is still its own kind, its stray key named by the loader.
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
SCENARIO = ROOT / "scenarios" / "kyrgyzstan.yaml"
RUNS_IT = "ngo-abm run runs it"
# Each of the project's files of a kind: the words that name its kind, and what reads it.
KINDS = {
    "scenarios/kyrgyzstan.yaml": (
        "country: a country's scenario file",
        f"{RUNS_IT}; an experiment names it as its baseline:",
    ),
    "scenarios/central_asia.yaml": ("countries: a regional scenario file", RUNS_IT),
    "scenarios/behaviour.yaml": (
        "parameters: a behaviour file",
        "a scenario names it in behaviour:",
    ),
    "calibration/priors.yaml": ("parameters: a priors file", "the calibration reads it"),
    "calibration/priors_regional.yaml": ("parameters: a priors file", "the calibration reads it"),
    "calibration/targets.yaml": (
        "targets: a targets file",
        "the calibration and ngo-abm compare read it",
    ),
    "calibration/external_unfitted.yaml": (
        "targets: a targets file",
        "the calibration and ngo-abm compare read it",
    ),
    "calibration/calibrated.yaml": (
        "particles: a calibration's record",
        "ngo-abm calibrate writes it",
    ),
    "calibration/regional_posterior.yaml": (
        "fitted: a regional calibration's record",
        "ngo-abm calibrate regional writes it",
    ),
    "calibration/baselines.yaml": (
        "anchors: the held-back curves' anchors",
        "ngo-abm calibrate report and validate read it",
    ),
    "calibration/regional_patterns.yaml": (
        "patterns: a file of regional patterns",
        "ngo-abm calibrate regional reads it",
    ),
    "experiments/kyrgyzstan_mechanisms.yaml": (
        "baseline: an experiment file",
        "ngo-abm experiment or regional-experiment runs it",
    ),
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
def test_each_loader_names_a_file_of_another_kind_and_what_reads_it(loader, name):
    with pytest.raises(ScenarioError) as raised:
        LOADERS[loader][0](ROOT / name)
    what, hint = KINDS[name]
    assert str(raised.value) == f"{ROOT / name}: {what}, not {loader} ({hint})"


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
    ("regional-experiment", "scenarios/central_asia.yaml", "an experiment"),
    ("regional-experiment", "calibration/priors_regional.yaml", "an experiment"),
]


@pytest.mark.parametrize(("command", "name", "wanted"), COMMANDS)
def test_a_command_names_a_file_of_another_kind_and_writes_nothing(command, name, wanted, tmp_path):
    out = tmp_path / "out"
    given = [SCENARIO, "--targets", ROOT / name] if command == "compare" else [ROOT / name]
    status, _, err = run_cli([command, *given, "--out", out])
    what, hint = KINDS[name]
    one_line(status, err, f"{name}: {what}, not {wanted} ({hint})")
    assert not out.exists()


@pytest.mark.parametrize(
    "name", ["calibration/priors.yaml", "calibration/targets.yaml", "scenarios/uzbekistan.yaml"]
)
def test_a_scenario_names_its_behaviour_field_for_a_file_of_another_kind(name, tmp_path):
    scenario = tmp_path / "mine.yaml"
    scenario.write_text(f"extends: {SCENARIO}\nbehaviour: {ROOT / name}\n", encoding="utf-8")
    status, _, err = run_cli(["run", scenario, "--out", tmp_path / "out"])
    what = KINDS.get(name, KINDS["scenarios/kyrgyzstan.yaml"])[0].split(": ", 1)[1]
    one_line(status, err, f"mine.yaml: behaviour: {ROOT / name}: {what}, not a behaviour file")
    assert not (tmp_path / "out").exists()


def test_a_targets_file_names_its_external_field_for_a_priors_file(tmp_path):
    data = yaml.safe_load((ROOT / "calibration" / "targets.yaml").read_text(encoding="utf-8"))
    data["external"] = str(ROOT / "calibration" / "priors.yaml")
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"t.yaml: external: .*priors.yaml: a priors file, not"):
        load_target_file(path)


def _written(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "file.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"civic_rate": {"distrbution": "uniform"}}, "parameters.civic_rate.distrbution: unknown"),
        ({}, "parameters"),
        ([{"distribution": "uniform"}], "parameters: "),
    ],
)
def test_a_malformed_priors_file_is_named_by_its_own_field(tmp_path, entries, message):
    # A priors file has version:, which a behaviour file may not: it is a priors file with
    # a mistake in it, not a behaviour file.
    path = _written(tmp_path, {"version": 1, "parameters": entries})
    with pytest.raises(ScenarioError) as raised:
        load_priors(path)
    assert "a behaviour file" not in str(raised.value) and message in str(raised.value)


def test_an_experiment_with_a_stray_marking_key_is_still_an_experiment(tmp_path):
    data = yaml.safe_load((ROOT / "experiments" / "kyrgyzstan_2035.yaml").read_text("utf-8"))
    path = _written(tmp_path, {**data, "countries": []})
    status, _, err = run_cli(["experiment", path, "--out", tmp_path / "out"])
    one_line(status, err, "file.yaml: countries: unknown key")


def test_a_behaviour_file_is_told_from_priors_by_its_entries():
    behaviour = {"parameters": {"civic_rate": {"value": 12, "source": "x"}}}
    priors = {"version": 1, "parameters": {"civic_rate": {"distribution": "uniform"}}}
    assert file_kind(behaviour).kind == "behaviour"
    assert file_kind(priors).kind == "priors"
    # Without version: a malformed entry is the behaviour loader's to name.
    assert file_kind({"parameters": {"civic_rate": 12}}).kind == "behaviour"
    assert file_kind({"parameters": [1, 2]}).kind == "behaviour"
    assert file_kind({"version": 1, "parameters": {"civic_rate": {"value": 1}}}).kind == (
        "behaviour"
    )


def test_a_record_is_named_first_whatever_else_it_holds():
    assert file_kind({"particles": 4000, "parameters": {}, "targets": []}).kind == "record"
    assert file_kind({"countries": [], "parameters": {}}).kind == "regional"
    assert file_kind({"name": "x"}) is None
