"""The regional model (``model.regional``): its scenario, its countries, its ties.

Each country inside the regional model gives the table it gives alone when the ties'
feedback is off, bit for bit; with the feedback on, the tables stay identical up to the
first year ties form and part after it. Closures suppress ties and openness revives them
in the full model; regional donors move money and tie their grantees. The run's outputs,
its command and bad input are tested in ``tests/test_regional_outputs.py``, the article's
regional story in ``tests/test_regional_patterns.py``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_rules import binomial_ok

from calibration.priors import PriorFile, load_priors
from experiments.run_params import replicate_params
from model import COUNTRIES, OUTPUT_COLUMNS, ScenarioError, load_scenario, simulate
from model.regional import (
    RegionalModel,
    moved_money,
    simulate_region,
)
from model.regional_files import load_region
from model.regional_scenario import REGIONAL_RANGES
from model.scenario import SECTORS

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
REGIONAL = SCENARIOS / "central_asia.yaml"
NO_FEEDBACK = {"tie_capacity_gain": 0.0, "prize_tie_weight": 0.0, "donor_mobility": 0.0}
SEED = 3


@cache
def country_params() -> tuple[tuple[str, float], ...]:
    """The behaviour parameters ``ngo-abm run`` uses by default (posterior median if any)."""
    params, _ = replicate_params("auto", 1, SEED)
    return tuple(sorted(params[0].items()))


def region_with(**params: float):
    """The regional file with the default country parameters and ``params`` over them."""
    return load_region(REGIONAL).with_params({**dict(country_params()), **params})


@cache
def regional_run(**params: float) -> RegionalModel:
    return simulate_region(region_with(**params), seed=SEED)


def alone(country: str, seed: int = SEED) -> pd.DataFrame:
    scenario = load_scenario(SCENARIOS / f"{country}.yaml").with_params(dict(country_params()))
    return simulate(scenario, seed=seed, agents=False)


def country_table(model: RegionalModel, country: str) -> pd.DataFrame:
    frame = model.results()
    return frame[frame.country == country][list(OUTPUT_COLUMNS)].reset_index(drop=True)


# The scenario ----------------------------------------------------------------------------


def test_the_regional_scenario_names_the_country_files_and_copies_no_number():
    region = load_region(REGIONAL)
    for country in COUNTRIES:
        assert region.countries[country] == load_scenario(SCENARIOS / f"{country}.yaml")
    data = yaml.safe_load(REGIONAL.read_text(encoding="utf-8"))
    assert set(data) == {
        "name",
        "description",
        "countries",
        "parameters",
        "programmes",
        "restrictions",
        "prize_criteria",
        "regional_donors",
        "transboundary",
        "network_years",
        "report_years",
    }


def test_the_articles_regional_events_are_in_the_scenario_with_their_dates():
    spec = load_region(REGIONAL).spec
    programmes = {p.name: p for p in spec.programmes}
    assert programmes["Kazakh NGO forums"].years == [2003, 2005, 2007, 2010]
    assert programmes["Cooperation for Innovations"].first_year == 2012
    assert programmes["NGO Academy"].first_year == 2020
    assert programmes["Institute for Regional Studies conferences"].years == [2022]
    assert programmes["Association of NGOs of Kazakhstan outreach"].years == [1997]
    assert programmes["CASDIN bulletin"].participants.value == 700
    for name in ("People's Assembly", "Interbilim", "Confederation", "Environmental", "Jan"):
        assert any(name in p for p in programmes)
    restrictions = {r.name: r for r in spec.restrictions}
    assert restrictions["Obstacles after the 2010 events in Osh"].first_year == 2010
    assert restrictions["Uzbekistan before its opening"].last_year == 2016
    assert [(p.country, p.first_year) for p in spec.prize_criteria] == [("kazakhstan", 2017)]


def test_only_ecology_is_a_transboundary_field_and_the_network_gets_it():
    region = load_region(REGIONAL)
    assert region.spec.transboundary.sectors == ["ecology"]
    model = RegionalModel(region, rng=SEED)
    expected = [s == "ecology" for s in SECTORS]
    assert model.network.transboundary.tolist() == expected


def test_each_regional_parameter_has_a_prior_holding_its_default():
    priors = PriorFile.model_validate(
        yaml.safe_load((REPO / "calibration" / "priors_regional.yaml").read_text())
    ).parameters
    assert set(priors) == set(REGIONAL_RANGES)
    for name, value in load_region(REGIONAL).params.items():
        assert priors[name].low <= value <= priors[name].high, name
    assert not set(load_priors()) & set(REGIONAL_RANGES)


def test_a_default_said_to_be_the_centre_of_its_prior_is_that_centre():
    """The sources say where each default lies in its prior; "the centre" must be true."""
    priors = PriorFile.model_validate(
        yaml.safe_load((REPO / "calibration" / "priors_regional.yaml").read_text())
    ).parameters
    written = yaml.safe_load(REGIONAL.read_text(encoding="utf-8"))["parameters"]
    claimed = [n for n, p in written.items() if p["source"].startswith("assumption: the centre")]
    assert claimed
    for name in claimed:
        prior = priors[name]
        if prior.distribution == "loguniform":
            centre = (prior.low * prior.high) ** 0.5
        else:
            centre = (prior.low + prior.high) / 2
        assert written[name]["value"] == pytest.approx(centre), name


def test_openness_is_cut_by_the_restrictions_in_force():
    model = RegionalModel(load_region(REGIONAL), rng=0, agents=False)
    p = model.params
    assert model.openness("kazakhstan", 2005) == 1.0
    assert model.openness("uzbekistan", 2005) == pytest.approx(1 - p["uzbek_closure_strength"])
    both = (1 - p["uzbek_closure_strength"]) * (1 - p["osh_obstacles_strength"])
    assert model.openness("uzbekistan", 2012) == pytest.approx(both)
    assert model.openness("kyrgyzstan", 2012) == pytest.approx(1 - p["osh_obstacles_strength"])
    assert model.openness("uzbekistan", 2017) == 1.0


# The countries inside the region ---------------------------------------------------------


@pytest.mark.parametrize("country", COUNTRIES)
def test_without_feedback_each_country_gives_its_table_alone_bit_for_bit(country):
    inside, by_itself = country_table(regional_run(**NO_FEEDBACK), country), alone(country)
    pd.testing.assert_frame_equal(inside, by_itself, check_exact=True)


def test_with_feedback_tables_part_only_after_the_first_ties():
    """The feedback acts from the year after an NGO gains a tie (capacity) or from 2017
    (Kazakhstan's prizes), so every table is the one alone up to the first year with ties,
    and the feedback changes at least one country's table afterwards."""
    model = regional_run()
    ties = model.tie_table().groupby("year").ties.sum()
    first = int(ties[ties > 0].index.min())
    differs = []
    for country in COUNTRIES:
        inside, by_itself = country_table(model, country), alone(country)
        before = inside.year <= first
        pd.testing.assert_frame_equal(inside[before], by_itself[before], check_exact=True)
        differs.append(not inside.equals(by_itself))
    assert any(differs)


def test_a_country_that_ends_earlier_stops_at_its_end_year():
    region = region_with(**NO_FEEDBACK)
    short = region.countries["kyrgyzstan"].model_copy(update={"end_year": 2015})
    region.countries = {**region.countries, "kyrgyzstan": short}
    frame = simulate_region(region, seed=SEED).results()
    kg = frame[frame.country == "kyrgyzstan"]
    assert kg.year.max() == 2015 and kg.year.is_unique
    assert frame[frame.country == "kazakhstan"].year.max() == 2023
    inside = kg[list(OUTPUT_COLUMNS)].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        inside, simulate(short, seed=SEED, agents=False), check_exact=True
    )


