"""Curve baselines for the held-back check: logistic, Gompertz and linear trends.

A model with mechanisms should forecast the figures after 2010 better than a curve with
none fitted to the same earlier figures. For each country, the register counts among the
targets up to the held-back year (plus the anchors of ``calibration/baselines.yaml``) are
fitted by least squares (``scipy.optimize.curve_fit``) with a three-parameter logistic
``K / (1 + exp(-r (t - t0)))``, a Gompertz ``K exp(-b exp(-r (t - t_first)))`` and a
straight line, and each curve forecasts the later register targets.

An anchor adds a year the targets do not give, up to the held-back cut-off
(``calibration.targets.HOLDOUT_LAST_YEAR``): a later one would leak the future into the
curves, and one at a target's year would silently replace the article's figure.
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
from model.input_errors import first_error
from model.yaml_files import read_yaml_mapping

from .compare import run_statistic
from .targets import HOLDOUT_LAST_YEAR, FileVersion, Target, load_targets

BASELINES = Path(__file__).with_name("baselines.yaml")
CURVES = ("logistic", "gompertz", "linear")


class Anchor(BaseModel):
    """A register count added to a country's fitted points."""

    # Strict, as the targets: ``true`` or '50' for a count is a typo, and an infinite
    # count would stop the curve fit at the end of a long report run.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)

    year: int = Field(ge=1900, le=2100)
    registered: float = Field(ge=0)
    source: str = Field(min_length=10)


class BaselineFile(BaseModel):
    """The anchors file."""

    model_config = ConfigDict(extra="forbid")

    version: FileVersion
    anchors: dict[str, list[Anchor]] = Field(default_factory=dict)


def load_anchors(
    path: Path = BASELINES,
    targets: Iterable[Target] | None = None,
    last_year: int = HOLDOUT_LAST_YEAR,
) -> dict[str, list[Anchor]]:
    """Load the anchors, checked against the register targets they are fitted with.

    Args:
        path: The anchors file.
        targets: The targets whose register counts the anchors join (default: those of
            ``calibration/targets.yaml``).
        last_year: The held-back cut-off: the last year the curves are fitted to.

    Raises:
        ScenarioError: one line naming the file and the field.
    """
    data = read_yaml_mapping(path)
    try:
        anchors = BaselineFile.model_validate(data).anchors
    except ValidationError as exc:
        raise ScenarioError(path, *first_error(exc, data)) from None
    unknown = sorted(set(anchors) - set(COUNTRIES))
    if unknown:
        raise ScenarioError(path, f"anchors.{unknown[0]}", "unknown country")
    targets = load_targets() if targets is None else list(targets)
    for country, entries in anchors.items():
        _check_years(path, country, entries, register_targets(targets, country, last_year))
        for i, anchor in enumerate(entries):
            if anchor.year > last_year:
                message = f"{anchor.year} is after {last_year}, the held-back cut-off"
                raise ScenarioError(path, f"anchors.{country}.{i}.year", message)
    return anchors


def _check_years(path: Path, country: str, entries: list[Anchor], given: list[Target]) -> None:
    # Points are keyed by year: a second anchor, or a target, of the same year would
    # silently replace the first.
    seen = {t.year: f"target {t.id} ({t.reference:g})" for t in given}
    for i, anchor in enumerate(entries):
        if anchor.year in seen:
            message = f"{anchor.year} is given already, by {seen[anchor.year]}"
            raise ScenarioError(path, f"anchors.{country}.{i}.year", message)
        seen[anchor.year] = f"anchor {i}"


def register_targets(targets: Iterable[Target], country: str, last_year: int) -> list[Target]:
    """Return a country's single-year register targets up to a year (the fitted points)."""
    return [
        t
        for t in targets
        if t.country == country
        and t.column == "registered"
        and t.denominator is None
        and t.year is not None
        and t.base_year is None
        and t.kind == "point"
        and t.year <= last_year
    ]


def register_points(targets: Iterable[Target], country: str, last_year: int) -> dict[int, float]:
    """Return ``{year: count}`` of a country's single-year register targets up to a year."""
    return {t.year: t.reference for t in register_targets(targets, country, last_year)}


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
    """Return a curve's value of a register target, as a run's (``compare.run_statistic``).

    The curve's yearly values over the years the target reads stand for a run's: the
    aggregate over a range of years, the ratio to the base year for a growth target, the
    value in the year otherwise.
    """
    first, last = target.years if target.years is not None else (target.year, target.year)
    if target.base_year is not None:
        first, last = min(first, target.base_year), max(last, target.base_year)
    years = np.arange(first, last + 1)
    return run_statistic(years, np.array([curve(int(y)) for y in years]), target)


def baseline_forecasts(
    targets: list[Target], held: list[Target], last_year: int, path: Path = BASELINES
) -> dict[str, dict[str, float]]:
    """Return ``{target id: {curve: forecast}}`` for the held-back register targets.

    Held-back targets that are not register counts or register growth, or whose country
    has too few earlier points to fit a curve, get NaN.
    """
    anchors = load_anchors(path, targets, last_year)
    out: dict[str, dict[str, float]] = {}
    for target in held:
        points = register_points(targets, target.country, last_year)
        points.update({a.year: a.registered for a in anchors.get(target.country, [])})
        curves = fit_curves(points) if is_register_count(target) else {}
        out[target.id] = {
            name: forecast(curves[name], target) if name in curves else math.nan for name in CURVES
        }
    return out


def is_register_count(target: Target) -> bool:
    """Return whether the target is a register count or a ratio of two (no denominator)."""
    return target.column == "registered" and target.denominator is None
