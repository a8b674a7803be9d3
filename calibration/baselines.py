"""Curve baselines for the held-back check: logistic, Gompertz and linear trends.

A model with mechanisms should forecast the figures after 2010 better than a curve with
none fitted to the same earlier figures. For each country, the register counts among the
targets up to the held-back year (plus the anchors of ``calibration/baselines.yaml``) are
fitted by least squares (``scipy.optimize.curve_fit``) with a three-parameter logistic
``K / (1 + exp(-r (t - t0)))``, a Gompertz ``K exp(-b exp(-r (t - t_first)))`` and a
straight line, and each curve forecasts the later register targets.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy.optimize import OptimizeWarning, curve_fit

from model import COUNTRIES, ScenarioError, libm
from model.config_files import read_yaml_mapping

from .targets import Target

BASELINES = Path(__file__).with_name("baselines.yaml")
CURVES = ("logistic", "gompertz", "linear")


class Anchor(BaseModel):
    """A register count added to a country's fitted points."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    year: int = Field(ge=1900, le=2100)
    registered: float = Field(ge=0)
    source: str = Field(min_length=10)


class BaselineFile(BaseModel):
    """The anchors file."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=1)
    anchors: dict[str, list[Anchor]] = Field(default_factory=dict)


def load_anchors(path: Path = BASELINES) -> dict[str, list[Anchor]]:
    """Load the anchors; one line naming the file and field on a problem."""
    data = read_yaml_mapping(path)
    try:
        anchors = BaselineFile.model_validate(data).anchors
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ScenarioError(path, ".".join(str(p) for p in err["loc"]), err["msg"]) from None
    unknown = sorted(set(anchors) - set(COUNTRIES))
    if unknown:
        raise ScenarioError(path, f"anchors.{unknown[0]}", "unknown country")
    return anchors


def register_points(targets: Iterable[Target], country: str, last_year: int) -> dict[int, float]:
    """Return ``{year: count}`` of a country's single-year register targets up to a year."""
    return {
        t.year: t.reference
        for t in targets
        if t.country == country
        and t.column == "registered"
        and t.denominator is None
        and t.year is not None
        and t.base_year is None
        and t.kind == "point"
        and t.year <= last_year
    }


# The C library's exp (model.libm): numpy's own differs on AVX-512 CPUs, and the fitted
# curves should not depend on the machine.
def _logistic(t, k, r, t0):
    return k / (1.0 + libm.exp(-r * (t - t0)))


def fit_curves(points: dict[int, float]) -> dict[str, Callable[[float], float]]:
    """Fit the three curves to ``{year: count}``; a curve that does not fit is left out."""
    if not points:
        return {}
    years = np.array(sorted(points), dtype=float)
    values = np.array([points[int(y)] for y in years])
    first, top = years[0], values.max()

    def gompertz(t, k, b, r):
        return k * libm.exp(-b * libm.exp(-r * (t - first)))

    starts = {
        "logistic": (_logistic, (1.5 * top, 0.3, float(np.median(years)))),
        "gompertz": (gompertz, (1.5 * top, 5.0, 0.2)),
    }
    fitted: dict[str, Callable[[float], float]] = {}
    if years.size >= 3:
        for name, (curve, p0) in starts.items():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", OptimizeWarning)
                    params, _ = curve_fit(curve, years, values, p0=p0, maxfev=20000)
            except RuntimeError:
                continue
            fitted[name] = lambda t, c=curve, p=params: float(c(t, *p))
    if years.size >= 2:
        slope, intercept = np.polyfit(years, values, 1)
        fitted["linear"] = lambda t, a=intercept, b=slope: float(a + b * t)
    return fitted


def forecast(curve: Callable[[float], float], target: Target) -> float:
    """Return a curve's value of a register target.

    Its aggregate over the target's years for a range of years, the ratio to the base year
    for a growth target, the value in the year otherwise.
    """
    if target.years is not None:
        first, last = target.years
        values = [curve(y) for y in range(first, last + 1)]
        return float(_AGGREGATES[target.aggregate](values))
    if target.base_year is not None:
        base = curve(target.base_year)
        return curve(target.year) / base if base else math.nan
    return curve(target.year)


_AGGREGATES = {"mean": np.mean, "sum": np.sum, "min": np.min, "max": np.max}


def baseline_forecasts(
    targets: list[Target], held: list[Target], last_year: int, path: Path = BASELINES
) -> dict[str, dict[str, float]]:
    """Return ``{target id: {curve: forecast}}`` for the held-back register targets.

    Held-back targets that are not register counts or register growth, or whose country
    has too few earlier points to fit a curve, get NaN.
    """
    anchors = load_anchors(path)
    out: dict[str, dict[str, float]] = {}
    for target in held:
        points = register_points(targets, target.country, last_year)
        points.update({a.year: a.registered for a in anchors.get(target.country, [])})
        curves = fit_curves(points) if _is_register_count(target) else {}
        out[target.id] = {
            name: forecast(curves[name], target) if name in curves else math.nan for name in CURVES
        }
    return out


def _is_register_count(target: Target) -> bool:
    return target.column == "registered" and target.denominator is None
