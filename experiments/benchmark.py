"""Benchmark harness of issue 6: the model's cost against Mesa and numpy floors.

Cases (each one JSON record; medians, warm-ups and ratios are computed within one call):

- ``run_kg``: one 1:1 Kyrgyzstan run (``scenarios/kyrgyzstan.yaml``) in-process, median of
  repeated runs after a warm-up, with its agent-years (the sum of the ``registered`` column).
- ``mesa_floor``: a plain Mesa model with as many agents per year as that run (created as
  the run registers NGOs, removed as it strikes them off), every agent stepped each year with
  ``model.agents.shuffle_do("step")``, one random draw and one attribute update per step:
  the least any one-step-per-agent Mesa implementation of the model can cost.
- ``numpy_floor``: the same trivial work as one numpy update per year.
- ``run_kg_no_agents``: the same run without Mesa ``NGO`` agents (``agents=False``, as
  calibration runs it; the output is identical), to show what the agents cost.
- ``run_kg_x10``: the scenario with ten times the founding rates (``civic_rate`` and
  ``funding_rate`` times ten, ``crowding_usd`` over ten), to show how cost grows with the
  population.
- ``memory``: peak resident set of one 1:1 run in a fresh process (``VmHWM`` on Linux).
- ``ensemble``: throughput of an ensemble run by ``experiments.runner.map_runs`` with one
  and with two worker processes.
- ``calib_path``, ``calib_batch``, ``compile``: the compiled rules against the numpy rules
  on the calibration path, and the kernels' first-use cost (``experiments.bench_calibration``).

The records' text and tables are written by ``experiments.bench_report``.

Timing uses ``time.perf_counter``; the Mesa floor uses only Mesa's public API (``Agent``,
``Model``, ``create_agents``, ``remove``, ``AgentSet.shuffle_do``). Goals are reported, never
enforced: speed is measured here, not in tests.
"""

from __future__ import annotations

import json
import operator
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.bench_calibration import (
    case_calib_batch,
    case_calib_path,
    case_compile,
    python_child,
)
from experiments.bench_floors import SEED, Profile, mesa_floor, numpy_floor
from experiments.bench_report import header
from experiments.runner import RunTask, map_runs, run_task
from model import Scenario, load_scenario, simulate

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_PATH = ROOT / "scenarios" / "kyrgyzstan.yaml"
CASES: tuple[str, ...] = (
    "run_kg",
    "run_kg_no_agents",
    "mesa_floor",
    "numpy_floor",
    "calib_path",
    "calib_batch",
    "compile",
    "run_kg_x10",
    "memory",
    "ensemble",
)
SCALE = 10


@dataclass(frozen=True)
class Settings:
    """How much work each case does.

    Attributes:
        quick: A smoke-test run whose numbers mean nothing.
        repeats: Timed runs per case after one warm-up.
        years: Simulated years (None: the scenario's own span).
        ensemble_runs: Runs in the ensemble case.
        batch_runs: Prior parameter sets in the calibration batch case.
    """

    quick: bool
    repeats: int
    years: int | None
    ensemble_runs: int
    batch_runs: int


FULL = Settings(quick=False, repeats=7, years=None, ensemble_runs=200, batch_runs=200)
QUICK = Settings(quick=True, repeats=2, years=4, ensemble_runs=10, batch_runs=4)


@dataclass(frozen=True)
class Goal:
    """A target to report against (never enforced)."""

    name: str
    metric: str
    op: str
    threshold: float

    def check(self, value: float) -> bool:
        """Return whether ``value`` meets the goal."""
        return _OPERATORS[self.op](value, self.threshold)


_OPERATORS = {">=": operator.ge, "<=": operator.le, "<": operator.lt}


GOALS: tuple[Goal, ...] = (
    Goal("run_kg at least 2x faster than mesa_floor", "mesa_floor_over_run_kg", ">=", 2.0),
    Goal("stretch: run_kg at least 5x faster than mesa_floor", "mesa_floor_over_run_kg", ">=", 5.0),
    Goal("run_kg within 20x of numpy_floor", "run_kg_over_numpy_floor", "<=", 20.0),
    Goal("peak RSS of a 1:1 run under 300 MB", "peak_rss_mb", "<", 300.0),
    Goal("run_kg_x10 under 12x run_kg", "x10_over_run_kg", "<", 12.0),
    Goal("2 workers at least 1.6x the throughput of 1", "ensemble_speedup", ">=", 1.6),
    Goal("calib_path at least 5x faster than the numpy rules", "calib_path_speedup", ">=", 5.0),
    Goal("stretch: calib_path 10x faster", "calib_path_speedup", ">=", 10.0),
    Goal("calib_path within 30x of numpy_floor", "calib_path_over_numpy_floor", "<=", 30.0),
    Goal("calib_batch at least 8x the numpy rules' runs/s", "calib_batch_speedup", ">=", 8.0),
)


# Scenarios ---------------------------------------------------------------------------


