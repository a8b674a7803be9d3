"""The emulated posterior refined by runs at its draws (calibration/refined_posterior.py).

The correction must read a known offset and scatter back from runs; a corrected
likelihood must be an emulator with shifted means; and when the model differs from the
emulator by an offset, the refined posterior must be the model's own, not the emulator's.
"""

from __future__ import annotations

import numpy as np
import pytest
from emulator_helpers import GAIN, register_targets, scaled_emulator

from calibration.emulated_posterior import (
    EmulatedPosterior,
    LocalCorrection,
    SamplerSettings,
    likelihood_function,
)
from calibration.emulator import units
from calibration.refined_posterior import LEAST_RUNS, RefinedPosterior, local_correction

jnp = pytest.importorskip("jax.numpy")


def test_the_correction_reads_back_a_known_offset_and_scatter():
    targets = register_targets()
    emulator = scaled_emulator(targets, lambda z: jnp.asarray(GAIN) @ z + 3.0, np.log(0.04))
    rng = np.random.default_rng(1)
    z = rng.standard_normal((4000, 2))
    # The model's runs: the emulator's means plus 0.3 and -0.2, scattering 0.1 (a
    # quarter of the emulator's variance of 0.04).
    scaled = z @ GAIN.T + 3.0 + np.array([0.3, -0.2]) + 0.1 * rng.standard_normal((4000, 2))
    stats = emulator.unit * np.sinh(scaled)
    correction = local_correction(emulator, z, stats)
    assert correction.offset == pytest.approx([0.3, -0.2], abs=0.01)
    assert np.diag(correction.moment) == pytest.approx([0.25, 0.25], rel=0.1)


def test_the_correction_keeps_the_held_out_rows_correlations():
    targets = register_targets()
    held = np.array([[2.0, 0.6], [0.6, 0.5]])  # correlation 0.6
    emulator = scaled_emulator(targets, lambda z: jnp.asarray(GAIN) @ z + 3.0, 0.0, held)
    rng = np.random.default_rng(2)
    z = rng.standard_normal((500, 2))
    stats = emulator.unit * np.sinh(z @ GAIN.T + 3.0 + rng.standard_normal((500, 2)))
    moment = local_correction(emulator, z, stats).moment
    assert moment[0, 1] / np.sqrt(moment[0, 0] * moment[1, 1]) == pytest.approx(0.6)


def test_too_few_runs_with_every_statistic_defined_leave_the_emulator_uncorrected():
    targets = register_targets()
    held = np.array([[2.0, 0.1], [0.1, 0.5]])
    emulator = scaled_emulator(targets, lambda z: jnp.asarray(GAIN) @ z + 3.0, 0.0, held)
    z = np.zeros((LEAST_RUNS + 4, 2))
    stats = np.full((len(z), 2), 1000.0)
    stats[5:, 1] = np.nan  # a register that ran away
    correction = local_correction(emulator, z, stats)
    assert np.array_equal(correction.offset, [0.0, 0.0])
    assert np.array_equal(correction.moment, held)


def test_a_corrected_likelihood_is_the_likelihood_of_an_emulator_with_shifted_means():
    targets = register_targets()
    offset = np.array([0.05, -0.03])
    moment = np.array([[0.7, 0.2], [0.2, 0.4]])
    emulator = scaled_emulator(targets, lambda z: jnp.asarray(GAIN) @ z * 0.02 + 4.0, -6.0)
    shifted = scaled_emulator(
        targets, lambda z: jnp.asarray(GAIN) @ z * 0.02 + 4.0 + jnp.asarray(offset), -6.0, moment
    )
    z = jnp.asarray(np.random.default_rng(3).standard_normal((16, 2)))
    v = np.array([t.value for t in targets], float)
    values = jnp.asarray(np.tile(v * np.array([1.1, 0.95]), (16, 1)))
    got = likelihood_function(emulator, targets, [LocalCorrection(offset, moment)])(z, values)
    want = likelihood_function(shifted, targets)(z, values)
    assert np.asarray(got) == pytest.approx(np.asarray(want), rel=1e-5)


