"""The Donor agents' rules, one at a time (the State's: test_state_rules; founding:
test_founding_rules)."""

from __future__ import annotations

import numpy as np
import pytest
from agent_helpers import FLAT_PATH, donor_config, pool

from model import SECTORS, NGOModel
from model.agents import Donor, absorb_donor_money, plan_donors


@pytest.mark.parametrize(
    ("year", "budget"),
    [
        (1994, 0.0),
        (1995, 250_000),
        (1997, 750_000),
        (1998, 1_000_000),
        (1999, 900_000),
        (2000, 810_000),
        (2001, 0.0),
    ],
)
def test_donor_budget_ramps_up_then_declines_between_entry_and_exit(scenarios, year, budget):
    shape = {"donor_ramp_years": 4.0, "donor_peak_year": 1998.0, "donor_decline": 0.1}
    model = NGOModel(scenarios["kazakhstan"].with_params(FLAT_PATH | shape), rng=3)
    donor = Donor(model, donor_config())
    donor.plan_year(year, instability=0.0, restriction=0.0)
    assert donor.budget_usd == pytest.approx(budget)
    assert donor.active == (budget > 0)


def test_donor_budget_is_its_weight_share_of_the_country_level(scenarios):
    model = NGOModel(
        scenarios["kazakhstan"].with_params(FLAT_PATH | {"donor_budget_scale": 17.5}), rng=3
    )
    donor = Donor(model, donor_config())
    donor.plan_year(1995, 0.0, 0.0)
    assert donor.budget_usd == pytest.approx(2_500_000)
    heavy = Donor(model, donor_config(weight={"value": 2, "source": "test"}))
    heavy.plan_year(1995, 0.0, 0.0)
    assert heavy.budget_usd == pytest.approx(5_000_000)


# The politics donors see: only the restriction in force and the instability of the year.
QUIET = {"donor_restriction_cut": 0.0, "donor_instability_cut": 0.0, "donor_restriction_shift": 0.0}


def test_donors_cut_their_budget_as_restriction_rises_and_not_without(kz_model):
    kz_model.behaviour.update(QUIET | {"donor_restriction_cut": 0.5})
    donor = Donor(kz_model, donor_config())
    budgets = []
    for restriction in (0.0, 0.4, 0.8):
        donor.plan_year(1996, instability=0.0, restriction=restriction)
        budgets.append(donor.budget_usd)
    assert budgets == pytest.approx([1_000_000, 800_000, 600_000])
    # Instability alone does not move a donor that only answers restrictions.
    donor.plan_year(1996, instability=1.0, restriction=0.0)
    assert donor.budget_usd == pytest.approx(1_000_000)


def test_donors_cut_their_budget_with_instability(kz_model):
    kz_model.behaviour.update(QUIET | {"donor_instability_cut": 0.5})
    donor = Donor(kz_model, donor_config())
    donor.plan_year(1996, instability=0.6, restriction=0.0)
    assert donor.budget_usd == pytest.approx(1_000_000 * (1 - 0.3))
    kz_model.behaviour["donor_restriction_cut"] = 0.25
    donor.plan_year(1996, instability=0.6, restriction=0.4)
    assert donor.budget_usd == pytest.approx(1_000_000 * (1 - 0.3) * (1 - 0.1))
    kz_model.behaviour.update(donor_restriction_cut=1.0, donor_instability_cut=1.0)
    donor.plan_year(1996, instability=1.0, restriction=1.0)
    assert donor.budget_usd == 0.0 and not donor.active


