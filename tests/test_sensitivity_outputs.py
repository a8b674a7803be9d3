"""What ``ngo-abm sensitivity`` leaves in its folder (found by a tester in session 32).

The folder's ``manifest.json`` holds what reproduces the numbers (seed, sample size,
replicates, input files and their hashes, model code, backend) and is written last and
removed first; every JSON file parses strictly (no bare NaN with one replicate); and a
sensitivity folder and the other commands' folders are told apart, each refusing the
other's with one line and exit status 2, writing nothing. One small Morris analysis (2
trajectories of the three parameters of a posterior made here, one replicate) is shared.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_bad_input import run_cli
from test_sensitivity import KYRGYZSTAN, write_posterior

from experiments.git_state import git_dirty
from experiments.output_paths import outputs_kind
from experiments.runs import file_sha256
from experiments.sensitivity import run_sensitivity
from model import load_scenario
from model.code import model_fingerprint

MORRIS = ["sensitivity", "--method", "morris", "--samples", "2", "--scenario", str(KYRGYZSTAN)]
OTHER_OUTPUTS = {
    "run": {"scenario_file": "s.yaml", "country": "kyrgyzstan"},
    "experiment": {"experiment_file": "e.yaml", "runs_run": 4},
    "regional experiment": {"experiment_file": "e.yaml"},
}


@pytest.fixture(scope="module")
def analysis(tmp_path_factory) -> tuple[Path, Path]:
    """Run the small Morris analysis once; return its folder and the posterior it used."""
    root = tmp_path_factory.mktemp("sensitivity")
    posterior = write_posterior(root / "posterior.parquet")
    folder = root / "morris"
    argv = [*MORRIS, "--replicates", "1", "--seed", "5", "--posterior", str(posterior)]
    status, _, err = run_cli([*argv, "--out", str(folder)])
    assert status == 0, err
    return folder, posterior


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def _strict(text: str):
    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_the_manifest_holds_what_reproduces_the_analysis(analysis):
    # the set-up held no seed, sample size, replicates, input hashes or model hash
    folder, posterior = analysis
    manifest = _manifest(folder)
    assert manifest["sensitivity_method"] == "morris"
    assert (manifest["samples"], manifest["replicates"], manifest["seed"]) == (2, 1, 5)
    assert manifest["scenario_file"] == str(KYRGYZSTAN)
    assert manifest["scenario_file_sha256"] == file_sha256(KYRGYZSTAN)
    assert manifest["scenario_resolved_sha256"] == load_scenario(KYRGYZSTAN).fingerprint()
    assert set(manifest["parameters"]) == {
        "funding_rate",
        "report_enforcement",
        "kyrgyzstan.donor_budget_scale",
    }
    low, high = manifest["parameters"]["funding_rate"]["range"]
    assert 20 <= low < high <= 40
    assert manifest["params_source"] == "posterior"
    assert manifest["posterior_file"] == str(posterior)
    assert manifest["posterior_sha256"] == file_sha256(posterior)
    assert manifest["model_code_sha256"] == model_fingerprint(regional=False)
    assert (manifest["backend"], manifest["workers"], manifest["scheduler"]) == (
        "1 local process(es)",
        1,
        None,
    )
    assert manifest["packages"]["SALib"] and "git_commit" in manifest
    assert manifest["git_dirty"] == git_dirty()
    assert manifest["wall_seconds"] > 0 and manifest["created"]
    assert outputs_kind(folder) == "sensitivity analysis"
    # written last: no output is newer than the manifest
    written = (folder / "manifest.json").stat().st_mtime_ns
    assert all((folder / name).stat().st_mtime_ns <= written for name in manifest["outputs"])


def test_every_json_parses_strictly_with_one_replicate(analysis):
    # the noise share with one replicate was written as a bare NaN
    folder, _ = analysis
    for path in folder.glob("*.json"):
        _strict(path.read_text(encoding="utf-8"))
    setup = _strict((folder / "sensitivity_morris.json").read_text(encoding="utf-8"))
    assert set(setup["replicate_noise_share"].values()) == {None}
    # The set-up names the commit, so it says whether the tree held more, as the manifest.
    assert setup["git_dirty"] == git_dirty()


def test_a_rewrite_with_another_seed_leaves_a_manifest_of_the_new_run(analysis, tmp_path):
    # two seeds gave set-ups differing only in their wall time
    folder = tmp_path / "rewritten"
    shutil.copytree(analysis[0], folder)
    argv = [*MORRIS, "--replicates", "2", "--seed", "6", "--posterior", str(analysis[1])]
    status, _, err = run_cli([*argv, "--out", str(folder)])
    assert status == 0, err
    first, second = _manifest(analysis[0]), _manifest(folder)
    assert (second["seed"], second["replicates"]) == (6, 2)
    assert first["seed"] == 5 and first["created"] <= second["created"]
    setup = _strict((folder / "sensitivity_morris.json").read_text(encoding="utf-8"))
    assert all(isinstance(v, float) for v in setup["replicate_noise_share"].values())


def test_an_interrupted_rewrite_leaves_no_manifest(analysis, tmp_path, monkeypatch):
    # the old manifest would describe the earlier numbers beside half-written new ones
    folder = tmp_path / "interrupted"
    shutil.copytree(analysis[0], folder)

    def interrupted(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr("experiments.sensitivity_outputs.save_figure", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sensitivity(
            method="morris", samples=2, replicates=1, scenario_path=KYRGYZSTAN,
            posterior=analysis[1], out=folder, seed=7, emit=lambda _: None,
        )  # fmt: skip
    assert not (folder / "manifest.json").exists()
    assert outputs_kind(folder) is None


@pytest.mark.parametrize("kind", OTHER_OUTPUTS)
def test_sensitivity_refuses_another_commands_folder(kind, analysis, tmp_path):
    # it wrote its tables beside a run's or an experiment's under their manifest
    folder = tmp_path / kind.replace(" ", "_")
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(OTHER_OUTPUTS[kind]))
    (folder / "summary.csv").write_text("x\n")
    before = _contents(folder)
    argv = [*MORRIS, "--replicates", "1", "--posterior", str(analysis[1])]
    status, out, err = run_cli([*argv, "--out", str(folder)])
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    article = "an" if kind[0] in "aeiou" else "a"
    assert f"{folder}: --out: holds {article} {kind}'s outputs" in err
    assert "Traceback" not in err and _contents(folder) == before


COMMANDS = {
    "run": ["run", "scenarios/kyrgyzstan.yaml", "--replicates", "1"],
    "experiment": ["experiment", "experiments/kyrgyzstan_counterfactuals.yaml"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_run_and_experiment_refuse_a_sensitivity_folder(command, analysis, repo, monkeypatch):
    monkeypatch.chdir(repo)
    folder = analysis[0]
    before = _contents(folder)
    status, _, err = run_cli([*COMMANDS[command], "--out", str(folder)])
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{folder}: --out: holds a sensitivity analysis's outputs" in err
    assert _contents(folder) == before


def test_the_other_method_is_refused_before_any_run(analysis, tmp_path):
    # one manifest describes one analysis: Sobol beside Morris would leave Morris undescribed
    folder = analysis[0]
    before = _contents(folder)
    argv = ["sensitivity", "--method", "sobol", "--samples", "2", "--replicates", "1"]
    argv += ["--scenario", str(KYRGYZSTAN), "--posterior", str(analysis[1])]
    status, out, err = run_cli([*argv, "--out", str(folder)])
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "holds a Morris analysis's outputs" in err and not out
    assert _contents(folder) == before
