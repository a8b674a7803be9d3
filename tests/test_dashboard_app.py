"""Tests of the dashboard's model factory (app.py), without a browser.

Which scenarios it offers, the levers, seed, mechanism switch and posterior it applies,
the notes it shows, and the experiment its counterfactual view builds. The page itself
is tested in a browser in test_dashboard_browser.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from dashboard import scenarios
from model import NGOModel, ScenarioError, load_scenario
from model.levers import apply_levers

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def app():
    """The dashboard module (app.py is a top-level script, not a package module)."""
    spec = importlib.util.spec_from_file_location("ngo_dashboard_app", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The model factory -------------------------------------------------------------------


def test_discovers_country_and_counterfactual_scenarios(app, tmp_path):
    folder = ROOT / "scenarios"
    (tmp_path / "counterfactuals").mkdir()
    for name in ("base.yaml", "behaviour.yaml", "kyrgyzstan.yaml"):
        (tmp_path / name).write_text((folder / name).read_text())
    (tmp_path / "counterfactuals" / "late_donors.yaml").write_text(
        "extends: ../kyrgyzstan.yaml\nname: Late donors\n"
        "donors: [{name: Soros Foundation, entry_year: 2000, source: 'test: later'}]\n"
    )
    # The posterior median the dashboard runs would replace this value without a word.
    (tmp_path / "counterfactuals" / "more_donors.yaml").write_text(
        "extends: ../kyrgyzstan.yaml\nname: More donors\n"
        "donor_budget_scale: {value: 2.0, source: 'test: twice the donors'}\n"
    )
    (tmp_path / "counterfactuals" / "fragment.yaml").write_text("extends: ../base.yaml\n")
    # A regional file under any name is not a country scenario: neither offered nor skipped.
    (tmp_path / "region.yaml").write_text((folder / "central_asia.yaml").read_text())
    found, skipped = app.discover_scenarios(tmp_path)
    assert list(found) == ["kyrgyzstan", "counterfactuals/late_donors"]
    soros = [d for d in found["counterfactuals/late_donors"].donors if d.name == "Soros Foundation"]
    assert soros[0].entry_year == 2000
    assert list(skipped) == ["counterfactuals/fragment", "counterfactuals/more_donors"]
    assert "country: required field is missing" in skipped["counterfactuals/fragment"]
    refused = skipped["counterfactuals/more_donors"]
    assert "donor_budget_scale: changed from kyrgyzstan.yaml" in refused
    assert "the dashboard runs the posterior median" in refused


def test_a_posterior_the_dashboard_cannot_read_offers_every_scenario_as_written(app, monkeypatch):
    def unreadable(*args, **kwargs):
        raise ScenarioError("calibration/posterior.parquet", "", "not a parquet file")

    # Looked up where the dashboard reads the posterior: dashboard.scenarios.
    monkeypatch.setattr(scenarios, "posterior_median", unreadable)
    found, skipped = app.discover_scenarios()
    assert skipped == {} and list(found)[:3] == ["kazakhstan", "kyrgyzstan", "uzbekistan"]
    _, note = app.calibrated(found["kyrgyzstan"])
    assert note.startswith("uncalibrated: the posterior could not be used")


def test_the_repository_scenarios_are_offered_countries_first(app):
    assert list(app.SCENARIOS)[:3] == ["kazakhstan", "kyrgyzstan", "uzbekistan"]
    assert app.MODEL_PARAMS["scenario_name"]["values"] == list(app.SCENARIOS)
    assert app.SKIPPED == {}


def test_dashboard_model_applies_the_levers_and_the_seed(app):
    model = app.DashboardModel(
        scenario_name="kyrgyzstan",
        seed="7",
        donor_budget_scale=1.5,
        state_funding_start="2005",
        foreign_cut_year=2012,
        foreign_cut_depth=0.4,
        registration_burden="0.10",
    )
    base, _ = app.calibrated(load_scenario(ROOT / "scenarios" / "kyrgyzstan.yaml"))
    expected = apply_levers(
        base,
        donor_budget_scale=1.5,
        state_funding_start=2005,
        foreign_cut_year=2012,
        foreign_cut_depth=0.4,
        registration_burden=0.1,
    )
    assert model.config == expected
    assert model.seed == 7
    assert model.notes == []
    # The page opened anew shows the controls as they were set for this model.
    shown = {k: v["value"] for k, v in app.controls_of(model).items()}
    assert shown["seed"] == "7" and shown["donor_budget_scale"] == 1.5
    assert shown["state_funding_start"] == "2005" and shown["registration_burden"] == "0.10"
    assert app.controls_of(app.DashboardModel())["seed"]["value"] == str(app.DEFAULT_SEED)
    assert model.active_levers() == [
        "state grants start in 2005",
        "donor budgets x1.5",
        "foreign funding restricted to at least 0.4 from 2012",
        "registration burden held at 0.1",
    ]


def test_dashboard_model_switches_a_mechanism_off_before_the_levers(app):
    from model.mechanisms import MECHANISMS, switch_off_params

    model = app.DashboardModel(switch_off="donor_cuts", donor_budget_scale=1.5)
    base, _ = app.calibrated(load_scenario(ROOT / "scenarios" / "kyrgyzstan.yaml"))
    off = base.with_params(switch_off_params(["donor_cuts"]))
    assert model.config == apply_levers(off, donor_budget_scale=1.5)
    # The scenario records what the switch and the lever set (``Scenario.set_by``).
    assert set(model.config.set_by) == {*MECHANISMS["donor_cuts"].off, "donor_budget_scale"}
    assert model.switched_off == "donor_cuts"
    assert app._switched_off_text(None).startswith("none")
    assert MECHANISMS["donor_cuts"].neutral in app._switched_off_text("donor_cuts")
    assert "switch_off" not in app.LEVER_CONTROLS
    assert app.MODEL_PARAMS["switch_off"]["values"] == ["none", *MECHANISMS]


@pytest.mark.parametrize(
    # "1_000" and other scripts' digits are numbers to int() but not to `ngo-abm run --seed`.
    "typed",
    ["abc", "-3", "1.5", "4294967296", "99999999999999999999", "1_000", "\uff11\uff12"],
)
def test_a_bad_seed_is_reported_and_the_default_used(app, typed):
    model = app.DashboardModel(seed=typed)
    assert model.seed == app.DEFAULT_SEED
    [note] = model.notes
    assert typed in note and note.endswith(f"seed {app.DEFAULT_SEED} used")


def test_a_click_that_steps_past_the_last_year_stops_there(app):
    # Mesa's controller steps Render Interval years a click without looking at running.
    model = app.DashboardModel(scenario_name="kazakhstan", seed="3")
    years = len(model.config.years)
    for _ in range(years + 4):
        model.step()
    assert model.year == model.config.end_year and not model.running
    reference = NGOModel(model.config, rng=3)
    reference.run_for(years)
    pd.testing.assert_frame_equal(model.results(), reference.results())
    with pytest.raises(ValueError, match="no year after it to step"):
        reference.step()


def test_a_counterfactual_that_runs_as_its_country_says_so(app):
    # The 2024 law in a run to 2023: the run is Kyrgyzstan's, and the panel says so.
    law = app.DashboardModel(scenario_name="counterfactuals/kg_foreign_representatives_law_2024")
    assert law.notes == [
        "this file changes nothing in the years it runs (1991-2023): the run is the same as "
        "kyrgyzstan's"
    ]
    assert app.DashboardModel(scenario_name="counterfactuals/kg_no_2010_shock").notes == []
    assert app.DashboardModel(scenario_name="kyrgyzstan").notes == []


def test_defaults_are_the_scenario_as_written_without_a_posterior(app, monkeypatch):
    monkeypatch.setattr(scenarios, "has_posterior", lambda: False)
    model = app.DashboardModel()
    assert model.config == load_scenario(ROOT / "scenarios" / "kyrgyzstan.yaml")
    assert model.active_levers() == []
    assert model.calibration.startswith("uncalibrated")


def test_the_posterior_median_is_used_when_there_is_one(app, monkeypatch):
    monkeypatch.setattr(scenarios, "has_posterior", lambda: True)
    monkeypatch.setattr(
        scenarios,
        "posterior_median",
        lambda: {"civic_rate": 3.0, "kyrgyzstan.donor_budget_scale": 2.0},
    )
    model = app.DashboardModel(donor_budget_scale=1.5)
    assert model.config.behaviour.civic_rate.value == 3.0
    assert model.config.donor_budget_scale.value == pytest.approx(3.0)
    assert model.calibration.startswith("calibrated: posterior median (one run at the median")


# The counterfactual view's experiment ---------------------------------------------------


def test_the_counterfactual_view_offers_its_countrys_files_and_levers(app):
    from dashboard.counterfactual import LEVERS_ONLY, counterfactual_choices

    offered = counterfactual_choices(app.SCENARIOS, "kyrgyzstan")
    assert offered[-1] == LEVERS_ONLY
    assert offered[:-1] and all(k.startswith("counterfactuals/kg_") for k in offered[:-1])
    # Not the law of 2024: it changes nothing in the baseline's years (to 2023).
    assert "counterfactuals/kg_no_2010_shock" in offered
    assert "counterfactuals/kg_foreign_representatives_law_2024" not in offered


def test_the_counterfactual_view_builds_the_experiment_a_file_would(app):
    from dashboard.counterfactual import LEVERS_ONLY, NAME, Choice, build_comparison

    levers = app.counterfactual_levers(foreign_cut_year=2012, foreign_cut_depth=0.5)
    choice = Choice("kyrgyzstan", LEVERS_ONLY, levers, 10)
    experiment = build_comparison(choice, app.SCENARIOS, app.SCENARIO_DIR)
    assert experiment.spec.draws == 10
    assert experiment.levers(NAME) == {"foreign_cut_year": 2012, "foreign_cut_depth": 0.5}
    assert experiment.changes[NAME] == ["levers: state.foreign_funding_restriction"]
    assert experiment.scenarios[NAME] == experiment.baseline
    assert experiment.question(NAME) == (
        "What if kyrgyzstan ran with foreign funding restricted to at least 0.5 from 2012?"
    )
    on_file = Choice("kyrgyzstan", "counterfactuals/kg_no_2010_shock", {**levers}, 10)
    assert build_comparison(on_file, app.SCENARIOS, app.SCENARIO_DIR).question(NAME) == (
        "What if counterfactuals/kg_no_2010_shock, with foreign funding restricted to at "
        "least 0.5 from 2012?"
    )

    # No scenario, no lever, no switch: said in plain words, before any experiment is built.
    nothing = Choice("kyrgyzstan", LEVERS_ONLY, app.counterfactual_levers(), 10)
    with pytest.raises(ScenarioError) as refused:
        build_comparison(nothing, app.SCENARIOS, app.SCENARIO_DIR)
    assert refused.value.message.startswith("Nothing to compare: with no counterfactual scenario")

    switched = Choice("kyrgyzstan", LEVERS_ONLY, app.counterfactual_levers(), 10, "absorption")
    experiment = build_comparison(switched, app.SCENARIOS, app.SCENARIO_DIR)
    assert experiment.switched_off(NAME) == {"donor_absorption": 0.0}
    assert experiment.changes[NAME][0].startswith("switch_off: absorption")
    assert "without absorption" in experiment.question(NAME)


@pytest.mark.parametrize(
    ("controls", "said"),
    [
        # Kyrgyz state grants start in 2016 already: the lever restates the scenario.
        ({"state_funding_start": "2016"}, "The levers change nothing in the run: every input"),
        ({"registration_burden": "5"}, "registration_burden: must be between 0 and 1"),
    ],
)
def test_the_counterfactual_view_says_which_lever_it_refuses(app, controls, said):
    from dashboard.counterfactual import LEVERS_ONLY, Choice, build_comparison, refusal

    choice = Choice("kyrgyzstan", LEVERS_ONLY, app.counterfactual_levers(**controls), 10)
    with pytest.raises(ScenarioError) as refused:
        build_comparison(choice, app.SCENARIOS, app.SCENARIO_DIR)
    assert refusal(refused.value).startswith(said)


def test_levers_without_a_phrase_are_named_rather_than_dropped():
    from dashboard.controls import lever_phrases

    assert lever_phrases({"donor_budget_scale": 1.0, "state_reaction_scale": 0.5}) == [
        "state_reaction_scale 0.5"
    ]


def test_a_funding_start_after_a_scenarios_last_year_is_noted_and_dropped(app, monkeypatch):
    short = load_scenario(ROOT / "scenarios" / "kyrgyzstan.yaml")
    # Its state funds NGOs from 2016: a start in 2020 is after its end, not before its own.
    short = short.model_validate({**short.model_dump(), "end_year": 2018})
    monkeypatch.setitem(app.SCENARIOS, "short", short)
    model = app.DashboardModel(scenario_name="short", state_funding_start="2020")
    assert model.notes == ["this scenario ends in 2018: state grants from 2020 change nothing"]
    assert model.active_levers() == []
    assert model.config == app.calibrated(short)[0]


def test_a_cut_after_a_scenarios_last_year_is_noted_and_dropped(app, monkeypatch):
    short = load_scenario(ROOT / "scenarios" / "kyrgyzstan.yaml")
    short = short.model_validate({**short.model_dump(), "end_year": 2015})
    monkeypatch.setitem(app.SCENARIOS, "short", short)
    model = app.DashboardModel(scenario_name="short", foreign_cut_year=2020, foreign_cut_depth=0.5)
    assert model.notes == ["this scenario ends in 2015: a cut from 2020 changes nothing"]
    assert model.active_levers() == []
    assert model.config == app.calibrated(short)[0]
