"""Run many model runs: in-process, on a local process pool, or on a dask.distributed cluster.

Every backend runs the same pure function on the same (scenario, seed, params) tasks, so
results never depend on the backend or the number of workers: ``map_runs`` returns them in
task order, ``imap_runs`` yields each with its task's index as soon as it is done (for
callers that store results as they arrive and resume after an interruption). The cluster
backend uses an existing scheduler (``tcp://HOST:PORT``) through dask.distributed's own
``Client``; no cluster code is written here. Its workers must import this project (start
them from the project's virtual environment, ``.venv/bin/dask worker ADDRESS``): on
connecting, each worker's copy of the model code is checked against this one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

import numpy as np
import pandas as pd

from calibration.scheduler import FLAG, LOST_SCHEDULER, open_client
from experiments.progress import progress_bar
from model import RunawayError, Scenario, ScenarioError, simulate
from model.code import model_fingerprint
from model.config_files import is_whole
from model.limits import MAX_SEED, MAX_WORKERS

from .lifetime import die_with, guard_forkserver, signals_held, stop_workers

# How long to wait for a scheduler's first worker.
WORKER_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class RunTask:
    """One model run: a scenario, a seed and optional parameter overrides.

    ``agents``: create the Mesa agents. The table is the same without them (tested), so
    batches of runs take the calibration path; the benchmark's ensemble times agent runs.
    """

    scenario: Scenario
    seed: int
    params: dict[str, float] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    agents: bool = False


def run_task(task: RunTask) -> pd.DataFrame:
    """Run one task and return its yearly table with the task's tags as columns."""
    scenario = task.scenario.with_params(task.params) if task.params else task.scenario
    try:
        frame = simulate(scenario, seed=task.seed, agents=task.agents)
    except RunawayError as exc:
        if "scenario" not in task.tags:
            raise
        # An experiment's run: named by its entry in the experiment file, since a
        # counterfactual of levers keeps its baseline's scenario name.
        raise RunawayError(task.tags["scenario"], exc.field, exc.message) from None
    for key, value in task.tags.items():
        frame[key] = value
    return frame


def run_batch(tasks: Sequence[RunTask]) -> pd.DataFrame:
    """Run several tasks one after the other and return their stacked tables.

    A batch is the unit of work handed to a worker when runs are short: it amortises the
    cost of sending a task and its scenario.
    """
    return pd.concat([run_task(task) for task in tasks], ignore_index=True)


def derived_seed(seed: int, *key: int) -> int:
    """Return a 63-bit run seed derived from ``seed`` and ``key`` (``SeedSequence`` spawn key).

    Runs that share a key share a seed whatever the scenario, which is what common random
    numbers need.
    """
    sequence = np.random.SeedSequence(seed, spawn_key=key)
    return int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1))


def replicate_seeds(seed: int, replicates: int) -> list[int]:
    """Return the seeds of ``replicates`` replicates of a run with base ``seed``.

    Raises:
        ScenarioError: if ``replicates`` is not a whole number from 1, ``seed`` not one
            from 0, or the last
            replicate's seed would pass ``MAX_SEED``, the largest seed the inputs, the
            manifests and the dashboard take.
    """
    if not is_whole(replicates, 1):
        raise ScenarioError("replicates", "", f"must be a whole number from 1, got {replicates!r}")
    if not is_whole(seed, 0) or seed > MAX_SEED:
        found = f"must be a whole number from 0 to {MAX_SEED}, got {seed!r}"
        raise ScenarioError("seed", "", found)
    # Python ints: a numpy uint32 seed would wrap round past 2**32 - 1.
    seed, replicates = int(seed), int(replicates)
    last = seed + replicates - 1
    if last > MAX_SEED:
        found = f"{replicates} runs from seed {seed} would end at seed {last}, above {MAX_SEED}"
        raise ScenarioError("seed", "", found)
    return [seed + r for r in range(replicates)]


def map_runs(
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
    desc: str = "runs",
    on_progress: Callable[[int, int], None] | None = None,
    pool: ProcessPoolExecutor | None = None,
) -> list[Any]:
    """Apply ``fn`` to every task and return the results in task order.

    Args:
        fn: A picklable function of one task.
        tasks: The tasks.
        workers: Local worker processes (1 runs in this process).
        scheduler: Address of an existing dask.distributed scheduler; overrides workers.
        progress: Show a progress bar.
        desc: Label of the progress bar.
        on_progress: Called with ``(tasks done, tasks in all)`` after each task (a page's
            progress bar).
        pool: Workers kept for many calls (``worker_pool``); overrides ``workers`` and
            ``scheduler``.

    Raises:
        ScenarioError: if the scheduler cannot be reached or its workers cannot run the
            project's code.
    """
    results: list[Any] = [None] * len(tasks)
    with progress_bar(total=len(tasks), desc=desc, show=progress, leave=False) as bar:
        if pool is not None:
            runs = _submit(pool, fn, tasks)
        else:
            runs = imap_runs(fn, tasks, workers, scheduler)
        for done, (index, result) in enumerate(runs, 1):
            results[index] = result
            bar.update()
            if on_progress:
                on_progress(done, len(tasks))
    return results


