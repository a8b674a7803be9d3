"""The compiled rules (numba kernels) against the numpy reference: the same tables, bit for bit.

``model.engines`` has two implementations of the yearly NGO rules; everything the model
outputs must be identical whichever runs, for every country, seed, counterfactual and
parameter set, with and without Mesa agents. The kernels' primitives (keyed draws, numpy's
pairwise sum, numpy's powers) are checked on their own first.
"""

from __future__ import annotations

import math
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.priors import load_priors
from model import NGOModel, ScenarioError, kernels, libm, load_scenario, simulate
from model.engines import make_rules
from model.population import DEREGISTERED, DORMANT, OPERATING
from model.rng import KeyedStreams

ROOT = Path(__file__).resolve().parent.parent
COUNTRIES = ("kyrgyzstan", "kazakhstan", "uzbekistan")
COUNTERFACTUALS = sorted((ROOT / "scenarios" / "counterfactuals").glob("*.yaml"))
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None)


def both(scenario, seed, agents=False):
    """Return the tables of the numpy and the compiled rules for one run, stepped year by year.

    ``NGOModel`` itself, not ``simulate``: without agents ``simulate`` runs the compiled
    rules' calibration path instead (``tests/test_fastpath.py``), and these would not run.
    """
    return tuple(stepped(scenario, seed, agents, engine) for engine in ("numpy", "compiled"))


def stepped(scenario, seed, agents, engine):
    model = NGOModel(scenario, rng=seed, agents=agents, engine=engine)
    model.run_for(scenario.end_year - scenario.start_year + 1)
    return model.results()


def assert_identical(reference, compiled):
    """Assert two run tables are equal to the last bit (NaN equal to NaN)."""
    assert list(reference.columns) == list(compiled.columns)
    for column in reference.columns:
        a, b = reference[column].to_numpy(), compiled[column].to_numpy()
        assert np.array_equal(a, b, equal_nan=True), column


# Primitives ------------------------------------------------------------------------------


@SETTINGS
@given(
    seed=st.integers(0, 2**31 - 1),
    year=st.integers(0, 2100),
    ids=st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=20),
)
def test_keyed_draws_are_the_streams_draws(seed, year, ids):
    streams = KeyedStreams(seed)
    ids = np.array(ids, dtype=np.uint64)
    key = streams.key("capacity", year)
    uniforms = np.array([kernels.uniform(key, i) for i in ids])
    normals = np.array([kernels.normal(key, i) for i in ids])
    assert np.array_equal(uniforms, streams.uniform("capacity", year, ids))
    assert np.array_equal(normals, streams.normal("capacity", year, ids))


@SETTINGS
@given(
    n=st.one_of(st.integers(0, 300), st.integers(300, 70_000)),
    scale=st.floats(-30, 30),
    seed=st.integers(0, 1000),
)
def test_sums_are_numpys_pairwise_sums(n, scale, seed):
    values = np.random.default_rng(seed).lognormal(scale, 3.0, n)
    values[::7] *= -1
    assert kernels.total(values) == values.sum()
    if n > 10:
        assert kernels.pairwise_sum(values, 3, n - 7) == values[3 : n - 4].sum()


@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0, 2.0, -1.0])
def test_special_powers_are_numpys_exact_shortcuts(exponent):
    x = np.random.default_rng(1).lognormal(0.0, 2.0, 20_000)
    assert np.array_equal([kernels.power(v, exponent) for v in x], x**exponent)
    assert np.array_equal(libm.powers(x, exponent), x**exponent)


@pytest.mark.parametrize("exponent", [0.37, 1.7324, -0.8, 3.0, 3])
def test_other_powers_and_exponentials_are_the_c_librarys(exponent):
    """As Python's floats compute them, whatever numpy's own loops do on this CPU."""
    assert not numba.config.USING_SVML  # its vector maths would replace the C library's
    x = np.random.default_rng(2).lognormal(0.0, 2.0, 20_000)
    expected = [v ** float(exponent) for v in x.tolist()]
    assert [kernels.power(v, exponent) for v in x] == expected
    assert libm.powers(x, exponent).tolist() == expected
    z = np.random.default_rng(3).normal(0.0, 3.0, 20_000)
    assert libm.exp(z).tolist() == [math.exp(v) for v in z.tolist()]


def test_an_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine"):
        make_rules("fortran", None, None)


# Whole runs ------------------------------------------------------------------------------


@pytest.mark.parametrize("country", COUNTRIES)
@pytest.mark.parametrize("seed", [1, 20231])
def test_compiled_and_numpy_rules_give_the_same_table(country, seed):
    assert_identical(*both(load_scenario(ROOT / "scenarios" / f"{country}.yaml"), seed))


@pytest.mark.parametrize("path", COUNTERFACTUALS, ids=lambda p: p.stem)
def test_counterfactuals_give_the_same_table_on_both(path):
    assert_identical(*both(load_scenario(path), seed=5))


def test_the_same_table_with_mesa_agents():
    scenario = load_scenario(ROOT / "scenarios" / "kyrgyzstan.yaml")
    reference, compiled = both(scenario, seed=3, agents=True)
    assert_identical(reference, compiled)
    assert_identical(compiled, simulate(scenario, seed=3, agents=False))


@pytest.mark.parametrize("quantile", [0.03, 0.5, 0.97])
def test_prior_parameter_sets_give_the_same_table_on_both(quantile):
    """Parameters at the edges of the priors reach branches the baseline never does."""
    rng = np.random.default_rng(int(quantile * 100))
    values = {
        name: float(spec.quantiles(np.clip(quantile + rng.normal(0, 0.02), 0, 1)))
        for name, spec in load_priors().items()
    }
    compared = 0
    for country in ("kazakhstan", "uzbekistan"):
        scenario = load_scenario(ROOT / "scenarios" / f"{country}.yaml").with_params(values)
        try:
            reference = simulate(scenario, seed=11, engine="numpy")
        except ScenarioError:  # a runaway register: refused the same way by both
            with pytest.raises(ScenarioError):
                simulate(scenario, seed=11, engine="compiled")
            continue
        assert_identical(reference, simulate(scenario, seed=11, engine="compiled"))
        compared += 1
    assert compared  # a set whose every run is refused compares no table


def test_removing_ngos_mid_run_leaves_the_engines_identical():
    """The common-random-numbers experiment of ``tests/test_rng.py``, on both engines."""
    scenario = load_scenario(ROOT / "scenarios" / "kyrgyzstan.yaml")
    runs = {}
    for engine in ("numpy", "compiled"):
        model = NGOModel(scenario, rng=21, agents=False, engine=engine)
        model.run_for(2002 - model.year)
        status = model.population.view("status")
        victims = np.concatenate(
            [np.flatnonzero(status == OPERATING)[:3], np.flatnonzero(status == DORMANT)[:3]]
        )
        model.population.status[victims] = DEREGISTERED
        model.run_for(2007 - model.year)
        runs[engine] = model
    assert_identical(runs["numpy"].results(), runs["compiled"].results())
    for name in ("status", "capacity", "reserves", "streak", "active", "reported"):
        assert np.array_equal(
            runs["numpy"].population.view(name), runs["compiled"].population.view(name)
        ), name
