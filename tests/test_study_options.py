"""The command line the studies share (experiments/options.py).

Bad input costs one line on stderr naming the option or file, exit status 2, and no
output file; an option's name is given as typed (``--max-draws``, not ``--max_draws``).
A study's CSV has a manifest beside it (``kyrgyzstan.manifest.json``): what reproduces it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest

from experiments import (
    age_hazards,
    density_hazards,
    emulator_check,
    input_screen,
    options,
    run_noise,
    screen,
)
from experiments.git_state import git_commit, git_dirty
from experiments.options import check_bounds, run_study, study_arguments
from experiments.runs import file_sha256, package_versions
from experiments.storage import run_seed
from model import ScenarioError, load_scenario
from model.code import model_fingerprint

KYRGYZSTAN = Path(__file__).resolve().parents[1] / "scenarios" / "kyrgyzstan.yaml"
POSTERIOR = Path(__file__).resolve().parents[1] / "calibration" / "posterior.parquet"

STUDIES = (age_hazards.main, density_hazards.main)


@pytest.mark.parametrize("main", STUDIES)
@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--draws", "0"], "--draws"),
        (["--seed", "-1"], "--seed"),
        (["--workers", "0"], "--workers"),
        (["--scenario", "scenarios/nowhere.yaml"], "nowhere.yaml"),
        (["--out", "scenarios"], "--out"),
    ],
)
def test_bad_options_get_one_line_and_status_2(main, argv, named, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0]


@pytest.mark.parametrize("main", STUDIES)
def test_a_refused_out_file_is_not_written(main, tmp_path):
    out = tmp_path / "table.csv"
    assert main(["--draws", "0", "--out", str(out)]) == 2
    assert not out.exists() and not (tmp_path / "table.manifest.json").exists()


@pytest.mark.parametrize("main", STUDIES)
def test_a_study_writes_a_manifest_beside_its_csv_the_same_on_any_workers(main, tmp_path):
    # make reproduce's age and density tables had no record of their seed, posterior,
    # commit or versions.
    out = tmp_path / "kyrgyzstan.csv"
    argv = ["--scenario", str(KYRGYZSTAN), "--draws", "1", "--seed", "3", "--out", str(out)]
    assert main([*argv, "--workers", "1"]) == 0
    path = tmp_path / "kyrgyzstan.manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    assert manifest["study"] == main.__module__
    assert (manifest["table_file"], manifest["table_sha256"]) == (out.name, file_sha256(out))
    assert manifest["scenario_file"] == str(KYRGYZSTAN)
    assert manifest["scenario_file_sha256"] == file_sha256(KYRGYZSTAN)
    assert manifest["scenario_resolved_sha256"] == load_scenario(KYRGYZSTAN).fingerprint()
    assert (manifest["draws"], manifest["seed"], manifest["seeds"]) == (1, 3, [run_seed(3, 0, 0)])
    assert manifest["posterior_file"] == str(POSTERIOR)
    assert manifest["posterior_sha256"] == file_sha256(POSTERIOR)
    assert manifest["model_code_sha256"] == model_fingerprint(regional=False)
    assert manifest["packages"] == package_versions()
    assert (manifest["git_commit"], manifest["git_dirty"]) == (git_commit(), git_dirty())
    # Nothing that depends on the workers or the clock: a rerun's manifest is the same.
    first = (out.read_bytes(), path.read_bytes())
    assert main([*argv, "--workers", "2"]) == 0
    assert (out.read_bytes(), path.read_bytes()) == first


def test_a_folder_named_as_the_manifest_is_refused_before_the_study_runs(tmp_path, capsys):
    (tmp_path / "kyrgyzstan.manifest.json").mkdir()
    out = tmp_path / "kyrgyzstan.csv"

    def study(*_):
        raise AssertionError("the study ran")

    assert run_study("prog", ["--scenario", str(KYRGYZSTAN), "--out", str(out)], study) is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0] and "kyrgyzstan.manifest.json" in err[0]
    assert not out.exists()


def test_a_rewrite_stopped_at_its_csv_leaves_no_manifest_of_the_earlier_table(
    tmp_path, monkeypatch
):
    out = tmp_path / "kyrgyzstan.csv"
    argv = ["--scenario", str(KYRGYZSTAN), "--out", str(out)]
    assert run_study("prog", argv, lambda *_: pd.DataFrame({"a": [1]})) is not None
    assert (tmp_path / "kyrgyzstan.manifest.json").exists()
    written = options.write_text_atomic

    def stop_at_the_table(path, text):
        if Path(path) == out:
            raise KeyboardInterrupt
        return written(path, text)

    monkeypatch.setattr(options, "write_text_atomic", stop_at_the_table)
    with pytest.raises(KeyboardInterrupt):
        run_study("prog", argv, lambda *_: pd.DataFrame({"a": [2]}))
    assert not (tmp_path / "kyrgyzstan.manifest.json").exists()


def test_an_option_is_named_as_typed():
    args = argparse.Namespace(max_draws=0)
    with pytest.raises(ScenarioError, match="--max-draws"):
        check_bounds(args, {"max_draws": (1, None)})
    check_bounds(argparse.Namespace(max_draws=5), {"max_draws": (1, 10)})


@pytest.mark.parametrize("main", STUDIES)
def test_an_option_that_is_not_a_number_is_one_line_too(main, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--draws", "abc"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--draws" in err[0] and "abc" in err[0]


@pytest.mark.parametrize(
    ("main", "option"),
    [
        (screen.main, "--trajectories"),
        (input_screen.main, "--draws"),
        (run_noise.main, "--rows"),
        (emulator_check.main, "--truths"),
    ],
)
def test_every_study_parses_in_one_line(main, option, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([option, "abc"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and option in err[0]


def test_a_studys_option_is_its_whole_name(capsys):
    # argparse took --dra for --draws, as ngo-abm's own parser did (cli.arguments).
    assert study_arguments("study", ["--draws", "3"]).draws == 3
    with pytest.raises(SystemExit) as stopped:
        study_arguments("study", ["--dra", "3"])
    assert stopped.value.code == 2
    assert "unrecognized arguments: --dra 3" in capsys.readouterr().err
