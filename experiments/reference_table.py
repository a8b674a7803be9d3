"""Build or extend the reference table of prior simulations (``calibration.reference``).

Chunks already stored under the table's key are kept, so an interrupted or time-limited
build resumes where it stopped and a larger ``rows`` extends the table. Chunks run
in-process, on local processes or on a dask.distributed cluster (``experiments.runner``);
every row is the same whichever.
"""

from __future__ import annotations

import time
from pathlib import Path

from tqdm import tqdm

from calibration.reference import (
    ChunkTask,
    chunk_tasks,
    is_stored,
    simulate_chunk,
    table_key,
    write_chunk,
)

from .runner import imap_runs


def missing_chunks(folder: Path, seed: int, rows: int) -> list[ChunkTask]:
    """Return the chunks of the first ``rows`` rows that are not stored yet."""
    key = table_key(seed)
    return [task for task in chunk_tasks(key, seed, rows) if not is_stored(folder, task)]


def build_table(
    folder: Path,
    rows: int,
    seed: int = 1,
    workers: int = 1,
    scheduler: str | None = None,
    max_minutes: float | None = None,
    progress: bool = False,
) -> int:
    """Simulate the missing chunks of the first ``rows`` rows; return how many rows are stored.

    With ``max_minutes``, no chunk is waited for after that time: the build stops and
    resumes on the next call.
    """
    folder.mkdir(parents=True, exist_ok=True)
    todo = missing_chunks(folder, seed, rows)
    deadline = None if max_minutes is None else time.monotonic() + 60 * max_minutes
    bar = tqdm(total=sum(t.stop - t.start for t in todo), disable=not progress, desc="rows")
    results = imap_runs(simulate_chunk, todo, workers, scheduler)
    try:
        for index, frame in results:
            write_chunk(folder, todo[index], frame)
            bar.update(len(frame))
            if deadline is not None and time.monotonic() > deadline:
                break
    finally:
        results.close()
        bar.close()
    return rows - sum(t.stop - t.start for t in missing_chunks(folder, seed, rows))
