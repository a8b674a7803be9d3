"""The emulated posterior and its sampler (calibration/emulated_posterior.py, tempered_smc.py).

The likelihood must be the observation model's when the emulator is exact; the sampler
must draw the posterior of a problem whose posterior is known in closed form. The
emulator itself is tested in test_emulator.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from emulator_helpers import exact_emulator
from scipy.special import expit, log_ndtr
from scipy.stats import multivariate_normal

from calibration.compare import reported_band, tolerance_scales
from calibration.emulated_posterior import (
    EmulatedPosterior,
    SamplerSettings,
    likelihood_function,
    observed_values,
)
from calibration.emulator import units
from calibration.observation import log_likelihood, noise_side, observe
from calibration.simulator import ERROR_CAP
from calibration.targets import load_targets

jnp = pytest.importorskip("jax.numpy")


def test_observed_values_read_back_the_noisy_statistics_outside_the_reported_band():
    targets = load_targets()
    stats = np.array([[t.value if t.value is not None else t.low for t in targets]]) * 0.5
    features = observe(targets, stats, np.random.default_rng(3))
    # The same draws as ``observe``: the statistic plus its error on the statistic's side.
    eps = np.random.default_rng(3).standard_normal(stats.shape)[0]
    noisy = np.array(
        [
            s + noise_side(t, np.array([s]))[0] * e
            for t, s, e in zip(targets, stats[0], eps, strict=True)
        ]
    )
    values = observed_values(targets, features[0])
    outside = features[0] != 0
    assert outside.any() and (~outside).any()
    assert values[outside] == pytest.approx(noisy[outside], rel=1e-9)
    assert np.isnan(values[~outside]).all()


def test_observed_values_read_statistics_above_the_band_and_undefined_ones_as_infinite():
    by_id = {t.id: t for t in load_targets()}
    point, floor = by_id["kg_registered_2000"], by_id["kg_new_registrations_mean_1991_2000"]
    targets = [point, point, floor]
    stats = np.array([[1.5 * point.value, np.nan, np.nan]])
    features = observe(targets, stats, np.random.default_rng(4))
    values = observed_values(targets, features[0])
    eps = np.random.default_rng(4).standard_normal(3)
    assert values[0] == pytest.approx(1.5 * point.value + 0.05 * point.value * eps[0], rel=1e-9)
    # Undefined (at the cap): infinite, whichever side the feature is on.
    assert np.isposinf(values[1:]).all()
    assert observed_values(targets, -np.arcsinh(np.full(3, ERROR_CAP)))[2] == np.inf


def test_the_likelihood_adds_the_runs_covariance_and_the_chance_of_a_defined_run():
    # Runs scatter (log variance 0 on the scale, rescaled and correlated by the held-out
    # residuals' moments), 30% of them undefined: the point figures are jointly normal
    # with the runs' and the errors' covariance, the bound and the range each a normal
    # probability with both variances added.
    by_id = {t.id: t for t in load_targets()}
    ids = ["kg_registered_2000", "kg_registered_2006", "kg_new_registrations_mean_1991_2000"]
    ids.append("kg_share_income_foreign_today")
    targets = [by_id[i] for i in ids]
    unit = units(targets)
    u = np.arcsinh(np.array([0.97 * 4966, 1.04 * 13018, 205.0, 0.52]) / unit)
    logit = np.log(0.3 / 0.7)

    def net(z):
        return jnp.concatenate([jnp.asarray(u), jnp.zeros(4), jnp.array([logit])]) + 0 * z[0]

    corr = np.array([[1, 0.6, 0.2, 0], [0.6, 1, 0, 0.1], [0.2, 0, 1, 0], [0, 0.1, 0, 1]])
    scale = np.array([1.2, 1.5, 0.8, 1.1])
    moment = corr * np.outer(scale, scale)
    emulator = exact_emulator(targets, None)
    emulator.net, emulator.residual_moment = net, moment
    got = float(
        likelihood_function(emulator, targets)(jnp.zeros((1, 2)), jnp.full((1, 4), jnp.nan))[0]
    )
    stat, spread = unit * np.sinh(u), unit * np.cosh(u)
    bands = [reported_band(t) for t in targets]
    centre = [lo if lo == hi else (lo if np.isfinite(lo) else hi) for lo, hi in bands]
    centre[3] = 0.5 * sum(bands[3])
    error = np.array(
        [
            tolerance_scales(t)[0 if s < c else 1]
            for t, s, c in zip(targets, stat, centre, strict=True)
        ]
    )
    full = np.outer(spread, spread) * moment + np.diag(error**2)
    seen = np.array([b[0] for b in bands[:2]])
    want = multivariate_normal(stat[:2], full[:2, :2]).logpdf(seen)
    # The bound and the range: each statistic's normal given the two point figures.
    gain = np.linalg.solve(full[:2, :2], full[:2, 2:]).T
    given = stat[2:] + gain @ (seen - stat[:2])
    sd = np.sqrt(np.diag(full[2:, 2:] - gain @ full[:2, 2:]))
    assert abs(given[0] - stat[2]) > 0.01 * sd[0]  # the correlation 0.2 moves the first
    for j in (0, 1):
        lo, hi = bands[2 + j]
        want += np.log(
            np.exp(log_ndtr((hi - given[j]) / sd[j])) - np.exp(log_ndtr((lo - given[j]) / sd[j]))
        )
    want += np.log(1 - expit(logit))
    assert got == pytest.approx(want, rel=1e-4)
    # The same figures in another order (the bound first, the points apart): the same.
    order = [2, 0, 3, 1]
    emulator = exact_emulator([targets[i] for i in order], None)
    emulator.net = lambda z: jnp.concatenate(
        [jnp.asarray(u[order]), jnp.zeros(4), jnp.array([logit])]
    )
    emulator.residual_moment = moment[np.ix_(order, order)]
    reordered = likelihood_function(emulator, [targets[i] for i in order])
    nothing = jnp.full((1, 4), jnp.nan)
    assert float(reordered(jnp.zeros((1, 2)), nothing)[0]) == pytest.approx(want, rel=1e-4)


def test_an_undefined_figure_counts_the_chance_of_an_undefined_run_instead_of_its_value():
    by_id = {t.id: t for t in load_targets()}
    targets = [by_id["kg_registered_2000"], by_id["kg_registered_2006"]]
    unit = units(targets)
    u = np.arcsinh(np.array([4966.0, 13018.0]) / unit)
    logit = np.log(0.3 / 0.7)  # 30% of runs have an undefined statistic

    def net(z):
        return jnp.concatenate([jnp.asarray(u), jnp.zeros(2), jnp.array([logit])]) + 0 * z[0]

    emulator = exact_emulator(targets, None)
    emulator.net = net
    f = likelihood_function(emulator, targets)
    both = float(f(jnp.zeros((1, 2)), jnp.asarray([[5000.0, 13000.0]]))[0])
    second_undefined = float(f(jnp.zeros((1, 2)), jnp.asarray([[5000.0, np.inf]]))[0])
    one = exact_emulator([targets[0]], None)
    one.net = lambda z: jnp.concatenate([jnp.asarray(u[:1]), jnp.zeros(1), jnp.array([logit])])
    first_alone = float(
        likelihood_function(one, [targets[0]])(jnp.zeros((1, 2)), jnp.asarray([[5000.0]]))[0]
    )
    # The first figure's density, times 0.3 in place of 0.7 (correlations: identity).
    assert second_undefined == pytest.approx(first_alone - np.log(0.7) + np.log(0.3), rel=1e-5)
    assert both < first_alone


def test_an_exact_emulator_gives_the_observation_models_likelihood_of_the_figures():
    targets = load_targets()
    reported = np.array([t.value if t.value is not None else t.low for t in targets], float)
    for shift in (0.8, 1.0, 1.15):
        stats = reported * shift
        emulator = exact_emulator(targets, lambda z, s=stats: jnp.asarray(s) + 0.0 * z[0])
        f = likelihood_function(emulator, targets)
        got = float(f(jnp.zeros((1, 2)), jnp.full((1, len(targets)), jnp.nan))[0])
        want = float(log_likelihood(targets, stats[None, :]).sum())
        assert got == pytest.approx(want, rel=1e-4, abs=1e-3)


# Statistics linear in the scores of two parameters, seen by two point figures of 5%
# tolerance each: the posterior given values ``c`` tolerance units off is Gaussian, with
# precision ``I + A'A`` and mean ``(I + A'A)^-1 A'c`` (``linear_posterior_moments``).
LINEAR = np.array([[1.5, 0.5], [0.0, 2.0]])


def linear_gaussian_posterior(settings: SamplerSettings, gain: float = 1.0) -> EmulatedPosterior:
    """Return the emulated posterior of the linear problem (``gain`` times ``LINEAR``)."""
    by_id = {t.id: t for t in load_targets()}
    targets = [by_id["kg_registered_2000"], by_id["kg_registered_2006"]]
    v = np.array([t.value for t in targets], float)
    emulator = exact_emulator(
        targets, lambda z: jnp.asarray(v) + jnp.asarray(0.05 * v) * (gain * LINEAR @ z)
    )
    return EmulatedPosterior(emulator, targets, settings)


def linear_posterior_moments(c: np.ndarray, gain: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean and covariance of the linear problem's posterior given ``c``."""
    a = gain * LINEAR
    cov = np.linalg.inv(np.eye(2) + a.T @ a)
    return cov @ a.T @ c, cov


