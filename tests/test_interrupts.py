"""Kills, interrupts and concurrent commands: nothing half-written, nothing left running.

Each command runs as a real process in its own session and is killed at a random moment
(the delay is in every failure message); the rerun must finish and give what an
uninterrupted run gives, with no temporary or lock file left, and no process of the
killed command's session may outlive it by more than a few seconds (pool workers and the
forkserver die with their parent). Two commands on one folder: the second stops with one
line naming the first.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_calibration import _completed_generations, _populations
from test_experiment import write_experiment
from test_reliability import assert_one_line, run_cli

from experiments.experiment import build_chunks, load_experiment, parameter_sets, run_experiment
from experiments.lifetime import Terminated, raise_on_sigterm, signals_held, terminated_by_signal
from experiments.locks import LOCK_NAME
from experiments.storage import load_results
from model import ScenarioError

REPO = Path(__file__).resolve().parents[1]
NGO_ABM = [sys.executable, "-m", "cli.main"]
SCENARIO = REPO / "scenarios" / "uzbekistan.yaml"
RUN = ["run", str(SCENARIO), "--replicates", "4", "--params", "scenario"]


def start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [*NGO_ABM, *map(str, argv)],
        cwd=REPO,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def session_alive(sid: int) -> list[int]:
    """Return the pids of the processes still in session ``sid``."""
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == sid:
                    alive.append(int(entry.name))
            except ProcessLookupError:
                continue
    return alive


def kill_and_check_session(process: subprocess.Popen, sig: int, delay: float) -> None:
    """Send ``sig`` after ``delay`` s; check the whole session ends within 10 s."""
    time.sleep(delay)
    process.send_signal(sig)
    process.wait(timeout=60)
    deadline = time.monotonic() + 10
    while session_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = session_alive(process.pid)
    for pid in left:  # our own children: clean up before failing
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes outlived the command killed after {delay:.2f} s: {left}"


def leftovers(folder: Path) -> list[str]:
    """Return temporary and lock files anywhere under ``folder``."""
    return [p.name for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name == LOCK_NAME]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("reference") / "run"
    assert run_cli([*RUN, "--out", out])[0] == 0
    return (out / "timeseries.csv").read_bytes()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_run_killed_at_a_random_moment_then_rerun(tmp_path, reference_run, sig):
    delay = random.uniform(0.5, 6.0)
    out = tmp_path / "run"
    process = start([*RUN, "--workers", 2, "--out", out])
    kill_and_check_session(process, sig, delay)
    if sig == signal.SIGTERM and process.returncode == 143:
        # Terminated at work (not during start-up, before the handler, or after the end).
        assert process.stderr.read().decode().rstrip().endswith("ngo-abm: terminated")
    else:
        assert process.returncode in (0, -sig), (delay, process.stderr.read())
    assert run_cli([*RUN, "--workers", 2, "--out", out])[0] == 0, delay
    assert (out / "timeseries.csv").read_bytes() == reference_run, delay
    assert leftovers(out) == [], delay


def test_experiment_killed_at_a_random_moment_resumes(tmp_path):
    file = write_experiment(tmp_path / "e.yaml", draws=6, params="scenario")
    reference, out = tmp_path / "reference", tmp_path / "out"
    assert run_cli(["experiment", file, "--out", reference])[0] == 0
    delay = random.uniform(1.0, 8.0)
    process = start(["experiment", file, "--workers", 2, "--out", out])
    kill_and_check_session(process, signal.SIGKILL, delay)
    assert run_cli(["experiment", file, "--out", out])[0] == 0, delay
    assert (out / "summary.csv").read_bytes() == (reference / "summary.csv").read_bytes()
    assert leftovers(out) == [], delay


# A "command" that starts a "forkserver", which imports the guard, forks a "worker" and
# sleeps: nothing but the parent-death signals the guard asks for can end the two.
_FORKSERVER = (
    "import os, time\n"
    "import experiments.forkserver_guard\n"
    "if os.fork() == 0:\n"
    "    time.sleep(120)\n"
    "    os._exit(0)\n"
    "time.sleep(120)\n"
)
_COMMAND = (
    "import os, subprocess, sys, time\n"
    "os.environ['NGO_ABM_COMMAND_PID'] = str(os.getpid())\n"
    f"subprocess.Popen([sys.executable, '-c', {_FORKSERVER!r}])\n"
    "time.sleep(120)\n"
)


def running(sid: int) -> list[int]:
    """Return the pids of session ``sid`` that have not ended (zombies have)."""
    alive = []
    for pid in session_alive(sid):
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                alive.append(pid)
        except OSError:  # ended and reaped meanwhile
            continue
    return alive


def test_the_forkserver_guard_ends_forkserver_and_workers_with_their_command():
    command = subprocess.Popen([sys.executable, "-c", _COMMAND], cwd=REPO, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(running(command.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(running(command.pid)) == 3, "the command, forkserver and worker did not start"
    command.kill()
    command.wait(timeout=10)
    deadline = time.monotonic() + 5
    while running(command.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = running(command.pid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"forkserver or worker outlived the command: {left}"


def test_calibration_killed_at_a_random_moment_resumes(tmp_path, repo):
    db = tmp_path / "scratch.db"
    common = ["--db", db, "--population", 4]
    delay = random.uniform(1.0, 10.0)
    process = start(["calibrate", "run", *common, "--generations", 2, "--workers", 2])
    kill_and_check_session(process, signal.SIGKILL, delay)
    again = [*common, "--generations", 1, "--workers", 1]
    again.append("--resume" if db.exists() else "--force")
    kept = _completed_generations(db) if db.exists() else 0
    status, _, err = run_cli(["calibrate", "run", *again])
    assert status == 0, (delay, err)
    # Every generation stored before the kill is kept, and the rerun adds one.
    assert list(_populations(db).t) == list(range(kept + 1)), (delay, kept)
    # The posterior goes beside the scratch database, not over the committed one.
    assert (tmp_path / "scratch_posterior.parquet").exists()
    assert (tmp_path / "scratch_calibrated.yaml").exists()
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------ signals at awkward moments


def test_a_signal_while_workers_start_is_delivered_once_they_are_known():
    """The race CI met: SIGTERM between a worker's start and its registration in the pool."""
    previous = signal.signal(signal.SIGTERM, raise_on_sigterm)
    reached = []
    try:
        with pytest.raises(Terminated):
            with signals_held():
                signal.raise_signal(signal.SIGTERM)
                reached.append("end of body")
            reached.append("after the block")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert reached == ["end of body"]
    assert signal.getsignal(signal.SIGTERM) is previous


