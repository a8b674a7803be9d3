"""The Python API refuses what would run wrongly, in one exception naming the field.

Found by a probe of the API as a notebook user meets it (session 35): a scenario changed
past its checks, a misspelt parameter mode, a model stepped past its end, a numpy
Generator as the seed, a ``Path`` in an experiment built from a dict; and what the
command line prints of a run and a comparison.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from calibration.posterior import draw_posterior
from cli.main import main
from experiments.experiment import experiment_from_mapping
from experiments.regional_runs import regional_replicate_params
from experiments.run_params import replicate_params
from experiments.runs import run_replicates
from model import NGOModel, ScenarioError, simulate
from model.levers import apply_levers

REPO = Path(__file__).resolve().parents[1]
KYRGYZSTAN = REPO / "scenarios" / "kyrgyzstan.yaml"


def _with_civic_rate(scenario, value):
    behaviour = scenario.behaviour
    rate = behaviour.civic_rate.model_copy(update={"value": value})
    return scenario.model_copy(
        update={"behaviour": behaviour.model_copy(update={"civic_rate": rate})}
    )


@pytest.mark.parametrize(
    "change, expected",
    [
        # A NaN rate gave a register of 0 on the calibration path, without a word.
        (lambda s: _with_civic_rate(s, float("nan")), "behaviour.civic_rate.value: Input should"),
        (lambda s: _with_civic_rate(s, -5.0), "behaviour: civic_rate = -5 is outside"),
        (lambda s: s.model_copy(update={"end_year": 1980}), "end_year 1980 is before"),
    ],
)
@pytest.mark.parametrize("agents", [False, True])
def test_a_scenario_changed_past_its_checks_is_checked_before_it_runs(
    scenarios, change, expected, agents
):
    with pytest.raises(ScenarioError, match="^scenario: ") as refused:
        simulate(change(scenarios["kyrgyzstan"]), seed=3, agents=agents)
    assert expected in str(refused.value)


def test_an_unchanged_copy_runs_as_the_scenario_does(scenarios):
    scenario = scenarios["kyrgyzstan"].with_params({"civic_rate": 12.0})
    copy = scenario.model_copy()
    for agents in (False, True):
        a = simulate(scenario, seed=5, agents=agents)
        assert a.equals(simulate(copy, seed=5, agents=agents))


@pytest.mark.parametrize(
    "args, expected",
    [
        # A misspelt mode ran the posterior median.
        (("posteriour", 2, 1), "params: 'posteriour' is none of auto, median, posterior"),
        (("posterior", 2, -1), "seed: must be a whole number from 0"),
        (("posterior", 2.5, 1), "replicates: must be a whole number from 1"),
    ],
)
def test_replicate_params_names_a_bad_mode_seed_or_count(args, expected):
    with pytest.raises(ScenarioError, match=expected):
        replicate_params(*args)


@pytest.mark.parametrize("draw", [replicate_params, regional_replicate_params])
def test_each_replicate_of_the_median_has_its_own_values(draw):
    params, _ = draw("median", 3, 1)
    assert params[0] == params[2]
    params[0]["civic_rate"] = -1.0  # a caller's change to one replicate's set
    assert params[1]["civic_rate"] != -1.0 and params[2]["civic_rate"] != -1.0


def test_fewer_parameter_sets_than_replicates_is_named(scenarios):
    with pytest.raises(ScenarioError, match="params: 1 parameter sets for 2 replicates"):
        run_replicates(scenarios["kyrgyzstan"], 1, 2, [{}])


def test_a_model_that_has_run_its_years_takes_no_further_step(scenarios):
    model = NGOModel(scenarios["kyrgyzstan"], rng=7, agents=False)
    years = scenarios["kyrgyzstan"].end_year - scenarios["kyrgyzstan"].start_year + 1
    model.run_for(years)
    assert not model.running
    # Mesa's run_for does not stop at ``running``: the rows after 2023 were made up.
    with pytest.raises(ValueError, match="would step past 2023, where the scenario ends"):
        model.run_for(2)
    assert model.results().year.max() == 2023


def test_a_generator_as_the_seed_is_named_as_rng(scenarios):
    with pytest.raises(ValueError, match="^rng: must be a whole number"):
        NGOModel(scenarios["kyrgyzstan"], rng=np.random.default_rng(3))
    with pytest.raises(ValueError, match="^seed: must be a whole number"):
        simulate(scenarios["kyrgyzstan"], seed=-1, agents=True)


def test_names_and_scenarios_of_another_type_are_named(scenarios):
    with pytest.raises(ScenarioError, match="params: 1: a parameter's name is text"):
        scenarios["kyrgyzstan"].with_params({1: 2.0})
    with pytest.raises(TypeError, match="scenario must be a Scenario, got dict"):
        apply_levers({"a": 1})


def test_an_experiment_from_a_dict_takes_paths(tmp_path):
    spec = {
        "name": "paths",
        "baseline": KYRGYZSTAN,
        "counterfactuals": [
            {
                "name": "no-2010-shock",
                "scenario": REPO / "scenarios" / "counterfactuals" / "kg_no_2010_shock.yaml",
                "question": "What did the 2010 shock cost?",
            }
        ],
        "outputs": ["registered"],
        "key_years": [2012],
        "end_year": 2012,
        "params": "scenario",
        "draws": 1,
        "replicates": 1,
        "seed": 1,
    }
    experiment = experiment_from_mapping(tmp_path / "nb.ipynb", spec)
    assert experiment.baseline.country == "kyrgyzstan"


def test_a_run_says_what_its_file_changes_and_compare_names_each_folder(
    tmp_path, capsys, monkeypatch
):
    no_shock = REPO / "scenarios" / "counterfactuals" / "kg_no_2010_shock.yaml"
    monkeypatch.chdir(tmp_path)
    assert main(["compare", str(KYRGYZSTAN), str(no_shock), "--replicates", "1"]) == 0
    out = capsys.readouterr().out
    assert "changes from kyrgyzstan.yaml: state.shocks[Second revolution and Osh conflict]" in out
    for folder in ("kyrgyzstan", "kg_no_2010_shock"):
        # Each table headed by its folder and the parameters its runs used.
        assert f"\n{Path('out') / folder}: 1 replicate(s), " in out


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_a_closed_pipe_ends_the_command_without_a_traceback(tmp_path, unbuffered):
    command = [sys.executable, "-m", "cli.main", "run", str(KYRGYZSTAN), "--replicates", "1"]
    command += ["--out", str(tmp_path / "out"), "--params", "scenario"]
    # Buffered (a user's usual case) the printout meets the pipe only when flushed; with
    # PYTHONUNBUFFERED at each print. The reader is gone before the command writes
    # anything: `| head -c 1` raced (a short printout can reach the pipe whole before
    # head exits, and then nothing is broken).
    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}  # empty: not set
    reading, writing = os.pipe()
    os.close(reading)
    try:
        done = subprocess.run(
            command,
            stdout=writing,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
            timeout=300,
        )
    finally:
        os.close(writing)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode == 141  # what a shell reports for a command its reader left
    assert (tmp_path / "out" / "timeseries.csv").exists()


@pytest.mark.parametrize("workers", [0, -1, 1.5, "2", True])
def test_a_worker_count_that_is_not_a_whole_number_from_1_is_named(scenarios, workers):
    # 0 and -1 ran in this process without a word; 1.5 and "2" failed inside multiprocessing.
    with pytest.raises(ScenarioError, match=r"^workers: must be a whole number from 1 to 256"):
        run_replicates(scenarios["kyrgyzstan"], 1, 2, workers=workers)


@pytest.mark.parametrize(
    ("n", "seed", "name"), [(-1, 1, "n"), (2.5, 1, "n"), (0, 1, "n"), (2, "x", "seed")]
)
def test_draw_posterior_names_a_bad_count_or_seed(n, seed, name):
    # numpy's "negative dimensions are not allowed" and the like, or [] for 0 draws.
    with pytest.raises(ScenarioError, match=rf"^{name}: must be a whole number"):
        draw_posterior(n, seed)


@pytest.mark.parametrize(
    ("values", "weights", "q", "name"),
    [
        ([1.0, 2.0], [1.0, 1.0], 1.5, "q"),
        ([1.0, 2.0], [1.0, 1.0], -0.1, "q"),
        ([], [], 0.5, "values"),
        ([1.0, np.nan], [1.0, 1.0], 0.5, "values"),
        ([1.0, 2.0], [1.0], 0.5, "weights"),
        ([1.0, 2.0], [0.0, 0.0], 0.5, "weights"),
        ([1.0, 2.0], [1.0, -1.0], 0.5, "weights"),
    ],
)
def test_weighted_quantile_names_what_gives_no_quantile(values, weights, q, name):
    # A q outside 0-1 came back as an end value, no weight or an empty list as nan.
    from calibration.posterior import weighted_quantile

    with pytest.raises(ScenarioError, match=rf"^{name}: "):
        weighted_quantile(np.array(values), np.array(weights), q)
    assert weighted_quantile(np.array([1.0, 2.0, 3.0]), np.ones(3), 0.5) == 2.0


def test_a_posterior_table_from_python_is_checked_as_a_file_is():
    # A table without weights failed with a KeyError, one with a nan gave nan summaries.
    import pandas as pd

    from calibration.posterior import posterior_summary

    with pytest.raises(ScenarioError, match=r"^posterior: weight: a posterior needs"):
        posterior_summary(pd.DataFrame({"civic_rate": [1.0, 2.0]}))
    with pytest.raises(ScenarioError, match=r"^posterior: civic_rate: row 1 is not a finite"):
        draw_posterior(2, 1, pd.DataFrame({"civic_rate": [1.0, np.nan], "weight": [1.0, 1.0]}))
    summary = posterior_summary(pd.DataFrame({"civic_rate": [1.0, 3.0], "weight": [1.0, 1.0]}))
    assert summary.loc[0, "median"] == 2.0


def test_load_scenario_names_a_path_that_is_not_a_file_name():
    from model.scenario import load_scenario

    with pytest.raises(ScenarioError, match=r"^path: must be a file name, got NoneType"):
        load_scenario(None)


def test_the_regional_model_takes_what_simulate_takes_and_names_the_rest(repo):
    # numpy seeds failed inside Mesa, a file name with an AttributeError, a sequence
    # with an internal value, and a country file read as a misspelt "countries:".
    from model.regional import simulate_region
    from model.regional_files import load_region

    region = load_region(repo / "scenarios" / "central_asia.yaml")
    one = simulate_region(region, seed=np.int64(1)).results()
    assert one.equals(simulate_region(repo / "scenarios" / "central_asia.yaml", seed=1).results())
    with pytest.raises(ValueError, match=r"^seed: a run's seed is one whole number"):
        simulate_region(region, seed=(1, 2))
    with pytest.raises(ValueError, match=r"^seed: must be a whole number"):
        simulate_region(region, seed=-1)
    with pytest.raises(ScenarioError, match="a country's scenario file, not a regional one"):
        load_region(repo / "scenarios" / "kyrgyzstan.yaml")


def test_a_fractional_initial_register_is_refused(scenarios):
    # 1.5 NGOs ran as 1 and 0.9 as none, without a word.
    with pytest.raises(ScenarioError, match="initial_registered must be a whole number of NGOs"):
        scenarios["kyrgyzstan"].with_params({"initial_registered": 1.5})
    assert scenarios["kyrgyzstan"].with_params({"initial_registered": 2}).initial_registered