def test_the_sampler_draws_a_linear_gaussian_posterior():
    posterior = linear_gaussian_posterior(SamplerSettings())
    c = np.array([1.0, -0.5])
    features = np.arcsinh(c)  # values c tolerance units from the figures
    draws = posterior.sample(features, 4000, seed=2)
    mean, cov = linear_posterior_moments(c)
    se = np.sqrt(np.diag(cov) / 1000)  # a quarter of the draws: resampling repeats some
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 4 * se)
    assert np.allclose(np.cov(draws.T), cov, rtol=0.1, atol=0.005)


def test_a_posterior_far_narrower_than_the_prior_and_far_from_its_centre_is_reached():
    # Figures 40 times as informative, and values that put the posterior 2.5 prior
    # deviations out: a posterior about a 50th of the prior's width, where almost no
    # draw of the prior falls. Tempering reaches it in stages.
    gain = 40.0
    c = gain * LINEAR @ np.array([2.5, -1.0])
    posterior = linear_gaussian_posterior(SamplerSettings(particles=1000), gain)
    draws = posterior.sample(np.arcsinh(c), 1000, seed=6)
    mean, cov = linear_posterior_moments(c, gain)
    assert int(posterior.stages[0]) >= 5
    se = np.sqrt(np.diag(cov) / 250)
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 4 * se)
    assert np.allclose(np.cov(draws.T), cov, rtol=0.15)