def test_a_termination_inside_an_import_counts_as_terminated(monkeypatch, capsys):
    """SIGTERM inside a compiled module's import surfaces as ImportError from Terminated."""
    import cli.main

    def import_interrupted(args):
        try:
            raise Terminated
        except Terminated as exc:
            raise ImportError("initialization failed") from exc

    parser = cli.main.build_parser()
    args = parser.parse_args(RUN)
    args.func = import_interrupted
    monkeypatch.setattr(parser, "parse_args", lambda argv: args)
    monkeypatch.setattr(cli.main, "build_parser", lambda: parser)
    assert cli.main.main(RUN) == 143
    assert capsys.readouterr().err.strip() == "ngo-abm: terminated"
    assert not terminated_by_signal(ImportError("a real missing module"))


# ------------------------------------------------------------ concurrent commands


def hold_lock(folder: Path, database: bool = False) -> subprocess.Popen:
    """Start a process that holds ``folder``'s lock (or a database's) until killed."""
    claim = "database_lock" if database else "output_folder"
    code = (
        f"import sys, time\nfrom experiments.locks import {claim}\n"
        f"with {claim}(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(600)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(folder)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_second_command_on_a_held_folder_names_the_holder(tmp_path, kg_run_folder):
    out = tmp_path / "out"
    holder = hold_lock(out)
    try:
        held = f"in use by pid {holder.pid}"
        assert_one_line([*RUN, "--out", out], str(out), held)
        file = write_experiment(tmp_path / "e.yaml", params="scenario")
        assert_one_line(["experiment", file, "--out", out], held)
        # Nothing before it either: the experiment's description came first.
        assert run_cli(["experiment", file, "--out", out])[1] == ""
        assert_one_line(["sensitivity", "--samples", 2, "--out", out], held)
    finally:
        holder.kill()
        holder.wait()
    assert run_cli([*RUN, "--out", out])[0] == 0  # the lock died with its holder


def test_second_calibration_on_a_held_database(tmp_path):
    db = tmp_path / "c.db"
    holder = hold_lock(db, database=True)
    try:
        argv = ["calibrate", "run", "--db", db, "--population", 2, "--generations", 1]
        assert_one_line(argv, f"{db}: --db: in use by pid {holder.pid}")
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_is_taken_over(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text("pid 999999999 (ngo-abm run killed long ago)\n", "utf-8")
    assert run_cli([*RUN, "--out", out])[0] == 0
    assert leftovers(out) == []


@pytest.mark.parametrize("kind", ["symlink to a file", "dangling symlink", "folder"])
def test_a_lock_file_that_is_not_a_file_is_refused_not_followed(tmp_path, kind):
    out, precious = tmp_path / "out", tmp_path / "precious.txt"
    out.mkdir()
    precious.write_text("the user's own file\n", "utf-8")
    lock = out / LOCK_NAME
    if kind == "folder":
        lock.mkdir()
    else:
        lock.symlink_to(precious if kind == "symlink to a file" else tmp_path / "none")
    assert_one_line([*RUN, "--out", out], str(lock), "--out", "remove it")
    # Followed, the lock would have been truncated and then deleted.
    assert precious.read_text("utf-8") == "the user's own file\n"
    assert lock.is_symlink() or lock.is_dir()
    assert not (out / "timeseries.csv").exists()


def test_two_experiments_started_together_into_one_folder(tmp_path):
    """The issue's case: two seeds into one --out. One runs, the other stops in one line."""
    out = tmp_path / "out"
    files = [write_experiment(tmp_path / f"e{s}.yaml", seed=s, params="scenario") for s in (1, 2)]
    processes = [start(["experiment", f, "--out", out]) for f in files]
    results = [(p.wait(timeout=300), p.stderr.read().decode()) for p in processes]
    statuses = sorted(status for status, _ in results)
    assert statuses in ([0, 2], [0, 0]), results
    if statuses == [0, 2]:
        # The loser may find the lock taken before its holder has written its pid.
        error = next(err for status, err in results if status == 2).strip().splitlines()[-1]
        assert re.search(
            r"--out: in use by (pid \d+ \(.+ experiment |another command \(starting\))", error
        )
    # Whichever ran last wrote the summary, from its own runs only.
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    experiment = load_experiment(tmp_path / f"e{manifest['spec']['seed']}.yaml")
    chunks = build_chunks(experiment, parameter_sets(experiment))
    assert set(load_results(out, chunks).seed) == {t.seed for c in chunks for t in c.tasks}


def test_chunks_of_another_experiment_are_not_read(tmp_path):
    first, second = (
        load_experiment(write_experiment(tmp_path / f"e{s}.yaml", seed=s, params="scenario"))
        for s in (1, 2)
    )
    out = tmp_path / "out"
    run_experiment(first, out)
    with pytest.raises(ScenarioError, match="holds runs of another experiment"):
        load_results(out, build_chunks(second, parameter_sets(second)))


def test_a_folder_reused_by_a_smaller_experiment_reads_back_only_its_own_runs(tmp_path):
    # The larger experiment's chunks stay (a later rerun reuses them); the manifest lists
    # which are the last experiment's.
    out = tmp_path / "out"
    for draws in (3, 1):
        file = write_experiment(tmp_path / "e.yaml", draws=draws, seed=5, params="scenario")
        status, _, err = run_cli(["experiment", str(file), "--out", str(out)])
        assert status == 0, err
    assert len(list(out.glob("runs/*/draws-*.parquet"))) > 2
    runs = load_results(out)
    assert sorted(runs.draw.unique()) == [0]
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert len(runs) == manifest["runs"] * len(range(1991, 2013))


def test_a_manifest_listing_a_file_outside_the_runs_is_refused(tmp_path):
    out = tmp_path / "out"
    file = write_experiment(tmp_path / "e.yaml", params="scenario")
    status, _, err = run_cli(["experiment", str(file), "--out", str(out)])
    assert status == 0, err
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    manifest["chunk_files"][0]["file"] = "../elsewhere.parquet"
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ScenarioError, match="is not a chunk of runs/"):
        load_results(out)


def test_an_empty_chunk_list_is_one_line(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"chunk_files": []}), encoding="utf-8")
    with pytest.raises(ScenarioError, match="chunk_files: lists no chunk files"):
        load_results(out)


