"""Sourced numbers and yearly series: the scenario files' building blocks.

A number or a series carries its ``source:`` note (``model.scenario`` says what a source
is); a series is given at a few years and interpolated between them. The kinds of series
say what their values may be: amounts (not negative), sizes (positive), shares (0 to 1),
and a price index, whose years may not differ by more than ``MAX_PRICE_RATIO``.
"""

from __future__ import annotations

import bisect
from typing import Annotated, Literal

import numpy as np
from pydantic import AfterValidator, Field, field_validator

from .config_files import Source, Strict, Year

# No input may exceed this magnitude: beyond it a run would exhaust memory, not answer.
MAX_MAGNITUDE = 1e15


# A value of a series.
Value = Annotated[float, Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]


class Number(Strict):
    """A single sourced number."""

    value: float = Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)
    source: Source


class Series(Strict):
    """A sourced yearly path given at a few years; held constant outside them."""

    points: dict[Year, Value] = Field(min_length=1)
    interpolation: Literal["linear", "step"] = "linear"
    source: Source

    def at(self, year: int) -> float:
        """Return the value in ``year`` (linear or step interpolation between points).

        Linear interpolation is ``numpy.interp``'s arithmetic in plain Python, which the
        model asks for hundreds of times a run: numpy's fixed cost per call was a tenth of
        a calibration particle.
        """
        return self._value(sorted(self.points), year)

    def over(self, years: range) -> list[float]:
        """Return the value in each of ``years`` (``at`` for each, sorting the points once).

        A linear series is ``numpy.interp`` itself over all the years, whose arithmetic
        ``at`` repeats (tested).
        """
        known = sorted(self.points)
        if self.interpolation == "linear":
            values = [float(self.points[year]) for year in known]
            return np.interp(np.asarray(years, dtype=np.float64), known, values).tolist()
        return [self._value(known, year) for year in years]

    def _value(self, years: list[int], year: int) -> float:
        i = bisect.bisect_right(years, year) - 1
        if i < 0:
            return float(self.points[years[0]])
        left = float(self.points[years[i]])
        if self.interpolation == "step" or i == len(years) - 1 or years[i] == year:
            return left
        right = float(self.points[years[i + 1]])
        slope = (right - left) / float(years[i + 1] - years[i])
        return slope * float(year - years[i]) + left


def _not_negative(value: float) -> float:
    if value < 0:
        raise ValueError(f"value {value} is negative")
    return value


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError(f"value {value} must be positive")
    return value


def _share(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"value {value} is outside [0, 1]")
    return value


# Checked point by point, so that an error names its year (``points.2010``) and, in a file
# that extends another, the file that wrote that year (``model.error_origin``).
NonNegativeValue = Annotated[Value, AfterValidator(_not_negative)]
PositiveValue = Annotated[Value, AfterValidator(_positive)]
ShareValue = Annotated[Value, AfterValidator(_share)]


class NonNegativeSeries(Series):
    """A series whose values are amounts and may not be negative."""

    points: dict[Year, NonNegativeValue] = Field(min_length=1)


class PositiveSeries(Series):
    """A series of sizes that must be strictly positive (e.g. a mean grant)."""

    points: dict[Year, PositiveValue] = Field(min_length=1)


class ShareSeries(Series):
    """A series of shares or indices between 0 and 1."""

    points: dict[Year, ShareValue] = Field(min_length=1)


# The highest over the lowest value of a price index (`usd_cpi`): US consumer prices rose
# about 31-fold from 1913 to 2023 (BLS CPI-U 9.9 to 304.7), so a factor of 1,000 between
# two years of a scenario is a typo (an index of 1e-300 gave domestic incomes of 2e306 dollars).
MAX_PRICE_RATIO = 1_000


class PriceIndexSeries(PositiveSeries):
    """A price level by year, by which money is moved between years' dollars."""

    @field_validator("points")
    @classmethod
    def _plausible_range(cls, points: dict[int, float]) -> dict[int, float]:
        low, high = min(points.values()), max(points.values())
        if high > MAX_PRICE_RATIO * low:
            raise ValueError(
                f"the highest value ({high:g}) is more than {MAX_PRICE_RATIO:,} times the "
                f"lowest ({low:g}); a price index moves less than that in a scenario's years"
            )
        return points
