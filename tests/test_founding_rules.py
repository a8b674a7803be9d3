"""The model's founding rules, one at a time: burden, expectations, density, the pool."""

from __future__ import annotations

import numpy as np
import pytest
from agent_helpers import ECOLOGY, donor_config, scenario_variant, stepped

from model import NGOModel, RunawayError, ScenarioError, load_scenario
from model import population as rules


def test_registration_burden_holds_back_founding(scenarios):
    model = stepped(scenarios["kyrgyzstan"], 2005)
    model.state.burden = 0.0
    free = model.expected_registrations()
    assert free > 0
    model.state.burden = 0.5
    assert model.expected_registrations() == pytest.approx(free / 2)
    model.state.burden = 1.0
    assert model.expected_registrations() == 0.0


@pytest.mark.parametrize("lag", [0.0, 1.0, 3.0])
def test_founders_expectation_closes_one_over_one_plus_lag_of_the_gap_a_year(scenarios, lag):
    model = stepped(scenarios["kyrgyzstan"].with_params({"founding_lag_years": lag}), 2005)
    assert model.expected_money > 0
    before = model.expected_money
    model.money = before + 1e6
    assert model.update_expected_money() == pytest.approx(before + 1e6 / (1 + lag))


def test_with_a_founding_lag_a_jump_in_money_raises_founding_only_part_way(scenarios):
    model = stepped(scenarios["kyrgyzstan"].with_params({"founding_lag_years": 2.0}), 2005)
    before, expected_before = model.expected_registrations(), model.expected_money
    model.money = 3 * model.money
    model.expected_money = model.update_expected_money()
    lagged = model.expected_registrations()
    model.behaviour["founding_lag_years"] = 0.0
    model.expected_money = expected_before
    model.expected_money = model.update_expected_money()
    assert before < lagged < model.expected_registrations()


def test_more_money_on_offer_means_more_expected_foundings(scenarios):
    lam = {}
    for scale in (0.0, 1.0, 2.0):
        model = stepped(scenarios["kyrgyzstan"].with_params({"donor_budget_scale": scale}), 2005)
        lam[scale] = model.expected_registrations()
    assert 0 < lam[0.0] < lam[1.0] < lam[2.0]


def test_more_donor_money_never_means_fewer_foundings_in_a_year(scenarios):
    kg = scenarios["kyrgyzstan"]
    low = NGOModel(kg.with_params({"donor_budget_scale": 1.0}), rng=4)
    high = NGOModel(kg.with_params({"donor_budget_scale": 2.0}), rng=4)
    for model in (low, high):
        model.run_for(kg.end_year - kg.start_year + 1)
    new_low, new_high = low.results().new_registrations, high.results().new_registrations
    assert (new_high >= new_low).all()
    assert new_high.sum() > new_low.sum()


def test_founders_sector_choice_mixes_civic_and_funders_weights(scenarios):
    # One model state, so that the money on offer (which donors decide on what they saw
    # in earlier years) is the same for every pull.
    model = stepped(scenarios["kyrgyzstan"], 2005)

    def probabilities(pull):
        model.behaviour["funding_pull_sector"] = pull
        return model._sector_probabilities()

    civic_only = probabilities(0.0)
    civic = model.config.civic_sectors.vector()
    np.testing.assert_allclose(civic_only, civic / civic.sum())
    money_only = probabilities(1.0)
    money, mix = model.funding_on_offer()
    np.testing.assert_allclose(money_only, mix / money)
    half = probabilities(0.5)
    np.testing.assert_allclose(half, 0.5 * civic_only + 0.5 * money_only)
    assert half.sum() == pytest.approx(1.0)


def test_new_ngos_follow_an_ecology_donor_when_pulled_by_money(scenarios):
    kg = scenarios["kyrgyzstan"]
    gef = donor_config(
        name="Ecology fund",
        entry_year=1998,
        exit_year=None,
        priorities={"weights": {"ecology": 1}, "source": "test"},
    ).model_dump(mode="python")

    def founded_sectors(pull):
        # No shift under the 2005 restriction: the donor's own priorities alone.
        scenario = scenario_variant(kg, end_year=2005, donors=[gef]).with_params(
            {"funding_pull_sector": pull, "donor_restriction_shift": 0.0}
        )
        model = NGOModel(scenario, rng=8)
        model.run_for(scenario.end_year - scenario.start_year + 1)
        pop = model.population
        return pop.view("founded"), pop.view("sector")

    founded, sector = founded_sectors(1.0)
    funded_years = founded >= 1998  # no state money in Kyrgyzstan before 2016
    assert funded_years.sum() > 100
    assert np.all(sector[funded_years] == ECOLOGY)
    assert np.mean(sector[~funded_years] == ECOLOGY) < 0.3
    founded, sector = founded_sectors(0.0)
    assert np.mean(sector[founded >= 1998] == ECOLOGY) < 0.3


