"""Stored experiment runs: Parquet chunks that carry the key of the runs they hold.

A chunk is one scenario's runs for a block of draws (``experiments.experiment.Chunk``).
Its file records the chunk's key (scenario, seeds, parameters, model code) in the Parquet
metadata. A stored chunk is reused only when its key matches the one asked for, and
``load_results`` checks every chunk it reads against the key of the experiment that asks:
a chunk written by another experiment (another seed, another scenario, another posterior)
is never read into this one's summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from calibration.atomic import write_atomic
from model import OUTPUT_COLUMNS, ScenarioError

RUN_COLUMNS = ("scenario", "draw", "replicate", "seed")
CHUNK_KEY = b"ngo_abm_chunk_key"


class StoredChunk(Protocol):
    """What storage needs of a chunk: where it is stored and the key of its runs."""

    @property
    def relpath(self) -> Path: ...  # noqa: D102 - a protocol's member, documented above

    @property
    def key(self) -> str: ...  # noqa: D102


def stored_key(path: Path) -> str | None:
    """Return the key of a stored chunk, or None if it is missing or unreadable."""
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return None
    key = metadata.get(CHUNK_KEY)
    return key.decode() if key else None


def write_chunk(path: Path, frame: pd.DataFrame, key: str) -> None:
    """Write a chunk's runs to ``path`` atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), CHUNK_KEY: key})
    write_atomic(path, lambda tmp: pq.write_table(table, tmp))


def load_results(out: str | Path, chunks: Sequence[StoredChunk]) -> pd.DataFrame:
    """Return all runs of an experiment: one row per scenario, draw, replicate and year.

    Raises:
        ScenarioError: if a chunk is missing, unreadable or holds other runs than its
            key asks for (written by another experiment into the same folder).
    """
    frames = [_read_chunk(Path(out) / c.relpath, c.key) for c in chunks]
    frame = pd.concat(frames, ignore_index=True)
    return frame[[*RUN_COLUMNS, *OUTPUT_COLUMNS]]


def _read_chunk(path: Path, key: str) -> pd.DataFrame:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException):
        raise ScenarioError(path, "", "stored runs missing or unreadable; run again") from None
    stored = (table.schema.metadata or {}).get(CHUNK_KEY, b"").decode()
    if stored != key:
        raise ScenarioError(
            path,
            "",
            "holds runs of another experiment (its key differs); was another command "
            "writing into this folder? Run again to replace them",
        )
    return table.to_pandas()
