"""Bad input found by a session's audit of the commands (session 69), each refused in one line.

Before: a file name with a line break broke the one-line error; the file system's root
was accepted as ``--out`` (and the run's files written there); an experiment read the
targets and priors only after all its runs, so a bad one stopped it with the runs'
figures written; a committed posterior with a value outside its parameter's bounds was
reported as ``params:``, without naming the file. Each is now one line with exit status
2, naming the file or option, before any simulation.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import one_line, run_cli
from test_experiment import write_experiment

import experiments.experiment as experiment_module
import experiments.regional_runs as regional_runs
import experiments.run_params as run_params
import experiments.runner as runner
from model import ScenarioError

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if a model run starts (the input must be refused before)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a simulation started before the input was checked")

    monkeypatch.setattr(runner, "simulate", refuse)


@pytest.mark.parametrize(
    ("out", "fragment"),
    [("/", "is the file system's root"), ("/etc/ngo-abm-out", "is under /etc, a system folder")],
)
def test_a_system_folder_is_refused_as_out(no_simulation, out, fragment):
    status, _, err = run_cli(["run", SCENARIOS / "uzbekistan.yaml", "--out", out])
    one_line(status, err, "--out", fragment)
    assert not Path("/timeseries.csv").exists()


@pytest.mark.parametrize("reader", ["load_target_file", "load_priors"])
def test_an_experiment_reads_the_targets_and_priors_before_any_run(
    tmp_path, no_simulation, monkeypatch, reader
):
    def bad(*args, **kwargs):
        raise ScenarioError("calibration/bad.yaml", "tolerance", "must be at most 1")

    monkeypatch.setattr(experiment_module, reader, bad)
    file = write_experiment(tmp_path / "e.yaml", params="posterior")
    out = tmp_path / "out"
    status, _, err = run_cli(["experiment", file, "--out", out])
    one_line(status, err, "calibration/bad.yaml", "tolerance")
    assert not out.exists()


def _bad_posterior(source: Path, folder: Path, column: str, value: float) -> Path:
    frame = pd.read_parquet(source)
    frame[column] = value
    path = folder / f"bad_{source.name}"
    frame.to_parquet(path)
    return path


@pytest.mark.parametrize("params", ["posterior", "median"])
def test_a_posterior_value_out_of_bounds_names_the_posterior(
    tmp_path, no_simulation, monkeypatch, params
):
    bad = _bad_posterior(REPO / "calibration" / "posterior.parquet", tmp_path, "civic_rate", -5.0)
    monkeypatch.setattr(run_params, "DEFAULT_POSTERIOR", bad)
    out = tmp_path / "out"
    argv = ["run", SCENARIOS / "kyrgyzstan.yaml", "--params", params, "--replicates", 2]
    status, _, err = run_cli([*argv, "--out", out])
    one_line(status, err, str(bad), "civic_rate", "outside")
    assert not out.exists()


def test_a_regional_posterior_value_out_of_bounds_names_the_posterior(
    tmp_path, no_simulation, monkeypatch
):
    source = REPO / "calibration" / "regional_posterior.parquet"
    bad = _bad_posterior(source, tmp_path, "tie_decay", -1.0)
    monkeypatch.setattr(regional_runs, "REGIONAL_POSTERIOR", bad)
    out = tmp_path / "out"
    argv = ["run", SCENARIOS / "central_asia.yaml", "--params", "posterior", "--replicates", 2]
    status, _, err = run_cli([*argv, "--out", out])
    one_line(status, err, str(bad), "tie_decay", "outside")
    assert not out.exists()
    experiment = REPO / "experiments" / "regional" / "central_asia_counterfactuals.yaml"
    status, _, err = run_cli(["regional-experiment", experiment, "--dry-run"])
    one_line(status, err, str(bad), "tie_decay", "outside")


def test_a_file_name_with_a_line_break_is_named_on_one_line(tmp_path, no_simulation):
    status, _, err = run_cli(["run", tmp_path / "a\nb.yaml"])
    one_line(status, err, "a\\nb.yaml", "file not found")
    status, _, err = run_cli(["run", SCENARIOS / "uzbekistan.yaml", "--out", "/etc/o\x1b[2Jut"])
    one_line(status, err, "o\\x1b[2Jut", "is under /etc")
    status, _, err = run_cli(["run", SCENARIOS / "uzbekistan.yaml", "bad\narg"])
    one_line(status, err, "unrecognized arguments: bad\\narg")


def test_a_sensitivity_analysis_refuses_a_folder_named_as_its_figure(tmp_path, no_simulation):
    out = tmp_path / "out"
    (out / "sensitivity_morris.png").mkdir(parents=True)
    argv = ["sensitivity", "--method", "morris", "--samples", 2, "--out", out]
    status, _, err = run_cli(argv)
    one_line(status, err, "holds a folder named sensitivity_morris.png")
    assert [p.name for p in out.iterdir()] == ["sensitivity_morris.png"]


def test_compare_of_a_scenario_checks_its_runs_files_before_any_run(tmp_path, no_simulation):
    out = tmp_path / "out"
    (out / "timeseries.png").mkdir(parents=True)
    status, _, err = run_cli(["compare", SCENARIOS / "uzbekistan.yaml", "--out", out])
    one_line(status, err, "holds a folder named timeseries.png")
    assert [p.name for p in out.iterdir()] == ["timeseries.png"]


def test_a_regional_experiment_checks_the_earlier_figures_it_removes(tmp_path, no_simulation):
    # diff_<name>.png of an earlier run's counterfactuals are removed before the new ones
    # are drawn, after the runs: a folder of such a name ended in a traceback there
    out = tmp_path / "out"
    (out / "diff_old.png").mkdir(parents=True)
    experiment = REPO / "experiments" / "regional" / "central_asia_counterfactuals.yaml"
    status, _, err = run_cli(["regional-experiment", experiment, "--out", out])
    one_line(status, err, "holds a folder named diff_old.png")
    assert [p.name for p in out.iterdir()] == ["diff_old.png"]
