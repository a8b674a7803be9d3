"""The benchmark's output: its header record, JSON lines and the tables of ``ngo-abm bench``."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd

from calibration.atomic import write_text_atomic

from .git_state import git

# The case of the first record a benchmark writes.
HEADER = "header"
# Longer than any header line; a file with no line break is not read whole.
_FIRST_LINE_LIMIT = 1 << 16


def is_benchmark_output(path: Path) -> bool:
    """Return whether ``path`` begins with a benchmark's header record.

    Raises:
        OSError: when the file cannot be read.
    """
    with open(path, encoding="utf-8", errors="replace") as file:
        first = file.readline(_FIRST_LINE_LIMIT)
    try:
        record = json.loads(first)
    except (ValueError, RecursionError):
        return False
    return isinstance(record, dict) and record.get("case") == HEADER


def header(settings: Any, cases: Iterable[str]) -> dict[str, Any]:
    """Return the header record: machine, versions, git commit, load and settings."""
    model_changes = git("status", "--porcelain", "--", "model")
    return {
        "case": HEADER,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git("rev-parse", "--short", "HEAD"),
        "model_dirty": None if model_changes is None else bool(model_changes),
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "loadavg_before": list(os.getloadavg()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "mesa": mesa.__version__,
        "platform": platform.platform(),
        "quick": settings.quick,
        "repeats": settings.repeats,
        "cases": list(cases),
    }


def to_json_line(record: dict[str, Any]) -> str:
    """Return one record as a JSON line."""
    return json.dumps(record, sort_keys=False)


def write_json_lines(path: Path, records: list[dict[str, Any]]) -> None:
    """Write the records to ``path`` as JSON lines, atomically (temporary file, then rename)."""
    write_text_atomic(path, "".join(to_json_line(r) + "\n" for r in records))


def _case_note(record: dict[str, Any], values: dict[str, float]) -> str:
    case = record["case"]
    if case == "run_kg":
        return f"{record['ngos_founded']:,} NGOs founded"
    if case == "run_kg_no_agents" and "run_kg_over_no_agents" in values:
        return f"run_kg / run_kg_no_agents = {values['run_kg_over_no_agents']:.2f}"
    if case == "mesa_floor" and "mesa_floor_over_run_kg" in values:
        return f"mesa_floor / run_kg = {values['mesa_floor_over_run_kg']:.2f}"
    if case == "numpy_floor" and "run_kg_over_numpy_floor" in values:
        return f"run_kg / numpy_floor = {values['run_kg_over_numpy_floor']:.0f}"
    if case == "run_kg_x10" and "x10_over_run_kg" in values:
        return (
            f"{record['ngos_founded']:,} NGOs founded; {values['x10_over_run_kg']:.2f}x run_kg "
            f"time for {values['x10_agent_years_over_run_kg']:.2f}x agent-years; cost per "
            f"agent-year {values['x10_cost_per_agent_year_over_run_kg']:.2f}x run_kg"
        )
    return ""


def format_table(records: list[dict[str, Any]]) -> str:
    """Return the records as readable Markdown tables (timings, memory, ensemble, goals)."""
    by = {r["case"]: r for r in records}
    values = by["summary"]["ratios"]
    lines = [
        "| case | median s | runs | agent-years | us / agent-year | note |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in records:
        if "seconds" in r:
            lines.append(
                f"| {r['case']} | {r['seconds']:.4f} | {r['repeats']} | {r['agent_years']:,} "
                f"| {r['us_per_agent_year']:.3f} | {_case_note(r, values)} |"
            )
    if "memory" in by:
        m = by["memory"]
        lines += [
            "",
            f"Peak RSS of one run in a fresh process ({m['source']}): {m['peak_rss_mb']:.0f} MB "
            f"(peak {m['loaded_rss_mb']:.0f} MB after imports and scenario loading, "
            f"+{m['run_rss_mb']:.0f} MB during the run).",
        ]
    lines += _calibration_lines(by)
    if "ensemble" in by:
        e = by["ensemble"]
        lines += [
            "",
            f"Ensemble of {e['runs']} runs: 1 worker {e['runs_per_second_1']:.2f} runs/s "
            f"({e['seconds_1']:.1f} s), 2 workers {e['runs_per_second_2']:.2f} runs/s "
            f"({e['seconds_2']:.1f} s), speed-up {e['speedup']:.2f}x; results "
            f"{'identical' if e['identical'] else 'DIFFER'} across worker counts.",
        ]
    head, tail = by[HEADER], by["summary"]
    lines += ["", "| goal | target | value | result |", "|---|---|---:|---|"]
    for g in tail["goals"]:
        value = "-" if g["value"] is None else f"{g['value']:.2f}"
        verdict = {True: "pass", False: "FAIL", None: "not run"}[g["pass"]]
        if head.get("quick") and g["pass"] is not None:
            # A smoke run's timings say nothing of the goals, which a FAIL would suggest.
            verdict = "not judged (--quick)"
        lines.append(f"| {g['goal']} | {g['target']} | {value} | {verdict} |")
    lines += [
        "",
        f"Load average before {_load(head['loadavg_before'])}, after "
        f"{_load(tail['loadavg_after'])}; {head['cpus_usable']} usable CPUs; "
        f"wall {tail['wall_seconds']:.0f} s.",
    ]
    return "\n".join(lines)


def _load(loadavg: list[float]) -> str:
    return " ".join(f"{x:.2f}" for x in loadavg)


def _calibration_lines(by: dict[str, dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    if "calib_path" in by:
        c = by["calib_path"]
        lines += [
            "",
            "| calibration path (Kyrgyzstan, no agents) | median s | us / NGO-year |",
            "|---|---:|---:|",
            f"| compiled path (model.fastpath) | {c['seconds_compiled']:.4f} | "
            f"{c['us_per_ngo_year_compiled']:.3f} |",
            f"| NGOModel, numpy rules | {c['seconds_numpy']:.4f} | "
            f"{c['us_per_ngo_year_numpy']:.3f} |",
            f"| speed-up | {c['speedup']:.2f}x | |",
        ]
    if "calib_batch" in by:
        b = by["calib_batch"]
        lines += [
            "",
            f"{b['runs']} prior parameter sets ({b['runaway']} runaway registers): compiled path "
            f"{b['runs_per_second_compiled']:.2f} runs/s ({b['seconds_compiled']:.1f} s), numpy "
            f"{b['runs_per_second_numpy']:.2f} runs/s ({b['seconds_numpy']:.1f} s), "
            f"speed-up {b['speedup']:.2f}x.",
        ]
    if "compile" in by:
        k = by["compile"]
        lines += [
            "",
            f"Imports and one run in a fresh process: {k['seconds_cold']:.1f} s with an empty "
            f"numba cache (compiling the kernels), {k['seconds_cached']:.1f} s with the cache.",
        ]
    return lines
