"""Truncated proposals (TSNPE): draws inside the region, truncated tables, mixed training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import calibration.reference as reference
import calibration.truncation as truncation
from calibration.amortised import fit, fitted_targets
from calibration.npe import Estimator, FlowSpec, load, save, train
from calibration.restricted_prior import Settings
from calibration.truncation import (
    log_density,
    proposal_key,
    read_proposal,
    sampler_key,
    truncated_draws,
)
from cli.reference import proposal_summary
from experiments.reference_table import build_table, write_truncated_proposal
from experiments.validation import truth_rows
from model import ScenarioError

TINY = FlowSpec(layers=2, width=16, depth=1, ensemble=2, max_epochs=3, patience=2)


def toy_estimator() -> Estimator:
    """A flow trained on a Gaussian toy: the posterior of z given x = z + noise."""
    rng = np.random.default_rng(1)
    z = rng.standard_normal((3000, 2))
    x = z + 0.3 * rng.standard_normal(z.shape)
    spec = FlowSpec(layers=2, width=32, depth=1, ensemble=2, max_epochs=40, patience=5)
    flows, mean, sd, _ = train(z, x, spec, seed=2)
    return Estimator(flows, spec, ["a", "b"], ["x", "y"], mean, sd, "key", 3000, 2)


@pytest.fixture(scope="module")
def toy():
    return toy_estimator()


def test_truncated_draws_lie_in_the_region_and_are_keyed(toy, monkeypatch):
    monkeypatch.setattr(truncation, "BLOCK", 2000)
    x = np.array([1.5, -1.0])
    draws, tau, details = truncated_draws(toy, x, 300, eps=1e-3, seed=4)
    mass = details["prior_mass"]
    assert draws.shape == (300, 2)
    assert (log_density(toy, draws, x) >= tau).all()
    # The region is about a disc of radius 1.1 (3.7 posterior sd of 0.29) around x / 1.09:
    # a small part of the prior, and the draws are the prior's, so pulled toward zero.
    assert 0.005 < mass < 0.3
    centre = x / 1.09
    assert np.linalg.norm(draws - centre, axis=1).max() < 1.5
    assert np.linalg.norm(draws.mean(axis=0)) < np.linalg.norm(centre) - 0.2
    again, _, _ = truncated_draws(toy, x, 500, eps=1e-3, seed=4)
    np.testing.assert_array_equal(again[:300], draws)
    other, _, _ = truncated_draws(toy, x, 300, eps=1e-3, seed=5)
    assert not np.array_equal(other, draws)


def test_mcmc_draws_lie_in_the_region_and_follow_rejections(toy, monkeypatch):
    monkeypatch.setattr(truncation, "BLOCK", 5000)
    monkeypatch.setattr(truncation, "THRESHOLD_DRAWS", 5000)
    x = np.array([1.5, -1.0])
    settings = Settings(chains=50, burn_in=20, thin=3)
    draws, tau, meta = truncated_draws(toy, x, 600, 1e-3, 4, sampler="mcmc", settings=settings)
    assert draws.shape == (600, 2)
    assert (log_density(toy, draws, x) >= tau).all()
    assert meta["stuck"] == 0 and max(meta["r_hat"].values()) < 1.1
    exact, same_tau, _ = truncated_draws(toy, x, 2000, eps=1e-3, seed=4)
    assert same_tau == tau
    # Means agree within four standard errors (draws counted at their effective size).
    n_eff = min(600, *meta["effective_size"].values())
    error = exact.std(axis=0) * np.sqrt(1 / n_eff + 1 / 2000)
    assert (np.abs(draws.mean(axis=0) - exact.mean(axis=0)) < 4 * error).all()
    # The estimator's own draws, centred on x / 1.09, are not the truncated prior's.
    own = toy.sample(x, 600, seed=3, iid=True)
    assert (np.abs(own.mean(axis=0) - exact.mean(axis=0)) > 4 * error).any()
    assert "prior mass" not in proposal_summary({"mcmc": meta})
    assert "0.0123" in proposal_summary({"prior_mass": 0.0123})


@pytest.mark.parametrize(
    ("chains", "eps", "count"),
    [(1000, 1e-4, 1110), (1000, 0.1, 1233), (50, 1e-3, 65), (200, 1e-4, 230)],
)
def test_the_mcmc_starts_grow_with_the_share_left_out(monkeypatch, chains, eps, count):
    """The default share keeps the start count of the proposals drawn before it was chosen."""
    asked = []

    class Starts:
        def sample(self, features, n, seed, iid=False):
            asked.append(n)
            raise StopIteration

    with pytest.raises(StopIteration):
        truncation._mcmc_draws(Starts(), None, 10, eps, 0.0, 1, 5, Settings(chains=chains))
    assert asked == [count]


def test_a_rejection_proposals_key_is_the_one_it_had_before_the_choice(tmp_path):
    weights = tmp_path / "w.eqx"
    weights.write_bytes(b"weights of a flow")
    x = np.array([1.5, -1.0])
    # Computed by proposal_key before samplers entered it: stored tables are keyed by it.
    assert proposal_key(weights, x, 1e-4, 3, sampler_key("rejection")) == "1b6dfdef7f7b3828"
    mcmc = proposal_key(weights, x, 1e-4, 3, sampler_key("mcmc"))
    assert mcmc != "1b6dfdef7f7b3828"
    other = proposal_key(weights, x, 1e-4, 3, sampler_key("mcmc", Settings(chains=10)))
    assert other != mcmc


def test_the_region_keeps_all_but_eps_of_the_posterior(toy):
    x = np.array([0.5, 0.5])
    tau = truncation.hpd_threshold(toy, x, 0.01, seed=1)
    fresh = toy.sample(x, 20_000, seed=9, iid=True)
    inside = (log_density(toy, fresh, x) >= tau).mean()
    assert inside == pytest.approx(0.99, abs=0.004)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """A prior table, an estimator trained on it, and a truncated table from its proposal."""
    root = tmp_path_factory.mktemp("tsnpe")
    chunk = reference.CHUNK_ROWS
    reference.CHUNK_ROWS = 6
    block = truncation.BLOCK
    truncation.BLOCK = 20_000
    try:
        build_table(root / "prior", 18, seed=1, workers=1)
        estimator, _ = fit(12, folder=root / "prior", spec=TINY)
        save(estimator, root / "round1.eqx")
        write_truncated_proposal(
            root / "trunc", False, 18, eps=0.05, estimator_file=root / "round1.eqx"
        )
        build_table(root / "trunc", 18, seed=1, workers=1, proposal=root / "trunc")
    finally:
        reference.CHUNK_ROWS = chunk
        truncation.BLOCK = block
    return root, estimator


def test_truncated_rows_take_the_proposals_scores_and_their_own_seeds(tables):
    root, _ = tables
    proposal, key, meta = read_proposal(root / "trunc")
    assert meta["eps"] == 0.05 and meta["round"] == 1 and len(key) == 16
    assert 0 < meta["prior_mass"] <= 1
    truncated = reference.load_table(root / "trunc", reference.table_key(1, key), 18)
    prior = reference.load_table(root / "prior", reference.table_key(1), 18)
    np.testing.assert_array_equal(truncated[proposal.columns].to_numpy(), proposal.to_numpy()[:18])
    assert not set(truncated["seed"]) & set(prior["seed"])
    # A prior table's key is never a truncated table's key.
    assert reference.table_key(1, key) != reference.table_key(1)


def test_an_estimator_trained_on_both_tables_says_so_and_keeps_truths_of_both(tables):
    root, _ = tables
    estimator, _ = fit(
        12,
        folder=root / "prior",
        spec=TINY,
        truncated_rows=[12],
        truncated_folders=[root / "trunc"],
    )
    assert estimator.truncated_rows == 12 and len(estimator.truncated) == 1
    assert estimator.truncated[0][0] == reference.table_key(1, read_proposal(root / "trunc")[1])
    truths = truth_rows(estimator, 6, root / "prior", [root / "trunc"])
    assert len(truths) == 6
    assert truths["round"].isna().sum() == 3  # half the training rows were truncated
    assert (truths["row"] >= 12).all()
    # Truths alternate between the tables, so any first k keep the proportion.
    assert truths["round"].isna().iloc[:2].sum() == 1
    # A second round needs an estimator trained on the first: this one was.
    save(estimator, root / "round2.eqx")
    meta = write_truncated_proposal(
        root / "trunc2", False, 6, eps=0.05, estimator_file=root / "round2.eqx", truncation_round=2
    )
    assert meta["round"] == 2


def test_truncated_rows_get_noise_of_their_own(tables):
    root, _ = tables
    from calibration.amortised import ROUND, features_of

    targets = fitted_targets(False)
    prior = reference.load_table(root / "prior", reference.table_key(1), 6)
    first, second = prior.assign(**{ROUND: 1}), prior.assign(**{ROUND: 2})
    features = [features_of(t, targets, 1) for t in (prior, first, second)]
    assert not np.array_equal(features[0], features[1])
    assert not np.array_equal(features[1], features[2])


def test_keys_of_truncated_rows_never_repeat_a_prior_rows_keys():
    from calibration.amortised import ROUND, row_keys
    from calibration.reference import row_draws

    stream = truncation.TRUNCATION_STREAM
    prior_seeds = {row_draws(1, r, 3)[1] for r in range(40)}
    first = {row_draws(1, r, 3, stream, 1)[1] for r in range(40)}
    second = {row_draws(1, r, 3, stream, 2)[1] for r in range(40)}
    assert not prior_seeds & first and not first & second and not prior_seeds & second
    frame = pd.DataFrame({"row": [0, 13], ROUND: [2, None]})
    assert row_keys(frame) == [[0, stream, 2], [13]]


def test_a_round_and_the_priors_table_keep_to_their_own_folders(tables):
    root, _ = tables
    prior = sorted((p.name, p.read_bytes()) for p in (root / "prior").iterdir())
    # Refused before any draw, with no proposal left behind in the priors' table.
    with pytest.raises(ScenarioError, match="drawn from the priors, not of a truncated round"):
        write_truncated_proposal(
            root / "prior", False, 18, eps=0.05, estimator_file=root / "round1.eqx"
        )
    assert sorted((p.name, p.read_bytes()) for p in (root / "prior").iterdir()) == prior
    # A round's rows extended as the priors' table: the remedy is --truncate, not --rekey.
    rows = sorted((p.name, p.read_bytes()) for p in (root / "trunc").iterdir())
    with pytest.raises(ScenarioError, match="rows of a truncated round .* --truncate"):
        build_table(root / "trunc", 24, seed=1, workers=1)
    assert sorted((p.name, p.read_bytes()) for p in (root / "trunc").iterdir()) == rows


def test_a_damaged_proposal_or_estimator_is_refused_in_one_line(tables, tmp_path):
    root, _ = tables
    (tmp_path / "round1").mkdir()
    (tmp_path / "round1" / truncation.PROPOSAL_FILE).write_bytes(b"not a parquet file")
    with pytest.raises(ScenarioError, match="unreadable .*--truncate"):
        read_proposal(tmp_path / "round1")
    (tmp_path / "bad.json").write_text((root / "round1.json").read_text())
    (tmp_path / "bad.eqx").write_bytes((root / "round1.eqx").read_bytes()[:100])
    with pytest.raises(ScenarioError, match="unreadable estimator .*calibrate npe"):
        load(tmp_path / "bad.eqx")


def test_a_new_round_never_replaces_stored_truncated_rows(tables, tmp_path):
    root, estimator = tables
    other = tmp_path / "other.eqx"
    save(estimator, other)
    # Same weights, so the same proposal: kept.
    write_truncated_proposal(root / "trunc", False, 18, eps=0.05, estimator_file=other)
    # Another level is another proposal; the folder holds rows of the first one.
    with pytest.raises(ScenarioError, match="holds rows of another proposal"):
        write_truncated_proposal(root / "trunc", False, 18, eps=0.01, estimator_file=other)
    # Round 2 from an estimator that never saw round 1's rows is refused.
    with pytest.raises(ScenarioError, match="round 2 needs 1"):
        write_truncated_proposal(
            tmp_path / "r2", False, 6, eps=0.05, estimator_file=other, truncation_round=2
        )
