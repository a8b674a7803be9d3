"""The ABC-SMC proposal (calibration.proposal): a Student t fitted to the weighted population."""

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from pyabc.transition import NotEnoughParticles

from calibration.proposal import CollapsedPopulation, StudentTProposal


@pytest.fixture
def population():
    rng = np.random.default_rng(11)
    X = pd.DataFrame(rng.normal([1.0, -2.0], [0.5, 2.0], size=(400, 2)), columns=["a", "b"])
    X["b"] += 1.5 * X["a"]  # correlated, so that shrinking the covariance changes the density
    w = rng.uniform(0.5, 1.5, 400)
    return X, w / w.sum()


def test_fits_the_weighted_mean_and_covariance(population):
    X, w = population
    proposal = StudentTProposal(df=7, scaling=1.0, prior_share=0.0)
    proposal.fit(X, w)
    np.random.seed(4)
    draws = proposal.rvs(4000)
    assert list(draws.columns) == ["a", "b"]
    np.testing.assert_allclose(draws.mean(), np.average(X, axis=0, weights=w), atol=0.1)
    # A t with shape S has covariance S * df / (df - 2).
    expected_sd = np.sqrt(np.cov(X.to_numpy(), aweights=w, rowvar=False).diagonal() * 7 / 5)
    np.testing.assert_allclose(draws.std(), expected_sd, rtol=0.08)


@pytest.mark.parametrize("shrinkage", [0.0, 0.8, 1.0])
def test_density_is_the_t_with_the_shrunk_covariance_for_a_row_and_a_table(population, shrinkage):
    X, w = population
    proposal = StudentTProposal(df=5, scaling=1.3, shrinkage=shrinkage, prior_share=0.0)
    proposal.fit(X, w)
    points = pd.DataFrame({"b": [0.0, -2.0, 5.0], "a": [1.0, 1.0, -3.0]})  # columns reordered
    table = proposal.pdf(points)
    rows = [proposal.pdf(points.iloc[i]) for i in range(3)]
    np.testing.assert_allclose(table, rows)
    mean = np.average(X, axis=0, weights=w)
    cov = np.cov(X.to_numpy(), aweights=w, rowvar=False)
    shape = 1.3 * ((1 - shrinkage) * cov + shrinkage * np.diag(cov.diagonal()))
    exact = scipy.stats.multivariate_t(loc=mean, shape=shape, df=5).pdf(
        points[["a", "b"]].to_numpy()
    )
    np.testing.assert_allclose(table, exact, rtol=1e-12)


def test_heavier_tails_than_a_gaussian_keep_weights_bounded(population):
    X, w = population
    proposal = StudentTProposal(df=5, prior_share=0.0)
    proposal.fit(X, w)
    mean = np.average(X, axis=0, weights=w)
    cov = np.cov(X.to_numpy(), aweights=w, rowvar=False)
    gaussian = scipy.stats.multivariate_normal(mean, cov)
    far = pd.DataFrame(
        [mean + k * np.sqrt(cov.diagonal()) for k in (0, 3, 6, 10)], columns=X.columns
    )
    ratio = gaussian.pdf(far.to_numpy()) / proposal.pdf(far)
    assert ratio[-1] < ratio[0]


def test_needs_two_particles():
    with pytest.raises(NotEnoughParticles):
        StudentTProposal().fit(pd.DataFrame({"a": [1.0]}), np.array([1.0]))


def test_draws_follow_numpys_global_seed_also_in_a_pickled_copy(population):
    # pyabc's dask sampler pickles the proposal into each job and reseeds numpy there.
    X, w = population
    proposal = StudentTProposal()
    proposal.fit(X, w)
    draws = []
    for seed in (1, 2, 1):
        copy = pickle.loads(pickle.dumps(proposal))
        np.random.seed(seed)
        draws.append(copy.rvs_single())
    assert draws[0] != draws[1]
    assert draws[0] == draws[2]


def test_all_weight_on_one_particle_is_reported_as_a_collapse(population):
    X, _ = population
    w = np.zeros(len(X))
    w[3] = 1.0
    with pytest.raises(CollapsedPopulation):
        StudentTProposal().fit(X, w)


def test_prior_share_mixes_the_t_with_the_standard_normal_prior(population):
    X, w = population
    X = X + 10.0  # far from the prior's centre, so the two components separate
    proposal = StudentTProposal(df=5, prior_share=0.25)
    proposal.fit(X, w)
    pure = StudentTProposal(df=5, prior_share=0.0)
    pure.fit(X, w)
    points = pd.DataFrame({"a": [0.0, 11.0, -1.0], "b": [0.0, 8.0, 2.0]})
    prior = scipy.stats.norm.pdf(points.to_numpy()).prod(axis=1)
    np.testing.assert_allclose(proposal.pdf(points), 0.75 * pure.pdf(points) + 0.25 * prior)
    np.random.seed(3)
    draws = proposal.rvs(4000)
    near_prior = (draws.abs() < 4).all(axis=1).mean()
    assert near_prior == pytest.approx(0.25, abs=0.03)


def test_prior_share_bounds_every_importance_weight(population):
    X, w = population
    proposal = StudentTProposal(prior_share=0.1)
    proposal.fit(X * 0.05, w)  # a proposal much narrower than the prior
    rng = np.random.default_rng(5)
    points = pd.DataFrame(rng.normal(0, 3, size=(2000, 2)), columns=["a", "b"])
    weights = scipy.stats.norm.pdf(points.to_numpy()).prod(axis=1) / proposal.pdf(points)
    assert weights.max() <= 1 / 0.1 + 1e-9
    assert weights.max() > 9  # the bound is reached far from the t, not just respected
