"""Python calls that ran on with a wrong input, or failed deep inside with no name.

Found by an audit of the calls the README, the tutorial and docs/experiments.md show
(session 70): a regional model stepped past its last year made up ties; ``run_replicates``
given one parameter set instead of a list failed with ``KeyError: 0``, and given an empty
list ran the scenario's own values; another country's misspelt parameter was dropped in
every run; ``load_region(None)`` raised pathlib's error, naming no argument.
"""

from __future__ import annotations

import pytest

from experiments.runs import run_replicates
from experiments.spec import experiment_from_mapping
from model import ScenarioError
from model.regional import simulate_region
from model.regional_files import load_region


def test_a_regional_model_that_has_run_its_years_takes_no_further_step(repo):
    model = simulate_region(repo / "scenarios" / "central_asia.yaml", seed=3)
    ties = len(model.tie_table())
    with pytest.raises(ValueError, match="^duration: 2 years from 2023 would step past 2023"):
        model.run_for(2)
    with pytest.raises(ValueError, match="^year: the region ends in 2023: no year after it"):
        model.step()
    assert model.year == 2023 and len(model.tie_table()) == ties
    assert model.steps == 2023 - model.region.start_year + 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"civic_rate": 1.0}, "params: must be a list of parameter sets"),
        ([1, 2], "params: must be a list of parameter sets"),
        ("ab", "params: must be a list of parameter sets"),
        ([], "params: 0 parameter sets for 2 replicates"),
    ],
)
def test_run_replicates_names_params_that_are_not_one_set_a_replicate(scenarios, params, message):
    with pytest.raises(ScenarioError, match=f"^{message}"):
        run_replicates(scenarios["kyrgyzstan"], 1, 2, params)


def test_run_replicates_takes_a_tuple_of_sets(scenarios):
    frame, seeds = run_replicates(scenarios["kyrgyzstan"], 1, 2, ({}, {"civic_rate": 20.0}))
    assert sorted(frame.replicate.unique()) == [0, 1] and len(seeds) == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"kazakhstan.civic_rat": 5.0}, "params: kazakhstan.civic_rat: unknown parameter"),
        ({"kazakhstan.civic_rate": "x"}, "params: kazakhstan.civic_rate: must be a number"),
        ({".civic_rate": 5.0}, "params: .civic_rate: unknown country prefix"),
        ({"ruritania.civic_rate": 5.0}, "params: ruritania.civic_rate: unknown country prefix"),
        # NaN was accepted for another country; 10**400 raised Python's bare OverflowError
        (
            {"kazakhstan.civic_rate": float("nan")},
            "params: kazakhstan.civic_rate: must be a finite number, got nan",
        ),
        ({"civic_rate": 10**400}, "params: civic_rate: beyond the largest float"),
    ],
)
def test_another_countrys_parameter_is_checked_though_not_applied(scenarios, params, message):
    with pytest.raises(ScenarioError, match=f"^{message}"):
        scenarios["kyrgyzstan"].with_params(params)


def test_another_countrys_good_parameter_leaves_the_scenario_as_it_was(scenarios):
    kyrgyzstan = scenarios["kyrgyzstan"]
    other = kyrgyzstan.with_params({"kazakhstan.civic_rate": 5.0, "kazakhstan.strike_off_rate": 1})
    assert other.fingerprint() == kyrgyzstan.fingerprint()
    mine = kyrgyzstan.with_params({"kyrgyzstan.civic_rate": 5.0})
    assert mine.behaviour.civic_rate.value == 5.0


@pytest.mark.parametrize("path", [None, b"scenarios/central_asia.yaml", 123])
def test_a_regional_file_that_is_not_a_file_name_is_named_as_path(path):
    with pytest.raises(ScenarioError, match="^path: must be a file name, got "):
        load_region(path)


def test_an_experiment_mapping_without_a_file_name_is_named_as_path():
    with pytest.raises(ScenarioError, match="^path: must be a file name, got NoneType"):
        experiment_from_mapping(None, {})
