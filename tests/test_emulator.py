"""The emulator (calibration/emulator.py) and the emulator check's own readings.

The members' mixture must add their disagreement to their variance; the emulator must
learn a known mean and scatter, come back from its files unchanged and grow uncertain
where its rows are thin; the held-out rescaling and the check's residual scales must
read a known scatter back; the check refuses bad options in one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from emulator_helpers import exact_emulator

from calibration.emulator import Emulator, EmulatorSpec, heads, load, moments, save, train, units
from calibration.npe import TRAINING_LIBRARIES
from calibration.targets import load_targets
from calibration.versions import installed_versions

jnp = pytest.importorskip("jax.numpy")


def test_the_mixture_of_members_adds_their_disagreement_to_their_variance():
    # Two members: means 1 and 3, variances 0.5 and 1.5, undefined with chances 0.1 and
    # 0.3: the mixture has mean 2, variance 1 + 1 and a defined run with chance 0.8.
    def net(z):
        member = [[1.0, np.log(0.5), np.log(0.1 / 0.9)], [3.0, np.log(1.5), np.log(0.3 / 0.7)]]
        return jnp.asarray(member) + 0 * z[0]

    centre, variance, log_defined, log_undefined = moments(net, jnp.zeros(2))
    assert float(centre[0]) == pytest.approx(2.0)
    assert float(variance[0]) == pytest.approx(2.0, rel=1e-6)
    assert float(log_defined) == pytest.approx(np.log(0.8), rel=1e-6)
    assert float(log_undefined) == pytest.approx(np.log(0.2), rel=1e-6)


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
    centre, variance, log_defined, _ = moments(net, probe)
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
    trained_with = json.loads((tmp_path / "e.json").read_text())["trained_with"]
    assert trained_with == installed_versions(TRAINING_LIBRARIES)


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
