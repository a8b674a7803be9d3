"""``ngo-abm run``: the run folder it writes, its manifest and its table.

Mutated scenarios, which must run or stop cleanly, are ``tests/test_mutated_scenarios.py``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run_cli

import experiments.runs
from calibration.posterior import DEFAULT_POSTERIOR
from model import OUTPUT_COLUMNS, simulate
from model.code import model_fingerprint

RUN_FILES = {"timeseries.csv", "manifest.json", "timeseries.png"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_a_run_removes_the_outputs_it_makes_stale_and_keeps_the_users_files(
    scenario_file, tmp_path
):
    stale = ("compare.csv", "compare.png", "unfitted.csv", "ties.csv", "network.csv")
    reused, users = tmp_path / "reused", tmp_path / "users"
    for out in (reused, users):
        out.mkdir()
        for name in (*stale, "network.png", "notes.txt"):
            (out / name).write_text("from a run that is gone")
    (reused / "manifest.json").write_text("{}")  # an earlier run's folder
    for out in (reused, users):
        status, _, err = run_cli(["run", str(scenario_file("uzbekistan")), "--out", str(out)])
        assert status == 0, err
    assert {p.name for p in reused.iterdir()} == RUN_FILES | {"notes.txt"}
    # A folder no run wrote before: files of the same names are the user's and stay.
    assert {p.name for p in users.iterdir()} == RUN_FILES | {*stale, "network.png", "notes.txt"}


def test_run_writes_the_three_files_and_says_so(kg_run_folder):
    out, stdout = kg_run_folder
    assert {p.name for p in out.iterdir()} == RUN_FILES  # no temporary files left behind
    assert (out / "timeseries.png").read_bytes()[:8] == PNG_MAGIC
    for name in RUN_FILES:
        assert str(out / name) in stdout
    assert "Kyrgyzstan" in stdout and "2 replicate(s)" in stdout


def test_run_table_has_the_output_columns_and_each_replicates_years(kg_run_folder, scenarios):
    out, _ = kg_run_folder
    table = pd.read_csv(out / "timeseries.csv")
    assert list(table.columns) == ["replicate", *OUTPUT_COLUMNS]
    kg = scenarios["kyrgyzstan"]
    years = list(range(kg.start_year, kg.end_year + 1))
    assert table.replicate.tolist() == [0] * len(years) + [1] * len(years)
    for replicate, seed in ((0, 1), (1, 2)):
        rows = table[table.replicate == replicate].drop(columns="replicate")
        expected = simulate(kg, seed=seed)
        pd.testing.assert_frame_equal(
            rows.reset_index(drop=True), expected, check_dtype=False, check_exact=True
        )


def test_manifest_records_what_is_needed_to_reproduce_the_run(kg_run_folder, scenario_file):
    out, _ = kg_run_folder
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    source = scenario_file("kyrgyzstan")
    assert manifest["scenario_file_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert manifest["seeds"] == [1, 2]
    assert manifest["replicates"] == 2
    assert manifest["country"] == "kyrgyzstan"
    packages = manifest["packages"]
    for name in ("mesa", "numpy", "pandas"):
        assert packages[name] == metadata.version(name)
    assert re.fullmatch(r"\d+\.\d+\.\d+", packages["python"])
    # In a checkout of the project the commit is known: that one; outside one (a release's
    # archive), none.
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True
    )
    assert manifest["git_commit"] == (head.stdout.strip() if head.returncode == 0 else None)
    # The commit did not make the run if a tracked file was edited: the manifest says so.
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
    )
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    assert manifest["git_dirty"] == dirty
    assert isinstance(manifest["wall_seconds"], float) and manifest["wall_seconds"] > 0
    # The commit does not tell an edited model: the code's own hash does.
    assert manifest["model_code_sha256"] == model_fingerprint(regional=False)
    assert manifest["posterior_file"] is None and manifest["posterior_sha256"] is None


def test_a_run_from_the_posterior_records_the_posterior_file_and_its_hash(scenario_file, tmp_path):
    out = tmp_path / "run"
    argv = ["run", str(scenario_file("uzbekistan")), "--params", "median", "--out", str(out)]
    status, _, err = run_cli(argv)
    assert status == 0, err
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["posterior_file"] == str(DEFAULT_POSTERIOR)
    # Only the parameters that apply to the run's country (a draw holds every country's).
    names = set(manifest["params"][0])
    assert "uzbekistan.donor_budget_scale" in names
    assert not any(n.startswith(("kazakhstan.", "kyrgyzstan.")) for n in names)
    assert (
        manifest["posterior_sha256"] == hashlib.sha256(DEFAULT_POSTERIOR.read_bytes()).hexdigest()
    )


def test_an_interrupted_rewrite_of_a_run_folder_leaves_no_manifest(
    kg_run_folder, tmp_path, monkeypatch
):
    # The old manifest would describe seeds and replicates that the new table lacks.
    out = tmp_path / "kg"
    shutil.copytree(kg_run_folder[0], out)
    frame = pd.read_csv(out / "timeseries.csv")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiments.runs, "write_text_atomic", interrupted)
    with pytest.raises(KeyboardInterrupt):
        experiments.runs.write_run(out, frame, manifest)
    assert not (out / "manifest.json").exists()
