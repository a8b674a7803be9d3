"""Keyed random streams (model/rng.py) and common random numbers at model level."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from model import NGOModel
from model.population import DEREGISTERED, DORMANT, OPERATING
from model.rng import KeyedStreams

IDS = np.arange(2_000_000_000, 2_000_000_000 + 5000, dtype=np.uint64)


def test_draw_of_an_id_does_not_depend_on_who_else_draws():
    streams = KeyedStreams(11)
    together = streams.uniform("survival", 2005, IDS)
    alone = np.array([streams.uniform("survival", 2005, IDS[i : i + 1])[0] for i in range(50)])
    np.testing.assert_array_equal(alone, together[:50])
    order = np.random.default_rng(0).permutation(IDS.size)
    shuffled = streams.uniform("survival", 2005, IDS[order])
    np.testing.assert_array_equal(shuffled, together[order])
    subset = IDS[::7]
    np.testing.assert_array_equal(streams.uniform("survival", 2005, subset), together[::7])


def test_draws_depend_only_on_seed_decision_year_and_id():
    first = KeyedStreams(11).uniform("survival", 2005, IDS)
    # A fresh object, after unrelated draws, gives the same numbers: no hidden state.
    other = KeyedStreams(11)
    other.uniform("grant:UNDP", 2004, IDS)
    np.testing.assert_array_equal(other.uniform("survival", 2005, IDS), first)
    # Plain Python ints and a list work as keys too.
    np.testing.assert_array_equal(
        KeyedStreams(11).uniform("survival", 2005, [int(i) for i in IDS[:10]]), first[:10]
    )


@pytest.mark.parametrize(
    "changed",
    [
        {"decision": "report"},
        {"year": 2006},
        {"seed": 12},
        {"seed": (11, 1)},
    ],
    ids=["decision", "year", "seed", "seed-tuple"],
)
def test_changing_any_key_part_changes_the_draws(changed):
    base = {"seed": 11, "decision": "survival", "year": 2005}
    args = base | changed
    u0 = KeyedStreams(base["seed"]).uniform(base["decision"], base["year"], IDS)
    u1 = KeyedStreams(args["seed"]).uniform(args["decision"], args["year"], IDS)
    assert np.mean(u0 == u1) < 0.001
    # The changed stream is not a shifted or reordered copy either.
    assert abs(np.corrcoef(u0, u1)[0, 1]) < 0.05


def test_uniforms_look_uniform_and_independent():
    ids = np.arange(1_000_000, 1_040_000, dtype=np.uint64)  # consecutive ids, one year
    u = KeyedStreams(3).uniform("apply_dormant", 1999, ids)
    assert u.dtype == np.float64 and u.shape == ids.shape
    assert u.min() >= 0.0 and u.max() < 1.0
    n = u.size
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 0.003
    assert stats.kstest(u, "uniform").pvalue > 0.001
    # Neighbouring ids and two decisions of the same NGOs are uncorrelated.
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 5 / np.sqrt(n)
    v = KeyedStreams(3).uniform("deregister", 1999, ids)
    assert abs(np.corrcoef(u, v)[0, 1]) < 5 / np.sqrt(n)


def test_normals_are_standard_normal():
    z = KeyedStreams(5).normal("capacity", 2001, IDS)
    assert np.all(np.isfinite(z))
    assert stats.kstest(z, "norm").pvalue > 0.001


def test_scalar_uniform_is_the_draw_of_key_zero():
    streams = KeyedStreams(9)
    value = streams.scalar_uniform("founding", 2001)
    assert isinstance(value, float)
    assert value == streams.uniform("founding", 2001, np.zeros(1, dtype=np.uint64))[0]
    assert value != streams.scalar_uniform("founding", 2002)


def test_draws_are_the_same_in_another_process_with_another_hash_seed(repo):
    # Load model/rng.py on its own (it has no package imports) to keep the process light.
    code = (
        "import importlib.util, sys, numpy as np; "
        "spec = importlib.util.spec_from_file_location('rng', sys.argv[1]); "
        "rng = importlib.util.module_from_spec(spec); spec.loader.exec_module(rng); "
        "print(repr(rng.KeyedStreams(4).uniform('grant:Soros Foundation', 2003, "
        "np.arange(10, dtype=np.uint64)).tolist()))"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, "-c", code, str(repo / "model" / "rng.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    here = KeyedStreams(4).uniform("grant:Soros Foundation", 2003, np.arange(10, dtype=np.uint64))
    assert ast.literal_eval(out.stdout) == here.tolist()


# Common random numbers at model level --------------------------------------------------


class RecordingStreams(KeyedStreams):
    """Keyed streams that log every per-NGO draw as {(decision, year, id): value}."""

    def __init__(self, seed):
        super().__init__(seed)
        self.draws: dict[tuple[str, int, int], float] = {}

    def uniform(self, decision, year, ids):
        u = super().uniform(decision, year, ids)
        for key, value in zip(np.asarray(ids, dtype=np.uint64).tolist(), u.tolist(), strict=True):
            self.draws[(decision, year, key)] = value
        return u

    def scalar_uniform(self, decision, year):
        u = super().scalar_uniform(decision, year)
        self.draws[(decision, year, 0)] = u
        return u


def _recorded_model(scenario, seed):
    # Draws are recorded as the numpy rules make them; the compiled rules make the same
    # draws (tests/test_engines.py checks the two give identical NGOs in this experiment).
    model = NGOModel(scenario, rng=seed, engine="numpy")
    model.streams = model.rules.streams = RecordingStreams(seed)
    founding: dict[int, tuple[int, bool, float]] = {}
    pop = model.population
    add = pop.add

    def recording_add(*args, **kwargs):
        rows = add(*args, **kwargs)
        for i in range(rows.start, rows.stop):
            founding[int(pop.ngo_id[i])] = (
                int(pop.sector[i]),
                bool(pop.one_day[i]),
                float(pop.capacity[i]),
            )
        return rows

    pop.add = recording_add
    return model, founding


def _run_to(model, year):
    while model.year < year:
        model.step()


def test_removing_ngos_leaves_everyone_elses_draws_identical(scenarios):
    scenario = scenarios["kyrgyzstan"]
    cut_year, last_year = 2002, 2007
    twin, twin_founding = _recorded_model(scenario, seed=21)
    cut, cut_founding = _recorded_model(scenario, seed=21)
    _run_to(twin, cut_year)
    _run_to(cut, cut_year)

    pop = cut.population
    status = pop.view("status")
    victims = np.concatenate(
        [np.flatnonzero(status == OPERATING)[:3], np.flatnonzero(status == DORMANT)[:3]]
    )
    assert victims.size == 6
    for row in victims:
        pop.status[row] = DEREGISTERED
        cut.ngos[row].remove()

    twin.streams.draws.clear()
    cut.streams.draws.clear()
    _run_to(twin, last_year)
    _run_to(cut, last_year)

    # The removal changed the run (fewer NGOs), so the comparison below is not vacuous.
    twin_frame, cut_frame = twin.results(), cut.results()
    after = twin_frame.year > cut_year
    assert cut_frame.registered[after].iloc[0] < twin_frame.registered[after].iloc[0]

    common = twin.streams.draws.keys() & cut.streams.draws.keys()
    assert len(common) > 50_000
    assert {key[0] for key in common} >= {
        "apply_dormant",
        "domestic_raise",
        "one_day_exit",
        "report",
        "deregister",
        "sector",
        "capacity",
        "founding",
    }
    mismatched = [k for k in common if twin.streams.draws[k] != cut.streams.draws[k]]
    assert mismatched == []
    # Founding responds to how crowded the register is, so the counts may differ a little;
    # every NGO founded later in both runs has the same founding attributes in both.
    later = {i: v for i, v in twin_founding.items() if i >= (cut_year + 1) * 10**6}
    shared = later.keys() & cut_founding.keys()
    assert len(shared) >= 0.99 * len(later) > 0
    assert {i: cut_founding[i] for i in shared} == {i: later[i] for i in shared}
