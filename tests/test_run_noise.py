"""The replicate study (experiments/run_noise.py): runs at fixed parameters read back.

Where the model's runs are the emulator's means plus a known offset and a known scatter,
the study must read back the scatter as a share of the emulated variance (rescaled by
the held-out rows' moments), the offset in emulated standard deviations, and a Gaussian's
shape; each truth's runs must be seeded by its table row, and a truth whose runs ran away
left out.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from emulator_helpers import GAIN, register_targets, scaled_emulator

from experiments.run_noise import LEAST_DEFINED, main, noise_at_truths, run_seeds, summary

jnp = pytest.importorskip("jax.numpy")

OFFSET = np.array([0.1, -0.05])
NOISE = 0.1


def shifted_runs(emulator):
    """The model: the emulator's scaled means plus ``OFFSET``, scattering ``NOISE``.

    Each run draws its noise from its own seed, so that runs seeded alike are alike.
    """

    def simulate(z: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        noise = np.stack([np.random.default_rng(int(s)).standard_normal(2) for s in seeds])
        scaled = z @ GAIN.T + 3.0 + OFFSET + NOISE * noise
        return emulator.unit * np.sinh(scaled * emulator.out_sd + emulator.out_mean)

    return simulate


def test_the_study_reads_back_a_known_scatter_offset_and_shape():
    targets = register_targets()
    moment = np.diag([2.0, 0.5])
    # Statistics standardised on the networks' scale, as a trained emulator's are.
    emulator = dataclasses.replace(
        scaled_emulator(targets, lambda z: jnp.asarray(GAIN) @ z + 3.0, np.log(0.04), moment),
        out_mean=np.array([2.0, -1.0]),
        out_sd=np.array([0.5, 3.0]),
    )
    z = np.random.default_rng(4).standard_normal((3, 2))
    table = noise_at_truths(emulator, z, np.array([7, 8, 9]), 2000, 1, shifted_runs(emulator))
    assert len(table) == 6
    medians = summary(table).set_index("target")
    variance = 0.04 * np.diag(moment)  # emulated: 0.08 and 0.02
    assert medians["noise_ratio"].to_numpy() == pytest.approx(NOISE**2 / variance, rel=0.1)
    assert medians["abs_offset"].to_numpy() == pytest.approx(
        np.abs(OFFSET) / np.sqrt(variance), abs=0.03
    )
    assert medians["total"].to_numpy() == pytest.approx((NOISE**2 + OFFSET**2) / variance, rel=0.1)
    assert np.abs(medians["kurtosis"]).max() < 0.3
    assert np.abs(medians["skewness"]).max() < 0.15


def test_each_truth_is_run_with_its_own_rows_seeds():
    targets = register_targets()
    emulator = scaled_emulator(targets, lambda z: jnp.asarray(GAIN) @ z + 3.0, np.log(0.04))
    seen = []

    def simulate(z, seeds):
        seen.append(np.asarray(seeds))
        return shifted_runs(emulator)(z, seeds)

    rows = np.array([4, 2])
    noise_at_truths(emulator, np.zeros((2, 2)), rows, LEAST_DEFINED, 1, simulate)
    assert np.array_equal(seen[0], run_seeds(rows, LEAST_DEFINED, 1).reshape(-1))
    assert np.array_equal(seen[0][LEAST_DEFINED:], run_seeds(np.array([2]), LEAST_DEFINED, 1)[0])


def test_a_truths_runs_are_seeded_by_its_table_row_alone():
    both = run_seeds(np.array([3, 5]), 4, 1)
    assert np.array_equal(run_seeds(np.array([5]), 4, 1)[0], both[1])
    assert not np.array_equal(both[0], both[1])
    assert not np.array_equal(run_seeds(np.array([3]), 4, 2)[0], both[0])


def test_a_truth_whose_runs_ran_away_is_left_out():
    targets = register_targets()
    emulator = scaled_emulator(targets, lambda z: jnp.asarray(GAIN) @ z + 3.0, np.log(0.04))
    runs = LEAST_DEFINED + 10
    model = shifted_runs(emulator)

    def simulate(z, seeds):
        stats = model(z, seeds)
        stats[runs - 11 : runs, 0] = np.nan  # 11 of the first truth's runs: 49 defined
        return stats

    table = noise_at_truths(emulator, np.zeros((2, 2)), np.array([0, 1]), runs, 1, simulate)
    assert table["row"].unique().tolist() == [1]
    assert (table["defined_runs"] == runs).all()

    def all_ran_away(z, seeds):
        return np.full((len(z), 2), np.nan)

    empty = noise_at_truths(emulator, np.zeros((2, 2)), np.array([0, 1]), runs, 1, all_ran_away)
    assert empty.empty


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--runs", "10"], "--runs: 10: at least 50"),
        (["--truths", "0"], "--truths: 0"),
        (["--seed", "-1"], "--seed: -1"),
        (["--workers", "100000"], "--workers: 100000"),
    ],
)
def test_bad_options_get_one_line_and_exit_status_2_before_any_run(argv, named, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0]
