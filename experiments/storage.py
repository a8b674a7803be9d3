"""The chunk store of an experiment: blocks of runs in Parquet files that carry their key.

A chunk is one scenario's runs for a block of draws: run ``(draw, replicate)`` of every
scenario uses the draw's parameter set and the same seed, derived from the experiment's
seed (common random numbers). Its file records the chunk's key (scenario, levers, seeds,
parameters, model code) in the Parquet metadata. A stored chunk is reused only when its
key matches the one asked for, and ``load_results`` checks every chunk it reads against
the key of the experiment that asks: a chunk written by another experiment (another seed,
another scenario, another posterior) is never read into this one's summary.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from calibration.atomic import write_atomic
from model import OUTPUT_COLUMNS, Scenario, ScenarioError
from model.code import model_fingerprint
from model.levers import apply_levers

from .manifests import manifest_json
from .runner import RunTask, derived_seed
from .spec import Experiment

RUN_COLUMNS = ("scenario", "draw", "replicate", "seed")
CHUNK_KEY = b"ngo_abm_chunk_key"
# Where ``Chunk.relpath`` puts a chunk (scenario names are file-name safe: ``spec.py``).
CHUNK_FILE = re.compile(r"runs/[^/]+/draws-\d{5}-\d{5}\.parquet")


def run_seed(seed: int, draw: int, replicate: int) -> int:
    """Return the seed of run ``(draw, replicate)``: the same for every scenario (CRN)."""
    return derived_seed(seed, draw, replicate)


@dataclass(frozen=True)
class Chunk:
    """A block of runs stored in one file: one scenario, draws ``first``..``last - 1``."""

    scenario: str
    first: int
    last: int
    tasks: tuple[RunTask, ...]
    key: str

    @property
    def relpath(self) -> Path:
        """The chunk's file, relative to the experiment's output folder."""
        return Path("runs") / self.scenario / f"draws-{self.first:05d}-{self.last - 1:05d}.parquet"


def chunk_folders(experiment: Experiment) -> tuple[str, ...]:
    """Return the folders, relative to its ``--out``, that an experiment's chunks go in."""
    return ("runs", *(f"runs/{name}" for name in experiment.scenarios))


def build_chunks(experiment: Experiment, param_sets: list[dict[str, float]]) -> list[Chunk]:
    """Return every chunk of the experiment, scenario by scenario, draws in order."""
    spec = experiment.spec
    code = model_fingerprint()
    chunks = []
    for name, scenario in experiment.scenarios.items():
        levers = experiment.levers(name)
        off = experiment.switched_off(name)
        for first in range(0, spec.draws, spec.chunk_draws):
            last = min(first + spec.chunk_draws, spec.draws)
            runs = [
                (
                    {**param_sets[draw], **off},
                    {"scenario": name, "draw": draw, "replicate": rep, "seed": seed},
                )
                for draw in range(first, last)
                for rep in range(spec.replicates)
                for seed in [run_seed(spec.seed, draw, rep)]
            ]
            tasks = tuple(_task(scenario, params, levers, tags) for params, tags in runs)
            key = _chunk_key(scenario, runs, levers, code)
            chunks.append(Chunk(name, first, last, tasks, key))
    return chunks


def _task(
    scenario: Scenario, params: dict[str, float], levers: dict[str, Any], tags: dict[str, Any]
) -> RunTask:
    """Return a run's task; levers act on the calibrated scenario, as in the dashboard."""
    if not levers:
        return RunTask(scenario, tags["seed"], params, tags)
    return RunTask(apply_levers(scenario.with_params(params), **levers), tags["seed"], {}, tags)


def _chunk_key(
    scenario: Scenario, runs: list[tuple[dict, dict]], levers: dict[str, Any], code: str
) -> str:
    content = {
        "scenario": scenario.fingerprint(),
        "code": code,
        "columns": OUTPUT_COLUMNS,
        "runs": [[tags, sorted(params.items())] for params, tags in runs],
    }
    if levers:
        content["levers"] = levers
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()


def stored_key(path: Path) -> str | None:
    """Return the key of a stored chunk, or None if it is missing or unreadable."""
    if not path.is_file():
        # A pipe is not opened: reading one waits for a writer, deaf to SIGTERM in pyarrow.
        return None
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


def load_results(out: str | Path, chunks: Sequence[Chunk] | None = None) -> pd.DataFrame:
    """Return all runs of an experiment: one row per scenario, draw, replicate and year.

    Args:
        out: The experiment's folder.
        chunks: Its chunks; by default those its manifest lists (``chunk_files``): the
            folder may also hold chunks of an earlier experiment, kept for reuse.

    Raises:
        ScenarioError: if a chunk is missing, unreadable or holds other runs than its
            key asks for (written by another experiment into the same folder).
    """
    out = Path(out)
    if chunks is None:
        files = manifest_chunks(out)
    else:
        files = [(c.relpath, c.key) for c in chunks]
    frames = [_read_chunk(out / relpath, key) for relpath, key in files]
    frame = pd.concat(frames, ignore_index=True)
    return frame[[*RUN_COLUMNS, *OUTPUT_COLUMNS]]


def chunk_record(chunks: Sequence[Chunk]) -> list[dict[str, str]]:
    """Return the manifest's list of an experiment's chunk files and their keys."""
    return [{"file": c.relpath.as_posix(), "key": c.key} for c in chunks]


def manifest_chunks(out: Path) -> list[tuple[Path, str]]:
    """Return the chunk files and keys that ``out``'s manifest lists (``chunk_record``).

    Raises:
        ScenarioError: naming the manifest, if it lists none or a file outside ``runs/``.
    """
    path = out / "manifest.json"
    if not path.exists():
        # ``run_experiment`` alone stores runs without one: its statistics list the chunks.
        found = "not found: give the chunks (load_results(DIR, stats.chunks)) or finish it"
        raise ScenarioError(path, "", f"{found} with write_outputs")
    try:
        listed = manifest_json(path)["chunk_files"]
        files = [(Path(item["file"]), str(item["key"])) for item in listed]
    except (ScenarioError, KeyError, TypeError):
        files = []
    if not files:
        message = "lists no chunk files (not an experiment's, or an older one's): run it again"
        raise ScenarioError(path, "chunk_files", message)
    for relpath, _ in files:
        # Only a chunk's own place: a manifest is a file the user may have edited.
        if not CHUNK_FILE.fullmatch(relpath.as_posix()):
            raise ScenarioError(path, "chunk_files", f"{relpath} is not a chunk of runs/")
    return files


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
