"""Each NGO rule and the grant allocation on small hand-made populations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model import SECTORS
from model import population as rules
from model.grants import allocate, split_budget, win_probabilities
from model.population import DEREGISTERED, DORMANT, OPERATING, Population
from model.rng import KeyedStreams

YEAR = 2000
STREAMS = KeyedStreams(17)


def binomial_ok(successes: int, n: int, p: float) -> bool:
    """Whether a count is within five standard deviations of its binomial mean."""
    return abs(successes - n * p) <= 5 * np.sqrt(n * p * (1 - p)) + 1


# Grants ---------------------------------------------------------------------------------


def test_win_probabilities_are_proportional_to_scores():
    scores = np.array([1.0, 2.0, 3.0, 4.0])
    p = win_probabilities(scores, expected_grants=1.0)
    np.testing.assert_allclose(p, scores / 10.0)
    assert p.sum() == pytest.approx(1.0)


def test_win_probabilities_are_capped_at_one():
    scores = np.array([1.0, 1.0, 8.0])
    p = win_probabilities(scores, expected_grants=2.0)
    assert p[2] == 1.0
    np.testing.assert_allclose(p[:2], [0.2, 0.2])
    assert p.sum() <= 2.0
    np.testing.assert_array_equal(win_probabilities(scores, 100.0), np.ones(3))


def test_win_probabilities_are_zero_without_scores_or_money():
    np.testing.assert_array_equal(win_probabilities(np.zeros(3), 2.0), np.zeros(3))
    np.testing.assert_array_equal(win_probabilities(np.ones(3), 0.0), np.zeros(3))


def test_split_budget_is_proportional_and_spends_the_budget_when_no_cap_binds():
    amounts = split_budget(1000.0, np.array([1.0, 3.0]), cap=1e9)
    np.testing.assert_allclose(amounts, [250.0, 750.0])


def test_split_budget_respects_the_cap_and_leaves_the_rest_unspent():
    amounts = split_budget(1000.0, np.array([1.0, 9.0]), cap=500.0)
    np.testing.assert_allclose(amounts, [100.0, 500.0])
    assert amounts.sum() <= 1000.0


def test_split_budget_of_nothing_is_nothing():
    np.testing.assert_array_equal(split_budget(0.0, np.ones(2), 10.0), np.zeros(2))
    np.testing.assert_array_equal(split_budget(10.0, np.zeros(2), 10.0), np.zeros(2))


def test_allocate_leaves_money_unspent_without_applicants():
    empty = np.array([])
    assert allocate(1e6, 1e4, empty, empty, empty, 5.0).size == 0
    zero_scores = np.zeros(4)
    amounts = allocate(1e6, 1e4, zero_scores, np.ones(4), np.zeros(4), 5.0)
    np.testing.assert_array_equal(amounts, np.zeros(4))


def test_allocate_pays_only_winners_drawn_below_their_probability():
    scores = np.array([1.0, 1.0, 1.0, 1.0])
    uniforms = np.array([0.1, 0.6, 0.4, 0.9])  # probability 0.5 each (2 expected grants)
    amounts = allocate(100.0, 50.0, scores, np.ones(4), uniforms, cap_multiple=5.0)
    np.testing.assert_allclose(amounts, [50.0, 0.0, 50.0, 0.0])


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    budget=st.floats(0, 1e9),
    mean_grant=st.floats(1.0, 1e6),
    cap_multiple=st.floats(0.1, 20),
    applicants=st.lists(
        st.tuples(
            st.one_of(st.just(0.0), st.floats(1e-6, 100)),
            st.floats(0.01, 100),
            st.floats(0, 0.999999),
        ),
        max_size=30,
    ),
)
def test_allocate_never_spends_more_than_the_budget(budget, mean_grant, cap_multiple, applicants):
    scores, sizes, uniforms = np.array(applicants, dtype=float).reshape(-1, 3).T
    amounts = allocate(budget, mean_grant, scores, sizes, uniforms, cap_multiple)
    assert amounts.shape == scores.shape
    assert np.all(amounts >= 0)
    assert amounts.sum() <= budget * (1 + 1e-12)
    assert np.all(amounts <= cap_multiple * mean_grant * (1 + 1e-12))
    assert np.all(amounts[scores == 0] == 0)


# Founding -------------------------------------------------------------------------------


def test_new_ngos_get_stable_ids_and_sectors_in_proportion():
    pop = Population(16)
    probs = np.zeros(len(SECTORS))
    probs[SECTORS.index("ecology")] = 1.0
    probs[SECTORS.index("women")] = 3.0
    rows = pop.add(YEAR, 20_000, probs, STREAMS, one_day_share=0.25, capacity_sd=0.5)
    assert pop.size == 20_000 and rows == slice(0, 20_000)
    np.testing.assert_array_equal(
        pop.view("ngo_id"), YEAR * 1_000_000 + np.arange(20_000, dtype=np.uint64)
    )
    sectors = pop.view("sector")
    assert set(np.unique(sectors)) == {SECTORS.index("ecology"), SECTORS.index("women")}
    assert binomial_ok(int((sectors == SECTORS.index("women")).sum()), 20_000, 0.75)
    assert binomial_ok(int(pop.view("one_day").sum()), 20_000, 0.25)
    # Log capacity is normal with sd 0.5 and mean -sd**2/2 (mean capacity 1).
    log_cap = np.log(pop.view("capacity"))
    assert log_cap.std() == pytest.approx(0.5, rel=0.03)
    assert pop.view("capacity").mean() == pytest.approx(1.0, rel=0.02)
    assert np.all(pop.view("status") == OPERATING)


def test_the_kth_ngo_of_a_year_gets_the_same_attributes_whatever_the_count():
    probs = np.ones(len(SECTORS))
    small, large = Population(16), Population(16)
    small.add(YEAR, 50, probs, STREAMS, 0.3, 0.8)
    large.add(YEAR, 500, probs, STREAMS, 0.3, 0.8)
    for name in ("ngo_id", "sector", "one_day", "capacity"):
        np.testing.assert_array_equal(small.view(name), large.view(name)[:50])


# Applicants -----------------------------------------------------------------------------


def test_applicants_are_new_and_last_years_active_ngos_never_retired_or_struck_off(
    make_population,
):
    #          new      active   dormant  retired  retired+dorm  struck off
    founded = [YEAR, YEAR - 5, YEAR - 5, YEAR - 5, YEAR - 5, YEAR - 5]
    status = [OPERATING, OPERATING, DORMANT, OPERATING, DORMANT, DEREGISTERED]
    prev_active = [False, True, False, True, False, False]
    retired = [False, False, False, True, True, False]
    pop = make_population(
        6, founded=founded, status=status, prev_active=prev_active, retired=retired
    )
    never = rules.applicants(pop, YEAR, STREAMS, apply_dormant=0.0)
    np.testing.assert_array_equal(never, [True, True, False, False, False, False])
    always = rules.applicants(pop, YEAR, STREAMS, apply_dormant=1.0)
    np.testing.assert_array_equal(always, [True, True, True, False, False, False])


def test_dormant_ngos_apply_at_the_apply_dormant_rate(make_population):
    n = 20_000
    pop = make_population(n, status=DORMANT, prev_active=False)
    seekers = rules.applicants(pop, YEAR, STREAMS, apply_dormant=0.3)
    assert binomial_ok(int(seekers.sum()), n, 0.3)
    # The same NGOs revive at a higher rate: draws are keyed, so the sets are nested.
    more = rules.applicants(pop, YEAR, STREAMS, apply_dormant=0.6)
    assert np.all(more[seekers])


# Domestic income ------------------------------------------------------------------------


DOMESTIC = {
    "median_usd": 500.0,
    "pool_usd": np.inf,
    "raise_prob": 1.0,
    "sd": 0.0,
    "capacity_weight": 1.0,
    "persistence": 0.0,
    "cofunding": 0.0,
}


def _raise(pop, seekers, year=YEAR, **overrides):
    rules.raise_domestic(pop, year, STREAMS, seekers, **(DOMESTIC | overrides))


def test_raise_domestic_pays_only_fundraising_seekers_in_proportion_to_capacity(
    make_population,
):
    pop = make_population(4, capacity=[1.0, 2.0, 3.0, 1.0])
    seekers = np.array([True, True, True, False])
    _raise(pop, seekers)
    np.testing.assert_allclose(pop.view("income_domestic"), [500.0, 1000.0, 1500.0, 0.0])
    _raise(pop, seekers, raise_prob=0.0)
    np.testing.assert_array_equal(pop.view("income_domestic"), np.zeros(4))


def test_raisers_split_the_pool_when_they_ask_for_more(make_population):
    pop = make_population(4, capacity=[1.0, 2.0, 3.0, 1.0])
    seekers = np.array([True, True, True, False])
    _raise(pop, seekers, pool_usd=1500.0)
    np.testing.assert_allclose(pop.view("income_domestic"), [250.0, 500.0, 750.0, 0.0])
    _raise(pop, seekers, pool_usd=3000.0)
    np.testing.assert_allclose(pop.view("income_domestic"), [500.0, 1000.0, 1500.0, 0.0])


def test_more_raisers_do_not_make_more_money_once_the_pool_binds(make_population):
    few, many = make_population(100), make_population(400)
    for pop in (few, many):
        _raise(pop, np.ones(pop.size, dtype=bool), sd=1.0, raise_prob=0.5, pool_usd=20_000.0)
        assert pop.view("income_domestic").sum() == pytest.approx(20_000.0)
    mean_few = few.view("income_domestic")[few.view("income_domestic") > 0].mean()
    mean_many = many.view("income_domestic")[many.view("income_domestic") > 0].mean()
    assert mean_many < 0.5 * mean_few


@pytest.mark.parametrize("weight", [0.0, 0.5])
def test_domestic_income_scales_with_capacity_to_its_weight(make_population, weight):
    pop = make_population(3, capacity=[1.0, 4.0, 0.25])
    _raise(pop, np.ones(3, dtype=bool), capacity_weight=weight)
    expected = 500.0 * np.array([1.0, 4.0, 0.25]) ** weight
    np.testing.assert_allclose(pop.view("income_domestic"), expected)


def test_raise_domestic_reaches_the_raise_probability_with_lognormal_amounts(make_population):
    n = 20_000
    pop = make_population(n)
    _raise(pop, np.ones(n, dtype=bool), median_usd=800.0, raise_prob=0.3, sd=1.0)
    income = pop.view("income_domestic")
    raised = income > 0
    assert binomial_ok(int(raised.sum()), n, 0.3)
    assert np.median(income[raised]) == pytest.approx(800.0, rel=0.08)
    assert np.log(income[raised]).std() == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("persistence", [0.0, 0.6, 1.0])
def test_domestic_persistence_correlates_an_ngos_amounts_across_years(make_population, persistence):
    n = 20_000
    pop = make_population(n)
    seekers = np.ones(n, dtype=bool)
    logs = []
    for year in (YEAR, YEAR + 1):
        _raise(pop, seekers, year, median_usd=800.0, sd=0.7, persistence=persistence)
        logs.append(np.log(pop.view("income_domestic").copy()))
    assert logs[1].std() == pytest.approx(0.7, rel=0.03)
    # Log-amounts are sd * (p * level + sqrt(1 - p^2) * luck): their correlation is p^2.
    assert np.corrcoef(logs[0], logs[1])[0, 1] == pytest.approx(persistence**2, abs=0.03)


def test_cofunding_adds_domestic_money_in_proportion_to_grants(make_population):
    pop = make_population(3)
    pop.view("income_foreign")[:] = [10_000.0, 0.0, 0.0]
    pop.view("income_state")[:] = [2_000.0, 4_000.0, 0.0]
    pop.view("income_prize")[:] = [0.0, 0.0, 50_000.0]
    _raise(pop, np.ones(3, dtype=bool), median_usd=800.0, raise_prob=0.0, sd=1.0, cofunding=0.25)
    np.testing.assert_allclose(pop.view("income_domestic"), [3_000.0, 1_000.0, 0.0])


# Activity -------------------------------------------------------------------------------

ACTIVITY = {"min_activity": 1000.0, "savings_rate": 0.1, "one_day_exit": 0.0}
LEARN, DECAY = 0.1, 0.2


def _update(pop, year=YEAR, **overrides):
    args = ACTIVITY | {"learning": LEARN, "decay": DECAY} | overrides
    rules.update_activity(pop, year, STREAMS, **args)


def test_ngos_operate_when_income_reaches_the_minimum_and_otherwise_fall_dormant(
    make_population,
):
    pop = make_population(
        4,
        status=[OPERATING, OPERATING, DORMANT, DEREGISTERED],
        income_domestic=[1000.0, 999.0, 5000.0, 5000.0],
    )
    _update(pop)
    np.testing.assert_array_equal(pop.view("status"), [OPERATING, DORMANT, OPERATING, DEREGISTERED])
    # The funded NGOs save part of their income; the dormant one keeps its (zero) reserves.
    np.testing.assert_allclose(pop.view("reserves"), [100.0, 0.0, 500.0, 0.0])


def test_reserves_carry_an_ngo_that_operated_last_year_for_one_year(make_population):
    pop = make_population(
        4,
        prev_operating=[True, True, False, True],
        reserves=[1500.0, 900.0, 5000.0, 50_000.0],
    )
    _update(pop)
    np.testing.assert_array_equal(pop.view("status"), [OPERATING, DORMANT, DORMANT, OPERATING])
    # A year on reserves spends them all, however large they were.
    np.testing.assert_allclose(pop.view("reserves"), [0.0, 900.0, 5000.0, 0.0])
    pop.start_year()
    _update(pop, year=YEAR + 1)
    np.testing.assert_array_equal(pop.view("status"), [DORMANT, DORMANT, DORMANT, DORMANT])


def test_a_year_on_mostly_foreign_reserves_counts_as_foreign_financed(make_population):
    pop = make_population(
        3,
        income_foreign=[20_000.0, 5_000.0, 0.0],
        income_domestic=[0.0, 15_000.0, 20_000.0],
    )
    _update(pop)
    np.testing.assert_allclose(pop.view("reserves_foreign"), [2000.0, 500.0, 0.0])
    pop.start_year()
    _update(pop, year=YEAR + 1)
    np.testing.assert_array_equal(pop.view("status"), [OPERATING] * 3)
    np.testing.assert_array_equal(pop.view("spent_foreign_reserves"), [True, False, False])
    np.testing.assert_allclose(pop.view("reserves_foreign"), [0.0, 0.0, 0.0])


def test_dormant_ngos_stay_on_the_register(make_population):
    pop = make_population(3)
    for year in range(YEAR, YEAR + 10):
        pop.start_year()
        _update(pop, year=year)
    np.testing.assert_array_equal(pop.view("status"), [DORMANT] * 3)
    assert pop.registered().all()


def test_capacity_grows_with_grants_holds_when_self_funded_and_decays_when_dormant(
    make_population,
):
    pop = make_population(
        5,
        income_foreign=[2000.0, 0, 0, 0, 0],
        income_state=[0, 2000.0, 0, 0, 0],
        income_prize=[0, 0, 2000.0, 0, 0],
        income_domestic=[0, 0, 0, 2000.0, 0],
        capacity=2.0,
    )
    _update(pop)
    expected = [2.0 * (1 + LEARN)] * 3 + [2.0, 2.0 * (1 - DECAY)]
    np.testing.assert_allclose(pop.view("capacity"), expected)


def test_capacity_never_decays_below_its_floor(make_population):
    pop = make_population(1, capacity=0.06)
    for year in range(YEAR, YEAR + 20):
        _update(pop, year=year)
    assert pop.capacity[0] == pytest.approx(0.05)


def test_streak_counts_consecutive_operating_years(make_population):
    pop = make_population(2)
    no_savings = {"savings_rate": 0.0}  # so the unfunded year is not carried by reserves
    pattern = [True, True, True, False, True]
    for offset, funded in enumerate(pattern):
        pop.start_year()
        pop.view("income_domestic")[:] = [5000.0 if funded else 0.0, 5000.0]
        _update(pop, year=YEAR + offset, **no_savings)
    np.testing.assert_array_equal(pop.view("streak"), [1, 5])


def test_one_project_ngos_retire_after_operating(make_population):
    pop = make_population(
        4,
        one_day=[True, True, False, True],
        income_domestic=[5000.0, 5000.0, 5000.0, 0.0],
    )
    _update(pop, one_day_exit=1.0)
    np.testing.assert_array_equal(pop.view("retired"), [True, True, False, False])
    fresh = make_population(2, one_day=True, income_domestic=5000.0)
    _update(fresh, one_day_exit=0.0)
    assert not fresh.view("retired").any()