def test_restricted_donors_shift_towards_the_states_fields_and_keep_the_money(kz_model):
    kz_model.behaviour.update(QUIET | {"donor_restriction_shift": 0.5})
    state = kz_model.config.state.grant_priorities.vector()
    state = state / state.sum()
    rights = donor_config(priorities={"weights": {"human_rights": 3, "women": 1}, "source": "test"})
    own = rights.priorities.vector() / rights.priorities.vector().sum()
    donor = Donor(kz_model, rights)
    donor.plan_year(1996, instability=0.0, restriction=0.0)
    np.testing.assert_array_equal(donor.priorities, rights.priorities.vector())
    donor.plan_year(1996, instability=1.0, restriction=0.0)
    np.testing.assert_array_equal(donor.priorities, rights.priorities.vector())
    donor.plan_year(1996, instability=0.0, restriction=0.8)
    np.testing.assert_allclose(donor.priorities, 0.6 * own + 0.4 * state)
    assert donor.priorities.sum() == pytest.approx(1.0)
    # Human rights, which the Kazakh state does not fund, loses weight; the money stays.
    rights_index = SECTORS.index("human_rights")
    assert state[rights_index] == 0
    assert donor.priorities[rights_index] < own[rights_index]
    assert donor.budget_usd == pytest.approx(1_000_000)


def test_absorptive_capacity_limits_what_donors_place(kz_model):
    kz_model.behaviour.update(QUIET | {"donor_absorption": 0.5})
    kz_model.donors = [Donor(kz_model, donor_config(name=f"D{i}")) for i in range(2)]
    kz_model.state.apply_policy(1996)
    # Two donors of 1 million each with a mean grant of 10,000: 200 grants planned.
    budgets = {}
    for capable in (0, 10, 100, 10_000):
        plan_donors(kz_model, 1996)
        absorb_donor_money(kz_model, capable)
        budgets[capable] = sum(d.budget_usd for d in kz_model.donors)
    assert budgets[10] == pytest.approx(2e6 / (1 + 0.5 * 200 / 10))
    assert budgets[0] == pytest.approx(2e6 / (1 + 0.5 * 200))
    assert budgets[0] < budgets[10] < budgets[100] < budgets[10_000] < 2e6
    # With few capable NGOs donors place about 1 / absorption grants per NGO.
    assert budgets[10] / 10_000 < 10 / 0.5
    assert budgets[10_000] == pytest.approx(2e6, rel=0.02)
    # Every donor keeps its share of what is placed.
    assert kz_model.donors[0].budget_usd == pytest.approx(kz_model.donors[1].budget_usd)
    kz_model.behaviour["donor_absorption"] = 0.0
    plan_donors(kz_model, 1996)
    absorb_donor_money(kz_model, 0)
    assert sum(d.budget_usd for d in kz_model.donors) == pytest.approx(2e6)


def test_donor_grants_go_to_seekers_only_and_stay_within_budget(kz_model, make_population):
    kz_model.population = make_population(300)
    donor = Donor(kz_model, donor_config())
    donor.plan_year(1998, 0.0, 0.0)
    seekers = np.arange(300) % 3 != 0
    spent = donor.award_grants(1998, pool(kz_model, seekers))
    income = kz_model.population.view("income_foreign")
    assert 0 < spent <= donor.budget_usd * (1 + 1e-12)
    assert income.sum() == pytest.approx(spent)
    assert np.all(income[~seekers] == 0)


def test_donor_grant_scale_sets_how_many_grants_the_budget_buys(scenarios, make_population):
    winners, mean_grant = {}, {}
    for scale in (1.0, 4.0):
        model = NGOModel(
            scenarios["kazakhstan"].with_params(FLAT_PATH | {"donor_grant_scale": scale}), rng=3
        )
        model.population = make_population(3000)
        donor = Donor(model, donor_config())
        donor.plan_year(1998, 0.0, 0.0)  # 1 million, mean grant 10,000 x scale
        spent = donor.award_grants(1998, pool(model, np.ones(3000, dtype=bool)))
        income = model.population.view("income_foreign")
        winners[scale] = int((income > 0).sum())
        mean_grant[scale] = spent / winners[scale]
    assert 70 <= winners[1.0] <= 130  # about 100 expected
    assert 12 <= winners[4.0] <= 38  # about 25 expected
    assert 3.0 <= mean_grant[4.0] / mean_grant[1.0] <= 5.0


def test_donor_spends_nothing_without_seekers(kz_model, make_population):
    kz_model.population = make_population(10)
    donor = Donor(kz_model, donor_config())
    donor.plan_year(1998, 0.0, 0.0)
    assert donor.award_grants(1998, pool(kz_model, np.zeros(10, dtype=bool))) == 0.0
    assert not kz_model.population.view("income_foreign").any()
