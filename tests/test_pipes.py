"""A named pipe where a data file or an output goes: one line, or a file in its place.

Opening a pipe for reading waits for a writer, and pyarrow waits deaf to SIGTERM, so each
case runs in a child process that a timeout kills: a regression fails, it does not hang
the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KYRGYZSTAN = ROOT / "scenarios" / "kyrgyzstan.yaml"


def ngo_abm(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "cli.main", *argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=90)


def python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", code]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def one_line(result: subprocess.CompletedProcess, *fragments: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert all(f in lines[0] for f in fragments), lines[0]


def test_a_posterior_that_is_a_pipe_is_refused(tmp_path):
    os.mkfifo(tmp_path / "posterior.parquet")
    result = ngo_abm("sensitivity", "--posterior", "posterior.parquet", "--out", "o", cwd=tmp_path)
    one_line(result, "posterior.parquet: not a regular file (a device or a pipe?)")
    assert not (tmp_path / "o").exists()


def test_a_run_table_that_is_a_pipe_is_refused_by_compare(tmp_path):
    run = ngo_abm("run", str(KYRGYZSTAN), "--params", "scenario", "--out", "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    (tmp_path / "run" / "timeseries.csv").unlink()
    os.mkfifo(tmp_path / "run" / "timeseries.csv")
    one_line(ngo_abm("compare", "run", cwd=tmp_path), "timeseries.csv: not a readable run table")


def test_a_pipe_as_the_benchmark_s_out_is_refused_and_left(tmp_path):
    os.mkfifo(tmp_path / "bench.jsonl")
    result = ngo_abm(
        "bench", "--quick", "--cases", "numpy_floor", "--out", "bench.jsonl", cwd=tmp_path
    )
    one_line(result, "bench.jsonl: --out: not a regular file (a device or a pipe?)")
    assert (tmp_path / "bench.jsonl").is_fifo()


@pytest.mark.parametrize(
    "module", ["calibration.reference", "experiments.storage"], ids=["reference", "experiment"]
)
def test_a_stored_chunk_that_is_a_pipe_is_not_stored(module, tmp_path):
    # Not stored, so computed again and written in its place (as an unreadable chunk is).
    os.mkfifo(tmp_path / "chunk.parquet")
    code = f"from pathlib import Path; from {module} import stored_key; "
    code += "print(stored_key(Path('chunk.parquet')))"
    result = python(code, tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "None", result.stderr


def test_a_pipe_given_as_a_calibration_database_is_no_database(tmp_path):
    os.mkfifo(tmp_path / "abc.db")
    code = "from pathlib import Path; from calibration.abc import _has_pyabc_tables; "
    code += "print(_has_pyabc_tables(Path('abc.db')))"
    result = python(code, tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "False", result.stderr
