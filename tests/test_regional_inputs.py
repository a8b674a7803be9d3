"""The inputs the regional posterior was computed from: compared, and said when changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from calibration.regional import REGIONAL_POSTERIOR
from cli.main import main
from experiments import regional_calibration
from experiments.regional_calibration import SUMMARY, changed_inputs, changed_note

REPO = Path(__file__).resolve().parents[1]


def _summary_on_copy(tmp_path: Path) -> tuple[Path, Path]:
    """Return a copy of the regional summary naming a copy of the scenarios, and the copy."""
    folder = tmp_path / "scenarios"
    shutil.copytree(REPO / "scenarios", folder)
    stored = yaml.safe_load(SUMMARY.read_text(encoding="utf-8"))
    stored["region"] = str(folder / "central_asia.yaml")
    summary = tmp_path / "regional_posterior.yaml"
    summary.write_text(yaml.safe_dump(stored), encoding="utf-8")
    return summary, folder


def test_the_committed_inputs_are_unchanged():
    assert changed_inputs() == []
    assert changed_note(REGIONAL_POSTERIOR, "run with --params scenario") is None


def test_an_edited_regional_or_country_file_is_named(tmp_path):
    summary, folder = _summary_on_copy(tmp_path)
    assert changed_inputs(summary) == []
    region = folder / "central_asia.yaml"
    region.write_text(region.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert changed_inputs(summary) == ["central_asia.yaml"]
    country = folder / "kyrgyzstan.yaml"
    country.write_text(country.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert changed_inputs(summary) == ["central_asia.yaml", "kyrgyzstan.yaml"]


def test_a_regional_file_that_no_longer_loads_counts_every_input_as_changed(tmp_path):
    summary, folder = _summary_on_copy(tmp_path)
    (folder / "central_asia.yaml").write_text("countries: 3\n", encoding="utf-8")
    recorded = yaml.safe_load(summary.read_text(encoding="utf-8"))["inputs_sha256"]
    assert changed_inputs(summary) == list(recorded)


def test_a_summary_without_the_record_compares_nothing(tmp_path):
    summary = tmp_path / "regional_posterior.yaml"
    summary.write_text(yaml.safe_dump({"draws": 1}), encoding="utf-8")
    assert changed_inputs(summary) == [] and changed_inputs(tmp_path / "absent.yaml") == []


def test_a_regional_run_with_the_posterior_on_changed_inputs_says_so(tmp_path, monkeypatch, capsys):
    summary, folder = _summary_on_copy(tmp_path)
    region = folder / "central_asia.yaml"
    region.write_text(region.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    monkeypatch.setattr(regional_calibration, "SUMMARY", summary)
    args = ["run", str(region), "--replicates", "1"]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "note: central_asia.yaml changed since the regional posterior was computed" in out
    assert main([*args, "--params", "scenario", "--out", str(tmp_path / "own")]) == 0
    assert "note:" not in capsys.readouterr().out
    # With the parameters of the committed files, no note.
    assert changed_note(None, "run with --params scenario") is None


def test_a_regional_experiment_on_changed_inputs_says_so_before_it_runs(tmp_path, monkeypatch):
    from experiments.regional_experiment import describe_regional, load_regional_experiment

    summary, folder = _summary_on_copy(tmp_path)
    region = folder / "central_asia.yaml"
    region.write_text(region.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    monkeypatch.setattr(regional_calibration, "SUMMARY", summary)
    path = sorted((REPO / "experiments" / "regional").glob("*.yaml"))[0]
    spec, regions = load_regional_experiment(path, 1)
    text = describe_regional(path, spec, regions)
    assert spec.params == "posterior"
    assert text.splitlines()[-1].startswith("note: central_asia.yaml changed since")
    assert text.endswith("or set params: scenario in the file")
