"""A lever or a switched-off mechanism is not undone by parameters applied after it.

Found by an audit of the Python calls (session 82): ``apply_levers(scenario, ...)`` or
``scenario.with_params(switch_off_params([...]))`` and then the posterior's parameters
(``run_replicates(..., params)``) ran the baseline, table for table, under the
counterfactual's name: the parameters replaced what the lever or switch had set.
"""

from __future__ import annotations

import pickle

import pytest

from experiments import runs
from experiments.runs import run_replicates
from model import NGO, NGOModel, ScenarioError, load_scenario, simulate
from model.levers import apply_levers
from model.mechanisms import switch_off_params

DRAW = {"kyrgyzstan.donor_budget_scale": 50.0, "legitimation": 0.3, "civic_rate": 30.0}


@pytest.fixture(scope="module")
def kyrgyzstan(repo):
    return load_scenario(repo / "scenarios" / "kyrgyzstan.yaml")


def test_parameters_after_a_lever_are_refused_naming_both(kyrgyzstan):
    levered = apply_levers(kyrgyzstan, donor_budget_scale=2.0)
    with pytest.raises(ScenarioError) as refused:
        levered.with_params(DRAW)
    message = str(refused.value)
    assert message.startswith("params: kyrgyzstan.donor_budget_scale: would undo the lever")
    assert "donor_budget_scale x2" in message and "apply the parameters first" in message
    # Parameters the lever did not set still apply, and the lever's own value may be restated.
    kept = levered.with_params({"civic_rate": 30.0, "donor_budget_scale": 2 * 20.0})
    assert kept.behaviour.civic_rate.value == 30.0 and kept.set_by == levered.set_by


def test_parameters_after_a_switch_are_refused_and_the_right_order_switches(kyrgyzstan):
    switched = kyrgyzstan.with_params(switch_off_params(["legitimation"]))
    with pytest.raises(ScenarioError, match="^params: legitimation: would undo switching off"):
        switched.with_params(DRAW)
    right = kyrgyzstan.with_params(DRAW).with_params(switch_off_params(["legitimation"]))
    assert right.behaviour.legitimation.value == 0.0
    assert not simulate(right, seed=3).equals(simulate(kyrgyzstan.with_params(DRAW), seed=3))


def test_run_replicates_refuses_before_any_run_and_the_mark_survives_a_worker(
    kyrgyzstan, monkeypatch
):
    levered = apply_levers(kyrgyzstan, donor_budget_scale=2.0)
    assert pickle.loads(pickle.dumps(levered)).set_by == levered.set_by

    def no_runs(*args, **kwargs):
        raise AssertionError("a run started")

    monkeypatch.setattr(runs, "map_runs", no_runs)
    with pytest.raises(ScenarioError, match="would undo the lever donor_budget_scale"):
        run_replicates(levered, 1, 2, [DRAW, DRAW], workers=2)
    # Applied after the parameters, the lever doubles the draw's donor money.
    doubled = apply_levers(kyrgyzstan.with_params(DRAW), donor_budget_scale=2.0)
    assert doubled.donor_budget_scale.value == 2 * DRAW["kyrgyzstan.donor_budget_scale"]


def test_a_switch_after_a_lever_switches_the_mechanism_off(kyrgyzstan):
    levered = apply_levers(kyrgyzstan, state_reaction_scale=2.0)
    off = levered.with_params(switch_off_params(["state_reaction"]))
    assert off.behaviour.state_restriction_reaction.value == 0.0
    assert off.set_by["state_restriction_reaction"] == "switching off state_reaction"


def test_the_readmes_agents_are_an_agent_set_even_before_the_first_ngo(repo):
    model = NGOModel(load_scenario(repo / "scenarios" / "kazakhstan.yaml"), rng=1)
    model.step()  # 1989: no NGO registered yet
    assert len(model.agents.select(agent_type=NGO)) == 0
    model.step()
    ngos = model.agents.select(agent_type=NGO)
    assert len(ngos) == model.datacollector.get_model_vars_dataframe()["registered"].iloc[-1]