def benchmark_scenario(years: int | None, path: Path = SCENARIO_PATH) -> Scenario:
    """Return the benchmark's scenario, cut to its first ``years`` years if given."""
    scenario = load_scenario(path)
    if years is None:
        return scenario
    data = scenario.model_dump(mode="python")
    data["end_year"] = scenario.start_year + years - 1
    return Scenario.model_validate(data)


def scaled_founding(scenario: Scenario, factor: float) -> Scenario:
    """Return ``scenario`` with its founding rates times ``factor``.

    The civic and funding rates are multiplied, and the crowding threshold (money per
    registered NGO) divided, so that a register ``factor`` times larger is as crowded as
    the original one and founding really is ``factor`` times faster.
    """
    b = scenario.behaviour
    return scenario.with_params(
        {
            "civic_rate": factor * b.civic_rate.value,
            "funding_rate": factor * b.funding_rate.value,
            "crowding_usd": b.crowding_usd.value / factor,
        }
    )


# Timing ------------------------------------------------------------------------------


def time_median(fn: Callable[[], Any], repeats: int) -> tuple[Any, float, list[float]]:
    """Run ``fn`` once to warm up, then ``repeats`` times timed.

    Returns:
        The warm-up's result, the median seconds and every timed run's seconds.
    """
    result = fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return result, statistics.median(times), times


def _timing(seconds: float, times: list[float], agent_years: int) -> dict[str, Any]:
    return {
        "seconds": seconds,
        "times": times,
        "repeats": len(times),
        "agent_years": agent_years,
        "us_per_agent_year": 1e6 * seconds / agent_years if agent_years else None,
    }


# Cases -------------------------------------------------------------------------------


def case_run(
    name: str, scenario: Scenario, settings: Settings, agents: bool = True
) -> tuple[dict, Profile]:
    """Time in-process runs of ``scenario``; return the record and the run's profile."""
    frame, seconds, times = time_median(
        lambda: simulate(scenario, seed=SEED, agents=agents), settings.repeats
    )
    profile = Profile.of(frame)
    record = {"case": name, **_timing(seconds, times, profile.agent_years)}
    record["ngos_founded"] = profile.founded
    record["registered_last_year"] = int(profile.registered[-1])
    return record, profile


def case_floor(
    name: str, floor: Callable[[Profile], int], profile: Profile, settings: Settings
) -> dict[str, Any]:
    """Time a floor over ``profile``; fail loudly if it did not match the run's agent-years."""
    stepped, seconds, times = time_median(lambda: floor(profile), settings.repeats)
    if stepped != profile.agent_years:
        raise RuntimeError(f"{name} did {stepped} agent-years, the run {profile.agent_years}")
    return {"case": name, **_timing(seconds, times, stepped)}


_MEMORY_CHILD = (
    "import sys; from experiments.benchmark import report_memory_child; "
    "report_memory_child(sys.argv[1], int(sys.argv[2]))"
)


