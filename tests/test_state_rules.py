"""The State agent's rules, one at a time: its policy, restriction, purges, prizes, grants."""

from __future__ import annotations

import numpy as np
import pytest
from agent_helpers import DISABILITY, pool, scenario_variant, stepped

from model import NGOModel, Scenario
from model.agents import State
from model.scenario import StatePolicy


def policy(scenario: Scenario, **changes) -> StatePolicy:
    data = scenario.state.model_dump(mode="python") | changes
    return StatePolicy.model_validate(data)


def shock(name, year, instability, duration=1, purge=0.0) -> dict:
    return {
        "name": name,
        "year": year,
        "duration_years": duration,
        "instability": instability,
        "purge_dormant_share": purge,
        "source": "test",
    }


@pytest.fixture
def test_state(kz_model):
    scenario = kz_model.config
    return State(
        kz_model,
        policy(
            scenario,
            registration_burden={"points": {2000: 0.2, 2010: 0.4}, "source": "test"},
            grant_budget_local={
                "points": {2000: 100.0, 2010: 200.0},
                "interpolation": "step",
                "source": "test",
            },
            shocks=[shock("A", 2005, 0.3, duration=2, purge=0.1), shock("B", 2006, 0.6)],
        ),
    )


@pytest.mark.parametrize(
    ("year", "burden", "budget"),
    [(1995, 0.2, 100.0), (2005, 0.3, 100.0), (2009, 0.38, 100.0), (2010, 0.4, 200.0)],
)
def test_policy_series_are_interpolated_and_held_outside_their_points(
    test_state, year, burden, budget
):
    test_state.apply_policy(year)
    assert test_state.burden == pytest.approx(burden)
    assert test_state.grant_budget_local == pytest.approx(budget)


@pytest.mark.parametrize(
    ("year", "instability", "purge"),
    [(2004, 0.0, 0.0), (2005, 0.3, 0.1), (2006, 0.6, 0.1), (2007, 0.0, 0.0)],
)
def test_shocks_last_their_duration_and_the_strongest_counts(test_state, year, instability, purge):
    test_state.apply_policy(year)
    assert test_state.instability == pytest.approx(instability)
    assert test_state.purge_share == pytest.approx(purge)


# The State's restriction on foreign funding ----------------------------------------------

REACTIVE = {"state_restriction_reaction": 0.5, "state_threat_memory": 0.5}


def reacting_state(model: NGOModel, **changes) -> State:
    """A State with no documented restriction, one shock in 2005 (0.6) and a neighbour's
    revolution in 2010."""
    model.behaviour.update(REACTIVE | {"state_neighbour_threat": 0.4})
    fields = {
        "foreign_funding_restriction": {"points": {1990: 0.0}, "source": "test"},
        "shocks": [shock("unrest", 2005, 0.6)],
        "neighbour_revolutions": [{"name": "next door", "year": 2010, "source": "test"}],
    }
    return State(model, policy(model.config, **(fields | changes)))


def test_restriction_rises_with_the_foreign_share_under_threat_and_not_without(kz_model):
    restriction = {}
    for share in (0.0, 0.4, 0.8):
        state = reacting_state(kz_model)
        state.apply_policy(2004, foreign_share=share)
        calm = state.restriction
        state.apply_policy(2005, foreign_share=share)
        restriction[share] = state.restriction
        assert calm == 0.0  # no threat: only the documented laws (none here)
    assert restriction[0.0] == 0.0  # no foreign money: nothing to restrict
    assert restriction[0.4] == pytest.approx(0.5 * 0.4 * 0.6)
    assert restriction[0.8] == pytest.approx(0.5 * 0.8 * 0.6)


def test_the_states_threat_fades_at_its_memory(kz_model):
    state = reacting_state(kz_model)
    threats = []
    for year in (2005, 2006, 2007):
        state.apply_policy(year, foreign_share=1.0)
        threats.append(state.threat)
    assert threats == pytest.approx([0.6, 0.3, 0.15])
    assert state.restriction == pytest.approx(0.5 * 0.15)
    kz_model.behaviour["state_threat_memory"] = 0.0
    state.apply_policy(2008, foreign_share=1.0)
    assert state.threat == 0.0 and state.restriction == 0.0


def test_a_neighbours_revolution_is_a_threat_in_its_year(kz_model):
    state = reacting_state(kz_model)
    state.apply_policy(2009, foreign_share=0.5)
    assert state.threat == 0.0
    state.apply_policy(2010, foreign_share=0.5)
    assert state.threat == pytest.approx(0.4)
    assert state.restriction == pytest.approx(0.5 * 0.5 * 0.4)
    quiet = reacting_state(kz_model)
    kz_model.behaviour["state_neighbour_threat"] = 0.0
    quiet.apply_policy(2010, foreign_share=0.5)
    assert quiet.threat == 0.0 and quiet.restriction == 0.0


def test_documented_laws_are_a_floor_the_reaction_can_only_top(kz_model):
    law = {"points": {1990: 0.0, 2005: 0.5}, "interpolation": "step", "source": "test"}
    state = reacting_state(kz_model, foreign_funding_restriction=law)
    state.apply_policy(2005, foreign_share=0.5)  # reaction 0.15: the law holds
    assert state.reactive_restriction == pytest.approx(0.15)
    assert state.restriction == 0.5
    kz_model.behaviour["state_restriction_reaction"] = 2.0
    state.apply_policy(2006, foreign_share=1.0)  # threat 0.3 remembered: reaction 0.6
    assert state.restriction == pytest.approx(0.6)