def test_the_prize_criterion_changes_only_kazakhstan_and_only_from_2017():
    """At middling places at the donors' meetings and ties per participant (4.0 and 1.0, near the
    regional posterior's medians of 3.7 and 0.94) and the criterion's weight at the upper end of
    its prior. Whether the criterion changes a winner depends on how the ties fall among the
    strongest contenders, so on the seed: at the committed medians of session 65 it changed the
    Kazakh table in 5 of the seeds 1 to 6, not at seed 3, where it had under session 59's
    posterior; at session 74's, in all 6. So the seeds are run in turn until one changes it,
    every one of them checked for changing nothing else."""
    params = {
        "tie_capacity_gain": 0.0,
        "donor_mobility": 0.0,
        "grantee_places": 4.0,
        "prize_tie_weight": 1.0,
        "ties_per_participant": 1.0,
    }
    region = region_with(**params)
    for seed in range(1, 7):
        model = simulate_region(region, seed=seed)
        for country in ("kyrgyzstan", "uzbekistan"):
            pd.testing.assert_frame_equal(
                country_table(model, country),
                alone(country, seed),
                check_exact=True,
                obj=f"{country} at seed {seed}",
            )
        inside, by_itself = country_table(model, "kazakhstan"), alone("kazakhstan", seed)
        before = inside.year < 2017
        pd.testing.assert_frame_equal(
            inside[before], by_itself[before], check_exact=True, obj=f"seed {seed}"
        )
        if not inside[~before].equals(by_itself[~before]):
            break
    else:
        pytest.fail("the criterion changed no Kazakh winner at seeds 1 to 6")
    # The change is the criterion's: at weight 0 the same run is the country's alone.
    unweighted = region_with(**{**params, "prize_tie_weight": 0.0})
    pd.testing.assert_frame_equal(
        country_table(simulate_region(unweighted, seed=seed), "kazakhstan"),
        by_itself,
        check_exact=True,
    )


