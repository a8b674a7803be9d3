"""The calibration path (``model.fastpath``) against the numpy reference: the same tables.

``CompiledRun`` runs the model without Mesa agents, its years in one compiled call
(``model.year_loop``), with the State's and Donors' decisions on plain numbers. Whatever
it runs (country, seed, counterfactual, parameter set, a run stopped at checkpoints, NGOs
removed in mid-run), its table and its NGOs must be those of ``NGOModel`` on the numpy
rules, bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibration.priors import load_priors
from model import NGOModel, ScenarioError, load_scenario
from model.fastpath import CompiledRun, run_compiled, run_many
from model.population import DEREGISTERED, DORMANT, OPERATING
from model.rng import KeyedStreams
from model.timeline import Timeline

ROOT = Path(__file__).resolve().parent.parent
COUNTRIES = ("kyrgyzstan", "kazakhstan", "uzbekistan")
COUNTERFACTUALS = sorted((ROOT / "scenarios" / "counterfactuals").glob("*.yaml"))
# Founding for money without crowding, absorption or competition: the register runs away.
RUNAWAY = {
    "funding_rate": 1e4,
    "crowding_usd": 1,
    "donor_budget_scale": 1e3,
    "legitimation": 0,
    "competition_density": 1e6,
    "donor_absorption": 0,
}


def scenario(name):
    return load_scenario(ROOT / "scenarios" / f"{name}.yaml")


def reference(scenario, seed):
    model = NGOModel(scenario, rng=seed, agents=False, engine="numpy")
    model.run_for(scenario.end_year - scenario.start_year + 1)
    return model.results()


def assert_identical(expected, actual):
    """Assert two run tables are equal to the last bit, dtypes included (NaN equal to NaN)."""
    assert list(expected.columns) == list(actual.columns)
    assert list(expected.dtypes) == list(actual.dtypes)
    for column in expected.columns:
        a, b = expected[column].to_numpy(), actual[column].to_numpy()
        assert np.array_equal(a, b, equal_nan=True), column


@pytest.mark.parametrize("country", COUNTRIES)
@pytest.mark.parametrize("seed", [2, 77])
def test_the_calibration_path_gives_the_numpy_table(country, seed):
    assert_identical(reference(scenario(country), seed), run_compiled(scenario(country), seed))


@pytest.mark.parametrize("path", COUNTERFACTUALS, ids=lambda p: p.stem)
def test_counterfactuals_give_the_numpy_table(path):
    counterfactual = load_scenario(path)
    assert_identical(reference(counterfactual, 9), run_compiled(counterfactual, 9))


@pytest.mark.parametrize("quantile", [0.02, 0.5, 0.98])
def test_prior_parameter_sets_give_the_numpy_table(quantile):
    """Parameters at the priors' edges reach branches the baseline never does."""
    values = {name: float(spec.quantiles(quantile)) for name, spec in load_priors().items()}
    compared = 0
    for country in COUNTRIES:
        varied = scenario(country).with_params(values)
        try:
            expected = reference(varied, 13)
        except ScenarioError:  # a runaway register: refused by both
            with pytest.raises(ScenarioError):
                run_compiled(varied, 13)
            continue
        assert_identical(expected, run_compiled(varied, 13))
        compared += 1
    assert compared  # a set whose every run is refused compares no table


def test_a_run_stopped_at_checkpoints_collects_the_same_columns():
    kg = scenario("kyrgyzstan")
    whole, stopped = CompiledRun(kg, 4), CompiledRun(kg, 4)
    whole.run_for(kg.end_year - kg.start_year + 1)
    for year in (1995, 2003, 2004, kg.end_year):
        stopped.run_for(year - stopped.year)
        assert stopped.columns["year"][-1] == year
    assert_identical(whole.results(), stopped.results())
    with pytest.raises(ValueError, match="^year: the scenario ends in 2023"):
        stopped.step()


