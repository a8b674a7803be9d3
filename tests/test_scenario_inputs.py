"""The country inputs a posterior was fitted to: recorded, compared, and said when edited."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from calibration import simulator
from calibration.abc import fingerprint
from calibration.posterior import DEFAULT_POSTERIOR
from calibration.priors import load_priors
from calibration.scenario_inputs import (
    KEY,
    changed_countries,
    changed_note,
    current_inputs,
    recorded_inputs,
    summary_path,
)
from calibration.targets import load_targets
from cli.main import main
from model import load_scenario

REPO = Path(__file__).resolve().parents[1]
SUMMARIES = [REPO / "calibration" / n for n in ("calibrated.yaml", "holdout_calibrated.yaml")]


@pytest.mark.parametrize("summary", SUMMARIES, ids=lambda p: p.name)
def test_the_committed_posteriors_were_fitted_to_the_committed_inputs(summary):
    # An input changes only with a recalibration (scenarios/CHANGELOG.md): a number edited
    # in a country file without one fails here.
    assert recorded_inputs(summary) == current_inputs()


def _copy_scenarios(tmp_path: Path) -> Path:
    folder = tmp_path / "scenarios"
    shutil.copytree(REPO / "scenarios", folder)
    return folder


def test_the_inputs_fingerprint_reads_numbers_and_not_sources(tmp_path):
    folder = _copy_scenarios(tmp_path)
    path = folder / "kyrgyzstan.yaml"
    before = load_scenario(path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("National Statistical Committee", "NSC"), encoding="utf-8")
    reworded = load_scenario(path)
    assert reworded.fingerprint() != before.fingerprint()
    assert reworded.inputs_fingerprint() == before.inputs_fingerprint()
    path.write_text(text.replace("{1991: 4.45,", "{1991: 4.46,"), encoding="utf-8")
    assert load_scenario(path).inputs_fingerprint() != before.inputs_fingerprint()


def test_a_reworded_source_keeps_the_calibrations_key_and_a_number_does_not(tmp_path):
    # The key of the reference tables and of an ABC database (calibration.abc.fingerprint).
    path = _copy_scenarios(tmp_path) / "kyrgyzstan.yaml"
    text = path.read_text(encoding="utf-8")
    targets, priors = load_targets(), load_priors()

    def key() -> str:
        files = {**simulator.SCENARIO_FILES, "kyrgyzstan": path}
        return fingerprint(priors, targets, simulator.Simulator(targets, priors, files))

    before = key()
    assert "National Statistical Committee" in text and "{1991: 4.45," in text
    path.write_text(text.replace("National Statistical Committee", "NSC"), encoding="utf-8")
    assert key() == before
    path.write_text(text.replace("{1991: 4.45,", "{1991: 4.46,"), encoding="utf-8")
    assert key() != before


def _edited_in_place(tmp_path: Path, monkeypatch, old: str, new: str) -> Path:
    """Return a copy of the Kyrgyz file with ``old`` replaced, standing for the committed one."""
    edited = _copy_scenarios(tmp_path) / "kyrgyzstan.yaml"
    text = edited.read_text(encoding="utf-8")
    assert old in text
    edited.write_text(text.replace(old, new), encoding="utf-8")
    monkeypatch.setitem(simulator.SCENARIO_FILES, "kyrgyzstan", edited)
    return edited


def test_a_committed_file_edited_in_place_is_named_in_a_note(tmp_path, monkeypatch):
    _edited_in_place(tmp_path, monkeypatch, "{1991: 4.45,", "{1991: 4.46,")
    summary = DEFAULT_POSTERIOR.with_name("calibrated.yaml")
    assert changed_countries(summary) == ["kyrgyzstan"]
    assert changed_note(DEFAULT_POSTERIOR, ("kazakhstan",)) is None
    note = changed_note(DEFAULT_POSTERIOR, ("kyrgyzstan",))
    assert note.startswith("note: the inputs of kyrgyzstan.yaml are not those the posterior")
    assert f"{KEY} in its summary" in note


def test_a_run_with_the_posterior_on_an_edited_file_says_so(tmp_path, monkeypatch, capsys):
    edited = _edited_in_place(tmp_path, monkeypatch, "end_year: 2023", "end_year: 1995")
    status = main(["run", str(edited), "--out", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert status == 0 and "note: the inputs of kyrgyzstan.yaml are not those" in out
    status = main(["run", str(edited), "--params", "scenario", "--out", str(tmp_path / "own")])
    assert status == 0 and "note:" not in capsys.readouterr().out


def test_a_summary_without_the_record_compares_nothing(tmp_path):
    summary = tmp_path / "calibrated.yaml"
    summary.write_text(yaml.safe_dump({"method": "npe"}), encoding="utf-8")
    assert recorded_inputs(summary) == {} and changed_countries(summary) == []
    assert recorded_inputs(tmp_path / "absent.yaml") == {}


@pytest.mark.parametrize(
    ("posterior", "written", "found"),
    [
        ("posterior.parquet", "calibrated.yaml", "calibrated.yaml"),
        ("holdout_posterior.parquet", "holdout_calibrated.yaml", "holdout_calibrated.yaml"),
        ("scratch_posterior.parquet", "scratch_calibrated.yaml", "scratch_calibrated.yaml"),
        ("mine.parquet", "mine.yaml", "mine.yaml"),
        ("x_posterior.parquet", "x_posterior.yaml", "x_posterior.yaml"),
    ],
)
def test_the_summary_is_found_where_calibrate_writes_it(tmp_path, posterior, written, found):
    # `calibrate --posterior X.parquet` writes X.yaml; the committed posteriors and `--db`
    # write <stem>calibrated.yaml (cli.calibrate.posterior_paths).
    (tmp_path / written).write_text(yaml.safe_dump({KEY: {}}), encoding="utf-8")
    assert summary_path(tmp_path / posterior) == tmp_path / found
