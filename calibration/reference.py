"""The reference table: simulations from the prior, every target's statistic per row.

Neural posterior estimation (``calibration.npe``), its coverage check on synthetic truths
and the held-back calibration all learn from one table of (parameters, statistics) pairs
drawn from the prior (Cranmer, Brehmer and Louppe 2020, "The frontier of simulation-based
inference"). Row ``i`` takes its normal scores and its seed from its own generator, keyed
by ``(seed, i)``: a row is the same whatever the chunking, the number of workers or the
order in which rows are computed. Parameters are stored as the normal scores the priors
are sampled through (``calibration.priors.pyabc_prior``, standard normal), statistics as the
targets' run values (``calibration.compare.run_value``), NaN where a register ran away.

Chunks of ``CHUNK_ROWS`` rows are Parquet files whose metadata carry the table's key (the
priors, targets, scenarios and model code, and the seed): a chunk written under another
key is never read into this table.

A truncated round's table (``calibration.truncation``; Deistler et al. 2022) is built the
same way, its normal scores read from its proposal file, its seeds keyed by its round, and
the proposal's key in its own key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from model import ScenarioError
from model.code import model_fingerprint

from .abc import RUNS_DIR, fingerprint
from .atomic import write_atomic
from .priors import load_priors, model_values, sampled_name
from .simulator import Simulator
from .targets import load_targets
from .truncation import TRUNCATION_STREAM, read_proposal

CHUNK_ROWS = 200
TABLE_KEY = b"ngo_abm_reference_key"
DEFAULT_TABLE = RUNS_DIR / "reference"
ROW = "row"
SEED = "seed"


def truncated_table(holdout: bool, truncation_round: int = 1) -> Path:
    """Return the folder of a truncated round of the main or held-back calibration."""
    calibration = "truncated_holdout" if holdout else "truncated_main"
    return RUNS_DIR / calibration / f"round{truncation_round}"


def truncated_tables(holdout: bool, rounds: int) -> list[Path]:
    """Return the folders of truncated rounds 1 to ``rounds`` of a calibration."""
    return [truncated_table(holdout, r) for r in range(1, rounds + 1)]


@dataclass(frozen=True)
class ChunkTask:
    """Rows ``start`` to ``stop - 1`` of the table with key ``key`` and seed ``seed``.

    A table of truncated rows names its ``proposal`` folder and its ``truncation_round``:
    its rows take their normal scores from the proposal file (``calibration.truncation``)
    instead of the prior, and their seeds from keys of their round.
    """

    key: str
    seed: int
    start: int
    stop: int
    proposal: str | None = None
    truncation_round: int = 1


@lru_cache(maxsize=1)
def simulator() -> Simulator:
    """Return the simulator of every target with the committed priors (one per process)."""
    return Simulator(load_targets(), load_priors())


def table_key(seed: int, proposal_key: str | None = None) -> str:
    """Return the key of the table with ``seed``: what every one of its rows depends on.

    A table of truncated rows also depends on its proposal (``proposal_key``).
    """
    sim = simulator()
    payload = {
        "setup": fingerprint(sim.priors, sim.targets, sim),
        "model": model_fingerprint(regional=False),
        "seed": seed,
    }
    if proposal_key is not None:
        payload["proposal"] = proposal_key
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@lru_cache(maxsize=16)
def process_table_key(seed: int, proposal_key: str | None = None) -> str:
    """Return ``table_key`` as this process first computed it.

    Its simulator and model code are those it loaded first (``simulator`` is cached too): a
    source file edited during a build does not change what the process simulates.
    """
    return table_key(seed, proposal_key)


def row_draws(
    seed: int, row: int, n_params: int, stream: int | None = None, truncation_round: int = 1
) -> tuple[np.ndarray, int]:
    """Return row ``row``'s normal scores and simulation seed (keyed, order-free).

    Truncated tables key their rows' seeds by their own ``stream`` and round, apart from
    the prior's.
    """
    # The round (at least 1) ends the key: numpy's SeedSequence reads a key with trailing
    # zeros as the shorter key, which would make it another table's row.
    key = [seed, row] if stream is None else [seed, row, stream, truncation_round]
    rng = np.random.default_rng(key)
    return rng.standard_normal(n_params), int(rng.integers(0, 2**31 - 1))


def proposal_rows(task: ChunkTask, names: list[str]) -> tuple[np.ndarray, str]:
    """Return the proposal's normal scores of the task's rows (columns ``names``) and its key."""
    proposal, key, _ = read_proposal(Path(task.proposal))
    if len(proposal) < task.stop:
        raise ScenarioError(
            task.proposal, "rows", f"{len(proposal)} proposal rows, {task.stop} needed"
        )
    scores = proposal[[sampled_name(n) for n in names]].to_numpy(dtype=float)
    return scores[task.start : task.stop], key


def simulate_chunk(task: ChunkTask) -> pd.DataFrame:
    """Simulate rows ``task.start`` to ``task.stop - 1``: one row per prior or proposal draw.

    Raises:
        ScenarioError: if this process would simulate another table than ``task.key``
            names. Each worker reads the scenario, prior and target files and the proposal
            from its own disk, so a worker started from another checkout (or one whose
            files changed) would store its rows under a key they do not belong to.
    """
    sim = simulator()
    names = list(sim.priors)
    proposed, proposal_key = None, None
    if task.proposal is not None:
        proposed, proposal_key = proposal_rows(task, names)
    own = process_table_key(task.seed, proposal_key)
    if own != task.key:
        raise ScenarioError(
            "reference table",
            f"chunk at row {task.start}",
            f"this process would simulate table {own}, not {task.key}: its scenario, prior "
            "or target files, model code or proposal differ; restart the workers from this "
            "checkout",
        )
    records = []
    for row in range(task.start, task.stop):
        stream = None if proposed is None else TRUNCATION_STREAM
        z, seed = row_draws(task.seed, row, len(names), stream, task.truncation_round)
        if proposed is not None:
            z = proposed[row - task.start]
        scores = {sampled_name(n): float(v) for n, v in zip(names, z, strict=True)}
        stats = sim.statistics(model_values(scores, sim.priors), seed)
        records.append({ROW: row, SEED: seed, **scores, **stats})
    return pd.DataFrame.from_records(records)


def simulate_statistics(task: tuple[dict[str, float], int]) -> np.ndarray:
    """Return every target's statistic of one run: ``task`` is (model values, seed)."""
    values, seed = task
    stats = simulator().statistics(values, seed)
    return np.array([stats[t.id] for t in simulator().targets])