@pytest.mark.parametrize("years", [2.5, -1, True, "3", 24])
def test_run_for_refuses_what_is_no_whole_number_of_years_left_before_running(years):
    # as NGOModel.run_for; at 2000, 24 years (one more than are left) ran the 23 to 2023
    # and only then refused
    kg = scenario("kyrgyzstan")
    run = CompiledRun(kg, 4)
    run.run_for(2000 - run.year)
    with pytest.raises(ValueError, match="^years: "):
        run.run_for(years)
    assert run.year == 2000 and run.columns["year"][-1] == 2000
    run.run_for(kg.end_year - run.year)
    assert_identical(run_compiled(kg, 4), run.results())


@pytest.mark.parametrize("country", ["kyrgyzstan", "uzbekistan"])
def test_removing_ngos_mid_run_gives_the_numpy_ngos(country):
    """The common-random-numbers experiment of ``tests/test_rng.py`` on the calibration path.

    The numpy rules draw by (seed, decision, year, NGO id) (``tests/test_rng.py``); the
    calibration path gives the same NGOs after the same removals, so it draws the same.
    Uzbekistan's State founds NGOs of its own from 2005.
    """
    kg = scenario(country)
    numpy_model = NGOModel(kg, rng=21, agents=False, engine="numpy")
    fast = CompiledRun(kg, 21)
    for run in (numpy_model, fast):
        run.run_for(2002 - run.year)
    status = numpy_model.population.view("status")
    victims = np.concatenate(
        [np.flatnonzero(status == OPERATING)[:3], np.flatnonzero(status == DORMANT)[:3]]
    )
    assert victims.size == 6
    for run in (numpy_model, fast):
        run.population.status[victims] = DEREGISTERED
        run.run_for(2007 - run.year)
    assert_identical(numpy_model.results(), fast.results())
    names = ("ngo_id", "status", "capacity", "reserves", "streak", "active", "reported")
    for name in (*names, "sector", "state_founded"):
        assert np.array_equal(numpy_model.population.view(name), fast.population.view(name))
    if country == "uzbekistan":
        assert fast.population.view("state_founded").any()


def test_a_batch_gives_each_run_s_table():
    kg, uz = scenario("kyrgyzstan"), scenario("uzbekistan")
    runaway = kg.with_params(RUNAWAY)
    tasks = [(kg, 3), (uz, 5), (runaway, 1), (kg, 8)]
    tables = run_many(tasks)
    assert tables[2] is None
    for (task_scenario, seed), table in zip(tasks, tables, strict=True):
        if table is not None:
            assert_identical(reference(task_scenario, seed), table)


def test_the_timeline_reads_what_the_agents_read():
    kz = scenario("kazakhstan")
    model = NGOModel(kz, rng=1, agents=False, engine="numpy")
    line = Timeline(kz, model.behaviour)
    for t, year in enumerate(range(kz.start_year, kz.end_year + 1)):
        model.state.apply_policy(year)
        assert line.burden[t] == model.state.burden
        assert line.state_founding[t] == model.state.founding
        assert line.instability[t] == model.state.instability
        assert line.to_usd[t] == model.local_to_constant_usd(year)
        assert line.to_nominal[t] == model.constant_to_nominal_usd(year)
        assert line.grant_mean[t] == kz.state.grant_mean_local.at(year)
        for d, donor in enumerate(model.donors):
            assert line.donor_path[d][t] == donor.path_usd(year)


def test_year_keys_are_the_streams_keys():
    streams = KeyedStreams(123)
    years = np.arange(1985, 2030)
    expected = [streams.key("volunteer", int(y)) for y in years]
    assert np.array_equal(KeyedStreams(123).keys("volunteer", years), expected)


def test_a_runaway_register_stops_as_the_model_does():
    kg = scenario("kyrgyzstan").with_params(RUNAWAY)
    years = kg.end_year - kg.start_year + 1
    with pytest.raises(ScenarioError) as expected:
        NGOModel(kg, rng=3, agents=False, engine="numpy").run_for(years)
    run = CompiledRun(kg, 3)
    with pytest.raises(ScenarioError) as actual:
        run.run_for(years)
    assert str(actual.value) == str(expected.value)
    assert run.columns["year"] == list(range(kg.start_year, run.year + 1))
