"""The State founding NGOs of its own (GONGOs): where, how many, in which fields, kept.

``founding.state_registrations``: in the years a scenario's ``state_founding`` is in
force, the State founds ``state_founding_rate`` NGOs a year per million
people, in the fields it funds, and never strikes them off. The three rule
engines must give the same table with the mechanism on, and a rate of 0 must leave every
run as it was (the pinned tables, ``tests/test_pinned_output.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model import NGOModel, load_scenario
from model.fastpath import run_compiled
from model.founding import state_registrations, state_share
from model.mechanisms import switch_off_params
from model.population import DEREGISTERED, DORMANT
from model.scenario import SECTORS

ROOT = Path(__file__).resolve().parent.parent
RATE = 10.0  # NGOs a year per million people: thousands of GONGOs in a run


def scenario(country, rate=RATE):
    base = load_scenario(ROOT / "scenarios" / f"{country}.yaml")
    return base.with_params({"state_founding_rate": rate})


def run(sc, seed, engine="numpy", agents=False):
    model = NGOModel(sc, rng=seed, agents=agents, engine=engine)
    model.run_for(sc.end_year - sc.start_year + 1)
    return model


def assert_identical(expected, actual):
    assert list(expected.columns) == list(actual.columns)
    for column in expected.columns:
        a, b = expected[column].to_numpy(), actual[column].to_numpy()
        assert np.array_equal(a, b, equal_nan=True), column


def test_the_expected_number_and_the_share_of_the_years_foundings():
    assert state_registrations(10.0, 1.0, 30.5) == pytest.approx(305.0)
    assert state_registrations(10.0, 0.0, 30.5) == 0.0
    assert state_share(300.0, 100.0) == 0.25
    assert state_share(300.0, 0.0) == 0.0


@pytest.mark.parametrize("country", ["uzbekistan", "kazakhstan"])
def test_the_three_engines_give_the_same_table_with_the_state_founding(country):
    sc = scenario(country)
    numpy_table = run(sc, 5).results()
    assert numpy_table["share_state_founded"].max() > 0.02
    assert_identical(numpy_table, run(sc, 5, engine="compiled").results())
    assert_identical(numpy_table, run_compiled(sc, 5))


def test_the_state_founds_only_in_the_years_its_policy_is_in_force():
    uz = run(scenario("uzbekistan"), 3).results().set_index("year")
    assert (uz.loc[:2004, "share_state_founded"] == 0).all()
    assert (uz.loc[2009:, "share_state_founded"] > 0).all()
    kg = run(scenario("kyrgyzstan"), 3).results()
    assert (kg["share_state_founded"] == 0).all()


def test_state_founded_ngos_are_never_struck_off_and_work_in_the_states_fields():
    model = run(scenario("uzbekistan"), 11)
    pop = model.population
    gongo = pop.view("state_founded")
    status = pop.view("status")
    # Strike-offs of inactive NGOs are in force in Uzbekistan from 1999: others go, not these.
    assert (status[~gongo] == DEREGISTERED).sum() > 100
    assert (status[gongo] == DORMANT).sum() > 10
    assert not (status[gongo] == DEREGISTERED).any()
    # The State funds no human-rights NGOs in Uzbekistan, so it founds none.
    weights = model.config.state.grant_priorities.weights
    unfunded = [SECTORS.index(s) for s in SECTORS if weights.get(s, 0) == 0]
    assert "human_rights" not in weights
    assert not np.isin(pop.view("sector")[gongo], unfunded).any()
    assert np.isin(pop.view("sector")[~gongo], unfunded).any()


def test_the_agents_read_their_rows_flag():
    model = run(scenario("uzbekistan"), 4, engine="compiled", agents=True)
    flags = [ngo.state_founded for ngo in model.ngos]
    assert any(flags) and not all(flags)
    assert flags == pop_flags(model)


def pop_flags(model):
    return [bool(model.population.state_founded[ngo.row]) for ngo in model.ngos]


def test_a_higher_rate_founds_more_on_the_same_seed():
    low = run_compiled(scenario("uzbekistan", rate=2.0), 8)
    high = run_compiled(scenario("uzbekistan", rate=20.0), 8)
    assert (high["new_registrations"] >= low["new_registrations"]).all()
    assert high["share_state_founded"].iloc[-1] > low["share_state_founded"].iloc[-1]


def test_switching_the_mechanism_off_gives_the_run_without_it():
    # "Without it" from the data: a State that never founds NGOs, at the scenario's rate.
    on = scenario("uzbekistan")
    data = on.model_dump(mode="python")
    data["state"]["state_founding"] = {"points": {on.start_year: 0.0}, "source": "test: none"}
    without = type(on).model_validate(data)
    off = on.with_params(switch_off_params(["state_founding"]))
    table = run_compiled(off, 6)
    assert (table["share_state_founded"] == 0).all()
    assert_identical(run_compiled(without, 6), table)
    assert run_compiled(on, 6)["share_state_founded"].max() > 0.02