def test_the_same_seed_gives_the_same_draws_and_another_seed_others():
    posterior = linear_gaussian_posterior(SamplerSettings(particles=100))
    features = np.arcsinh(np.array([1.0, -0.5]))
    first = posterior.sample(features, 100, seed=7)
    assert np.array_equal(first, posterior.sample(features, 100, seed=7))
    assert not np.array_equal(first, posterior.sample(features, 100, seed=8))


def test_slice_steps_at_a_temperature_below_one_draw_the_tempered_posterior():
    # The linear problem's likelihood raised to 0.5: precision I + A'A / 2.
    from calibration.tempered_smc import Reference, _slice_steps

    posterior = linear_gaussian_posterior(SamplerSettings())
    c = np.array([1.0, -0.5])
    values = np.repeat(observed_values(posterior.targets_, np.arcsinh(c)[None]), 4000, 0)
    rng = np.random.default_rng(14)
    z = rng.standard_normal((4000, 2))
    ll = posterior.log_likelihood(z, values)
    reference = Reference.fitted(z, 4000)
    z, _ = _slice_steps(
        posterior.log_likelihood, values, z, ll, np.full(4000, 0.5), reference, 30, rng
    )
    cov = np.linalg.inv(np.eye(2) + 0.5 * LINEAR.T @ LINEAR)
    mean = cov @ (0.5 * LINEAR.T @ c)
    assert np.all(np.abs(z.mean(axis=0) - mean) < 4 * np.sqrt(np.diag(cov) / 1000))
    assert np.allclose(np.cov(z.T), cov, rtol=0.1, atol=0.005)


def test_a_batch_of_data_sets_gets_each_its_own_posterior():
    posterior = linear_gaussian_posterior(SamplerSettings())
    offsets = np.array([[1.0, -0.5], [-2.0, 1.0]])
    draws = posterior.sample(np.arcsinh(offsets), 2000, seed=3)
    assert draws.shape == (2000, 2, 2)
    for i, c in enumerate(offsets):
        mean, cov = linear_posterior_moments(c)
        se = np.sqrt(np.diag(cov) / 500)
        assert np.all(np.abs(draws[:, i].mean(axis=0) - mean) < 4 * se)


