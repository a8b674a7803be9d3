"""``ngo-abm chains``: pseudo-marginal chains at the reported figures, against the estimator."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from cli_helpers import interrupt
from scipy.special import logsumexp
from test_reliability import assert_one_line

from calibration.amortised import (
    estimator_path,
    estimator_targets,
    fitted_targets,
    load_estimator,
)
from calibration.observation import log_likelihood, observed
from calibration.priors import load_priors, model_values, sampled_name
from calibration.reference import simulate_statistics, simulator
from experiments import chains
from experiments.chains import (
    ChainSettings,
    Start,
    estimate,
    metropolis,
    region_shares,
    run_chains,
    run_seed,
    summary,
)
from experiments.runner import map_runs, worker_pool


@pytest.fixture(scope="module")
def estimator():
    if not estimator_path(False).exists():
        pytest.skip("no committed posterior estimator")
    return load_estimator(False)


def gaussian_start(chains_: int, dim: int, seed: int) -> Start:
    z = np.random.default_rng(seed).standard_normal((chains_, dim))
    zeros = np.zeros(chains_)
    return Start(z, np.full(chains_, -1e9), zeros, zeros, np.eye(dim))


def test_the_chains_sample_a_known_posterior():
    # Prior N(0, I) times a Gaussian likelihood centred at m with sd s: the posterior is
    # normal with mean m / (1 + s^2) and variance s^2 / (1 + s^2).
    m, s = np.array([1.0, -1.0]), 0.5
    settings = ChainSettings(chains=200, steps=700, burn_in=200, seed=3)

    def exact(z, step):
        return -0.5 * ((z - m) ** 2).sum(axis=1) / s**2, np.zeros(len(z))

    kept = metropolis(gaussian_start(200, 2, 1), settings, exact).states.reshape(-1, 2)
    np.testing.assert_allclose(kept.mean(axis=0), m / (1 + s**2), atol=0.04)
    np.testing.assert_allclose(kept.var(axis=0), s**2 / (1 + s**2), rtol=0.1)


def test_a_state_keeps_the_estimate_it_was_accepted_with():
    calls = []

    def noisy(z, step):
        calls.append(step)
        noise = np.random.default_rng(step).normal(0, 3, len(z))
        return -0.5 * (z**2).sum(axis=1) + noise, np.zeros(len(z))

    settings = ChainSettings(chains=50, steps=120, burn_in=20, seed=4)
    result = metropolis(gaussian_start(50, 3, 2), settings, noisy)
    assert calls == list(range(1, 121))
    same = (result.states[1:] == result.states[:-1]).all(axis=2)
    assert same.any() and (~same).any()
    assert (result.estimates[1:][same] == result.estimates[:-1][same]).all()
    assert (result.accepted[1:] == ~same).all()


def test_estimates_do_not_depend_on_the_workers(estimator):
    settings = ChainSettings(runs=1, seed=5)
    z = estimator.sample(observed(estimator_targets(estimator)), 4, seed=2)
    alone = estimate(z, 3, settings, estimator)
    with worker_pool(2) as pool:
        pooled = estimate(z, 3, settings, estimator, pool)
    np.testing.assert_array_equal(alone[0], pooled[0])
    np.testing.assert_array_equal(alone[1], pooled[1])
    assert len(set(alone[0])) == 4


def test_the_estimate_is_the_log_mean_of_its_runs_likelihoods(estimator):
    settings = ChainSettings(runs=2, seed=3)
    z = estimator.sample(observed(estimator_targets(estimator)), 1, seed=2)
    loglik, _ = estimate(z, 7, settings, estimator)
    names = [sampled_name(p) for p in estimator.parameters]
    values = model_values(dict(zip(names, z[0], strict=True)), load_priors())
    ids = [t.id for t in simulator().targets]
    targets = fitted_targets(False)
    per_run = []
    for replicate in range(2):
        stats = simulate_statistics((values, run_seed(settings, 7, 0, replicate)))
        fitted = stats[[ids.index(t.id) for t in targets]]
        per_run.append(log_likelihood(targets, fitted[None]).sum())
    assert loglik[0] == pytest.approx(logsumexp(per_run) - math.log(2), rel=1e-12)
    assert run_seed(settings, 7, 0, 0) != run_seed(settings, 7, 0, 1)


def test_a_short_run_on_the_model_gives_a_summary(estimator, monkeypatch):
    monkeypatch.setattr(chains, "REGION_DRAWS", 2000)
    settings = ChainSettings(chains=2, steps=5, burn_in=1, runs=1, start_batch=2, seed=5)
    result = run_chains(estimator, settings, workers=2)
    assert result.states.shape == (4, 2, len(estimator.parameters))
    assert result.start_sse.shape == (4,)
    written = json.loads(json.dumps(summary(estimator, result, settings)))
    shares = list(written["inside_region"].values())
    assert all(0 <= v <= 1 for v in shares) and shares == sorted(shares)


def test_the_estimators_own_draws_fill_its_regions_at_their_levels(estimator, monkeypatch):
    monkeypatch.setattr(chains, "REGION_DRAWS", 4000)
    own = estimator.sample(observed(estimator_targets(estimator)), 3000, seed=99, iid=True)
    shares = region_shares(estimator, own[:, None, :], seed=7)
    assert shares[0.5] == pytest.approx(0.5, abs=0.05)
    assert shares[0.9] == pytest.approx(0.9, abs=0.03)
    # Points far out in the prior's tail lie outside the regions.
    far = np.full((10, 1, len(estimator.parameters)), 4.0)
    assert region_shares(estimator, far, seed=7)[0.99] == 0.0


def test_a_kept_pool_serves_several_calls_in_task_order():
    with worker_pool(2) as pool:
        assert map_runs(math.sqrt, [1.0, 4.0, 9.0], pool=pool) == [1.0, 2.0, 3.0]
        assert map_runs(math.sqrt, [16.0, 25.0], pool=pool) == [4.0, 5.0]
    with worker_pool(1) as pool:
        assert pool is None


def test_a_burn_in_that_keeps_no_step_stops_in_one_line():
    assert_one_line(["chains", "--steps", "3", "--burn-in", "3"], "--burn-in 3", "no step")


def test_chains_stopped_between_its_two_files_leave_no_summary_of_an_earlier_run(
    tmp_path, monkeypatch
):
    import calibration.atomic
    from cli.main import main

    (tmp_path / "chains.json").write_text('{"seed": 1}\n', encoding="utf-8")
    states = np.zeros((1, 2, 3))
    monkeypatch.setattr(chains, "run_chains", lambda *a, **k: type("C", (), {"states": states}))
    monkeypatch.setattr(chains, "summary", lambda *a, **k: {"inside_region": {}})

    monkeypatch.setattr(calibration.atomic, "write_text_atomic", interrupt)
    status = main(["chains", "--steps", "2", "--burn-in", "1", "--out", str(tmp_path)])
    assert status == 130
    assert (tmp_path / "chains_states.npz").exists()
    assert not (tmp_path / "chains.json").exists()


def _result(acceptance: float, rhat: float | None) -> dict:
    """A summary as ``experiments.chains.summary`` returns it, every state inside."""
    return {
        "acceptance": acceptance,
        "acceptance_per_chain_range": [acceptance, acceptance],
        "largest_split_rhat": rhat,
        "inside_region": {"0.5": 1.0, "0.9": 1.0, "0.99": 1.0, "0.9999": 1.0},
    }


def test_chains_that_never_moved_say_their_shares_mean_nothing(tmp_path, monkeypatch, capsys):
    # `chains --chains 2 --steps 4 --burn-in 1 --runs 1` printed 100% inside every region
    # and nothing else, while chains.json held an acceptance of 0 and no R-hat.
    from cli.main import main

    states = np.zeros((3, 2, 3))
    monkeypatch.setattr(chains, "run_chains", lambda *a, **k: type("C", (), {"states": states}))
    monkeypatch.setattr(chains, "summary", lambda *a, **k: _result(0.0, None))
    argv = ["chains", "--chains", "2", "--steps", "4", "--burn-in", "1", "--runs", "1"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "acceptance 0.000 of the kept steps (0.000 to 0.000 by chain)" in printed
    assert "largest split R-hat undefined" in printed
    assert "no chain accepted a kept step" in printed and "(the chains did not move)" in printed
    assert "shares above mean nothing" in printed
    assert json.loads((tmp_path / "chains.json").read_text("utf-8"))["acceptance"] == 0.0


def test_the_printed_result_warns_only_where_the_chains_cannot_be_read():
    from cli.chains import result_lines

    moved = result_lines(_result(0.097, 1.04))
    assert moved[0] == (
        "acceptance 0.097 of the kept steps (0.097 to 0.097 by chain); largest split R-hat 1.040"
    )
    assert len(moved) == 2 and moved[1].startswith("states inside the estimator's regions")
    unmixed = result_lines(_result(0.2, None))
    assert unmixed[-1].startswith("warning: the split R-hat is undefined")
    assert "shares above mean nothing" in unmixed[-1]
