"""Reading a run folder back: its table, checked cell by cell and row by row against its manifest.

``ngo-abm compare`` reads the folders ``ngo-abm run`` writes (``experiments.runs``); a table
edited by hand, cut short or mixed with another run's rows is refused in one line that
names the file, the column and the row to look at, before anything is compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from calibration.run_checks import numbers
from model import OUTPUT_COLUMNS, ScenarioError

from .manifests import read_manifest


def read_run(run_dir: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a run folder written by ``write_run``.

    Raises:
        ScenarioError: if the folder or one of its files is missing or malformed.
    """
    run = Path(run_dir)
    table, manifest_path = run / "timeseries.csv", run / "manifest.json"
    for path in (table, manifest_path):
        if not path.exists():
            raise ScenarioError(path, "", "file not found (is this a run folder?)")
    manifest = read_manifest(manifest_path)
    frame = read_table(table, ("replicate", *OUTPUT_COLUMNS), "run table")
    check_numbers(frame, ("replicate", *OUTPUT_COLUMNS), table)
    span = range(manifest["start_year"], manifest["end_year"] + 1)
    check_layout(frame, manifest["replicates"], span, table)
    return frame, manifest


def read_table(table: Path, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    """Return a run folder's table, which must have ``columns``; one line if it is not one."""
    if not table.is_file():
        # A pipe is not opened (reading one waits for a writer); nor a folder.
        raise ScenarioError(table, "", f"not a readable {what}: not a regular file")
    try:
        frame = pd.read_csv(table)
    except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        raise ScenarioError(table, "", f"not a readable {what}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ScenarioError(table, missing[0], "column missing")
    return frame


def check_layout(
    frame: pd.DataFrame, reps: int, span: range, table: Path, country: str = ""
) -> None:
    """Refuse a run table whose rows are not the manifest's replicates and years.

    Each of the ``reps`` replicates (0 to ``reps - 1``) has one row per year of ``span``:
    a table cut short, or with rows of another run, would be compared as if it were the
    run the manifest describes. ``country`` names a regional table's rows in the message.
    """
    for column in ("replicate", "year"):
        if frame[column].isna().any():
            raise ScenarioError(table, column, "an empty cell: every row has one")
    first, last = span[0], span[-1]
    whose = f"{country}'s " if country else ""
    found = frame.groupby("replicate", sort=True)["year"]
    for replicate, years in found:
        if not (float(replicate).is_integer() and 0 <= replicate < reps):
            where = f"{whose}replicate {as_written(replicate)} is not one of the manifest's"
            raise ScenarioError(table, "replicate", f"{where} {reps} (0-{reps - 1})")
        problem = year_problem(years, span)
        if problem:
            where = f"{whose}replicate {int(replicate)} {problem}"
            raise ScenarioError(table, "year", f"{where} (the manifest says {first}-{last})")
    if found.ngroups != reps:
        of = f" of {country}" if country else ""
        where = f"{found.ngroups} replicates{of}, the manifest {reps}"
        raise ScenarioError(table, "replicate", where)


def year_problem(years: pd.Series, span: range) -> str | None:
    """Return what is wrong with one replicate's years against ``span``, or ``None``.

    The first year outside the span (or not a whole year), else the first missing, else
    the first given twice: the row a user has to find.
    """
    outside = years[~years.isin(span)]
    if not outside.empty:
        return f"has a row for {as_written(outside.iloc[0])}"
    counts = years.value_counts()
    missing = [year for year in span if year not in counts.index]
    if missing:
        return f"has no row for {missing[0]}"
    twice = [year for year in span if counts[year] > 1]
    return f"has {counts[twice[0]]} rows for {twice[0]}" if twice else None


def as_written(value: float) -> str:
    """Return a number of a table as it was written: whole ones without a point, others in full."""
    value = float(value)
    return f"{value:.0f}" if value.is_integer() else repr(value)


def check_numbers(frame: pd.DataFrame, columns, table: Path) -> None:
    """Raise ``ScenarioError`` for a cell of ``columns`` that is not a number (hand edits).

    Empty cells and negative counts are the comparison's to judge, where a target reads
    them (``calibration.run_checks.check_run_table``).
    """
    years = numbers(frame, "year", table, None)  # first: it places the other cells
    for column in columns:
        numbers(frame, column, table, years)
