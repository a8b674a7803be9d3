"""Model output against the article's reported figures: the one definition of "fit".

``compare`` lays each target's reported value next to the model's median and 90% interval
across replicates, with the relative error and whether the median is within tolerance;
the median is itself an estimate from the runs, so its distribution-free 90% confidence
interval is given too, and a verdict that interval does not settle is marked;
``target_error`` is the same comparison in tolerance units, which calibration minimises.
The command ``ngo-abm compare`` and the calibration report print and plot this table.
A run table is checked before it is compared (``calibration.run_checks``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from model import COUNTRIES

from .median_interval import MEDIAN_LEVEL, median_interval
from .run_checks import REPLICATE, check_run_table
from .targets import Target

# The comparison's columns (``compare``), also those of a comparison of no target.
COLUMNS = (
    "id country group quantity kind reported reference tolerance model_median model_q05 "
    "model_q95 median_low median_high rel_error error within_tolerance settled covered "
    "share_within replicates"
).split()
# Marks a verdict that the median's confidence interval does not settle (``settled``).
UNSETTLED = "?"
UNSETTLED_NOTE = (
    f"{UNSETTLED}: the runs do not settle the verdict: the median's {MEDIAN_LEVEL:.0%} "
    "confidence interval (order statistics of the runs) crosses an edge of the tolerance "
    "band, or there are too few runs (under 5) to give one."
)
UNDEFINED = "undefined"
UNDEFINED_NOTE = (
    f"{UNDEFINED}: no run gives the statistic a value (a ratio whose base is 0, a share "
    "of nothing), so there is no median to compare."
)


def column_values(frame: pd.DataFrame, column: str, denominator: str | None) -> pd.Series:
    """Return a yearly column, or its ratio to ``denominator`` (0 where that is not positive)."""
    values = frame[column].to_numpy(dtype=float)
    den = None if denominator is None else frame[denominator].to_numpy(dtype=float)
    return pd.Series(_ratio(values, den), index=frame.index)


def _ratio(values: np.ndarray, den: np.ndarray | None) -> np.ndarray:
    if den is None:
        return values
    return np.where(den > 0, values, 0.0) / np.where(den > 0, den, 1.0)


def run_value(columns: Mapping[str, list], target: Target) -> float:
    """Return the target's statistic of one run from its yearly columns, without a frame.

    ``columns`` maps output columns to their yearly values (a model's collected
    ``datacollector.model_vars``); a calibration particle reads its statistics this way.
    """
    den = None if target.denominator is None else np.asarray(columns[target.denominator], float)
    values = _ratio(np.asarray(columns[target.column], dtype=float), den)
    return run_statistic(np.asarray(columns["year"]), values, target)


def statistic(frame: pd.DataFrame, target: Target) -> pd.Series:
    """Return the target's statistic for each replicate of one country's run table.

    Args:
        frame: Yearly output of one country, with a ``replicate`` column (or one run).
        target: The target.

    Returns:
        One value per replicate, indexed by replicate (NaN where a year is missing).
    """
    frame = _with_replicate(frame)
    values = column_values(frame, target.column, target.denominator).to_numpy()
    years = frame["year"].to_numpy()
    replicates = frame[REPLICATE].to_numpy()
    labels, which = np.unique(replicates, return_inverse=True)
    out = [run_statistic(years[which == i], values[which == i], target) for i in range(labels.size)]
    return pd.Series(out, index=pd.Index(labels, name=REPLICATE), dtype=float)


_AGGREGATES = {"mean": np.nanmean, "sum": np.nansum, "min": np.nanmin, "max": np.nanmax}


def run_statistic(years: np.ndarray, values: np.ndarray, target: Target) -> float:
    """Return the target's statistic of one run, given its years and the compared values."""
    if target.years is not None:
        first, last = target.years
        chosen = values[(years >= first) & (years <= last)]
        return float(_AGGREGATES[target.aggregate](chosen)) if chosen.size else math.nan
    value = _value_in(years, values, target.year)
    if target.base_year is None:
        return value
    base = _value_in(years, values, target.base_year)
    return value / base if base != 0 else math.nan


def _value_in(years: np.ndarray, values: np.ndarray, year: int) -> float:
    at = values[years == year]
    return float(at[0]) if at.size else math.nan


def _with_replicate(frame: pd.DataFrame) -> pd.DataFrame:
    if REPLICATE in frame.columns:
        return frame
    return frame.assign(**{REPLICATE: 0})


def acceptable_band(target: Target) -> tuple[float, float]:
    """Return the interval of model values that meet the target within tolerance."""
    tol = target.tolerance
    if target.kind == "range":
        return target.low - tol * abs(target.low), target.high + tol * abs(target.high)
    v = target.value
    slack = tol * abs(v) if v != 0 else tol
    lo = v - slack if target.kind in ("point", "at_least") else -math.inf
    hi = v + slack if target.kind in ("point", "at_most") else math.inf
    return lo, hi