# Regional donors moving money ---------------------------------------------------------


def test_moved_money_goes_to_freer_programmes_in_proportion_to_budget_and_freedom():
    # Programme 0 is closed (keeps nothing of 10 planned); 1 and 2 keep all they plan.
    assert moved_money([10.0, 30.0, 10.0], [0.0, 30.0, 10.0], 0.5) == pytest.approx(
        [0.0, 3.75, 1.25]
    )
    # Nothing goes to a more constrained programme: 1 keeps 0.4 of its plan, 0 keeps 0.8.
    assert moved_money([10.0, 10.0], [8.0, 4.0], 0.5) == pytest.approx([3.0, 0.0])
    # Nothing goes where the donor spends nothing, and nothing moves at mobility 0.
    assert moved_money([5.0, 8.0, 0.0], [5.0, 0.0, 0.0], 1.0) == pytest.approx([8.0, 0.0, 0.0])
    assert moved_money([4.0, 8.0, 2.0], [1.0, 1.0, 2.0], 0.0) == [0.0, 0.0, 0.0]


def test_equal_cuts_everywhere_move_nothing():
    assert moved_money([10.0, 10.0, 10.0], [5.0, 5.0, 5.0], 1.0) == [0.0, 0.0, 0.0]
    assert moved_money([10.0, 20.0], [5.0, 10.0], 1.0) == [0.0, 0.0]


@pytest.mark.parametrize("year", [2005, 2012, 2020])
def test_regional_donors_move_the_share_mobility_of_what_they_withhold(year):
    region = region_with(donor_mobility=0.7)
    model = RegionalModel(region, rng=SEED, agents=False)
    model.run_for(year - region.start_year)
    running = dict(model.countries)
    for m in running.values():
        m.begin_year()
    names = region.spec.regional_donors.names
    before = {(c, d.name): d.budget_usd for c, m in running.items() for d in m.donors}
    path = {(c, d.name): d.path_usd(year) for c, m in running.items() for d in m.donors}
    model._move_donor_money(running, year)
    after = {(c, d.name): d.budget_usd for c, m in running.items() for d in m.donors}
    moved_any = False
    for (country, name), budget in after.items():
        gain = budget - before[country, name]
        assert gain >= 0
        if name not in names:
            assert gain == 0
    for name in names:
        keys = [k for k in after if k[1] == name]
        factor = {k: before[k] / path[k] if path[k] > 0 else 0.0 for k in keys}
        gained = sum(after[k] - before[k] for k in keys)
        # What a programme withholds moves only if the donor spends more freely elsewhere.
        movable = sum(
            path[k] - before[k]
            for k in keys
            if any(before[o] > 0 and factor[o] > factor[k] for o in keys if o != k)
        )
        assert gained == pytest.approx(0.7 * movable, rel=1e-9, abs=1e-6)
        # The most constrained programme of a donor receives nothing.
        assert after[min(keys, key=factor.get)] == before[min(keys, key=factor.get)]
        moved_any |= gained > 0
    assert moved_any


# Closures and openness in the full model -------------------------------------------------


def test_a_full_closure_of_uzbekistan_forms_no_tie_from_1999_until_its_opening():
    frame = regional_run(**NO_FEEDBACK, uzbek_closure_strength=1.0).results()
    uz = frame[frame.country == "uzbekistan"].set_index("year")
    # Open in the 1990s (the closure dates from the Tashkent bombings of 1999).
    assert uz.ties_formed.loc[:1998].sum() > 0 and uz.cross_border_ties.loc[1998] > 0
    # Closed: no tie forms and the earlier ones lapse. The count is of working ties, so it
    # can rise for a year when an inactive NGO with a kept tie is active again (docs/ODD.md,
    # the regional layer's output); it asserted "never rises" until the posterior of session
    # 49, whose median has such a return in 2012 with no tie formed.
    assert (uz.ties_formed.loc[1999:2016] == 0).all()
    assert uz.cross_border_ties.loc[2016] < uz.cross_border_ties.loc[1998] / 10
    assert uz.ties_formed.loc[2017:].sum() > 0 and uz.cross_border_ties.loc[2023] > 0


