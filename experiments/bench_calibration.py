"""Benchmark cases of the calibration path (issue 18): compiled path against the numpy rules.

- ``calib_path``: the Kyrgyz scenario without Mesa agents, as a calibration particle runs
  it: the calibration path (``model.fastpath``, what ``simulate(agents=False)`` runs) and
  ``NGOModel`` on the numpy rules (the reference implementation), timed alternately in the
  same call: seconds per run and microseconds per NGO-year of each.
- ``calib_batch``: parameter sets drawn from the priors (``calibration/priors.yaml``, fixed
  seed), each run once on the Kyrgyz scenario: on the calibration path a batch of sets per
  call (``model.fastpath.run_many``), on the numpy rules one run after another; runs per
  second of each. A set whose register runs away is refused at the same year by both and
  counts as a run. Each run's years, its State's and Donors' decisions included, are one
  compiled call (``model.year_loop``), so a batch has no per-year cost left to share
  (``docs/benchmarks.md``).
- ``compile``: the first use of the kernels in a fresh process with an empty numba cache
  (compilation), and again with the cache it left (loading), each including one run.

Called by ``experiments.benchmark``; the timings are medians of alternating runs so that a
change in the machine's load falls on both implementations alike.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from model import RunawayError, Scenario, simulate
from model.fastpath import run_many

ENGINES = ("compiled", "numpy")
BATCH_SEED = 18
BATCH_SIZE = 20
_COLD_CHILD = (
    "import sys, time, json; t = time.perf_counter(); "
    "from model import load_scenario, simulate; "
    "simulate(load_scenario(sys.argv[1]), seed=1, agents=False); "
    "print(json.dumps({'seconds': time.perf_counter() - t}))"
)


def _run(scenario: Scenario, seed: int, engine: str) -> int:
    """Run once without agents; return its NGO-years (0 if the register ran away)."""
    try:
        return int(simulate(scenario, seed=seed, agents=False, engine=engine)["registered"].sum())
    except RunawayError:
        return 0


def case_calib_path(scenario: Scenario, repeats: int, seed: int) -> dict[str, Any]:
    """Time the calibration path on both implementations, alternating, after a warm-up."""
    times: dict[str, list[float]] = {e: [] for e in ENGINES}
    ngo_years = {e: _run(scenario, seed, e) for e in ENGINES}
    # A guard on what is timed; tests/test_engines.py compares the tables bit for bit.
    if ngo_years["compiled"] != ngo_years["numpy"]:
        raise RuntimeError("the compiled and numpy rules count different NGO-years on the run")
    for _ in range(repeats):
        for engine in ENGINES:
            started = time.perf_counter()
            _run(scenario, seed, engine)
            times[engine].append(time.perf_counter() - started)
    record: dict[str, Any] = {"case": "calib_path", "repeats": repeats, "ngo_years": ngo_years}
    for engine in ENGINES:
        seconds = statistics.median(times[engine])
        record[f"seconds_{engine}"] = seconds
        record[f"times_{engine}"] = times[engine]
        record[f"us_per_ngo_year_{engine}"] = 1e6 * seconds / ngo_years[engine]
    record["speedup"] = record["seconds_numpy"] / record["seconds_compiled"]
    return record


def prior_parameter_sets(count: int, seed: int = BATCH_SEED) -> list[dict[str, float]]:
    """Return ``count`` parameter sets drawn independently from the calibration priors."""
    # Imported here: pyabc and its database stack would otherwise weigh on every benchmark
    # process, the memory case's fresh process among them.
    from calibration.priors import load_priors

    rng = np.random.default_rng(seed)
    priors = load_priors()
    return [
        {name: float(spec.quantiles(rng.random())) for name, spec in priors.items()}
        for _ in range(count)
    ]


def _batch_years(variants: list[Scenario], seed: int) -> list[int]:
    """Run a batch on the calibration path; return each run's NGO-years (0 if it ran away)."""
    tables = run_many([(variant, seed) for variant in variants])
    return [0 if t is None else int(t["registered"].sum()) for t in tables]


def case_calib_batch(scenario: Scenario, count: int, seed: int) -> dict[str, Any]:
    """Run ``count`` prior parameter sets on each implementation; report runs per second.

    The two implementations take turns batch by batch (``BATCH_SIZE`` sets), so that a
    change in the machine's load falls on both alike.
    """
    variants = [scenario.with_params(p) for p in prior_parameter_sets(count)]
    _run(variants[0], seed, "compiled")  # compile or load the kernels outside the timing
    seconds = dict.fromkeys(ENGINES, 0.0)
    years: dict[str, list[int]] = {e: [] for e in ENGINES}
    for start in range(0, count, BATCH_SIZE):
        batch = variants[start : start + BATCH_SIZE]
        started = time.perf_counter()
        years["compiled"] += _batch_years(batch, seed)
        seconds["compiled"] += time.perf_counter() - started
        started = time.perf_counter()
        years["numpy"] += [_run(variant, seed, "numpy") for variant in batch]
        seconds["numpy"] += time.perf_counter() - started
    if years["compiled"] != years["numpy"]:
        raise RuntimeError(
            "the compiled and numpy rules count different NGO-years on a prior parameter set"
        )
    record: dict[str, Any] = {"case": "calib_batch", "runs": count}
    for engine in ENGINES:
        record[f"seconds_{engine}"] = seconds[engine]
        record[f"runs_per_second_{engine}"] = count / seconds[engine]
    record["runaway"] = sum(1 for y in years["numpy"] if y == 0)
    record["ngo_years"] = sum(years["numpy"])
    record["speedup"] = record["runs_per_second_compiled"] / record["runs_per_second_numpy"]
    return record


def python_child(code: str, args: list[str], root: Path, env: dict | None = None) -> dict:
    """Run ``code`` in a fresh Python process at ``root``; return the JSON of its last line."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fresh_process_seconds(scenario_path: Path, cache: str, root: Path) -> float:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    return python_child(_COLD_CHILD, [str(scenario_path)], root, env)["seconds"]


def case_compile(scenario_path: Path, root: Path) -> dict[str, Any]:
    """Time imports and one run in fresh processes: empty numba cache, then the cache it left."""
    with tempfile.TemporaryDirectory(prefix="ngo-abm-numba-") as cache:
        cold = _fresh_process_seconds(scenario_path, cache, root)
        warm = _fresh_process_seconds(scenario_path, cache, root)
    return {"case": "compile", "seconds_cold": cold, "seconds_cached": warm}
