"""An emulator of known means and variances, for the tests of what reads an emulator."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.emulator import Emulator, EmulatorSpec, units
from calibration.targets import load_targets

jnp = pytest.importorskip("jax.numpy")

GAIN = np.array([[1.5, 0.5], [0.0, 2.0]])


def exact_emulator(targets, statistic, parameters=2) -> Emulator:
    """An emulator whose runs give ``statistic(z)`` with (almost) no scatter, always defined."""
    unit = units(targets)
    return scaled_emulator(
        targets, lambda z: jnp.arcsinh(statistic(z) / unit), -40.0, parameters=parameters
    )


def register_targets():
    by_id = {t.id: t for t in load_targets()}
    return [by_id["kg_registered_2000"], by_id["kg_registered_2006"]]


def scaled_emulator(targets, mean, log_variance: float, moment=None, parameters=2) -> Emulator:
    """An emulator whose scaled means are ``mean(z)`` and log variances ``log_variance``.

    Its runs are always defined; ``parameters`` scores ``p0``, ``p1``, ...
    """
    d = len(targets)

    def net(z):
        return jnp.concatenate([mean(z), jnp.full(d, log_variance), jnp.array([-40.0])])

    return Emulator(
        net=net,
        spec=EmulatorSpec(),
        parameters=[f"p{i}" for i in range(parameters)],
        targets=[t.id for t in targets],
        unit=units(targets),
        out_mean=np.zeros(d),
        out_sd=np.ones(d),
        residual_moment=np.eye(d) if moment is None else moment,
        table_key="test",
        rows=0,
        seed=1,
        truncated=[],
    )