def test_a_full_closure_after_osh_forms_no_tie_while_it_holds():
    frame = regional_run(**NO_FEEDBACK, osh_obstacles_strength=1.0).results()
    formed = frame.groupby("year").ties_formed.sum()
    assert formed.loc[2009] > 0
    assert (formed.loc[2010:2016] == 0).all()
    assert formed.loc[2017:2023].sum() > 0


def test_regional_donors_tie_their_own_grantees_across_borders():
    """With the dated programmes taken out, every tie formed in a year joins two NGOs that
    one regional donor funded that year in two countries; with no participation, none."""
    region = region_with(**NO_FEEDBACK)
    region.spec = region.spec.model_copy(update={"programmes": []})
    names = region.spec.regional_donors.names
    quiet = RegionalModel(region.with_params({"grantee_places": 0.0}), rng=SEED)
    quiet.run_for(region.end_year - region.start_year + 1)
    assert quiet.network.graph.number_of_edges() == 0
    model = RegionalModel(region.with_params({"grantee_places": 20.0}), rng=SEED)
    formed = 0
    for _ in range(region.end_year - region.start_year + 1):
        model.step()
        funded = {
            (donor.name, country): set(donor.grantees.tolist())
            for country, m in model.countries.items()
            for donor in m.donors
            if donor.name in names
        }
        for a, b, since in model.network.graph.edges(data="since"):
            if since != model.year:
                continue
            formed += 1
            assert any(
                a[1] in funded.get((name, a[0]), ()) and b[1] in funded.get((name, b[0]), ())
                for name in names
            ), (a, b)
    assert formed > 0


def test_a_donors_meeting_places_follow_its_money_not_its_number_of_grants():
    """A regional donor's places are ``grantee_places`` per million dollars it awarded in a
    country, at most one per grantee; its grantees fill them (each with probability places /
    grantees). So the US donor's many $4,100 grants send no more NGOs per dollar than a
    foundation's few large ones."""
    region = region_with(**NO_FEEDBACK, grantee_places=12.0)
    model = RegionalModel(region, rng=SEED, agents=False)
    model.run_for(2005 - region.start_year + 1)
    running = dict(model.countries)
    open_all = {c: 1.0 for c in running}
    per_dollar, sizes = [], []
    for name in region.spec.regional_donors.names:
        people, full = model._grantees(name, model.year, running, open_all)
        expected = sum(
            min(d.grantees.size, 12.0 * d.awarded_usd / 1e6)
            for m in running.values()
            for d in m.donors
            if d.name == name
        )
        money = sum(d.awarded_usd for m in running.values() for d in m.donors if d.name == name)
        grantees = sum(
            d.grantees.size for m in running.values() for d in m.donors if d.name == name
        )
        assert full.sum() == pytest.approx(expected)
        assert binomial_ok(people.row.size, grantees, expected / grantees)
        per_dollar.append(full.sum() / money * 1e6)
        sizes.append(money / grantees)
    # The donors' grant sizes differ several-fold; their places per million dollars do not.
    assert max(sizes) > 3 * min(sizes)
    assert per_dollar == pytest.approx([12.0] * len(per_dollar))


def test_a_bad_seed_is_named_before_mesa_sees_it():
    with pytest.raises(ValueError, match="^seed: must be a whole number"):
        simulate_region(load_region(REGIONAL), seed=-1)


def test_a_country_named_by_a_file_of_another_kind_is_named_at_its_field(repo, write_yaml):
    # It named the experiment file's own first key ("baseline"), not this file's field.
    from model.regional_files import load_region

    experiment = repo / "experiments" / "kyrgyzstan_counterfactuals.yaml"
    regional = repo / "scenarios" / "central_asia.yaml"
    bad = write_yaml("ca.yaml", f"extends: {regional}\ncountries:\n  kyrgyzstan: {experiment}\n")
    with pytest.raises(ScenarioError) as err:
        load_region(bad)
    assert (err.value.file, err.value.field) == (str(bad), "countries.kyrgyzstan")
    assert "an experiment file, not a country's scenario" in err.value.message