def chunk_path(folder: Path, start: int) -> Path:
    """Return the file of the chunk that starts at row ``start``."""
    return folder / f"rows_{start:07d}.parquet"


def chunk_tasks(
    key: str, seed: int, rows: int, proposal: str | None = None, truncation_round: int = 1
) -> list[ChunkTask]:
    """Return the chunks of a table of ``rows`` rows (the last one may be short)."""
    return [
        ChunkTask(key, seed, start, min(start + CHUNK_ROWS, rows), proposal, truncation_round)
        for start in range(0, rows, CHUNK_ROWS)
    ]


def stored_key(path: Path) -> str | None:
    """Return the key a chunk file was written under (None if unreadable)."""
    if not path.is_file():
        # A pipe is not opened: reading one waits for a writer, deaf to SIGTERM in pyarrow.
        return None
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid):
        return None
    key = meta.get(TABLE_KEY)
    return key.decode() if key else None


def is_stored(folder: Path, task: ChunkTask) -> bool:
    """Return whether ``task``'s rows are on disk under the same key.

    A chunk of a larger table under the key holds them (a row does not depend on its
    chunk): a smaller ``--rows`` reads it rather than rewriting it shorter, which would
    leave a gap before the rows of the chunks after it.
    """
    path = chunk_path(folder, task.start)
    if stored_key(path) != task.key:
        return False
    return pq.read_metadata(path).num_rows >= task.stop - task.start


def write_chunk(folder: Path, task: ChunkTask, frame: pd.DataFrame) -> None:
    """Write a chunk atomically, with the table's key in its metadata."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), TABLE_KEY: task.key.encode()}
    )
    write_atomic(chunk_path(folder, task.start), lambda tmp: pq.write_table(table, tmp))


def load_table(folder: str | Path, key: str, rows: int | None = None) -> pd.DataFrame:
    """Return the table's rows in row order: every chunk under ``key``, or the first ``rows``.

    Raises:
        ScenarioError: if the folder holds no chunk under this key, or fewer rows than asked.
    """
    folder = Path(folder)
    paths = [path for path in sorted(folder.glob("rows_*.parquet")) if stored_key(path) == key]
    frames = [pd.read_parquet(path) for path in paths]
    if not frames:
        raise ScenarioError(
            folder,
            "",
            f"no reference table under the key {key} (this model's, or the one an estimator "
            "recorded when it was trained): run `ngo-abm reference`",
        )
    _refuse_other_columns(paths, frames)
    table = pd.concat(frames, ignore_index=True).sort_values(ROW, ignore_index=True)
    if rows is not None:
        if len(table) < rows:
            raise ScenarioError(folder, "rows", f"{len(table)} stored, {rows} needed")
        table = table.iloc[:rows]
        # A build stopped early can leave a gap; rows past it must not stand in for it.
        if table[ROW].iloc[-1] != rows - 1:
            raise ScenarioError(
                folder, "rows", f"rows missing before row {rows}: rerun `ngo-abm reference`"
            )
    return table


def _refuse_other_columns(paths: list[Path], frames: list[pd.DataFrame]) -> None:
    """Refuse a chunk whose columns are not the first chunk's (a file edited by hand).

    Concatenated, the cells a chunk lacks would be NaN, read as runs whose statistics are
    undefined.

    Raises:
        ScenarioError: naming the chunk and the first column that differs.
    """
    first = list(frames[0].columns)
    for path, frame in zip(paths[1:], frames[1:], strict=True):
        own = list(frame.columns)
        differ = [c for c in first if c not in own] + [c for c in own if c not in first]
        if differ:
            where = f"in only one of this chunk and {paths[0].name}, chunks of one table"
            raise ScenarioError(path, differ[0], f"{where} (edited by hand?)")
