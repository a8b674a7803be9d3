"""Targets files and the baselines' anchors edited by hand are read strictly.

Found by a tester editing one field of a copy (each case ran with exit status 0 before):
a lax number, an impossible or degenerate figure, a field the target's kind ignores and a
bad anchor of the curve baselines. Each is one line naming the file and the field, exit
status 2. Run folders edited by hand: ``tests/test_run_table_checks.py``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from cli_helpers import interrupt, one_line, run_cli

from calibration.baselines import BASELINES, baseline_forecasts, load_anchors
from calibration.targets import load_target_file, load_targets, load_unfitted
from model import ScenarioError

CALIBRATION = Path(__file__).resolve().parents[1] / "calibration"
TARGET_FILES = ("targets.yaml", "targets_external.yaml", "input_checks.yaml")


def edited_targets(tmp_path: Path, target_id: str, **changes) -> Path:
    """Write targets.yaml (without its external file) with one target's fields changed."""
    data = yaml.safe_load((CALIBRATION / "targets.yaml").read_text(encoding="utf-8"))
    del data["external"]
    entry = next(t for t in data["targets"] if t["id"] == target_id)
    entry.update(changes)
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def refused_targets(folder: Path, targets: Path, *expected: str) -> None:
    status, _, err = run_cli(["compare", str(folder), "--targets", str(targets)])
    one_line(status, err, "t.yaml", *expected)
    assert not (folder / "compare.csv").exists()


def test_every_committed_targets_file_and_the_anchors_still_load():
    for name in TARGET_FILES:
        assert load_target_file(CALIBRATION / name).targets
    assert load_unfitted(CALIBRATION / "external_unfitted.yaml")
    assert load_anchors(BASELINES)["kyrgyzstan"][0].year == 1991


@pytest.mark.parametrize(
    ("target_id", "changes", "field"),
    [
        ("kg_registered_2000", {"tolerance": True}, "tolerance"),
        ("kg_registered_2000", {"value": True}, "value"),
        ("kg_registered_2000", {"value": "10"}, "value"),
        ("kg_registered_2000", {"year": "2000"}, "year"),
        ("kg_registered_today", {"years": [2022, "2023"]}, "years.1"),
        ("kg_registered_growth_2010_2017", {"base_year": "2010"}, "base_year"),
        ("kg_share_income_foreign_today", {"low": "0.5"}, "low"),
        ("kg_share_income_foreign_today", {"high": False}, "high"),
    ],
)
def test_numbers_in_a_targets_file_are_strict(kg_one_run_copy, tmp_path, target_id, changes, field):
    path = edited_targets(tmp_path, target_id, **changes)
    refused_targets(kg_one_run_copy, path, f"targets.{target_id}.{field}:")


@pytest.mark.parametrize(
    ("target_id", "changes", "message"),
    [
        ("kg_share_income_le_5k_today", {"value": 52}, "value 52 of a share is outside [0, 1]"),
        ("kg_share_income_foreign_today", {"high": 1.5}, "high 1.5 of a share is outside"),
        ("kg_reporting_share_1991_2000", {"value": 31.6}, "of a share is outside [0, 1]"),
        ("kg_registered_2000", {"value": -4966}, "value -4966 is negative"),
        ("kg_registered_growth_2010_2017", {"base_year": 2017}, "base_year is the year itself"),
        ("kg_reporting_share_1991_2000", {"denominator": "reporting"}, "denominator is the column"),
    ],
)
def test_impossible_or_degenerate_targets_are_refused(
    kg_one_run_copy, tmp_path, target_id, changes, message
):
    path = edited_targets(tmp_path, target_id, **changes)
    refused_targets(kg_one_run_copy, path, f"targets.{target_id}:", message)


