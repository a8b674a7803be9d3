"""Tests of the mechanism switches (model/mechanisms.py) and of experiments that use them.

Each switch is its rule's neutral point (the rule without the mechanism, or within the
stated distance of it), changes the runs where the mechanism acts and nothing where it
cannot, and ``mechanisms:`` in an experiment file gives one paired counterfactual per
mechanism, switched off after the posterior draw.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cli.main import main
from experiments.experiment import BASELINE, build_chunks, load_experiment, parameter_sets
from experiments.runner import run_task
from model import NGOModel, load_scenario, simulate
from model.engines import raise_probability
from model.founding import density_factor, expected_registrations
from model.mechanisms import MECHANISMS, switch_off_params
from model.timeline import Timeline

ROOT = Path(__file__).resolve().parent.parent
COUNTRIES = ("kyrgyzstan", "kazakhstan", "uzbekistan")
# Where each mechanism acts at the scenario's own parameters: Kyrgyzstan, except the
# strike-offs (no procedure in Kyrgyzstan; Kazakhstan's from 2018) and the domestic pool,
# which binds only when it is small (the low end of its prior).
ACTS_IN = {
    "strike_offs": ("kazakhstan", {}),
    "domestic_pool": ("kyrgyzstan", {"domestic_pool_gdp": 1e-4}),
    "state_founding": ("uzbekistan", {}),
}


def scenario(country, **params):
    return load_scenario(ROOT / "scenarios" / f"{country}.yaml", params or None)


def table(s, seed=3):
    return simulate(s, seed=seed, agents=False)


@pytest.mark.parametrize("name", list(MECHANISMS))
@pytest.mark.parametrize("country", COUNTRIES)
def test_every_switch_is_a_valid_parameter_set(name, country):
    switched = scenario(country).with_params(MECHANISMS[name].off)
    values = switched.behaviour.values()
    assert all(values[k] == v for k, v in MECHANISMS[name].off.items())


def test_unknown_mechanism_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown mechanism 'legitimacy'.*legitimation"):
        switch_off_params(["legitimacy"])


def test_density_dependence_switched_off_leaves_a_factor_of_one():
    b = scenario("kyrgyzstan").behaviour.values()
    off = {**b, **switch_off_params(["legitimation", "competition"])}
    for d in np.linspace(0.0, 10_000.0, 101).tolist():
        assert 0.9999 < density_factor(d, off) <= 1.0
        # Without legitimation only the competition factor is left, to the last bit.
        competition = math.exp(-((d / b["competition_density"]) ** 2))
        assert density_factor(d, {**b, "legitimation": 0.0}) == competition
    assert density_factor(5_000.0, b) != density_factor(5_000.0, off)


def test_without_the_scramble_money_per_ngo_no_longer_damps_founding():
    b = {**scenario("kyrgyzstan").behaviour.values(), **switch_off_params(["ngo_scramble"])}
    for money, active in [(5e6, 1_000), (3e7, 8_000), (1e7, 20)]:
        got = expected_registrations(b, 5.0, active, money, 0.1)
        uncrowded = expected_registrations({**b, "crowding_usd": 0.0}, 5.0, active, money, 0.1)
        per_ngo = money / active
        assert got == pytest.approx(uncrowded, rel=1.0 / per_ngo)


def test_the_chance_of_raising_local_money_grows_with_gdp_per_person():
    b = scenario("kyrgyzstan").behaviour.values()
    base, reference = b["domestic_raise_prob"], b["giving_reference_usd"]
    assert raise_probability(b, reference) == pytest.approx(base, rel=1e-15)
    probs = [raise_probability(b, g) for g in (300.0, 1_000.0, 3_000.0, 13_000.0)]
    assert probs == sorted(probs) and len(set(probs)) == 4 and 0 < probs[0] < probs[-1] < 1

    def odds(p):
        return p / (1 - p)

    doubled = odds(raise_probability(b, 2 * reference)) / odds(base)
    assert doubled == pytest.approx(2 ** b["domestic_raise_elasticity"], rel=1e-12)
    off = {**b, **switch_off_params(["giving_growth"])}
    assert {raise_probability(off, g) for g in (300.0, 13_000.0)} == {base}


def test_ngos_without_programmes_file_only_with_the_unfunded_filing():
    # Without it no more NGOs file than run programmes (the funded and those on reserves);
    # with every active NGO filing as readily as a funded one, more do in later years.
    s = scenario("kyrgyzstan", report_unfunded=1.0)
    on, off = table(s), table(s.with_params(switch_off_params(["unfunded_filing"])))
    assert (off.reporting <= off.funded).all()
    assert (on.reporting > on.funded).any()
    assert (on.reporting <= on.operational).all()


@pytest.mark.parametrize("country", COUNTRIES)
def test_the_switched_off_domestic_pool_binds_in_no_posterior_draw(country):
    """A pool of a twentieth of GDP gives the same runs as a tenth: neither binds.

    A binding pool scales what every raiser gets, so equal tables mean that what the
    raisers ask for stays below both bounds in every year.
    """
    draws = pd.read_parquet(ROOT / "calibration" / "posterior.parquet").head(20)
    for params in draws.drop(columns="weight", errors="ignore").to_dict("records"):
        s = scenario(country).with_params(params)
        tenth = table(s.with_params(switch_off_params(["domestic_pool"])))
        assert tenth.equals(table(s.with_params({"domestic_pool_gdp": 0.05})))


def test_without_closures_or_strike_offs_no_kyrgyz_ngo_leaves_the_register():
    s = scenario("kyrgyzstan")
    assert not any(Timeline(s, s.behaviour.values()).purge)
    off = switch_off_params(["strike_offs", "voluntary_closure"])
    assert table(s)["deregistered"].sum() > 0
    assert (table(s.with_params(off))["deregistered"] == 0).all()


@pytest.mark.parametrize("country", COUNTRIES)
def test_without_its_reaction_the_states_restriction_is_its_laws(country):
    s = scenario(country).with_params(switch_off_params(["state_reaction"]))
    documented = Timeline(s, s.behaviour.values()).documented
    assert table(s)["foreign_restriction"].tolist() == list(documented)


@pytest.mark.parametrize("country", COUNTRIES)
def test_without_cuts_and_absorption_donors_offer_their_planned_money(country):
    s = scenario(country).with_params(switch_off_params(["donor_cuts", "absorption"]))
    line = Timeline(s, s.behaviour.values())
    planned = np.array(line.donor_path, dtype=float).reshape(len(s.donors), -1)
    offered = table(s)["donor_budget_usd"].to_numpy()
    assert offered == pytest.approx([math.fsum(year) for year in planned.T], rel=1e-12)


@pytest.mark.parametrize("name", list(MECHANISMS))
def test_each_switch_changes_the_runs_where_its_mechanism_acts(name):
    country, params = ACTS_IN.get(name, ("kyrgyzstan", {}))
    s = scenario(country, **params)
    assert not table(s).equals(table(s.with_params(MECHANISMS[name].off)))


@pytest.mark.parametrize("name", list(MECHANISMS))
def test_switched_off_runs_are_the_numpy_rules_to_the_last_bit(name):
    """The switches sit at the ends of parameter ranges that the priors never reach."""
    s = scenario("kazakhstan").with_params(MECHANISMS[name].off)
    reference = NGOModel(s, rng=7, agents=False, engine="numpy")
    reference.run_for(s.end_year - s.start_year + 1)
    assert reference.results().equals(simulate(s, seed=7, agents=False))


def test_switching_off_strike_offs_changes_nothing_where_there_are_none():
    s = scenario("kyrgyzstan")
    assert not any(Timeline(s, s.behaviour.values()).strike_off)
    assert table(s).equals(table(s.with_params(switch_off_params(["strike_offs"]))))


# ------------------------------------------------------------------ experiments


def write_experiment(path: Path, **changes) -> Path:
    spec = {
        "name": "mechanisms",
        "baseline": str(ROOT / "scenarios" / "kyrgyzstan.yaml"),
        "mechanisms": ["legitimation", "donor_cuts"],
        "outputs": ["registered", "donor_budget_usd"],
        "key_years": [2000, 2010],
        "end_year": 2010,
        "draws": 2,
        "replicates": 1,
        "seed": 5,
        "params": "scenario",
    }
    spec.update(changes)
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def test_mechanisms_all_gives_one_counterfactual_per_mechanism(tmp_path):
    experiment = load_experiment(write_experiment(tmp_path / "e.yaml", mechanisms="all"))
    assert experiment.counterfactuals == ["no-" + n.replace("_", "-") for n in MECHANISMS]
    for name in MECHANISMS:
        cf = "no-" + name.replace("_", "-")
        assert experiment.scenarios[cf] == experiment.baseline
        assert experiment.changes[cf] == [
            f"switch_off: {name} ("
            + ", ".join(f"{k} = {v:g}" for k, v in MECHANISMS[name].off.items())
            + f": {MECHANISMS[name].neutral})"
        ]
        assert MECHANISMS[name].does in experiment.question(cf)


def test_switches_act_after_the_drawn_parameters_on_the_same_seeds(tmp_path):
    experiment = load_experiment(write_experiment(tmp_path / "e.yaml", params="posterior"))
    draws = parameter_sets(experiment, ROOT / "calibration" / "posterior.parquet")
    chunks = build_chunks(experiment, draws)
    tasks = {c.scenario: c.tasks for c in chunks}
    for base, cuts in zip(tasks[BASELINE], tasks["no-donor-cuts"], strict=True):
        assert base.seed == cuts.seed and base.tags["draw"] == cuts.tags["draw"]
        assert base.params == draws[base.tags["draw"]]
        assert cuts.params == {**base.params, **MECHANISMS["donor_cuts"].off}
    keys = {c.scenario: c.key for c in chunks}
    assert len(set(keys.values())) == len(keys)


def test_a_mechanism_and_a_counterfactual_of_the_same_name_are_refused(tmp_path, capsys):
    twin = {
        "name": "no-legitimation",
        "scenario": str(ROOT / "scenarios" / "kyrgyzstan.yaml"),
        "question": "What does legitimation do, again?",
        "switch_off": ["legitimation"],
    }
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=[twin])
    assert main(["experiment", str(file), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "counterfactual names must be unique" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"mechanisms": ["legitimacy"]}, "mechanisms", "unknown mechanism 'legitimacy'"),
        ({"mechanisms": ["legitimation", "legitimation"]}, "mechanisms", "listed twice"),
        ({"mechanisms": "some"}, "mechanisms", "'all' or a list of mechanism names"),
        ({"mechanisms": []}, "mechanisms", "the list is empty"),
        # A year twice is a typo for another year, not a wish to see it twice.
        ({"key_years": [2010, 2000, 2010]}, "key_years", "year 2010 is listed twice"),
    ],
)
def test_bad_mechanisms_are_one_line_naming_the_field(tmp_path, capsys, changes, field, fragment):
    file = write_experiment(tmp_path / "e.yaml", **changes)
    assert main(["experiment", str(file), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith(f"ngo-abm: error: {file}: {field}") and fragment in err, err
    assert not (tmp_path / "out").exists()


def test_a_switched_off_task_runs_the_baseline_with_the_switch(tmp_path):
    experiment = load_experiment(write_experiment(tmp_path / "e.yaml"))
    chunks = build_chunks(experiment, parameter_sets(experiment))
    task = next(c for c in chunks if c.scenario == "no-donor-cuts").tasks[0]
    off = experiment.baseline.with_params(MECHANISMS["donor_cuts"].off)
    expected = simulate(off, seed=task.seed)
    assert run_task(task)[expected.columns].equals(expected)
