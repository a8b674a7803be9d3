"""Tests of an experiment's bad input, its levers and its runs in memory.

One-line errors for a bad experiment file, counterfactual, posterior, scheduler or lever
(experiments/spec.py, cli/experiment.py), the levers of a file against ``apply_levers``
(model/levers.py), and runs kept in memory against the stored ones. The design and the
storage are tested in test_experiment.py.
"""

from __future__ import annotations

import inspect
import os
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from cli_helpers import unusable_out_folders
from test_experiment import COUNTERFACTUALS, SCENARIOS, write_experiment, write_posterior
from test_reliability import assert_one_line

import calibration.scheduler as scheduler
from cli.main import main
from experiments.experiment import (
    BASELINE,
    Levers,
    build_chunks,
    collect_runs,
    experiment_from_mapping,
    load_experiment,
    parameter_sets,
    run_experiment,
)
from experiments.storage import load_results
from model import ScenarioError
from model.levers import apply_levers


@pytest.fixture
def posterior(tmp_path) -> Path:
    return write_posterior(tmp_path / "posterior.parquet")


# ------------------------------------------------------------------ bad input


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fails_in_one_line(capsys, argv, out: Path, *expected: str) -> None:
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    for text in expected:
        assert text in err
    assert not out.exists()


def test_unknown_scenario_field_in_a_counterfactual(tmp_path, posterior, capsys):
    bad = tmp_path / "bad_cf.yaml"
    bad.write_text(
        f"extends: {SCENARIOS / 'kyrgyzstan.yaml'}\nstate:\n  grant_budget_locl: {{}}\n",
        encoding="utf-8",
    )
    cf = [{"name": "bad", "scenario": str(bad), "question": "A misspelt field?"}]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", "bad_cf.yaml", "grant_budget_locl")


def test_a_missing_scenario_is_named_with_the_field_that_names_it(tmp_path, posterior, capsys):
    missing = tmp_path / "nowhere.yaml"
    cf = [{"name": "gone", "scenario": str(missing), "question": "A file that is not there?"}]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    expected = f"e.yaml: counterfactuals[gone].scenario: {missing}: file not found"
    _fails_in_one_line(capsys, argv, tmp_path / "out", expected)
    file = write_experiment(tmp_path / "e.yaml", baseline=str(missing))
    _fails_in_one_line(capsys, argv, tmp_path / "out", f"e.yaml: baseline: {missing}: file not")


def test_unknown_output(tmp_path, posterior, capsys):
    file = write_experiment(tmp_path / "e.yaml", outputs=["registered", "registerd"])
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", "e.yaml: outputs", "'registerd'")


def test_a_name_too_long_for_a_file_name_is_refused_before_any_run(tmp_path, posterior, capsys):
    # a 235-character name ran every model run, then failed writing its fan chart
    cf = {
        "name": "a" * 101,
        "scenario": str(COUNTERFACTUALS / "kg_no_2010_shock.yaml"),
        "question": "What did the 2010 shock cost?",
    }
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=[cf])
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", "counterfactuals.0.name", "at most 100")


def test_zero_draws_in_the_file_or_on_the_command_line(tmp_path, posterior, capsys):
    file = write_experiment(tmp_path / "e.yaml", draws=0)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", "e.yaml: draws")
    file = write_experiment(tmp_path / "e.yaml")
    argv = ["experiment", str(file), "--posterior", str(posterior), "--draws", "0"]
    _fails_in_one_line(capsys, argv, tmp_path / "out", "--draws: must be from 1 to 100,000, got 0")


def test_the_files_own_draws_are_checked_where_the_command_line_replaces_them(
    tmp_path, posterior, capsys
):
    for draws in (-3, True, "5"):
        file = write_experiment(tmp_path / "e.yaml", draws=draws)
        argv = ["experiment", str(file), "--posterior", str(posterior), "--draws", "1"]
        _fails_in_one_line(capsys, argv, tmp_path / "out", "e.yaml: draws")


@pytest.mark.parametrize(
    "field, value", [("seed", "5"), ("replicates", True), ("key_years", ["2010"])]
)
def test_a_value_of_another_type_is_refused_not_converted(
    tmp_path, posterior, capsys, field, value
):
    file = write_experiment(tmp_path / "e.yaml", **{field: value})
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", f"e.yaml: {field}", "valid integer")