def test_refinement_draws_the_models_posterior_where_the_emulator_is_off_by_an_offset():
    # Statistics linear in two scores, seen by two point figures of 5% tolerance; the
    # model gives one tolerance unit more on the first and half a unit less on the second
    # than the emulator. Given values ``c`` units off, the model's posterior is the linear
    # problem's given ``c - delta``; the emulator's alone is the one given ``c``.
    targets = register_targets()
    v = np.array([t.value for t in targets], float)
    delta = np.array([1.0, -0.5])
    unit = units(targets)
    emulator = scaled_emulator(
        targets, lambda z: jnp.arcsinh((jnp.asarray(v) + 0.05 * v * (GAIN @ z)) / unit), -40.0
    )

    def model(z, seeds):
        return v + 0.05 * v * (z @ GAIN.T + delta)

    base = EmulatedPosterior(emulator, targets, SamplerSettings())
    refined = RefinedPosterior(emulator, targets, SamplerSettings(), runs=200, simulate=model)
    c = np.array([1.0, -0.5])
    features = np.arcsinh(c)
    precision = np.eye(2) + GAIN.T @ GAIN
    want = np.linalg.solve(precision, GAIN.T @ (c - delta))
    emulators = np.linalg.solve(precision, GAIN.T @ c)
    cov = np.linalg.inv(precision)
    # A quarter of the draws counted as independent: resampling repeats some.
    se_mean = np.sqrt(np.diag(cov) / 1000)
    se_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / 1000)
    draws = refined.sample(features, 4000, seed=4)
    assert np.all(np.abs(draws.mean(axis=0) - want) < 4 * se_mean)
    assert np.all(
        np.abs(base.sample(features, 4000, seed=4).mean(axis=0) - emulators) < 4 * se_mean
    )
    assert np.abs(want - emulators).max() > 0.3
    assert np.all(np.abs(np.cov(draws.T) - cov) < 4 * se_cov)
    assert len(refined.corrections) == 1 and refined.stages.shape == (1,)


def test_a_batch_of_data_sets_is_refined_each_with_its_own_runs():
    targets = register_targets()
    v = np.array([t.value for t in targets], float)
    unit = units(targets)
    emulator = scaled_emulator(
        targets, lambda z: jnp.arcsinh((jnp.asarray(v) + 0.05 * v * (GAIN @ z)) / unit), -40.0
    )
    seen = []

    def model(z, seeds):
        seen.append(len(z))
        return v + 0.05 * v * (z @ GAIN.T)

    refined = RefinedPosterior(
        emulator, targets, SamplerSettings(particles=200), runs=50, simulate=model
    )
    features = np.arcsinh(np.array([[1.0, -0.5], [-2.0, 0.5], [0.0, 0.0]]))
    draws = refined.sample(features, 200, seed=5)
    assert draws.shape == (200, 3, 2) and seen == [150]
    assert len(refined.corrections) == 3
    assert np.array_equal(draws, refined.sample(features, 200, seed=5))
    assert not np.array_equal(draws[:, 0], draws[:, 2])


def linear_emulator(targets):
    v = np.array([t.value for t in targets], float)
    unit = units(targets)
    return scaled_emulator(
        targets, lambda z: jnp.arcsinh((jnp.asarray(v) + 0.05 * v * (GAIN @ z)) / unit), -40.0
    )


def test_each_data_set_of_a_batch_is_drawn_under_its_own_correction():
    targets = register_targets()
    posterior = EmulatedPosterior(linear_emulator(targets), targets, SamplerSettings())
    held = np.eye(2)
    shifts = [
        LocalCorrection(np.array([0.05, 0.0]), held),
        LocalCorrection(-np.array([0.05, 0.0]), held),
    ]
    features = np.arcsinh(np.array([[1.0, -0.5], [1.0, -0.5]]))
    batch = posterior.corrected(shifts).sample(features, 2000, seed=3)
    for i, correction in enumerate(shifts):
        alone = posterior.corrected([correction]).sample(features[i], 2000, seed=3)
        # Four standard errors of a difference of two means of 2,000 resampled draws.
        assert np.abs(batch[:, i].mean(axis=0) - alone.mean(axis=0)).max() < 0.15
    assert np.abs(batch[:, 0].mean(axis=0) - batch[:, 1].mean(axis=0)).max() > 0.5


def test_corrections_are_refused_where_they_would_be_read_wrongly():
    targets = register_targets()
    posterior = EmulatedPosterior(linear_emulator(targets), targets, SamplerSettings())
    two = posterior.corrected([LocalCorrection(np.zeros(2), np.eye(2))] * 2)
    z, values = np.zeros((4, 2)), np.full((4, 2), np.nan)
    with pytest.raises(ValueError, match="groups up to 2"):
        two.log_likelihood(z, values, np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="one correction"):
        two.log_posterior(z, np.zeros(2))
    with pytest.raises(ValueError, match="2 corrections for 3 data sets"):
        two.sample(np.zeros((3, 2)), 100, seed=1)


def test_each_data_set_of_a_batch_is_corrected_by_its_own_runs():
    # The model is off from the emulator by +1 tolerance unit where the first score is
    # positive and by -1 where it is negative: two data sets whose posteriors lie on
    # either side must get offsets of opposite signs, each its own.
    targets = register_targets()
    v = np.array([t.value for t in targets], float)

    def model(z, seeds):
        side = np.sign(z[:, :1])
        return v + 0.05 * v * (z @ GAIN.T + side)

    refined = RefinedPosterior(
        linear_emulator(targets), targets, SamplerSettings(), runs=100, simulate=model
    )
    c = np.array([[6.0, 2.0], [-6.0, -2.0]])  # posteriors near z0 = +2.5 and -2.5
    refined.sample(np.arcsinh(c), 400, seed=2)
    first, second = (correction.offset[0] for correction in refined.corrections)
    assert first > 0.02 and second < -0.02