@pytest.mark.parametrize(
    ("target_id", "changes", "message"),
    [
        ("kg_registered_2000", {"low": 4000}, "a point target gives a value, not low or high"),
        ("kg_reporting_today", {"kind": "at_least", "high": 2000}, "not low or high"),
        (
            "kg_share_income_foreign_today",
            {"value": 0.6},
            "a range gives low and high, not a value",
        ),
        ("kg_registered_2000", {"aggregate": "mean"}, "aggregate goes with years"),
    ],
)
def test_fields_a_target_would_ignore_are_refused(
    kg_one_run_copy, tmp_path, target_id, changes, message
):
    path = edited_targets(tmp_path, target_id, **changes)
    refused_targets(kg_one_run_copy, path, f"targets.{target_id}:", message)


def anchors_file(tmp_path: Path, *entries: dict, version=1) -> Path:
    data = yaml.safe_load(BASELINES.read_text(encoding="utf-8"))
    data["version"] = version
    first = data["anchors"]["kyrgyzstan"][0]
    data["anchors"]["kyrgyzstan"] = [copy.deepcopy(first) | e for e in entries]
    path = tmp_path / "anchors.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("entries", "version", "message"),
    [
        (
            [{"registered": float("inf")}],
            1,
            "anchors.kyrgyzstan.0.registered: Input should be a finite",
        ),
        (
            [{"registered": True}],
            1,
            "anchors.kyrgyzstan.0.registered: Input should be a valid number",
        ),
        (
            [{"registered": "50"}],
            1,
            "anchors.kyrgyzstan.0.registered: Input should be a valid number",
        ),
        ([{"year": "1991"}], 1, "anchors.kyrgyzstan.0.year: Input should be a valid integer"),
        ([{}], True, "version: must be the whole number 1"),
        (
            [{}, {"registered": 60}],
            1,
            "anchors.kyrgyzstan.1.year: 1991 is given already, by anchor 0",
        ),
        ([{}, {"year": 2023}], 1, "anchors.kyrgyzstan.1.year: 2023 is after 2010, the held-back"),
        (
            [{}, {"year": 2000, "registered": 1}],
            1,
            "anchors.kyrgyzstan.1.year: 2000 is given already, by target kg_registered_2000 (4966)",
        ),
    ],
)
def test_bad_anchors_of_the_curve_baselines_are_one_line(tmp_path, entries, version, message):
    path = anchors_file(tmp_path, *entries, version=version)
    targets = load_targets()
    held = [t for t in targets if t.id == "kg_registered_2017"]
    with pytest.raises(ScenarioError) as caught:
        baseline_forecasts(targets, held, 2010, path)
    assert str(caught.value).startswith(f"{path}: {message}")
    assert "\n" not in str(caught.value)


def test_a_ratio_of_two_columns_may_pass_one_where_a_share_may_not(tmp_path):
    # State to foreign income can exceed 1; a part of the register over it cannot.
    ratio = edited_targets(tmp_path, "kg_state_to_foreign_income_today", value=1.5)
    assert load_target_file(ratio).targets
    part = edited_targets(tmp_path, "kg_reporting_share_1991_2000", value=1.5)
    with pytest.raises(ScenarioError, match="of a share is outside"):
        load_target_file(part)


def test_the_report_reads_the_anchors_before_any_run(tmp_path, monkeypatch):
    # The anchors are used at the end of a long report: a bad file is named first.
    import experiments.calibration_report as report

    def bad_anchors(**_):
        raise ScenarioError("baselines.yaml", "anchors", "a test's bad anchors")

    def no_runs(*args, **kwargs):
        raise AssertionError("ran before the anchors were read")

    monkeypatch.setattr(report, "load_anchors", bad_anchors)
    monkeypatch.setattr(report, "predictive_runs", no_runs)
    with pytest.raises(ScenarioError, match="a test's bad anchors"):
        report.write_report(draws=2, workers=1, out=tmp_path / "report")
    assert not (tmp_path / "report").exists()


