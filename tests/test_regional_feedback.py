"""Which way the regional feedback pushes (``model.regional``), on hand-made rows.

The regional tests of whole runs check that the feedback changes the tables; a
feedback turned the wrong way (a tie that costs capacity, prizes that favour NGOs without
ties) changes them too. Here the direction and size are checked against their
definitions (docs/ODD.md, section 8).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from model.agents import State
from model.regional import RegionalModel, RegionalState


def test_a_new_tie_raises_its_ngos_capacity_by_the_gain_and_no_other():
    capacity = np.array([1.0, 2.0, 4.0])
    countries = {"kyrgyzstan": SimpleNamespace(population=SimpleNamespace(capacity=capacity))}
    region = SimpleNamespace(params={"tie_capacity_gain": 0.25}, countries=countries)
    RegionalModel._joint_project_gain(region, {("kyrgyzstan", 0), ("kyrgyzstan", 2)})
    assert capacity.tolist() == [1.25, 2.0, 5.0]


def test_the_prize_criterion_multiplies_a_tied_ngos_merit_by_one_plus_its_weight(monkeypatch):
    monkeypatch.setattr(State, "prize_merit", lambda self, year, pool: np.full(pool.rows.size, 2.0))
    state = RegionalState.__new__(RegionalState)  # its merit reads only the two fields below
    state.tied = np.array([True, False, True, False])
    pool = SimpleNamespace(rows=np.array([0, 1, 2, 3, 5]))  # row 5: founded after the mask
    state.tie_weight = 0.5
    assert state.prize_merit(2020, pool).tolist() == [3.0, 2.0, 3.0, 2.0, 2.0]
    state.tie_weight = 0.0  # not in force
    assert state.prize_merit(2020, pool).tolist() == [2.0] * 5
