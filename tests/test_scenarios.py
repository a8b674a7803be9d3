"""Whole runs of the three committed scenarios at 1:1 scale, and their determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model import COUNTRIES, OUTPUT_COLUMNS, NGOModel, simulate
from model.agents import NGO, Donor, State
from model.population import STATUS_NAMES
from model.series import Series

SHARES = [c for c in OUTPUT_COLUMNS if c.startswith("share_")]
COUNTS = ["registered", "new_registrations", "deregistered", "operational", "reporting"]


@pytest.fixture(params=COUNTRIES)
def run(request, baseline_runs):
    return baseline_runs[request.param]


def test_output_has_exactly_the_output_columns_in_order(run):
    assert list(run.frame.columns) == list(OUTPUT_COLUMNS)


def test_one_row_per_year_from_start_to_end(run):
    years = list(range(run.scenario.start_year, run.scenario.end_year + 1))
    assert run.frame.year.tolist() == years
    assert run.model.year == run.scenario.end_year
    assert not run.model.running


def test_every_registered_ngo_is_one_mesa_agent(run):
    model = run.model
    ngo_agents = model.agents_by_type[NGO]
    assert len(ngo_agents) == run.frame.registered.iloc[-1]
    # The agent count after each year equals that year's register.
    assert run.ngo_agents == run.frame.registered.tolist()
    # Agents are visible through model.agents next to the state and the donors.
    assert len(model.agents) == len(ngo_agents) + 1 + len(run.scenario.donors)
    assert len(model.agents_by_type[State]) == 1
    assert len(model.agents_by_type[Donor]) == len(run.scenario.donors)
    # One row per NGO ever registered; the struck-off ones are no longer agents.
    assert model.population.size == len(model.ngos)
    assert model.population.size == (
        run.scenario.initial_registered.value + run.frame.new_registrations.sum()
    )
    assert {a.status for a in ngo_agents} <= {"operating", "dormant"}
    ids = ngo_agents.get("ngo_id")
    assert len(set(ids)) == len(ids)


def test_agents_read_their_own_population_row(run):
    pop = run.model.population
    for agent in list(run.model.agents_by_type[NGO])[::97]:
        row = agent.row
        assert agent.ngo_id == int(pop.ngo_id[row])
        assert agent.founding_year == int(pop.founded[row]) == agent.ngo_id // 1_000_000
        assert agent.status == STATUS_NAMES[pop.status[row]]
        assert agent.capacity == pop.capacity[row]
        assert sum(agent.income.values()) == pytest.approx(pop.total_income()[row])


def test_the_agents_that_were_active_are_the_years_operational_count(run):
    # 'operating' is funded; the table's operational counts any activity (agent.active).
    agents = run.model.agents_by_type[NGO]
    assert sum(a.active for a in agents) == run.frame.operational.iloc[-1]
    assert sum(a.status == "operating" for a in agents) == run.frame.funded.iloc[-1]
    assert run.frame.operational.iloc[-1] > run.frame.funded.iloc[-1]


def test_a_run_without_agents_gives_the_same_output(run):
    model = NGOModel(run.scenario, rng=1, agents=False)
    model.run_for(run.scenario.end_year - run.scenario.start_year + 1)
    assert len(model.agents_by_type.get(NGO, ())) == 0
    pd.testing.assert_frame_equal(model.results(), run.frame)


def test_register_is_the_running_sum_of_registrations_and_removals(run):
    frame = run.frame
    previous = np.concatenate(
        [[run.scenario.initial_registered.value], frame.registered.to_numpy()[:-1]]
    )
    expected = previous + frame.new_registrations - frame.deregistered
    np.testing.assert_array_equal(frame.registered, expected)


def test_counts_are_nested_and_non_negative(run):
    frame = run.frame
    assert (frame[COUNTS] >= 0).all().all()
    assert (frame.registered >= frame.operational).all()
    assert (frame.operational >= frame.reporting).all()
    assert (frame.operational >= frame.long_active).all()
    assert (frame.registered.iloc[-1]) > 0


def test_shares_are_within_the_unit_interval(run):
    shares = run.frame[SHARES]
    assert shares.notna().all().all()
    assert ((shares >= 0) & (shares <= 1)).all().all()


def test_money_columns_are_non_negative_and_donors_counted(run):
    frame = run.frame
    money = ["income_foreign_usd", "income_state_usd", "income_domestic_usd"]
    assert (frame[money] >= 0).all().all()
    assert (frame[["state_grants_local", "state_prizes_local"]] >= 0).all().all()
    assert frame.donors_active.between(0, len(run.scenario.donors)).all()
    assert frame.income_foreign_usd.max() > 0


def test_kyrgyz_register_far_exceeds_the_operating_sector(baseline_runs):
    run = baseline_runs["kyrgyzstan"]
    last = run.frame.iloc[-1]
    assert last.operational < 0.25 * last.registered
    assert last.reporting < last.operational
    assert max(run.ngo_agents) > 10_000


def test_same_scenario_and_seed_give_the_same_table(scenarios, baseline_runs):
    again = simulate(scenarios["kyrgyzstan"], seed=1)
    pd.testing.assert_frame_equal(again, baseline_runs["kyrgyzstan"].frame, check_exact=True)
    model = NGOModel(scenarios["kyrgyzstan"], rng=1)
    model.run_for(5)
    pd.testing.assert_frame_equal(model.results(), again.iloc[:5], check_exact=True)


@pytest.mark.parametrize("country", COUNTRIES)
def test_different_seeds_give_different_runs(scenarios, baseline_runs, country):
    other = simulate(scenarios[country], seed=2)
    base = baseline_runs[country].frame
    assert list(other.columns) == list(base.columns)
    assert (other.year == base.year).all()
    assert not other.registered.equals(base.registered)
    assert not other.operational.equals(base.operational)


SERIES_POINTS = st.dictionaries(
    st.integers(1985, 2030), st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=6
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(points=SERIES_POINTS, year=st.integers(1975, 2040))
def test_linear_series_are_numpys_interpolation_to_the_last_bit(points, year):
    """``Series.at`` does ``numpy.interp``'s arithmetic in Python: the same value, bit for bit."""
    series = Series(points=points, source="test points")
    years = sorted(points)
    expected = float(np.interp(year, years, [points[y] for y in years]))
    assert series.at(year) == expected


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(points=SERIES_POINTS, interpolation=st.sampled_from(["linear", "step"]))
def test_a_series_over_years_is_its_value_in_each(points, interpolation):
    """``Series.over`` (numpy's interpolation over all years at once) is ``at`` year by year."""
    series = Series(points=points, interpolation=interpolation, source="test points")
    years = range(1975, 2041)
    assert series.over(years) == [series.at(year) for year in years]