def test_a_cut_year_without_a_depth_is_named_not_run_as_no_change(tmp_path, posterior, capsys):
    cf = {
        "name": "cut",
        "scenario": str(SCENARIOS / "kyrgyzstan.yaml"),
        "question": "What if foreign money were cut from 2015?",
        "levers": {"foreign_cut_year": 2015},
    }
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=[cf])
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    listed = "foreign_cut_year needs a foreign_cut_depth above 0"
    _fails_in_one_line(
        capsys, argv, tmp_path / "out", "e.yaml: counterfactuals[cut].levers", listed
    )


def test_a_misspelled_output_is_named_with_the_outputs_there_are(tmp_path, posterior, capsys):
    file = write_experiment(tmp_path / "e.yaml", outputs=["income_foriegn_usd"])
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    listed = "unknown output 'income_foriegn_usd'; outputs: registered, new_registrations"
    _fails_in_one_line(capsys, argv, tmp_path / "out", "e.yaml: outputs", listed)


def test_a_file_too_big_to_run_can_be_run_smaller_from_the_command_line(tmp_path):
    file = write_experiment(tmp_path / "e.yaml", draws=50_000, replicates=50)
    with pytest.raises(ScenarioError, match="runs"):
        load_experiment(file)
    assert load_experiment(file, draws=4).spec.draws == 4


def test_unreachable_scheduler(tmp_path, posterior, capsys, monkeypatch):
    monkeypatch.setattr(scheduler, "HANDSHAKE_SECONDS", 2.0)
    file = write_experiment(tmp_path / "e.yaml")
    address = f"tcp://127.0.0.1:{_free_port()}"
    argv = ["experiment", str(file), "--posterior", str(posterior), "--scheduler", address]
    _fails_in_one_line(capsys, argv, tmp_path / "out", address, "cannot reach the dask scheduler")