def test_a_report_stopped_midway_leaves_no_earlier_report_over_its_files(tmp_path, monkeypatch):
    # Its tables were rewritten beside the earlier report.md, which then described them.
    import experiments.calibration_report as report

    out = tmp_path / "report"
    out.mkdir()
    (out / "report.md").write_text("an earlier report\n")

    monkeypatch.setattr(report, "pair_plot", interrupt)
    with pytest.raises(KeyboardInterrupt):
        report.write_report(draws=2, workers=1, out=out)
    assert (out / "coverage.csv").exists() and not (out / "report.md").exists()


def test_run_reads_the_targets_before_any_run_or_removal(kg_one_run, tmp_path, monkeypatch):
    # A bad targets file was found after every run, once the folder's manifest was gone.
    import calibration.targets
    import experiments.runs

    def bad_targets(*_):
        raise ScenarioError("targets.yaml", "targets.0.tolerance", "a test's bad targets")

    def no_runs(*args, **kwargs):
        raise AssertionError("ran before the targets were read")

    earlier = tmp_path / "earlier"
    shutil.copytree(kg_one_run, earlier)
    before = {p.name: p.read_bytes() for p in earlier.iterdir()}
    monkeypatch.setattr(calibration.targets, "load_targets", bad_targets)
    monkeypatch.setattr(experiments.runs, "run_replicates", no_runs)
    scenario = CALIBRATION.parent / "scenarios" / "kyrgyzstan.yaml"
    status, _, err = run_cli(["run", str(scenario), "--out", str(earlier)])
    one_line(status, err, "targets.0.tolerance: a test's bad targets")
    assert {p.name: p.read_bytes() for p in earlier.iterdir()} == before


def test_compare_reads_the_official_counts_before_any_run(tmp_path, monkeypatch):
    import cli.compare
    import experiments.runs

    def bad_counts(*_):
        raise ScenarioError("external_unfitted.yaml", "targets.0.value", "a test's bad count")

    def no_runs(*args, **kwargs):
        raise AssertionError("ran before the official counts were read")

    monkeypatch.setattr(cli.compare, "load_unfitted", bad_counts)
    monkeypatch.setattr(experiments.runs, "run_replicates", no_runs)
    scenario = CALIBRATION.parent / "scenarios" / "kyrgyzstan.yaml"
    out = tmp_path / "out"
    status, _, err = run_cli(["compare", str(scenario), "--out", str(out)])
    one_line(status, err, "targets.0.value: a test's bad count")
    assert not out.exists()


def test_a_missing_external_file_is_named_by_the_field_that_names_it(tmp_path):
    data = yaml.safe_load((CALIBRATION / "targets.yaml").read_text(encoding="utf-8"))
    data["external"] = "nothere.yaml"
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ScenarioError, match="external: nothere.yaml: not found, or not a file"):
        load_target_file(path)


def test_compare_records_the_figure_files_it_compared_against(kg_one_run_copy):
    status, _, err = run_cli(["compare", str(kg_one_run_copy)])
    assert status == 0, err
    record = json.loads((kg_one_run_copy / "compare.json").read_text(encoding="utf-8"))
    names = {Path(f).name: digest for f, digest in record["figure_files"].items()}
    assert set(names) == {"targets.yaml", "targets_external.yaml", "external_unfitted.yaml"}
    for name, digest in names.items():
        assert digest == hashlib.sha256((CALIBRATION / name).read_bytes()).hexdigest()


def test_an_external_name_the_system_refuses_is_one_line(tmp_path):
    data = yaml.safe_load((CALIBRATION / "targets.yaml").read_text(encoding="utf-8"))
    data["external"] = "x" * 300 + ".yaml"  # longer than a file name may be
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ScenarioError, match="external: x+.yaml: not found, or not a file"):
        load_target_file(path)


def test_a_period_that_ends_before_it_starts_is_refused(tmp_path):
    data = yaml.safe_load((CALIBRATION / "targets.yaml").read_text(encoding="utf-8"))
    del data["external"]
    country = next(iter(data["periods"]))
    data["periods"][country][0].update(start=2010, end=2000)
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ScenarioError, match="end 2000 is before start 2010"):
        load_target_file(path)