def settled(target: Target, low: float, high: float) -> bool:
    """Return whether a median's interval ``[low, high]`` lies wholly within or outside tolerance.

    An interval that crosses an edge of the acceptable band leaves the verdict to chance:
    more runs could turn it. Without an interval (too few runs) nothing is settled.
    """
    lo, hi = acceptable_band(target)
    if not (np.isfinite(low) and np.isfinite(high)):
        return False
    return (lo <= low and high <= hi) or high < lo or low > hi


def reported_band(target: Target) -> tuple[float, float]:
    """Return the interval the article states (no tolerance): a point, a bound or a range."""
    if target.kind == "range":
        return target.low, target.high
    v = target.value
    return (
        v if target.kind != "at_most" else -math.inf,
        v if target.kind != "at_least" else math.inf,
    )


def tolerance_scales(target: Target) -> tuple[float, float]:
    """Return one tolerance unit below and above the reported interval: the one definition.

    The distance from the reported interval to the edge of its tolerance
    (``acceptable_band``) on each side; a side with none (a bound's open side) takes the
    other's. A target with no tolerance counts a thousandth of its reported edge (or of 1)
    as one unit. ``target_error`` and the observation model's noise
    (``calibration.observation``) both read it.
    """
    lo, hi = reported_band(target)
    accept_lo, accept_hi = acceptable_band(target)
    below = lo - accept_lo if np.isfinite(lo) else math.nan
    above = accept_hi - hi if np.isfinite(hi) else math.nan
    below = below if below > 0 else math.nan
    above = above if above > 0 else math.nan
    if math.isnan(below) and math.isnan(above):
        # A bound's open side takes the closed side's edge.
        edges = (lo if np.isfinite(lo) else hi, hi if np.isfinite(hi) else lo)
        return tuple(1e-3 * max(abs(edge), 1.0) for edge in edges)
    return (above if math.isnan(below) else below, below if math.isnan(above) else above)


def target_error(target: Target, model_value: float) -> float:
    """Return how far a model value is from the reported figure, in tolerance units.

    Zero inside the reported interval (for a point target: only at the value); the
    distance beyond it in ``tolerance_scales`` on the side the value lies, so one at the
    edge of the tolerance; NaN model values count as infinitely far.
    """
    if not np.isfinite(model_value):
        return math.inf
    return abs(signed_target_error(target, model_value))


def signed_target_error(target: Target, model_value: float) -> float:
    """Return ``target_error`` with its side: negative below the reported interval.

    NaN for a NaN model value (its side is unknown).
    """
    if not np.isfinite(model_value):
        return math.nan
    lo, hi = reported_band(target)
    below, above = tolerance_scales(target)
    if model_value < lo:
        return (model_value - lo) / below
    if model_value > hi:
        return (model_value - hi) / above
    return 0.0


def within_tolerance(target: Target, model_value: float) -> bool:
    """Return whether a model value meets the target: inside ``acceptable_band``."""
    lo, hi = acceptable_band(target)
    return bool(lo <= model_value <= hi)


def relative_error(target: Target, model_value: float) -> float:
    """Return the signed error relative to the reported figure (0 inside a bound or range)."""
    lo, hi = reported_band(target)
    if model_value < lo:
        return (model_value - lo) / max(abs(lo), 1e-12) if lo != 0 else model_value - lo
    if model_value > hi:
        return (model_value - hi) / max(abs(hi), 1e-12) if hi != 0 else model_value - hi
    return 0.0


