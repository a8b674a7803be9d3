"""The emulator and the emulated posterior (calibration/emulator.py, emulated_posterior.py).

The likelihood must be the observation model's when the emulator is exact; the sampler
must draw the posterior of a problem whose posterior is known in closed form; the
emulator must learn a known mean and scatter and come back from its files unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit, log_ndtr
from scipy.stats import multivariate_normal

from calibration.compare import reported_band, tolerance_scales
from calibration.emulated_posterior import (
    EmulatedPosterior,
    SamplerSettings,
    likelihood_function,
    observed_values,
)
from calibration.emulator import Emulator, EmulatorSpec, heads, load, moments, save, train, units
from calibration.observation import log_likelihood, noise_side, observe
from calibration.simulator import ERROR_CAP
from calibration.targets import load_targets

jnp = pytest.importorskip("jax.numpy")


def exact_emulator(targets, statistic, parameters=2) -> Emulator:
    """An emulator whose runs give ``statistic(z)`` with (almost) no scatter, always defined."""
    unit = units(targets)
    d = len(targets)

    def net(z):
        mean = jnp.arcsinh(statistic(z) / unit)
        return jnp.concatenate([mean, jnp.full(d, -40.0), jnp.array([-40.0])])

    return Emulator(
        net=net,
        spec=EmulatorSpec(),
        parameters=[f"p{i}" for i in range(parameters)],
        targets=[t.id for t in targets],
        unit=unit,
        out_mean=np.zeros(d),
        out_sd=np.ones(d),
        residual_moment=np.eye(d),
        table_key="test",
        rows=0,
        seed=1,
        truncated=[],
    )


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


def test_observed_values_read_statistics_above_the_band_and_undefined_ones_at_the_cap():
    by_id = {t.id: t for t in load_targets()}
    point, floor = by_id["kg_registered_2000"], by_id["kg_new_registrations_mean_1991_2000"]
    targets = [point, point, floor]
    stats = np.array([[1.5 * point.value, np.nan, np.nan]])
    features = observe(targets, stats, np.random.default_rng(4))
    values = observed_values(targets, features[0])
    eps = np.random.default_rng(4).standard_normal(3)
    assert values[0] == pytest.approx(1.5 * point.value + 0.05 * point.value * eps[0], rel=1e-9)
    # Undefined: ERROR_CAP units beyond the finite edge, on the side the feature says.
    assert values[1] == pytest.approx(point.value + ERROR_CAP * tolerance_scales(point)[1])
    assert values[2] == pytest.approx(floor.value - ERROR_CAP * tolerance_scales(floor)[0])


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
    cov = np.outer(spread[:2], spread[:2]) * moment[:2, :2] + np.diag(error[:2] ** 2)
    want = multivariate_normal(stat[:2], cov).logpdf([b[0] for b in bands[:2]])
    for j in (2, 3):
        sd = np.hypot(spread[j] * scale[j], error[j])
        lo, hi = bands[j]
        want += np.log(
            np.exp(log_ndtr((hi - stat[j]) / sd)) - np.exp(log_ndtr((lo - stat[j]) / sd))
        )
    want += np.log(1 - expit(logit))
    assert got == pytest.approx(want, rel=1e-4)


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
# precision ``I + A'A`` and mean ``(I + A'A)^-1 A'c``.
LINEAR = np.array([[1.5, 0.5], [0.0, 2.0]])
LINEAR_COV = np.linalg.inv(np.eye(2) + LINEAR.T @ LINEAR)


def linear_gaussian_posterior(settings: SamplerSettings) -> EmulatedPosterior:
    """Return the emulated posterior of the linear problem (``LINEAR``)."""
    by_id = {t.id: t for t in load_targets()}
    targets = [by_id["kg_registered_2000"], by_id["kg_registered_2006"]]
    v = np.array([t.value for t in targets], float)
    emulator = exact_emulator(
        targets, lambda z: jnp.asarray(v) + jnp.asarray(0.05 * v) * (LINEAR @ z)
    )
    start = np.random.default_rng(0).standard_normal((500, 2))
    return EmulatedPosterior(emulator, targets, start, settings)


def test_the_sampler_draws_a_linear_gaussian_posterior():
    posterior = linear_gaussian_posterior(SamplerSettings(burn_in=50, thin=5, kept_per_chain=10))
    c = np.array([1.0, -0.5])
    features = np.arcsinh(c)  # values c tolerance units from the figures
    draws = posterior.sample(features, 4000, seed=2)
    mean = LINEAR_COV @ LINEAR.T @ c
    se = np.sqrt(np.diag(LINEAR_COV) / 400)  # a tenth of the draws: they are correlated
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 4 * se)
    assert np.allclose(np.cov(draws.T), LINEAR_COV, rtol=0.15, atol=0.01)


def test_a_batch_of_data_sets_gets_each_its_own_posterior():
    posterior = linear_gaussian_posterior(SamplerSettings(burn_in=50, thin=5, kept_per_chain=10))
    offsets = np.array([[1.0, -0.5], [-2.0, 1.0]])
    draws = posterior.sample(np.arcsinh(offsets), 2000, seed=3)
    assert draws.shape == (2000, 2, 2)
    for i, c in enumerate(offsets):
        se = np.sqrt(np.diag(LINEAR_COV) / 200)
        assert np.all(np.abs(draws[:, i].mean(axis=0) - LINEAR_COV @ LINEAR.T @ c) < 4 * se)


def test_the_mixture_of_members_adds_their_disagreement_to_their_variance():
    # Two members: means 1 and 3, variances 0.5 and 1.5, undefined with chances 0.1 and
    # 0.3: the mixture has mean 2, variance 1 + 1 and a defined run with chance 0.8.
    def net(z):
        member = [[1.0, np.log(0.5), np.log(0.1 / 0.9)], [3.0, np.log(1.5), np.log(0.3 / 0.7)]]
        return jnp.asarray(member) + 0 * z[0]

    centre, variance, log_defined = moments(net, jnp.zeros(2))
    assert float(centre[0]) == pytest.approx(2.0)
    assert float(variance[0]) == pytest.approx(2.0, rel=1e-6)
    assert float(log_defined) == pytest.approx(np.log(0.8), rel=1e-6)


def test_the_emulator_learns_a_known_mean_and_scatter_and_survives_its_files(tmp_path):
    by_id = {t.id: t for t in load_targets()}
    targets = [by_id["kg_registered_2000"], by_id["kg_share_income_le_5k_today"]]
    unit = units(targets)
    rng = np.random.default_rng(5)
    z = rng.standard_normal((3000, 2))
    mean_u = np.c_[2.0 + 0.5 * z[:, 0], 1.0 - 0.3 * z[:, 1]]
    u = mean_u + np.c_[0.1, 0.2] * rng.standard_normal((3000, 2))
    stats = np.sinh(u) * unit
    stats[:60, 1] = np.nan  # undefined statistics
    spec = EmulatorSpec(width=32, depth=2, epochs=40, batch_size=256, learning_rate=3e-3, members=2)
    net, mean, sd, moment, _ = train(z, stats, unit, spec, seed=1)
    emulator = Emulator(
        net, spec, ["a", "b"], [t.id for t in targets], unit, mean, sd, moment, "k", 0, 1, []
    )
    probe = jnp.asarray([0.5, -0.5], dtype=jnp.float32)
    centre, variance, log_defined = moments(net, probe)
    assert np.asarray(centre) * sd + mean == pytest.approx([2.25, 1.15], abs=0.05)
    assert np.sqrt(np.asarray(variance)) * sd == pytest.approx([0.1, 0.2], rel=0.25)
    assert 1 - float(np.exp(log_defined)) == pytest.approx(0.02, abs=0.01)
    # Where the rows pin the statistics down, the held-out residuals' scale is the
    # mixture's, and the statistics' independent scatters are uncorrelated.
    assert np.diag(moment) == pytest.approx([1.0, 1.0], abs=0.2)
    assert abs(moment[0, 1]) < 0.15
    save(emulator, tmp_path / "e.eqx")
    back = load(tmp_path / "e.eqx")
    assert all(
        np.array_equal(x, y) for x, y in zip(heads(back.net, probe), heads(net, probe), strict=True)
    )
    assert np.array_equal(back.residual_moment, moment) and back.targets == emulator.targets


def test_members_disagree_where_the_rows_are_thin():
    # Rows only near z = 0: the members agree there and part ways far from it, so the
    # mixture's variance grows where the emulator has seen nothing.
    by_id = {t.id: t for t in load_targets()}
    targets = [by_id["kg_registered_2000"]]
    unit = units(targets)
    rng = np.random.default_rng(6)
    z = 0.3 * rng.standard_normal((2000, 2))
    u = 2.0 + 0.5 * z[:, :1] + 0.05 * rng.standard_normal((2000, 1))
    spec = EmulatorSpec(width=32, depth=2, epochs=30, batch_size=200, learning_rate=3e-3, members=4)
    net, *_ = train(z, np.sinh(u) * unit, unit, spec, seed=2)
    near = float(moments(net, jnp.zeros(2, dtype=jnp.float32))[1][0])
    far = float(moments(net, jnp.asarray([4.0, -4.0], dtype=jnp.float32))[1][0])
    assert far > 5 * near


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--truths", "3"], "--truths"),
        (["--prior-truths", "5"], "--prior-truths"),
        (["--workers", "0"], "--workers"),
        (["--out", "no/such/folder"], "--out"),
    ],
)
def test_the_check_refuses_bad_options_in_one_line_before_any_work(argv, named, capsys, tmp_path):
    from experiments.emulator_check import main

    out = ["--out", str(tmp_path)] if "--out" not in argv else []
    assert main([*argv, *out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0] and "Traceback" not in err[0]
    assert not any(tmp_path.iterdir()) and not Path("no/such/folder").exists()


def test_residual_scales_read_twice_the_scatter_as_a_mean_square_of_four():
    import pandas as pd

    from calibration.priors import sampled_name
    from experiments.emulator_check import residual_scales

    by_id = {t.id: t for t in load_targets()}
    targets = [by_id["kg_registered_2000"], by_id["kg_share_income_le_5k_today"]]
    unit = units(targets)

    def net(z):
        # Means 2 + z0 and 1 on the scale, standard deviations 0.1 and 0.2.
        return jnp.stack([2.0 + z[0], 1.0 + 0 * z[0], *jnp.log(jnp.array([0.01, 0.04])), -40.0])

    emulator = exact_emulator(targets, None)
    emulator.net = net
    emulator.residual_moment = np.diag([1.0, 4.0])
    rng = np.random.default_rng(7)
    z = rng.standard_normal((4000, 2))
    u = np.c_[2.0 + z[:, 0], np.ones(4000)] + np.c_[0.2, 0.4] * rng.standard_normal((4000, 2))
    rows = pd.DataFrame(np.sinh(u) * unit, columns=emulator.targets)
    for i, name in enumerate(emulator.parameters):
        rows[sampled_name(name)] = z[:, i]
    table = residual_scales(emulator, {"rows": rows})
    # Before the rescaling: the held-out moments. After it, the first statistic scatters
    # twice as widely as emulated (4), the second as widely as the rescaled scatter (1).
    assert table["mean square, median of statistics"].iloc[0] == pytest.approx(2.5)
    assert table["largest"].iloc[1] == pytest.approx(4.0, rel=0.1)
    assert table["its statistic"].iloc[1] == "kg_registered_2000"
    assert table["mean square, median of statistics"].iloc[1] == pytest.approx(2.5, rel=0.1)


def test_a_fitted_reference_is_each_blocks_gaussian_widened_and_its_density_ratio_exact():
    from scipy.stats import multivariate_normal as mvn

    from calibration.emulated_posterior import REFERENCE_WIDENING, Reference

    rng = np.random.default_rng(8)
    cov = np.array([[1.0, 0.8], [0.8, 2.0]])
    centres = np.array([[3.0, -1.0], [-2.0, 0.5]])
    # 4,000 states of 2 blocks of 5 chains each (steps x rows x dim).
    states = rng.multivariate_normal(np.zeros(2), cov, (400, 10)) + np.repeat(centres, 5, axis=0)
    reference = Reference.fitted(states, chains=5)
    assert reference.centre == pytest.approx(centres, abs=0.1)
    # The second block's sample covariance, shrunk a tenth to its diagonal, widened.
    sample = np.cov(states[:, 5:].reshape(-1, 2).T)
    shrunk = 0.9 * sample + 0.1 * np.diag(np.diag(sample))
    fitted = reference.chol[1] @ reference.chol[1].T
    assert fitted == pytest.approx(REFERENCE_WIDENING * shrunk + 1e-3 * np.eye(2), rel=1e-9)
    assert sample == pytest.approx(cov, rel=0.1)
    # The ratio of the prior to the reference's density, up to one constant per block.
    z = rng.standard_normal((6, 2))
    rows = np.array([5, 6, 7, 8, 9, 5])
    got = reference.log_density_ratio(z, rows)
    want = mvn(np.zeros(2)).logpdf(z) - mvn(reference.centre[1], fitted).logpdf(z)
    assert got - got[0] == pytest.approx(want - want[0], abs=1e-9)
    standard = Reference.standard(3, 2)
    assert standard.log_density_ratio(z[:3], np.arange(3)) == pytest.approx(np.zeros(3))


def test_iid_draws_are_one_from_each_chain_and_still_the_posterior(monkeypatch):
    import calibration.emulated_posterior as module

    posterior = linear_gaussian_posterior(
        SamplerSettings(adapt=40, burn_in=20, thin=5, kept_per_chain=10)
    )
    runs = []
    sampler = module.elliptical_slice

    def counted(log_likelihood, values, z, settings, rng, chains):
        runs.append((settings.kept_per_chain, len(z), chains))
        return sampler(log_likelihood, values, z, settings, rng, chains)

    monkeypatch.setattr(module, "elliptical_slice", counted)
    c = np.array([1.0, -0.5])
    draws = posterior.sample(np.arcsinh(c), 1500, seed=4, iid=True)
    posterior.sample(np.arcsinh(c), 1500, seed=4)
    assert runs == [(1, 1500, 1500), (10, 150, 150)]
    se = np.sqrt(np.diag(LINEAR_COV) / 1500)  # independent draws
    assert draws.shape == (1500, 2)
    assert np.all(np.abs(draws.mean(axis=0) - LINEAR_COV @ LINEAR.T @ c) < 4 * se)
    assert np.allclose(np.cov(draws.T), LINEAR_COV, rtol=0.15, atol=0.01)


def test_a_block_with_too_few_pilot_states_stays_on_the_priors_ellipses():
    # One chain (20 pilot states in 2 dimensions would do; 1 state would not): its draws
    # must move, not freeze on a degenerate Gaussian.
    posterior = linear_gaussian_posterior(
        SamplerSettings(adapt=6, burn_in=20, thin=5, kept_per_chain=200)
    )
    draws = posterior.sample(np.arcsinh(np.array([1.0, -0.5])), 200, seed=5)
    assert len(np.unique(draws[:, 0])) > 150


def test_residual_moment_reads_a_scatter_twice_the_emulated_as_four():
    from calibration.emulator import residual_moment

    def net(z):
        # Members agree: mean z0 and 0, standard deviation 0.5 and 1 on the scaled scale.
        return jnp.stack([z[0], 0 * z[0], jnp.log(0.25), 0.0, -40.0])[None, :]

    rng = np.random.default_rng(9)
    z = rng.standard_normal((20000, 2)).astype(np.float32)
    scaled = np.c_[z[:, 0] + rng.standard_normal(20000), rng.standard_normal(20000)]
    moment = residual_moment(net, jnp.asarray(z), scaled)
    assert np.diag(moment) == pytest.approx([4.0, 1.0], rel=0.05)
    assert abs(moment[0, 1]) < 0.05