def imap_runs(
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    workers: int = 1,
    scheduler: str | None = None,
) -> Iterator[tuple[int, Any]]:
    """Apply ``fn`` to every task; yield ``(task index, result)`` as each one finishes.

    Results arrive in any order on a pool or a cluster; each is the same as in-process.
    Closing the iterator early cancels the tasks not yet started.

    Args:
        fn: A picklable function of one task.
        tasks: The tasks.
        workers: Local worker processes (1 runs in this process).
        scheduler: Address of an existing dask.distributed scheduler; overrides workers.
    """
    check_worker_count(workers)
    if scheduler:
        yield from _imap_dask(fn, tasks, scheduler)
    elif workers <= 1 or len(tasks) <= 1:
        for index, task in enumerate(tasks):
            yield index, fn(task)
    else:
        yield from _imap_pool(fn, tasks, workers)


def check_worker_count(workers: Any) -> None:
    """Refuse a worker count that is not a whole number from 1 to ``MAX_WORKERS``.

    From Python, 0 or -1 ran in this process without a word and 1.5 or "2" failed deep in
    ``multiprocessing``; the command line's ``--workers`` has the same bounds.
    """
    if not is_whole(workers, 1) or workers > MAX_WORKERS:
        found = f"must be a whole number from 1 to {MAX_WORKERS}, got {workers!r}"
        raise ScenarioError("workers", "", found)


@contextmanager
def worker_pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """Keep ``workers`` local processes for many ``map_runs`` calls (``None`` for one).

    Many short calls in a row (a Markov chain's steps) then pay the workers' start-up,
    imports and compiled code's loading once rather than at every call.
    """
    check_worker_count(workers)
    if workers <= 1:
        yield None
        return
    with _pool(workers) as pool:
        yield pool


def _imap_pool(
    fn: Callable[[Any], Any], tasks: Sequence[Any], workers: int
) -> Iterator[tuple[int, Any]]:
    with _pool(min(workers, len(tasks))) as pool:
        yield from _submit(pool, fn, tasks)


@contextmanager
def _pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    context = get_context("forkserver")
    guard_forkserver(context)
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=die_with, initargs=(os.getpid(),)
    )
    try:
        yield pool
    except BaseException:
        # Interrupted, terminated, closed early or failed: the running tasks' results
        # are not wanted, so the workers are not waited for.
        stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _submit(
    pool: ProcessPoolExecutor, fn: Callable[[Any], Any], tasks: Sequence[Any]
) -> Iterator[tuple[int, Any]]:
    # Submitting starts the workers: hold signals until each is in ``pool._processes``.
    with signals_held():
        pending = {pool.submit(fn, task): index for index, task in enumerate(tasks)}
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            # Report finished tasks in index order so a batch of simultaneous
            # completions is handled the same way every time.
            for future in sorted(done, key=pending.__getitem__):
                yield pending.pop(future), future.result()
    finally:
        # A kept pool outlives a failed or abandoned call: its tasks must not.
        for future in pending:
            future.cancel()


def _imap_dask(
    fn: Callable[[Any], Any], tasks: Sequence[Any], scheduler: str
) -> Iterator[tuple[int, Any]]:
    from dask.distributed import as_completed

    with connect(scheduler) as client:
        futures = client.map(fn, list(tasks), pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        for future, result in as_completed(futures, with_results=True):
            if future.status != "finished":
                result = _recomputed(future, scheduler)
            yield index[future.key], result


def _recomputed(future, scheduler: str) -> Any:
    """Return the result of a future that came back unfinished, once it is recomputed.

    A worker that dies while its result is being gathered gives the future back as lost,
    and the scheduler computes it again: wait for that. A scheduler that went away gives
    its futures back cancelled: one line, and the runs stored so far are kept.
    """
    from concurrent.futures import CancelledError

    if future.status == "cancelled":
        raise ScenarioError(FLAG, scheduler, LOST_SCHEDULER) from None
    try:
        return future.result()
    except (CancelledError, OSError):  # OSError: distributed's CommClosedError
        raise ScenarioError(FLAG, scheduler, LOST_SCHEDULER) from None


@contextmanager
def connect(scheduler: str):
    """Connect to an existing dask.distributed scheduler and check its workers.

    Yields:
        A ``dask.distributed.Client``, closed on exit.

    Raises:
        ScenarioError: one line if the scheduler is unreachable or does not answer in
            time (``calibration.scheduler``), has no workers, or a worker cannot import
            this project or runs different model code.
    """
    client = open_client(scheduler)
    try:
        check_workers(client, scheduler)
        yield client
    finally:
        client.close()


def check_workers(client, scheduler: str) -> None:
    """Check that the cluster has workers and that they run this project's model code.

    Raises:
        ScenarioError: naming the scheduler and what is wrong, with the fix.
    """
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
    except TimeoutError:
        raise ScenarioError(
            "--scheduler", scheduler, f"no workers joined within {WORKER_WAIT_SECONDS:g} s"
        ) from None
    try:
        prints = client.run(model_fingerprint)
    except Exception as exc:  # noqa: BLE001 - any failure to import the project on a worker
        raise ScenarioError(
            "--scheduler",
            scheduler,
            f"a worker cannot run the project ({type(exc).__name__}: {exc}); start the "
            f"workers from the project's venv: .venv/bin/dask worker {scheduler}",
        ) from None
    local = model_fingerprint()
    stale = sorted(worker for worker, fp in prints.items() if fp != local)
    if stale:
        raise ScenarioError(
            "--scheduler",
            scheduler,
            f"worker {stale[0]} runs different model code or numpy than this checkout; "
            "restart the workers from this project's venv",
        )
