"""Run tables checked before they are compared with the targets.

A target must read years the run has (``check_targets_fit_runs``), and a run table's cells
that a target reads must be usable numbers (``check_run_table``): a run folder edited by
hand may hold text, an empty cell or a negative count where a target reads. Used by
``ngo-abm compare`` and ``experiments.runs`` before ``calibration.compare.compare``.
Source: the project's rules for inputs (bad input is one line naming the file and field).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from model import ScenarioError

from .targets import Target

# The column that tells the runs of one table apart (``calibration.compare``).
REPLICATE = "replicate"


def check_targets_fit_runs(
    targets: Iterable[Target],
    years: Mapping[str, tuple[int, int]],
    source: str,
    year_files: Mapping[str, str | Path] | None = None,
) -> None:
    """Raise ``ScenarioError`` if a target reads a year outside its country's run.

    Args:
        targets: Targets to be compared.
        years: ``{country: (first_year, last_year)}`` of the runs.
        source: The targets file, for the message.
        year_files: ``{country: scenario file}`` where the runs are still to come: the
            message then names the file and the year that leaves the target out.
    """
    for t in targets:
        span = years.get(t.country)
        if span is None or span[0] <= t.first_year <= t.last_year <= span[1]:
            continue
        if year_files and t.country in year_files:
            field = "start_year" if t.first_year < span[0] else "end_year"
            message = f"{span[0]}-{span[1]} leaves out {t.id} ({t.first_year}-{t.last_year})"
            raise ScenarioError(year_files[t.country], field, f"{message} of {source}")
        raise ScenarioError(
            source, f"targets.{t.id}", f"years outside the run ({span[0]}-{span[1]})"
        )


def check_run_table(frame: pd.DataFrame, targets: Iterable[Target], source: str | Path) -> None:
    """Refuse a run table whose cells the targets read are not all usable numbers.

    Every column a target reads (and ``year``) holds numbers only, none empty or infinite
    in a year a target reads; a count column is never negative, a share (``share_``) is
    from 0 to 1. Each run (``replicate``) has one row a year, and the table has every
    year a target reads.

    Raises:
        ScenarioError: naming ``source``, the column and, where it applies, the year.
    """
    years = numbers(frame, "year", source, None)
    if np.isnan(years).any():
        raise ScenarioError(source, "year", "an empty cell: every row has a year")
    _check_one_row_a_year(frame, years, source)
    for t in targets:
        _check_years_present(years, t, source)
        read = _years_read(years, t)
        for name in filter(None, (t.column, t.denominator)):
            values = numbers(frame, name, source, years)
            empty = read & np.isnan(values)
            if empty.any():
                where = f"empty in {years[empty][0]:.0f}, a year target {t.id} reads"
                raise ScenarioError(source, name, where)
            # The model writes finite numbers only; an infinite one drops out of the
            # statistic's runs unseen (the median of the others is shown).
            infinite = read & np.isinf(values)
            if infinite.any():
                where = f"{values[infinite][0]} in {years[infinite][0]:.0f}, a year target {t.id}"
                raise ScenarioError(source, name, f"{where} reads: not a finite number")
            _check_range(values, years, name, source)


def _check_range(values: np.ndarray, years: np.ndarray, name: str, source: str | Path) -> None:
    """Refuse a negative count, or a share (``share_`` column) outside 0 to 1."""
    share = name.startswith("share_")
    known = np.nan_to_num(values)
    wrong = (known < 0) | (known > 1) if share else known < 0
    if wrong.any():
        where = f"{values[wrong][0]:g} in {years[wrong][0]:.0f}"
        rule = "a share is from 0 to 1" if share else "a count is never negative"
        raise ScenarioError(source, name, f"{where}: {rule}")


def numbers(
    frame: pd.DataFrame, name: str, source: str | Path, years: np.ndarray | None
) -> np.ndarray:
    """Return a run table's column as floats; a text cell (a hand edit) is one line.

    A text cell makes pandas read the whole column as text, which numpy cannot convert.
    ``years`` (the table's, as numbers) places the cell in the message.

    Raises:
        ScenarioError: naming ``source``, the column and, with ``years``, the year.
    """
    if name not in frame.columns:
        raise ScenarioError(source, name, "column missing")
    column = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    text = np.isnan(column) & frame[name].notna().to_numpy()
    if text.any():
        cell = frame[name].to_numpy()[text][0]
        year = "" if years is None else f" in {years[text][0]:.0f}"
        raise ScenarioError(source, name, f"{str(cell)[:20]!r}{year} is not a number")
    return column


def _check_one_row_a_year(frame: pd.DataFrame, years: np.ndarray, source: str | Path) -> None:
    """Refuse a year twice in one run (runs stacked unnumbered, or countries in one table).

    A target would read the first run's year alone, as if it were all the runs.
    """
    numbered = REPLICATE in frame.columns
    runs = frame[REPLICATE].to_numpy() if numbered else np.zeros(years.size)
    repeated = pd.DataFrame({"run": runs, "year": years}).duplicated().to_numpy()
    if repeated.any():
        year = f"{years[repeated][0]:.0f}"
        if numbered:
            run = runs[repeated][0]
            why = f"appears twice in replicate {run}: one country's rows, one a year, a run"
        else:
            why = f"appears twice in one run: the rows of several runs need a {REPLICATE!r} column"
        raise ScenarioError(source, "year", f"{year} {why}")


def _check_years_present(years: np.ndarray, target: Target, source: str | Path) -> None:
    """Refuse a table without a year the target reads (its statistic would be undefined)."""
    if target.years is not None:
        wanted = range(target.years[0], target.years[1] + 1)
    else:
        wanted = [y for y in (target.year, target.base_year) if y is not None]
    missing = sorted(set(wanted) - set(years.tolist()))
    if missing:
        raise ScenarioError(source, "year", f"no row for {missing[0]}, a year {target.id} reads")


def _years_read(years: np.ndarray, target: Target) -> np.ndarray:
    if target.years is not None:
        return (years >= target.years[0]) & (years <= target.years[1])
    return np.isin(years, [y for y in (target.year, target.base_year) if y is not None])
