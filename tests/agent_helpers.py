"""Helpers of the agent-rule tests (test_agents, test_state_rules, test_founding_rules).

A plain module, not a test file: the Donor, State and founding tests build their donors,
scenario variants and stepped models the same way.
"""

from __future__ import annotations

import numpy as np

from model import SECTORS, NGOModel, Scenario
from model import population as rules
from model.scenario import Donor as DonorConfig

ECOLOGY = SECTORS.index("ecology")
DISABILITY = SECTORS.index("disability")


def donor_config(**changes) -> DonorConfig:
    data = {
        "name": "Test donor",
        "entry_year": 1995,
        "exit_year": 2000,
        "weight": {"value": 1, "source": "test"},
        "mean_grant_usd": {"value": 10_000, "source": "test"},
        "priorities": {"weights": {"ecology": 3, "women": 1}, "source": "test"},
        "source": "test",
    }
    return DonorConfig.model_validate(data | changes)


# The Kazakh donors weigh 7 in all, so a test donor of weight 1 gets a seventh of the
# country's foreign money: 1 million US$ at a level of 7 million.
FLAT_PATH = {
    "donor_budget_scale": 7.0,
    "donor_ramp_years": 1.0,
    "donor_peak_year": 2020.0,
    "donor_decline": 0.0,
    "track_record_weight": 1.0,
}


def scenario_variant(scenario: Scenario, **changes) -> Scenario:
    data = scenario.model_dump(mode="python")
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = data
        for key in parents:
            target = target[key]
        target[last] = value
    return Scenario.model_validate(data)


def stepped(scenario: Scenario, year: int, seed: int = 1) -> NGOModel:
    """Return a model run through ``year``: that year's policy, budgets and money applied."""
    model = NGOModel(scenario, rng=seed)
    while model.year < year:
        model.step()
    return model


def pool(model: NGOModel, seekers: np.ndarray) -> rules.ApplicantPool:
    b = model.behaviour
    return rules.ApplicantPool(
        model.population, seekers, b["track_record_weight"], b["grant_size_capacity"]
    )
