"""Carry stored tables over to a new key when the code changed but its runs did not.

A table's key (``calibration.reference.table_key``) hashes the model's source files, so a
change that leaves every run as it was (a module split, a docstring) makes every stored
chunk stale, and rebuilding the tables costs hours on a small machine. ``rekey_tables``
checks that claim instead of trusting it: it re-simulates rows of every stale chunk with
the current code (the first and the last row of each chunk, and a keyed sample of the
others) and compares them with the stored rows, every column with the same type and the
same bits (any NaN, where a register ran away, equals any NaN). Only if every checked row
of every table matches are the chunks rewritten under the current key, with the old key
and the number of rows checked in their metadata; a single mismatch stops with the chunk
and row named and nothing rewritten. The folders are locked (``experiments.locks``) from
the check to the rewrite, so no build can replace a chunk in between. It is a sample: a
change that alters a share ``p`` of the runs escapes ``k`` checked rows with probability
about ``(1 - p) ** k`` (704 rows: about one in two for ``p = 0.1%``, one in a thousand for
``p = 1%``). A change that does alter runs needs ``ngo-abm reference``.
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from calibration.atomic import write_atomic
from calibration.reference import (
    DEFAULT_TABLE,
    ROW,
    TABLE_KEY,
    ChunkTask,
    simulate_chunk,
    stored_key,
    table_key,
    truncated_table,
)
from calibration.truncation import PROPOSAL_FILE, read_proposal
from model import ScenarioError

from .locks import output_folder
from .runner import map_runs

REKEYED_FROM = b"ngo_abm_rekeyed_from"
ROWS_CHECKED = b"ngo_abm_rows_checked"


@dataclass(frozen=True)
class StaleChunk:
    """A stored chunk whose key is not the table's current key."""

    path: Path
    old_key: str
    start: int
    rows: int


def truncation_round(folder: Path) -> int:
    """Return the round of a truncated table's folder (``roundR``)."""
    return int(folder.name.removeprefix("round"))


def current_key(folder: Path, seed: int) -> tuple[str, str | None, int]:
    """Return the folder's current key, its proposal folder (None for the prior) and round."""
    if (folder / PROPOSAL_FILE).exists():
        if not re.fullmatch(r"round[0-9]+", folder.name):
            # Only a round's folder has a proposal: one in the priors' table is a leftover.
            found = "a proposal in a table drawn from the priors: remove it, then rerun"
            raise ScenarioError(folder / PROPOSAL_FILE, "", found)
        return table_key(seed, read_proposal(folder)[1]), str(folder), truncation_round(folder)
    return table_key(seed), None, 1


def stale_chunks(folder: Path, key: str) -> list[StaleChunk]:
    """Return the folder's chunks stored under another key than ``key``."""
    stale = []
    for path in sorted(folder.glob("rows_*.parquet")):
        old = stored_key(path)
        if old is None or old == key:
            continue
        start = int(path.stem.removeprefix("rows_"))
        stale.append(StaleChunk(path, old, start, pq.read_metadata(path).num_rows))
    return stale


def rows_to_check(chunk: StaleChunk, per_chunk: int, seed: int) -> list[int]:
    """Return the chunk's first and last row and a keyed sample of the rows between."""
    first, last = chunk.start, chunk.start + chunk.rows - 1
    between = np.arange(first + 1, last)
    rng = np.random.default_rng([seed, chunk.start, 0x5EC])
    extra = rng.choice(between, min(max(per_chunk - 2, 0), len(between)), replace=False)
    return sorted({first, last, *map(int, extra)})


def same_column(a: np.ndarray, b: np.ndarray) -> bool:
    """Return whether two columns have the same type and bits (any NaN equals any NaN)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        # One NaN for all: the bits of a NaN's payload carry no value.
        a, b = (np.where(np.isnan(x), np.nan, x).astype(np.float64) for x in (a, b))
        return np.array_equal(a.view(np.uint64), b.view(np.uint64))
    return np.array_equal(a, b)


def same_rows(stored: pd.DataFrame, fresh: pd.DataFrame) -> bool:
    """Return whether two frames hold the same columns, in order, with the same values."""
    if list(stored.columns) != list(fresh.columns):
        return False
    return all(same_column(stored[c].to_numpy(), fresh[c].to_numpy()) for c in stored.columns)


def check_folder(
    folder: Path, seed: int, per_chunk: int, workers: int
) -> tuple[str, dict[StaleChunk, int]]:
    """Re-simulate the checked rows of the folder's stale chunks.

    Returns:
        The folder's current key, and each stale chunk with the number of its rows checked.

    Raises:
        ScenarioError: naming the chunk and row of the first mismatch.
    """
    key, proposal, round_ = current_key(folder, seed)
    stale = stale_chunks(folder, key)
    tasks, where, checked = [], [], {}
    for chunk in stale:
        rows = rows_to_check(chunk, per_chunk, seed)
        checked[chunk] = len(rows)
        for row in rows:
            tasks.append(ChunkTask(key, seed, row, row + 1, proposal, round_))
            where.append(chunk)
    fresh = map_runs(simulate_chunk, tasks, workers)
    stored = {c.path: pd.read_parquet(c.path).set_index(ROW, drop=False) for c in stale}
    for task, chunk, frame in zip(tasks, where, fresh, strict=True):
        old = stored[chunk.path].loc[[task.start]].reset_index(drop=True)
        if not same_rows(old, frame.reset_index(drop=True)):
            raise ScenarioError(
                chunk.path,
                f"row {task.start}",
                "the current code simulates it differently: "
                "rebuild the table with `ngo-abm reference`",
            )
    return key, checked


def rewrite_key(chunk: StaleChunk, key: str, checked: int) -> None:
    """Rewrite a verified chunk under ``key``, recording the key it had."""
    table = pq.read_table(chunk.path)
    meta = {
        **(table.schema.metadata or {}),
        TABLE_KEY: key.encode(),
        REKEYED_FROM: chunk.old_key.encode(),
        ROWS_CHECKED: str(checked).encode(),
    }
    table = table.replace_schema_metadata(meta)
    write_atomic(chunk.path, lambda tmp: pq.write_table(table, tmp))


def rekey_tables(
    folders: list[Path], seed: int = 1, per_chunk: int = 2, workers: int = 1
) -> list[tuple[Path, int, int]]:
    """Check every folder's stale chunks, then rewrite them all under the current keys.

    Returns:
        Per folder: (folder, chunks rewritten, rows checked).

    Raises:
        ScenarioError: on the first row the current code simulates differently (then no
            chunk of any folder has been rewritten).
    """
    with ExitStack() as locks:
        for folder in folders:
            locks.enter_context(output_folder(folder))
        checked = [(f, *check_folder(f, seed, per_chunk, workers)) for f in folders]
        summary = []
        for folder, key, stale in checked:
            for chunk, count in stale.items():
                rewrite_key(chunk, key, count)
            summary.append((folder, len(stale), sum(stale.values())))
    return summary


def table_folders(runs_dir: Path) -> list[Path]:
    """Return the prior table and every truncated round's folder under ``runs_dir``."""
    prior = runs_dir / DEFAULT_TABLE.name
    folders = [prior] if prior.is_dir() else []
    for holdout in (False, True):
        calibration = truncated_table(holdout).parent.name
        rounds = [
            p
            for p in (runs_dir / calibration).glob("round*")
            if p.is_dir() and re.fullmatch(r"round[0-9]+", p.name)
        ]
        folders += sorted(rounds, key=truncation_round)
    return folders
