"""The year's counts and shares on a population built by hand (``model.metrics.tally``).

The engines' and the calibration path's tests compare the implementations with each
other, and the pinned tables are rewritten from the code: a definition both get wrong
(an income band's edge, who counts as foreign-funded) would pass them all. Here each
count is worked out row by row, at the edges the targets read: incomes of exactly $5,000
and $50,000 a year (nominal), an NGO exactly half foreign-funded, one living on foreign
reserves, struck-off and dormant NGOs.
"""

from __future__ import annotations

import numpy as np
import pytest

from model.engines import make_rules
from model.metrics import ECOLOGY, TALLY, output_row
from model.population import (
    DEREGISTERED,
    DORMANT,
    LONG_ACTIVE_YEARS,
    OPERATING,
    Population,
)
from model.rng import KeyedStreams

TO_NOMINAL = 2.0  # constant to nominal dollars: incomes below are half their nominal value
OTHER = (ECOLOGY + 1) % 8

# status, sector, foreign, state grant, prize, domestic, spent foreign reserves, active,
# reported, streak, founded by the State
ROWS = [
    (OPERATING, OTHER, 2500, 0, 0, 0, False, True, True, LONG_ACTIVE_YEARS, False),  # $5,000
    (OPERATING, OTHER, 1000, 600, 400, 0, False, True, False, LONG_ACTIVE_YEARS - 1, False),
    (OPERATING, OTHER, 0, 0, 0, 30000, True, True, False, 0, False),  # on foreign reserves
    (OPERATING, OTHER, 0, 0, 0, 25000, False, True, False, 0, False),  # exactly $50,000
    (OPERATING, OTHER, 0, 0, 0, 0, False, True, False, 0, False),  # no income this year
    (OPERATING, OTHER, 0, 0, 0, 2501, False, True, False, 0, False),  # $5,002
    (DORMANT, ECOLOGY, 0, 0, 0, 0, False, True, True, LONG_ACTIVE_YEARS, False),
    (DEREGISTERED, ECOLOGY, 0, 0, 0, 0, False, False, False, 0, True),
    (DORMANT, OTHER, 0, 0, 0, 0, False, False, False, 0, True),
]
EXPECTED = {
    "registered": 8,  # all but the struck-off
    "funded": 6,  # operating
    "operational": 7,  # any activity: the six funded and the dormant volunteers
    "reporting": 2,
    "long_active": 2,
    "income_foreign": 3500,
    "income_state": 1000,  # grants and prizes
    "income_domestic": 57501,
    "foreign_funded": 3,  # foreign income, or foreign reserves spent
    "foreign_dependent": 1,  # more than half: exactly half is not
    "income_le_5k": 3,  # $5,000, $4,000 and $0 nominal; $5,002 is not
    "income_gt_50k": 1,  # $60,000; exactly $50,000 is not above
    "ecology": 1,  # the struck-off ecology NGO is off the register
    "state_founded": 1,  # likewise the struck-off one of the State's
}


def population() -> Population:
    pop = Population(capacity_hint=len(ROWS))
    rows = pop.extend(len(ROWS))
    columns = (
        "status sector income_foreign income_state income_prize income_domestic "
        "spent_foreign_reserves active reported streak state_founded"
    ).split()
    for name, values in zip(columns, zip(*ROWS, strict=True), strict=True):
        getattr(pop, name)[rows] = values
    return pop


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_each_count_is_the_one_worked_out_by_hand(engine):
    counts = make_rules(engine, population(), KeyedStreams(1)).tally(TO_NOMINAL)
    assert dict(zip(TALLY, counts.tolist(), strict=True)) == EXPECTED


def test_the_output_rows_shares_divide_by_the_funded_or_the_register():
    counts = np.array([EXPECTED[name] for name in TALLY], dtype=np.float64)
    row = output_row(2020, 3, 1, counts, (1e6, 2e5, 0.1), [100.0, 0.0, 50.0])
    assert row["share_foreign_funded"] == 3 / 6
    assert row["share_foreign_dependent"] == 1 / 6
    assert row["share_income_le_5k"] == 3 / 6
    assert row["share_income_gt_50k"] == 1 / 6
    assert row["share_ecology"] == 1 / 8 and row["share_state_founded"] == 1 / 8
    assert row["share_income_foreign"] == 3500 / 62001
    assert (row["operational"], row["funded"], row["registered"]) == (7, 6, 8)
    assert (row["donors_active"], row["donor_budget_usd"]) == (2, 150.0)