# Density dependence, the domestic pool, Soviet rules and strike-offs --------------------


def test_density_factor_rises_with_legitimation_and_falls_with_competition(scenarios):
    model = NGOModel(
        scenarios["kyrgyzstan"].with_params({"legitimation": 0.5, "competition_density": 2000}),
        rng=1,
    )
    assert model.density_factor(100.0) == pytest.approx(np.exp(-((100 / 2000) ** 2)))
    low, mid, high = (model.density_factor(d) for d in (10.0, 500.0, 5000.0))
    assert low < mid and high < mid
    assert high == pytest.approx((5001 / 101) ** 0.5 * np.exp(-(2.5**2)))
    model.behaviour["legitimation"] = 0.0
    model.behaviour["competition_density"] = 1e6
    assert model.density_factor(500.0) == pytest.approx(1.0, abs=1e-6)


def test_founders_see_last_years_active_ngos_not_the_register(scenarios):
    model = stepped(scenarios["kyrgyzstan"], 2005)
    model.population.start_year()
    before = model.expected_registrations()
    active = model.population.view("prev_active")
    paper = ~active & model.population.registered()
    assert paper.any() and active.any()
    # Striking paper NGOs off changes nothing founders see; fewer active NGOs does.
    model.population.status[np.flatnonzero(paper)] = rules.DEREGISTERED
    assert model.expected_registrations() == pytest.approx(before)
    active[np.flatnonzero(active)[::2]] = False
    assert model.expected_registrations() != pytest.approx(before)


def test_domestic_pool_is_a_share_of_gdp_whatever_the_number_of_ngos(scenarios):
    kg = scenarios["kyrgyzstan"].with_params({"domestic_pool_gdp": 0.002})
    model = stepped(kg, 2010)
    gdp = kg.gdp_per_capita_usd.at(2010) / model.to_nominal * kg.population_millions.at(2010) * 1e6
    assert model.domestic_pool_usd() == pytest.approx(0.002 * gdp)
    grown = stepped(kg.with_params({"civic_rate": 40.0}), 2010)
    assert grown.population.registered().sum() > model.population.registered().sum()
    assert grown.domestic_pool_usd() == pytest.approx(model.domestic_pool_usd())


def test_soviet_rules_hold_the_burden_at_least_at_soviet_burden_until_their_end(scenarios):
    kz = scenarios["kazakhstan"].with_params({"soviet_burden": 0.9})
    model = NGOModel(kz, rng=1)
    assert kz.state.soviet_rules_until.year == 1990
    for year, expected in ((1989, 0.9), (1990, 0.9), (1991, kz.state.registration_burden.at(1991))):
        model.state.apply_policy(year)
        assert model.state.burden == pytest.approx(expected)
    assert NGOModel(scenarios["kyrgyzstan"], rng=1).state.policy.soviet_rules_until is None


def test_the_elasticity_turns_the_coded_burden_into_the_share_held_back(scenarios):
    # Worked by hand: a code of 0.85 under an elasticity of 0.5 holds back
    # 1 - 0.15 ** 0.5 = 0.6127 of founding; under 1 exactly its code; under 2, 0.9775.
    uz = scenarios["uzbekistan"]
    assert uz.state.registration_burden.at(2004) == 0.85
    for elasticity, held_back in ((0.5, 0.612702), (1.0, 0.85), (2.0, 0.9775)):
        model = NGOModel(uz.with_params({"burden_elasticity": elasticity}), rng=1)
        model.state.apply_policy(2004)
        assert model.state.burden == pytest.approx(held_back, abs=1e-6)


