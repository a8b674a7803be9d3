"""Run folders edited by hand are refused by ``compare`` in one line, before any comparison.

Found by testers editing a copy of a run folder (each case ran with exit status 0, or
printed a traceback or a garbled message, before): a run table with text, an empty cell,
a negative or infinite count, or a share outside 0-1 where a target reads; a table cut
short, with a year moved or with another run's rows; a manifest broken or edited. Each is
one line naming the file and the field, exit status 2, and no ``compare.csv``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import one_line, run_cli


def edit_table(folder: Path, column: str, year: int, value) -> Path:
    table = folder / "timeseries.csv"
    frame = pd.read_csv(table)
    frame[column] = frame[column].astype(object)
    frame.loc[frame["year"] == year, column] = value
    frame.to_csv(table, index=False)
    return table


@pytest.mark.parametrize(
    ("column", "year", "value", "message"),
    [
        ("registered", 2000, "abc", "registered: 'abc' in 2000 is not a number"),
        ("income_state_usd", 2023, "", "income_state_usd: empty in 2023, a year target"),
        ("registered", 2000, -5, "registered: -5 in 2000: a count is never negative"),
        ("registered", 2000, "inf", "registered: inf in 2000, a year target"),
        ("share_income_foreign", 1993, "-inf", "share_income_foreign: -inf in 1993, a year"),
        ("share_income_foreign", 1993, 5.0, "share_income_foreign: 5 in 1993: a share is from"),
        ("share_ecology", 2015, -0.5, "share_ecology: -0.5 in 2015: a share is from 0 to 1"),
    ],
)
def test_compare_refuses_a_run_table_edited_into_nonsense(
    kg_one_run_copy, column, year, value, message
):
    edit_table(kg_one_run_copy, column, year, value)
    status, _, err = run_cli(["compare", str(kg_one_run_copy)])
    one_line(status, err, "timeseries.csv", message)
    assert not (kg_one_run_copy / "compare.csv").exists()


def cut_short(folder: Path) -> None:
    table = folder / "timeseries.csv"
    frame = pd.read_csv(table)
    frame[frame.year <= 2003].to_csv(table, index=False)


def shift_a_year(year: float):
    """Return a damage that gives the 2010 row another ``year`` (a hand edit)."""

    def damage(folder: Path) -> None:
        table = folder / "timeseries.csv"
        frame = pd.read_csv(table)
        frame["year"] = frame["year"].astype(float).where(frame.year != 2010, year)
        frame.to_csv(table, index=False)

    return damage


def add_replicate(number: float = 7):
    """Return a damage that adds a copy of the run as replicate ``number``."""

    def damage(folder: Path) -> None:
        table = folder / "timeseries.csv"
        frame = pd.read_csv(table)
        pd.concat([frame, frame.assign(replicate=number)]).to_csv(table, index=False)

    return damage


def repeat_2010(folder: Path) -> None:
    table = folder / "timeseries.csv"
    frame = pd.read_csv(table)
    pd.concat([frame, frame[frame.year == 2010]]).to_csv(table, index=False)


def claim_two_replicates(folder: Path) -> None:
    manifest = folder / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**data, "replicates": 2}), encoding="utf-8")


def break_manifest(folder: Path) -> None:
    manifest = folder / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8")[:40], encoding="utf-8")


def drop_country(folder: Path) -> None:
    manifest = folder / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    del data["country"]
    manifest.write_text(json.dumps(data), encoding="utf-8")


def edit_manifest(**changes):
    """Return a damage that sets the manifest's ``changes`` (hand edits)."""

    def damage(folder: Path) -> None:
        manifest = folder / "manifest.json"
        data = json.loads(manifest.read_text(encoding="utf-8"))
        manifest.write_text(json.dumps({**data, **changes}), encoding="utf-8")

    return damage


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (cut_short, "timeseries.csv: year: replicate 0 has no row for 2004 (the manifest says"),
        # it read "replicate 0 has 1991-2023 in 33 rows; the manifest says 1991-2023"
        (shift_a_year(2010.5), "timeseries.csv: year: replicate 0 has a row for 2010.5 (the"),
        (shift_a_year(2011), "timeseries.csv: year: replicate 0 has no row for 2010 (the"),
        (shift_a_year(2030), "timeseries.csv: year: replicate 0 has a row for 2030 (the"),
        # "%g" printed it as 2023, beside "the manifest says 1991-2023"
        (shift_a_year(2023.0000001), "year: replicate 0 has a row for 2023.0000001 (the"),
        (repeat_2010, "timeseries.csv: year: replicate 0 has 2 rows for 2010 (the manifest"),
        (add_replicate(), "timeseries.csv: replicate: replicate 7 is not one of the manifest's 1"),
        (add_replicate(2.5), "replicate: replicate 2.5 is not one of the manifest's 1 (0-0)"),
        # an OverflowError's traceback
        (add_replicate(float("inf")), "replicate: replicate inf is not one of the manifest's 1"),
        (claim_two_replicates, "timeseries.csv: replicate: 1 replicates, the manifest 2"),
        (break_manifest, "manifest.json: malformed manifest: not JSON"),
        # it read "malformed manifest: None"
        (drop_country, "manifest.json: country: malformed manifest: missing"),
        # each ended in a traceback (IndexError, MemoryError) or a garbled message
        (edit_manifest(start_year=2030), "manifest.json: end_year: malformed manifest: before"),
        (edit_manifest(end_year=10**12), "manifest.json: end_year: malformed manifest: 1000000"),
        (edit_manifest(replicates=0), "manifest.json: replicates: malformed manifest: 0, not 1-"),
    ],
)
def test_compare_refuses_a_run_table_that_is_not_the_run_its_manifest_describes(
    kg_one_run_copy, damage, message
):
    damage(kg_one_run_copy)
    status, _, err = run_cli(["compare", str(kg_one_run_copy)])
    one_line(status, err, message)
    assert not (kg_one_run_copy / "compare.csv").exists()
