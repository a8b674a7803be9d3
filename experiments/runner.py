"""Run many model runs: in-process, on a local process pool, or on a dask.distributed cluster.

Every backend runs the same pure function on the same (scenario, seed, params) tasks and
returns results in task order, so results never depend on the backend or the number of
workers. The cluster backend uses an existing scheduler (``tcp://HOST:PORT``); no cluster
code is written here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

import pandas as pd
from tqdm import tqdm

from model import Scenario, simulate


@dataclass(frozen=True)
class RunTask:
    """One model run: a scenario, a seed and optional parameter overrides."""

    scenario: Scenario
    seed: int
    params: dict[str, float] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)


def run_task(task: RunTask) -> pd.DataFrame:
    """Run one task and return its yearly table with the task's tags as columns."""
    scenario = task.scenario.with_params(task.params) if task.params else task.scenario
    frame = simulate(scenario, seed=task.seed)
    for key, value in task.tags.items():
        frame[key] = value
    return frame


def replicate_seeds(seed: int, replicates: int) -> list[int]:
    """Return the seeds of ``replicates`` replicates of a run with base ``seed``."""
    return [seed + r for r in range(replicates)]


def map_runs(
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
    desc: str = "runs",
) -> list[Any]:
    """Apply ``fn`` to every task and return the results in task order.

    Args:
        fn: A picklable function of one task.
        tasks: The tasks.
        workers: Local worker processes (1 runs in this process).
        scheduler: Address of an existing dask.distributed scheduler; overrides workers.
        progress: Show a progress bar.
        desc: Label of the progress bar.
    """
    bar = tqdm(total=len(tasks), desc=desc, disable=not progress, leave=False)
    try:
        if scheduler:
            return _map_dask(fn, tasks, scheduler, bar)
        if workers <= 1 or len(tasks) <= 1:
            results = []
            for task in tasks:
                results.append(fn(task))
                bar.update()
            return results
        chunk = max(1, len(tasks) // (workers * 8))
        with ProcessPoolExecutor(workers, mp_context=get_context("forkserver")) as pool:
            results = []
            for result in pool.map(fn, tasks, chunksize=chunk):
                results.append(result)
                bar.update()
            return results
    finally:
        bar.close()


def _map_dask(fn: Callable[[Any], Any], tasks: Iterable[Any], scheduler: str, bar) -> list[Any]:
    from dask.distributed import Client, as_completed

    with Client(scheduler, timeout="10s") as client:
        futures = client.map(fn, list(tasks), pure=False)
        for _ in as_completed(futures):
            bar.update()
        return client.gather(futures)