def test_each_stage_raises_the_temperature_as_far_as_keeps_the_effective_share():
    from calibration.tempered_smc import effective_size, next_temperature, tempered

    rng = np.random.default_rng(10)
    ll = np.stack([-50 * rng.random(400), -0.01 * rng.random(400), np.full(400, -np.inf)])
    ll[0, :100] = -np.inf  # a quarter of the first block's particles: likelihood zero
    rise = next_temperature(ll, np.array([0.2, 0.5, 0.0]), 0.5)
    # Half the 300 particles of positive likelihood stay effective; the second block's
    # likelihood is almost flat, so it goes to one; the third has nothing to weigh.
    assert 0 < rise[0] < 0.8
    assert effective_size(tempered(rise[:1, None], ll[:1]))[0] == pytest.approx(150, rel=1e-6)
    assert rise[1:] == pytest.approx([0.5, 1.0])


def test_systematic_resampling_keeps_each_particle_its_share_within_one():
    from calibration.tempered_smc import resample

    rng = np.random.default_rng(11)
    w = rng.random((3, 50)) ** 4
    w[2] = 0.0  # no positive weight: the block keeps its particles
    log_w = np.log(w, where=w > 0, out=np.full_like(w, -np.inf))
    picks = resample(log_w, rng).reshape(3, 50)
    for block in range(2):
        counts = np.bincount(picks[block] - 50 * block, minlength=50)
        assert np.all(np.abs(counts - 50 * w[block] / w[block].sum()) < 1)
    assert picks[2] == pytest.approx(np.arange(100, 150))


def test_too_few_particles_for_a_gaussian_are_refused():
    with pytest.raises(ValueError, match="2 particles"):
        linear_gaussian_posterior(SamplerSettings(particles=2)).sample(np.zeros(2), 1, seed=1)


def test_a_fitted_reference_is_each_blocks_gaussian_widened_and_its_density_ratio_exact():
    from scipy.stats import multivariate_normal as mvn

    from calibration.tempered_smc import REFERENCE_WIDENING, Reference

    rng = np.random.default_rng(8)
    cov = np.array([[1.0, 0.8], [0.8, 2.0]])
    centres = np.array([[3.0, -1.0], [-2.0, 0.5]])
    # 2 blocks of 2,000 particles each.
    z = rng.multivariate_normal(np.zeros(2), cov, 4000) + np.repeat(centres, 2000, axis=0)
    reference = Reference.fitted(z, particles=2000)
    assert reference.centre == pytest.approx(centres, abs=0.1)
    # The second block's sample covariance, shrunk a tenth to its diagonal, widened.
    sample = np.cov(z[2000:].T)
    shrunk = 0.9 * sample + 0.1 * np.diag(np.diag(sample))
    fitted = reference.chol[1] @ reference.chol[1].T
    assert fitted == pytest.approx(REFERENCE_WIDENING * shrunk + 1e-3 * np.eye(2), rel=1e-9)
    assert sample == pytest.approx(cov, rel=0.1)
    # The ratio of the prior to the reference's density, up to one constant per block,
    # whatever the order of the rows.
    x = rng.standard_normal((6, 2))
    rows = np.array([2000, 10, 2001, 2002, 11, 2003])
    got = reference.log_density_ratio(x, rows)
    second = rows >= 2000
    want = mvn(np.zeros(2)).logpdf(x) - mvn(reference.centre[1], fitted).logpdf(x)
    assert got[second] - got[0] == pytest.approx(want[second] - want[0], abs=1e-9)
    fitted_first = reference.chol[0] @ reference.chol[0].T
    want_first = mvn(np.zeros(2)).logpdf(x) - mvn(reference.centre[0], fitted_first).logpdf(x)
    assert got[~second] - got[1] == pytest.approx(want_first[~second] - want_first[1], abs=1e-9)
    draws = reference.draw(np.repeat([5, 3000], 20000), rng)
    assert np.cov(draws[:20000].T) == pytest.approx(fitted_first, rel=0.05)
    assert np.cov(draws[20000:].T) == pytest.approx(fitted, rel=0.05)


def test_the_likelihood_in_chunks_is_the_likelihood_in_one_call(monkeypatch):
    import calibration.emulated_posterior as module

    posterior = linear_gaussian_posterior(SamplerSettings())
    rng = np.random.default_rng(13)
    z = rng.standard_normal((300, 2))
    values = np.repeat(observed_values(posterior.targets_, np.arcsinh([[1.0, -0.5]])), 300, 0)
    whole = posterior.log_likelihood(z, values)
    monkeypatch.setattr(module, "CHUNK", 64)
    # float32 programs of other batch shapes may round differently in the last places.
    assert posterior.log_likelihood(z, values) == pytest.approx(whole, rel=1e-5)
    assert np.isfinite(whole).all() and len(np.unique(whole)) == 300