def compare(
    runs: Mapping[str, pd.DataFrame],
    targets: Iterable[Target],
    sources: Mapping[str, str | Path] | None = None,
) -> pd.DataFrame:
    """Compare runs with the reported figures.

    Args:
        runs: ``{country: yearly table}``; a table may hold several runs, told apart by
            a ``replicate`` column (one row a year in each).
        targets: Targets; those of countries not in ``runs`` are skipped.
        sources: ``{country: file its table was read from}``, for the message that
            refuses a bad table (``check_run_table``); ``runs['<country>']`` by default.

    Returns:
        One row per target: ``id, country, group, quantity, kind, reported, reference, tolerance,
        model_median, model_q05, model_q95, median_low, median_high, rel_error, error,
        within_tolerance, settled, covered, share_within, replicates``. ``median_low`` and
        ``median_high`` bound the median's 90% confidence interval (``median_interval``);
        ``settled`` says whether it puts ``within_tolerance`` beyond doubt. ``share_within``
        is the share of runs whose own value lies within tolerance (runs with an undefined
        statistic count as outside): a median can be within tolerance while most runs
        miss, and the reverse.
    """
    unknown = sorted(set(runs) - set(COUNTRIES))
    if unknown:
        raise ValueError(f"runs: {unknown[0]!r} is no country: one of {', '.join(COUNTRIES)}")
    targets = [t for t in targets if t.country in runs]
    for country, frame in runs.items():
        source = (sources or {}).get(country, f"runs[{country!r}]")
        check_run_table(frame, [t for t in targets if t.country == country], source)
    rows = []
    for t in targets:
        stats = statistic(runs[t.country], t).to_numpy(dtype=float)
        finite = stats[np.isfinite(stats)]
        median = float(np.median(finite)) if finite.size else math.nan
        q05, q95 = np.quantile(finite, [0.05, 0.95]) if finite.size else (math.nan, math.nan)
        lo, hi = acceptable_band(t)
        median_low, median_high = median_interval(finite)
        rows.append(
            {
                "id": t.id,
                "country": t.country,
                "group": t.group,
                "quantity": t.label,
                "kind": t.kind,
                "reported": t.reported,
                "reference": t.reference,
                "tolerance": t.tolerance,
                "model_median": median,
                "model_q05": float(q05),
                "model_q95": float(q95),
                "median_low": median_low,
                "median_high": median_high,
                "rel_error": relative_error(t, median) if finite.size else math.nan,
                "error": target_error(t, median),
                "within_tolerance": within_tolerance(t, median),
                "settled": settled(t, median_low, median_high),
                "covered": bool(finite.size and q05 <= hi and q95 >= lo),
                "share_within": int(((finite >= lo) & (finite <= hi)).sum()) / stats.size
                if stats.size
                else math.nan,
                "replicates": int(stats.size),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def format_table(table: pd.DataFrame, noun: str = "targets") -> str:
    """Return the comparison as readable text, one block per country (``noun`` counted)."""
    blocks = []
    for country, part in table.groupby("country", sort=False):
        shown = pd.DataFrame(
            {
                "target": part["id"],
                "quantity": part["quantity"],
                "reported": part["reported"].map(_reported),
                "tol": part["tolerance"].map("{:.0%}".format),
                "median": part["model_median"].map(_fmt),
                "90% interval": [
                    f"{_fmt(a)} - {_fmt(b)}"
                    for a, b in zip(part["model_q05"], part["model_q95"], strict=True)
                ],
                "rel.err": part["rel_error"].map(signed_percent),
                "ok": verdicts(part),
            }
        )
        met = int(part["within_tolerance"].sum())
        blocks.append(
            f"{country}: {met}/{len(part)} {noun} within tolerance\n" + shown.to_string(index=False)
        )
    return "\n\n".join(blocks + table_notes(table))


def table_notes(table: pd.DataFrame) -> list[str]:
    """Return the notes a comparison's table needs: unsettled verdicts, undefined medians."""
    notes = [] if table["settled"].all() else [UNSETTLED_NOTE]
    return notes + undefined_notes(table["model_median"])


def undefined_notes(medians: pd.Series | pd.DataFrame) -> list[str]:
    """Return the note on undefined medians if any of ``medians`` is one, else nothing."""
    return [UNDEFINED_NOTE] if medians.isna().to_numpy().any() else []


def verdicts(table: pd.DataFrame) -> list[str]:
    """Return each row's verdict, ``yes`` or ``NO``, marked where the runs do not settle it."""
    return [
        ("yes" if met else "NO") + ("" if sure else UNSETTLED)
        for met, sure in zip(table["within_tolerance"], table["settled"], strict=True)
    ]


# A reported figure as the targets give it: a number, a bound (">=5100") or a range.
_NUMBER = r"(-?[0-9.]+(?:e[+-]?[0-9]+)?)"
_REPORTED = re.compile(rf"^(>=|<=)?{_NUMBER}(?:-{_NUMBER})?$")


def _reported(value) -> str:
    """Return a reported figure with its numbers as the model's columns print them.

    ``>=16716150000`` beside a median of ``16684.7M`` read as another unit. A column of
    numbers only (a block with no bound or range) is read as floats, so 1600 is ``1,600``.
    """
    if isinstance(value, (int, float, np.number)):
        return _fmt(float(value))
    found = _REPORTED.match(str(value))
    if found is None:
        return str(value)
    bound, low, high = found.groups()
    shown = _fmt(float(low)) + ("" if high is None else "-" + _fmt(float(high)))
    return (bound or "") + shown


def signed_percent(x: float) -> str:
    """Return a relative error as a signed percentage, or ``undefined``."""
    return f"{x:+.1%}" if np.isfinite(x) else UNDEFINED


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return UNDEFINED
    if abs(x) >= 1e6:
        return f"{x / 1e6:.1f}M"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"