def peak_rss_kb() -> tuple[int, str]:
    """Return this process's peak resident set (kB) and where it was read.

    On Linux the kernel's ``VmHWM`` is used: ``ru_maxrss`` survives ``execve`` and so can
    report the parent's peak in a freshly spawned child. Elsewhere ``ru_maxrss`` is used
    (bytes on macOS, kilobytes on other systems).
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]), "VmHWM"
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak // 1024 if sys.platform == "darwin" else peak), "ru_maxrss"


def report_memory_child(path: str, years: int) -> None:
    """In a fresh process: load, run once, print the peak RSS (kB) before and after the run.

    Args:
        path: The scenario file.
        years: Simulated years (0: the scenario's own span).
    """
    scenario = benchmark_scenario(years or None, Path(path))
    loaded, _ = peak_rss_kb()
    simulate(scenario, seed=SEED)
    peak, source = peak_rss_kb()
    print(json.dumps({"loaded_kb": loaded, "peak_kb": peak, "source": source}))


def case_memory(settings: Settings) -> dict[str, Any]:
    """Measure the peak resident set of one run in a fresh Python process.

    A first child fills the numba cache if it is empty, so that the measured one loads the
    kernels: compiling them takes about 60 MB more (335 MB against 277 MB here), and the
    ``compile`` case reports that first use.
    """
    argv = [str(SCENARIO_PATH), str(settings.years or 0)]
    python_child(_MEMORY_CHILD, argv, ROOT)
    child = python_child(_MEMORY_CHILD, argv, ROOT)
    return {
        "case": "memory",
        "source": child["source"],
        "peak_rss_mb": child["peak_kb"] / 1024,
        "loaded_rss_mb": child["loaded_kb"] / 1024,
        "run_rss_mb": (child["peak_kb"] - child["loaded_kb"]) / 1024,
    }


def case_ensemble(scenario: Scenario, settings: Settings) -> dict[str, Any]:
    """Time an ensemble with one and with two worker processes (pool start-up included)."""
    seeds = range(SEED, SEED + settings.ensemble_runs)
    tasks = [RunTask(scenario, seed, agents=True) for seed in seeds]
    record: dict[str, Any] = {"case": "ensemble", "runs": len(tasks)}
    results = {}
    for workers in (1, 2):
        started = time.perf_counter()
        results[workers] = map_runs(run_task, tasks, workers=workers)
        seconds = time.perf_counter() - started
        record[f"seconds_{workers}"] = seconds
        record[f"runs_per_second_{workers}"] = len(tasks) / seconds
    record["speedup"] = record["runs_per_second_2"] / record["runs_per_second_1"]
    record["identical"] = all(a.equals(b) for a, b in zip(results[1], results[2], strict=True))
    return record


# The whole benchmark -----------------------------------------------------------------


def run_benchmark(
    cases: Iterable[str] = CASES,
    settings: Settings = FULL,
    emit: Callable[[dict[str, Any]], None] = lambda record: None,
) -> list[dict[str, Any]]:
    """Run the chosen cases and return their records (header first, goals last).

    Args:
        cases: Names from ``CASES`` (run in the order of ``CASES``).
        settings: ``FULL`` or ``QUICK``.
        emit: Called with each record as soon as it is ready.
    """
    chosen = [c for c in CASES if c in set(cases)]
    started = time.perf_counter()
    records: list[dict[str, Any]] = []

    def add(record: dict[str, Any]) -> None:
        records.append(record)
        emit(record)

    add(header(settings, chosen))
    scenario = benchmark_scenario(settings.years)
    profile = None
    if "run_kg" in chosen:
        record, profile = case_run("run_kg", scenario, settings)
        add(record)
    if "run_kg_no_agents" in chosen:
        add(case_run("run_kg_no_agents", scenario, settings, agents=False)[0])
    if profile is None and {"mesa_floor", "numpy_floor"} & set(chosen):
        profile = Profile.of(simulate(scenario, seed=SEED))
    if "mesa_floor" in chosen:
        add(case_floor("mesa_floor", mesa_floor, profile, settings))
    if "numpy_floor" in chosen:
        add(case_floor("numpy_floor", numpy_floor, profile, settings))
    if "calib_path" in chosen:
        add(case_calib_path(scenario, settings.repeats, SEED))
    if "calib_batch" in chosen:
        add(case_calib_batch(scenario, settings.batch_runs, SEED))
    if "compile" in chosen:
        add(case_compile(SCENARIO_PATH, ROOT))
    if "run_kg_x10" in chosen:
        add(case_run("run_kg_x10", scaled_founding(scenario, SCALE), settings)[0])
    if "memory" in chosen:
        add(case_memory(settings))
    if "ensemble" in chosen:
        add(case_ensemble(scenario, settings))
    add(summary(records, time.perf_counter() - started))
    return records


def ratios(records: list[dict[str, Any]]) -> dict[str, float]:
    """Return the ratios the goals are stated in, for the cases that were run."""
    by = {r["case"]: r for r in records}
    out: dict[str, float] = {}
    run = by.get("run_kg")
    if run and "mesa_floor" in by:
        out["mesa_floor_over_run_kg"] = by["mesa_floor"]["seconds"] / run["seconds"]
    if run and "run_kg_no_agents" in by:
        out["run_kg_over_no_agents"] = run["seconds"] / by["run_kg_no_agents"]["seconds"]
    if run and "numpy_floor" in by:
        out["run_kg_over_numpy_floor"] = run["seconds"] / by["numpy_floor"]["seconds"]
    if run and "run_kg_x10" in by:
        x10 = by["run_kg_x10"]
        out["x10_over_run_kg"] = x10["seconds"] / run["seconds"]
        out["x10_agent_years_over_run_kg"] = x10["agent_years"] / run["agent_years"]
        out["x10_cost_per_agent_year_over_run_kg"] = (
            x10["us_per_agent_year"] / run["us_per_agent_year"]
        )
    if "calib_path" in by:
        calib = by["calib_path"]
        out["calib_path_speedup"] = calib["speedup"]
        if "numpy_floor" in by:
            out["calib_path_over_numpy_floor"] = (
                calib["us_per_ngo_year_compiled"] / by["numpy_floor"]["us_per_agent_year"]
            )
    if "calib_batch" in by:
        out["calib_batch_speedup"] = by["calib_batch"]["speedup"]
    if "memory" in by:
        out["peak_rss_mb"] = by["memory"]["peak_rss_mb"]
    if "ensemble" in by:
        out["ensemble_speedup"] = by["ensemble"]["speedup"]
    return out


def summary(records: list[dict[str, Any]], wall_seconds: float) -> dict[str, Any]:
    """Return the closing record: ratios, each goal's verdict, load after, wall time."""
    values = ratios(records)
    goals = [
        {
            "goal": g.name,
            "metric": g.metric,
            "target": f"{g.op} {g.threshold:g}",
            "value": values.get(g.metric),
            "pass": g.check(values[g.metric]) if g.metric in values else None,
        }
        for g in GOALS
    ]
    return {
        "case": "summary",
        "ratios": values,
        "goals": goals,
        "loadavg_after": list(os.getloadavg()),
        "wall_seconds": wall_seconds,
    }