def test_the_soviet_floor_is_on_the_share_held_back(scenarios):
    # Kazakhstan's code is 0.3 in 1989-1991: under an elasticity of 0.5 it holds back
    # 1 - 0.7 ** 0.5 = 0.16334, below the Soviet floor of 0.9 up to 1990 and not after.
    kz = scenarios["kazakhstan"].with_params({"soviet_burden": 0.9, "burden_elasticity": 0.5})
    model = NGOModel(kz, rng=1)
    for year, expected in ((1989, 0.9), (1990, 0.9), (1991, 0.163340)):
        model.state.apply_policy(year)
        assert model.state.burden == pytest.approx(expected, abs=1e-6)


def test_a_lower_elasticity_lets_more_ngos_register_where_the_code_is_high(scenarios):
    def registered(elasticity):
        model = stepped(
            scenarios["uzbekistan"].with_params({"burden_elasticity": elasticity}), 2010
        )
        return model.population.registered().sum()

    assert registered(0.5) > registered(1.0) > registered(2.0)


def test_the_strike_off_procedure_removes_idle_ngos_only_where_it_is_in_force(scenarios):
    def struck(scenario, rate):
        model = stepped(scenario.with_params({"strike_off_rate": rate}), 2020)
        return model.results()["deregistered"].sum()

    kz, kg = scenarios["kazakhstan"], scenarios["kyrgyzstan"]
    assert kz.state.strike_off_inactive.at(2017) == 0 and kz.state.strike_off_inactive.at(2018) == 1
    assert struck(kz, 0.8) > struck(kz, 0.0)
    assert struck(kg, 0.8) == struck(kg, 0.0)


def test_a_founding_count_that_is_not_a_number_stops_the_run():
    # NaN (money that overflowed) passed `lam > MAX_NGOS`: the run founded no NGO and ended
    # without a word
    from model.founding import registrations

    with pytest.raises(RunawayError, match="year 1991: expected registrations are not a number"):
        registrations("Some scenario", 1991, float("nan"), 0.5)
    with pytest.raises(RunawayError, match="above 1,000,000"):
        registrations("Some scenario", 1991, float("inf"), 0.5)
    # a huge count in a line, not in 300 digits
    with pytest.raises(RunawayError, match=r"year 1991: 1e\+300 expected registrations"):
        registrations("Some scenario", 1991, 1e300, 0.5)
    with pytest.raises(RunawayError, match="year 1991: 2,000,000 expected registrations"):
        registrations("Some scenario", 1991, 2e6, 0.5)


def test_local_money_beyond_any_dollar_amount_is_refused_by_its_field(scenario_file, write_yaml):
    # 1e15 som at 1e-300 som to the dollar is 1e315 dollars: inf, and the run founded nothing
    base = f"extends: {scenario_file('kyrgyzstan')}\n"

    def refused(rate: str, budgets: str, expected: str) -> None:
        text = base + f"exchange_rate: {{points: {{1991: {rate}}}, source: 'test: a rate'}}\n"
        text += f"state:\n{budgets}" if budgets else ""
        with pytest.raises(ScenarioError, match=expected):
            load_scenario(write_yaml("money.yaml", text))

    grants = "  grant_budget_local: {points: {1991: %s}, source: 'test: a budget'}\n"
    prizes = "  prize_budget_local: {points: {1991: %s}, source: 'test: prizes'}\n"
    refused("1.0e-300", "", r"exchange_rate: in 1991 one KGS is worth over 1e\+15 US dollars")
    refused("1.0e-12", grants % "1.0e+15", r"state\.grant_budget_local: in 1991 it is over 1e\+15")
    # each under the bound, the two together over it: the run adds them
    refused(
        "1.0e-8",
        grants % "3.0e+6" + prizes % "3.0e+6",
        r"state\.prize_budget_local: in 1991 with the grants' budget it is over 1e\+15",
    )
    # the same rate with budgets under the bound is a scenario like any other
    calm = base + "exchange_rate: {points: {1991: 1.0e-8}, source: 'test: a rate'}\n"
    assert load_scenario(write_yaml("calm.yaml", calm)).exchange_rate.at(1991) == 1e-8


def test_the_compiled_year_loop_stops_a_founding_count_that_is_not_a_number(scenarios):
    # `lam > MAX_NGOS` let NaN through: the compiled path founded no NGO that year and went
    # on, where the agents' path stopped
    from model.fastpath import CompiledRun
    from model.year_loop import LINE

    run = CompiledRun(scenarios["kyrgyzstan"], seed=1)
    run._line[LINE.index("state_usd"), :] = np.inf
    with pytest.raises(RunawayError, match="year 1991: expected registrations are not a number"):
        run.run_for(3)
