"""The compiled years (``model.year_loop``) against the Python definitions they mirror.

The State's and Donors' decisions, the founding count and the output row are defined once
in Python (``model.decisions``, ``model.founding``, ``model.rng``, ``model.metrics``); the
calibration path runs compiled copies of them. Each copy must give the Python value to
the last bit, and a run whose arrays grow must end as ``NGOModel``'s does (a runaway register:
``tests/test_fastpath.py``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model import NGOModel, decisions, fastpath, founding, load_scenario
from model.code import model_fingerprint
from model.fastpath import run_compiled
from model.pairwise import CACHE_STAMP, NUMBA_CACHE, drop_stale_compiled_code
from model.population import Population
from model.rng import KeyedStreams, poisson_quantile
from model.year_loop import (
    PARAMS,
    density_factor,
    expected_registrations,
    params_array,
    python_sum,
    restriction,
    run_years,
    state_share,
    year_keys,
    year_uniforms,
)
from model.year_loop import donor_budgets as compiled_budgets
from model.year_loop import poisson_quantile as compiled_quantile

ROOT = Path(__file__).resolve().parent.parent
FINITE = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
SHARE = st.floats(min_value=0, max_value=1)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(FINITE, max_size=12))
def test_python_sum_is_the_builtin_sum_of_floats(values):
    assert python_sum(np.array(values, dtype=np.float64)) == sum(values)


def test_python_sum_compensates_as_the_builtin_does():
    values = [1e16, 1.0, -1e16, 1.0]
    assert sum(values) == 2.0  # plain left-to-right addition gives 1.0
    assert python_sum(np.array(values)) == 2.0


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.floats(min_value=1e-9, max_value=1 - 1e-9), st.floats(min_value=0, max_value=1e6))
def test_the_poisson_quantile_is_scipys(u, lam):
    assert compiled_quantile(u, lam) == poisson_quantile(u, lam)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    st.floats(min_value=1, max_value=400),
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=100, max_value=5000),
    st.floats(min_value=100, max_value=1e5),
    st.integers(min_value=0, max_value=50_000),
    st.floats(min_value=0, max_value=1e9),
    SHARE,
)
def test_expected_registrations_are_the_models(
    rate, legit, competition, crowding, active, money, burden
):
    b = {
        "civic_rate": rate,
        "funding_rate": 2 * rate,
        "legitimation": legit,
        "competition_density": competition,
        "crowding_usd": crowding,
    }
    p = params_array(defaults() | b)
    expected = founding.expected_registrations(b, 6.4, active, money, burden)
    assert expected_registrations(p, 6.4, active, money, burden) == expected


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.floats(min_value=0, max_value=1e5), st.floats(min_value=0, max_value=1e5))
def test_the_states_share_of_new_ngos_is_the_models(civic, state):
    assert state_share(civic, state) == founding.state_share(civic, state)


def defaults() -> dict[str, float]:
    """Every parameter ``run_years`` reads, at 0 (the tests set those they vary)."""
    return dict.fromkeys(PARAMS, 0.0)


def test_the_density_factor_squares_as_python_does():
    """Where ``x ** 2`` (libm's ``pow``) and ``x * x`` differ, the compiled rule is Python's."""
    b = {"legitimation": 0.4, "competition_density": 1500.0}
    p = params_array(defaults() | b)
    rng = np.random.default_rng(0)
    squares_differ = [
        d
        for d in rng.uniform(0, 4000, 50_000).tolist()
        if (d / 1500.0) ** 2 != d / 1500.0 * (d / 1500.0)
    ]
    if not squares_differ:
        pytest.skip("this math library's pow(x, 2) is x * x: nothing to tell apart")
    squared_differently = 0
    for d in squares_differ:
        assert density_factor(p, d) == founding.density_factor(d, b)
        x = d / 1500.0
        assert x**2 != x * x
        squared_differently += math.exp(-(x * x)) != math.exp(-(x**2))
    assert squared_differently > 0  # so multiplying would have failed this test


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    st.lists(SHARE, min_size=10, max_size=10),
    st.booleans(),
    st.lists(st.floats(min_value=0, max_value=5e7), min_size=0, max_size=7),
    st.integers(min_value=0, max_value=5000),
)
def test_the_state_and_donors_decide_as_the_agents_do(shares, revolution, paths, capable):
    neighbour, memory, reaction, cut, unrest_cut, absorption = shares[:6]
    instability, previous, foreign, documented = shares[6:]
    b = dict(
        state_neighbour_threat=neighbour,
        state_threat_memory=memory,
        state_restriction_reaction=reaction,
        donor_restriction_cut=cut,
        donor_instability_cut=unrest_cut,
        donor_absorption=absorption * 3,
    )
    p = params_array(defaults() | b)
    line = np.zeros((7, 1))
    line[0, 0], line[1, 0], line[2, 0] = instability, float(revolution), documented
    carry = np.array([previous, math.nan, foreign, float(capable)])
    threat = decisions.perceived_threat(instability, revolution, previous, neighbour, memory)
    reactive = decisions.reactive_restriction(foreign, threat, reaction)
    in_force = decisions.restriction_in_force(documented, reactive)
    assert restriction(p, line, 0, carry) == (threat, in_force)

    means = [15000.0 + 5000 * d for d in range(len(paths))]
    political = decisions.donor_political_factor(in_force, instability, cut, unrest_cut)
    expected = decisions.absorbed_budgets(
        [x * political for x in paths], means, capable, absorption * 3
    )
    matrix = np.array(paths, dtype=np.float64).reshape(-1, 1)
    budgets = compiled_budgets(p, matrix, np.array(means), 0, instability, in_force, capable)
    assert budgets.tolist() == expected


def test_year_keys_and_uniforms_are_the_streams():
    streams, years = KeyedStreams(99), np.arange(1989, 2024)
    keys = year_keys(streams.bases(["report", "founding"]), years)
    assert np.array_equal(keys[0], streams.keys("report", years))
    expected = [streams.scalar_uniform("founding", int(y)) for y in years]
    assert year_uniforms(keys[1]).tolist() == expected


def test_a_run_whose_arrays_grow_gives_the_numpy_table(monkeypatch):
    """The loop stops for more rows and resumes the same year as if nothing had happened."""
    grown = []
    reserve = Population.reserve

    def counted(self, rows):
        grown.append(rows)
        reserve(self, rows)

    monkeypatch.setattr(Population, "reserve", counted)
    monkeypatch.setattr(fastpath, "INITIAL_ROWS", 4096)
    kg = load_scenario(ROOT / "scenarios" / "kyrgyzstan.yaml")
    compiled = run_compiled(kg, 5)
    assert len(grown) >= 2  # from 4,096 rows to about 20,000
    model = NGOModel(kg, rng=5, agents=False, engine="numpy")
    model.run_for(kg.end_year - kg.start_year + 1)
    expected = model.results()
    for column in expected.columns:
        assert np.array_equal(expected[column].to_numpy(), compiled[column].to_numpy()), column


def test_cached_machine_code_is_dropped_when_the_model_changes(tmp_path):
    """numba checks a cached function against its own file only, so the model's fingerprint
    decides: code cached under another fingerprint is deleted, under this one kept."""
    cached = [tmp_path / "kernels.seek-105.py312.nbi", tmp_path / "kernels.seek-105.py312.1.nbc"]
    for path in cached:
        path.write_bytes(b"old machine code")
    (tmp_path / CACHE_STAMP).write_text("another model")
    assert drop_stale_compiled_code(tmp_path)
    assert not any(path.exists() for path in cached)
    for path in cached:
        path.write_bytes(b"this model's machine code")
    assert not drop_stale_compiled_code(tmp_path)
    assert all(path.exists() for path in cached)


def test_the_guarded_cache_is_where_numba_caches_the_model():
    if numba.config.CACHE_DIR:
        pytest.skip("NUMBA_CACHE_DIR moves numba's cache away from the sources")
    assert Path(run_years._cache._cache_path) == NUMBA_CACHE
    assert (NUMBA_CACHE / CACHE_STAMP).read_text() == model_fingerprint()