def test_the_state_sees_last_years_foreign_share_in_a_run(scenarios):
    uz = scenarios["uzbekistan"]
    model = stepped(uz, 2004)
    share_2004 = model.row["share_income_foreign"]
    assert share_2004 > 0
    model.step()  # 2005: Andijan and the Tulip revolution next door
    b, state = model.behaviour, model.state
    assert state.threat == pytest.approx(max(0.7, b["state_neighbour_threat"]))
    assert state.reactive_restriction == pytest.approx(
        b["state_restriction_reaction"] * share_2004 * state.threat
    )


def test_reaction_parameters_at_zero_reproduce_the_exogenous_timelines(scenarios):
    zero = {
        "state_restriction_reaction": 0.0,
        "donor_restriction_cut": 0.0,
        "donor_instability_cut": 0.0,
        "donor_restriction_shift": 0.0,
        "donor_absorption": 0.0,
    }
    for country in ("kyrgyzstan", "uzbekistan"):
        scenario = scenarios[country].with_params(zero)
        model = NGOModel(scenario, rng=2, agents=False)
        for year in scenario.years:
            model.step()
            assert model.state.restriction == scenario.state.foreign_funding_restriction.at(year)
            for donor in model.donors:
                assert donor.budget_usd == donor.path_usd(year)
                np.testing.assert_array_equal(donor.priorities, donor.config.priorities.vector())


def test_a_full_purge_strikes_every_dormant_ngo_off_that_year(scenarios):
    scenario = scenario_variant(
        scenarios["kyrgyzstan"],
        end_year=2001,
        state__shocks=[shock("purge", 2000, 0.0, purge=1.0)],
    )
    model = NGOModel(scenario, rng=2)
    model.run_for(scenario.end_year - scenario.start_year + 1)
    frame = model.results().set_index("year")
    assert frame.registered[1999] > frame.operational[1999]
    assert frame.registered[2000] == frame.operational[2000]
    assert frame.deregistered[2000] > 5 * max(frame.deregistered[1999], frame.deregistered[2001])


def test_eligibility_needs_last_years_activity_and_report(kz_model, make_population):
    kz_model.population = make_population(
        4, prev_operating=[True, True, False, True], prev_reported=[True, False, True, True]
    )
    applicants = pool(kz_model, np.array([True, True, True, False]))
    np.testing.assert_array_equal(kz_model.state.eligible(applicants).rows, [0])
    lenient = State(kz_model, policy(kz_model.config, grant_requires_report=False))
    np.testing.assert_array_equal(lenient.eligible(applicants).rows, [0, 1])


# More eligible NGOs than the Kazakh prizes (59 a year), so that the budget is paid whole.
NGOS, ELIGIBLE = 120, 80


@pytest.fixture
def prize_model(scenarios, make_population):
    """Kazakhstan in 2017: NGOS of one sector, the first ELIGIBLE eligible, 0-9 strongest."""
    model = stepped(scenarios["kazakhstan"].with_params({"track_record_weight": 1.0}), 2017)
    capacity = np.where(np.arange(NGOS) < 10, 10.0, 0.1)
    model.population = make_population(
        NGOS,
        sector=DISABILITY,
        capacity=capacity,
        prev_operating=np.arange(NGOS) < ELIGIBLE + 20,
        prev_reported=np.arange(NGOS) < ELIGIBLE,
    )
    return model


def test_prizes_are_equal_go_to_the_strongest_eligible_and_pay_the_budget(prize_model):
    state = prize_model.state
    count = int(state.policy.prize_count.value)
    budget = state.policy.prize_budget_local.at(2017)
    assert 10 <= count < ELIGIBLE and budget > 0
    state.award_prizes(2017, pool(prize_model, np.ones(NGOS, dtype=bool)))
    prizes = prize_model.population.view("income_prize")
    winners = np.flatnonzero(prizes > 0)
    assert winners.size == count
    assert winners.max() < ELIGIBLE  # only eligible NGOs
    assert set(range(10)) <= set(winners)  # the strongest all win
    np.testing.assert_allclose(prizes[winners], prizes[winners[0]])
    to_usd = prize_model.local_to_constant_usd(2017)
    assert prizes.sum() / to_usd == pytest.approx(budget)
    assert state.prizes_paid_local == pytest.approx(budget)


def test_with_few_eligible_ngos_only_their_prizes_are_paid(prize_model):
    state = prize_model.state
    count = int(state.policy.prize_count.value)
    budget = state.policy.prize_budget_local.at(2017)
    state.award_prizes(2017, pool(prize_model, np.arange(NGOS) < 5))
    assert int((prize_model.population.view("income_prize") > 0).sum()) == 5
    assert state.prizes_paid_local == pytest.approx(5 * budget / count)


def test_state_grants_go_to_eligible_ngos_within_budget(prize_model):
    state = prize_model.state
    state.award_grants(2017, pool(prize_model, np.ones(NGOS, dtype=bool)))
    income = prize_model.population.view("income_state")
    assert income[:ELIGIBLE].sum() > 0
    assert np.all(income[ELIGIBLE:] == 0)
    assert 0 < state.grants_paid_local <= state.grant_budget_local
    to_usd = prize_model.local_to_constant_usd(2017)
    assert income.sum() / to_usd == pytest.approx(state.grants_paid_local)


def test_state_grants_keep_their_own_mean_whatever_the_donor_grant_scale(prize_model):
    state = prize_model.state
    state.award_grants(2017, pool(prize_model, np.ones(NGOS, dtype=bool)))
    as_given = prize_model.population.view("income_state").copy()
    prize_model.population.view("income_state")[:] = 0.0
    prize_model.behaviour["donor_grant_scale"] = 4.0
    state.award_grants(2017, pool(prize_model, np.ones(NGOS, dtype=bool)))
    assert as_given.sum() > 0
    np.testing.assert_array_equal(prize_model.population.view("income_state"), as_given)
