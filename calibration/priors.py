"""The calibrated parameters' priors and the space the samplers draw them in.

Each prior (``calibration/priors.yaml``; the regional layer's in
``calibration/priors_regional.yaml``) is uniform or log-uniform between bounds, with its
unit and the reason for its range. The samplers (the ABC-SMC of ``calibration.abc``, the
reference table of ``calibration.reference``) draw each parameter's normal score ``z``,
standard normal, as ``z_<name>``; the model value is the prior quantile at ``Phi(z)``
(``model_values``). Source of each prior: its ``reason:`` in the priors file
(``docs/calibration.md``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pyabc
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.special import ndtr

from model import COUNTRIES, ScenarioError, libm
from model.config_files import refuse_other_kind
from model.input_errors import first_error
from model.parameters import BEHAVIOUR_RANGES
from model.yaml_files import read_yaml_mapping

PRIORS = Path(__file__).with_name("priors.yaml")


class PriorSpec(BaseModel):
    """The prior of one calibrated parameter."""

    # Bounds are numbers as written: not true, not '2', not .inf (a quantile of an
    # unbounded uniform is no number either).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    distribution: Literal["uniform", "loguniform"]
    low: float = Field(strict=True)
    high: float = Field(strict=True)
    unit: str
    reason: str = Field(min_length=10)

    @model_validator(mode="after")
    def _bounds(self) -> PriorSpec:
        if not self.low < self.high:
            raise ValueError(f"low {self.low:g} must be below high {self.high:g}")
        if self.distribution == "loguniform" and self.low <= 0:
            raise ValueError("a loguniform prior needs low > 0")
        return self

    def quantiles(self, q: np.ndarray) -> np.ndarray:
        """Return the prior quantiles at probabilities ``q`` (in model units).

        The logarithms and exponentials are the C library's (``model.libm``): numpy's own
        differ in the last bit on CPUs with AVX-512, and the reference table's rows must
        not depend on the machine that drew them.
        """
        if self.distribution == "uniform":
            return self.low + q * (self.high - self.low)
        low, high = math.log(self.low), math.log(self.high)
        return libm.exp(low + np.asarray(q, dtype=float) * (high - low))


class PriorFile(BaseModel):
    """The priors file."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    parameters: dict[str, PriorSpec] = Field(min_length=1)


def calibration_ranges() -> dict[str, tuple[float, float]]:
    """Return the names a country prior may have and their valid values.

    The behaviour parameters (``model.parameters.BEHAVIOUR_RANGES``) and each country's
    donor budget level (not negative).
    """
    budgets = {f"{c}.donor_budget_scale": (0.0, math.inf) for c in COUNTRIES}
    return {**BEHAVIOUR_RANGES, **budgets}


def load_priors(
    path: str | Path = PRIORS, ranges: Mapping[str, tuple[float, float]] | None = None
) -> dict[str, PriorSpec]:
    """Load and validate a priors file.

    ``ranges`` are the names it may hold and their valid values (default: the country
    calibration's, ``calibration_ranges``; the regional layer passes its own, which this
    module does not import, so that a country run imports no regional module).

    Raises:
        ScenarioError: naming the file and the parameter of the first problem, a bound
            outside the parameter's valid values among them.
    """
    path = Path(path)
    ranges = calibration_ranges() if ranges is None else ranges
    data = read_yaml_mapping(path)
    refuse_other_kind(path, data, ("priors",), "a priors file")
    try:
        priors = PriorFile.model_validate(data).parameters
    except ValidationError as exc:
        raise ScenarioError(path, *first_error(exc, data)) from None
    unknown = sorted(set(priors) - set(ranges))
    if unknown:
        raise ScenarioError(path, f"parameters.{unknown[0]}", "unknown parameter")
    for name, spec in priors.items():
        low, high = ranges[name]
        if not low <= spec.low < spec.high <= high:
            found = f"{spec.low:g} to {spec.high:g} leaves the parameter's range"
            found += f" [{low:g}, {high:g}]"
            raise ScenarioError(path, f"parameters.{name}", found)
    return priors


SCORE_PREFIX = "z_"


def sampled_name(name: str) -> str:
    """Return the name pyabc samples a parameter under: ``z_<name>``, its normal score."""
    return SCORE_PREFIX + name


def pyabc_prior(priors: Mapping[str, PriorSpec]) -> pyabc.Distribution:
    """Return the priors as a pyabc ``Distribution`` over normal scores.

    pyabc samples each parameter's normal score ``z``, standard normal, and the model
    value is the prior quantile at ``Phi(z)`` (``model_values``), so the prior in model
    units is exactly the one in the priors file. Why: the proposal
    (``calibration.proposal``) is a smooth unbounded density; over scores it never lands
    outside the prior's support, and a posterior pressed against a prior bound becomes a
    tail, which a Student t fits, rather than an edge, which it does not.
    """
    return pyabc.Distribution(**{sampled_name(n): pyabc.RV("norm", 0, 1) for n in priors})


def model_values(sampled: Mapping[str, float], priors: Mapping[str, PriorSpec]) -> dict:
    """Return ``{parameter: model value}`` from pyabc's sampled normal scores."""
    return {
        name: float(spec.quantiles(ndtr(float(sampled[sampled_name(name)]))))
        for name, spec in priors.items()
    }
