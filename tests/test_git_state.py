"""Whether the working tree held uncommitted changes (``experiments.git_state``).

A manifest's ``git_commit`` cites the code that made a table only if the tree held that
commit: every manifest or record that names the commit says whether it did
(``git_dirty``). Tracked files count, staged or not; untracked outputs never do.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from test_experiment import write_experiment
from test_regional import REGIONAL

import experiments.git_state as git_state
from calibration.targets import DEFAULT_TARGETS
from experiments import experiment, regional_runs, runs, sensitivity_outputs
from experiments.paired import RunStats
from model import load_scenario
from model.regional_files import load_region

REPO = Path(__file__).resolve().parents[1]
KYRGYZSTAN = REPO / "scenarios" / "kyrgyzstan.yaml"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Path:
    """A project checkout of one commit (a model file, .gitignore naming out/) as ROOT."""
    root = tmp_path / "project"
    (root / "model").mkdir(parents=True)
    (root / "model" / "rules.py").write_text("RATE = 1\n")
    (root / ".gitignore").write_text("out/\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "one")
    monkeypatch.setattr(git_state, "ROOT", root)
    return root


def test_a_clean_checkout_is_not_dirty_and_names_its_commit(checkout):
    assert git_state.git_dirty() is False
    assert git_state.git_commit() == _git(checkout, "rev-parse", "HEAD")


def test_untracked_outputs_ignored_or_not_leave_the_tree_clean(checkout):
    # A run's own outputs would otherwise make the next run's manifest dirty.
    (checkout / "out" / "kg").mkdir(parents=True)
    (checkout / "out" / "kg" / "timeseries.csv").write_text("year\n")
    (checkout / "results").mkdir()
    (checkout / "results" / "manifest.json").write_text("{}")
    assert git_state.git_dirty() is False


@pytest.mark.parametrize("staged", [False, True])
def test_an_edited_tracked_file_makes_the_tree_dirty(checkout, staged):
    (checkout / "model" / "rules.py").write_text("RATE = 2\n")
    if staged:
        _git(checkout, "add", "model/rules.py")
    assert git_state.git_dirty() is True


def test_a_deleted_tracked_file_makes_the_tree_dirty(checkout):
    (checkout / "model" / "rules.py").unlink()
    assert git_state.git_dirty() is True


def test_outside_a_checkout_both_are_unknown(tmp_path, monkeypatch):
    plain = tmp_path / "archive"
    plain.mkdir()
    # git must not find a checkout above the folder (the tests' own, say).
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setattr(git_state, "ROOT", plain)
    assert git_state.git_dirty() is None
    assert git_state.git_commit() is None


def test_every_manifest_that_names_the_commit_says_whether_the_tree_was_dirty(checkout, tmp_path):
    # The manifests named a commit that did not make their tables when the code was edited.
    (checkout / "model" / "rules.py").write_text("RATE = 2\n")
    commit = _git(checkout, "rev-parse", "HEAD")
    scenario = load_scenario(KYRGYZSTAN)
    region = load_region(REGIONAL)
    file = write_experiment(tmp_path / "tiny.yaml", params="scenario")
    loaded = experiment.load_experiment(file)
    records = {
        "run": runs.build_manifest(KYRGYZSTAN, scenario, [1], 0.5),
        "compare": runs.compare_record(DEFAULT_TARGETS),
        "regional run": regional_runs.regional_manifest(region, [1], 0.5, [{}], "file values"),
        "experiment": experiment.build_manifest(
            loaded, RunStats([], 0, 0, 0.5, "1 local process(es)"), None
        ),
        "sensitivity": sensitivity_outputs.build_manifest(
            method="morris",
            samples=2,
            replicates=1,
            seed=1,
            scenario_path=KYRGYZSTAN,
            scenario=scenario,
            problem={"names": ["funding_rate"], "bounds": [[20, 40]], "dists": ["unif"]},
            source="priors",
            posterior=None,
            priors=REPO / "calibration" / "priors.yaml",
            workers=1,
            scheduler=None,
        ),
    }
    for name, record in records.items():
        assert (record["git_commit"], record["git_dirty"]) == (commit, True), name