def test_missing_posterior(tmp_path, capsys):
    file = write_experiment(tmp_path / "e.yaml")
    missing = tmp_path / "posterior.parquet"
    argv = ["experiment", str(file), "--posterior", str(missing)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", str(missing), "--params scenario")


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda f: f.assign(bogus=1.0), ": bogus: unknown parameter"),
        (lambda f: f.assign(civic_rate=f.civic_rate.where(f.index != 4)), ": civic_rate: row 4 is"),
        (lambda f: f.assign(civic_rate=f.civic_rate.where(f.index != 4, -5.0)), "civic_rate = -5"),
    ],
    ids=["unknown", "nan", "out-of-range"],
)
def test_a_bad_posterior_is_named_before_any_run(tmp_path, posterior, capsys, change, expected):
    # any particle, not only the first draw: a later one failed inside a worker
    bad = tmp_path / "bad.parquet"
    change(pd.read_parquet(posterior)).to_parquet(bad)
    file = write_experiment(tmp_path / "e.yaml", draws=50)
    argv = ["experiment", str(file), "--posterior", str(bad)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", f"{bad}: ", expected)


def test_a_posterior_that_is_a_folder_is_named_as_one(tmp_path, posterior, capsys):
    # pandas would read a folder of Parquet files as one table.
    folder = tmp_path / "draws"
    folder.mkdir()
    pd.read_parquet(posterior).to_parquet(folder / "part.parquet")
    file = write_experiment(tmp_path / "e.yaml")
    argv = ["experiment", str(file), "--posterior", str(folder)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", f"{folder}: is a folder, not a file")


def test_a_baseline_or_counterfactual_that_is_a_folder_names_the_field(tmp_path, capsys):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    file = write_experiment(tmp_path / "e.yaml", baseline=str(folder))
    argv = ["experiment", str(file), "--dry-run"]
    _fails_in_one_line(capsys, argv, tmp_path / "out", "e.yaml: baseline: ", "is a folder")
    cf = [{"name": "dir", "scenario": str(folder), "question": "What if it were a folder?"}]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    where = "e.yaml: counterfactuals[dir].scenario: "
    _fails_in_one_line(capsys, argv, tmp_path / "out", where, "is a folder")


@pytest.mark.parametrize("name", ["", "   "])
def test_a_blank_experiment_name_is_refused(tmp_path, capsys, name):
    # It heads the printout and the summary, which began with a bare space.
    file = write_experiment(tmp_path / "e.yaml", name=name)
    argv = ["experiment", str(file), "--dry-run"]
    _fails_in_one_line(capsys, argv, tmp_path / "out", "e.yaml: name: ", "at least 1 character")


def test_counterfactual_of_another_country(tmp_path, posterior, capsys):
    cf = [
        {
            "name": "kz",
            "scenario": str(COUNTERFACTUALS / "kz_no_decision_253.yaml"),
            "question": "Pairs a Kazakh scenario with a Kyrgyz baseline?",
        }
    ]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", "counterfactuals[kz].scenario", "country")


def test_counterfactual_that_changes_behaviour_or_nothing(tmp_path, posterior, capsys):
    behaviour = tmp_path / "behaviour_cf.yaml"
    behaviour.write_text(
        f"extends: {SCENARIOS / 'kyrgyzstan.yaml'}\ndonor_budget_scale: "
        "{value: 2, source: 'not a policy input'}\n",
        encoding="utf-8",
    )
    same = tmp_path / "same_cf.yaml"
    same.write_text(f"extends: {SCENARIOS / 'kyrgyzstan.yaml'}\nname: same\n", encoding="utf-8")
    for path, message in ((behaviour, "the posterior's draws replace"), (same, "changes nothing")):
        cf = [{"name": "x", "scenario": str(path), "question": "Is this a counterfactual?"}]
        file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
        argv = ["experiment", str(file), "--posterior", str(posterior)]
        _fails_in_one_line(capsys, argv, tmp_path / "out", message)


def test_dry_run_checks_the_posterior(tmp_path, capsys):
    file = write_experiment(tmp_path / "e.yaml")
    missing = tmp_path / "posterior.parquet"
    for dry in (["--dry-run"], []):
        argv = ["experiment", str(file), *dry, "--posterior", str(missing)]
        assert main([*argv, "--out", str(tmp_path / "out")]) == 2
        out, err = capsys.readouterr()
        # The one line, and no description of the runs before it (session 39).
        assert out == "" and err.count("\n") == 1, (out, err)
        assert f"{missing}: --posterior: file not found; or drop --posterior and pass" in err


def test_dry_run_writes_nothing(tmp_path, posterior, capsys):
    file = write_experiment(tmp_path / "e.yaml")
    out = tmp_path / "out"
    argv = ["experiment", str(file), "--dry-run", "--out", str(out)]
    assert main(argv) == 0
    assert "state.shocks[Second revolution and Osh conflict] removed" in capsys.readouterr().out
    assert not out.exists()
    assert not os.path.exists(tmp_path / "runs")


def test_dry_run_checks_the_out_folder_as_the_run_would(tmp_path, posterior, capsys):
    file = write_experiment(tmp_path / "e.yaml")
    for out, message in unusable_out_folders(tmp_path):
        argv = ["experiment", str(file), "--dry-run", "--posterior", str(posterior)]
        assert main([*argv, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and message in err, err


# ------------------------------------------------------------------ levers and memory runs


def test_levers_act_after_the_drawn_parameters(tmp_path, posterior):
    cf = [
        {
            "name": "more-donors",
            "scenario": str(SCENARIOS / "kyrgyzstan.yaml"),
            "question": "What if donors gave half as much again?",
            "levers": {"donor_budget_scale": 1.5},
        }
    ]
    experiment = load_experiment(write_experiment(tmp_path / "e.yaml", counterfactuals=cf))
    assert experiment.changes["more-donors"] == ["levers: donor_budget_scale.value"]
    params = parameter_sets(experiment, posterior)
    chunks = build_chunks(experiment, params)
    for draw, chunk in enumerate(c for c in chunks if c.scenario == "more-donors"):
        [task] = chunk.tasks
        drawn = params[draw]["kyrgyzstan.donor_budget_scale"]
        assert task.params == {}
        assert task.scenario.donor_budget_scale.value == pytest.approx(1.5 * drawn)
    base = [c for c in chunks if c.scenario == BASELINE]
    assert {c.key for c in base}.isdisjoint(c.key for c in chunks if c.scenario != BASELINE)


def test_a_lever_out_of_range_is_one_line_naming_it(tmp_path, posterior, capsys):
    cf = [
        {
            "name": "cut",
            "scenario": str(SCENARIOS / "kyrgyzstan.yaml"),
            "question": "What if foreign funding were cut?",
            "levers": {"foreign_cut_year": 2012, "foreign_cut_depth": 1.5},
        }
    ]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(
        capsys, argv, tmp_path / "out", "counterfactuals[cut].levers.foreign_cut_depth"
    )


@pytest.mark.parametrize(
    "levers, field",
    [
        ({"state_grant_scale": float("nan")}, "counterfactuals[more].levers.state_grant_scale"),
        ({"state_grant_scale": 1e308}, "counterfactuals[more].levers.state_grant_scale: must be"),
    ],
)
def test_a_lever_that_is_not_finite_or_overflows_is_one_line(
    tmp_path, posterior, capsys, levers, field
):
    cf = [
        {
            "name": "more",
            "scenario": str(SCENARIOS / "kyrgyzstan.yaml"),
            "question": "What if the state gave much more?",
            "levers": levers,
        }
    ]
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=cf)
    argv = ["experiment", str(file), "--posterior", str(posterior)]
    _fails_in_one_line(capsys, argv, tmp_path / "out", field)


def test_runs_in_memory_equal_the_stored_runs(tmp_path, posterior):
    experiment = load_experiment(write_experiment(tmp_path / "tiny.yaml"))
    stats = run_experiment(experiment, tmp_path / "out", posterior=posterior)
    seen = []
    in_memory = collect_runs(experiment, posterior, on_progress=lambda *p: seen.append(p))
    pd.testing.assert_frame_equal(in_memory, load_results(tmp_path / "out", stats.chunks))
    assert seen == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]


def test_the_levers_of_a_file_are_those_of_apply_levers():
    keywords = [
        name
        for name, p in inspect.signature(apply_levers).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    assert list(Levers.model_fields) == keywords
    defaults = {n: p.default for n, p in inspect.signature(apply_levers).parameters.items()}
    assert {n: defaults[n] for n in keywords} == Levers().model_dump()


def test_numpy_numbers_and_tuples_from_python_are_taken_as_yaml_gives_them(tmp_path):
    # a notebook's np.int64 draws or a tuple of key years was "not a valid integer/list"
    file = write_experiment(tmp_path / "e.yaml")
    assert load_experiment(file, draws=np.int64(3)).spec.draws == 3
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    for years in (np.arange(2010, 2013), tuple(np.arange(2010, 2013))):
        numpy_data = {**data, "key_years": years, "seed": np.uint32(11)}
        built = experiment_from_mapping(tmp_path / "nb.ipynb", numpy_data)
        assert built.spec.key_years == [2010, 2011, 2012] and built.spec.seed == 11
    with pytest.raises(ScenarioError, match="draws: Input should be a valid integer"):
        load_experiment(file, draws=np.float64(3.0))


def test_a_run_count_over_the_bound_names_the_command_lines_part_in_it(tmp_path):
    # The file asks for 1 x 1; the command line's draws and replicates make the count.
    file = write_experiment(tmp_path / "e.yaml", draws=1, replicates=1)
    argv = ["experiment", file, "--draws", 100_000, "--replicates", 100, "--out", tmp_path / "o"]
    line = assert_one_line(argv, "at most 1,000,000 (with --draws 100000, --replicates 100)")
    assert line.startswith(f"ngo-abm: error: {file}: ")
    # Only the count's factors, and only on the count: --params is no factor of it, and
    # an error of the file's own is the file's.
    big = write_experiment(tmp_path / "big.yaml", draws=100_000, replicates=100)
    line = assert_one_line(["experiment", big, "--params", "scenario", "--out", tmp_path / "o"])
    assert line.endswith("at most 1,000,000")
    bad = write_experiment(tmp_path / "bad.yaml", mechanisms=3)
    line = assert_one_line(["experiment", bad, "--draws", 5, "--out", tmp_path / "o"], "mechanisms")
    assert "(with" not in line