def test_a_folder_without_a_manifest_says_how_to_read_its_runs(tmp_path):
    # run_experiment writes no manifest; this read "lists no chunk files ...: run it again".
    (tmp_path / "out").mkdir()
    with pytest.raises(ScenarioError, match=r"manifest.json: not found: give the chunks"):
        load_results(tmp_path / "out")


def test_a_rerun_stopped_while_its_chunks_run_leaves_no_manifest_over_them(tmp_path, monkeypatch):
    # A rerun with other inputs rewrites chunks of the same names: the earlier manifest,
    # whose chunk list has the earlier keys, must be gone before the first is written.
    import experiments.paired

    out = tmp_path / "out"
    first = write_experiment(tmp_path / "e1.yaml", seed=1, params="scenario")
    assert run_cli(["experiment", first, "--out", out])[0] == 0
    assert (out / "manifest.json").exists()

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiments.paired, "write_chunk", stopped)
    second = write_experiment(tmp_path / "e2.yaml", seed=2, params="scenario")
    status, _, err = run_cli(["experiment", second, "--out", out])
    assert status == 130, err
    assert not (out / "manifest.json").exists()


def test_a_refused_rerun_keeps_the_earlier_runs_manifest(tmp_path):
    out = tmp_path / "out"
    file = write_experiment(tmp_path / "e.yaml", params="scenario")
    assert run_cli(["experiment", file, "--out", out])[0] == 0
    missing = tmp_path / "nope.parquet"
    argv = ["experiment", file, "--params", "posterior", "--posterior", missing, "--out", out]
    assert_one_line(argv, "nope.parquet")
    assert json.loads((out / "manifest.json").read_text("utf-8"))["spec"]["params"] == "scenario"
