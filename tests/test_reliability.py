"""Hostile input: every case either works or stops with one line, exit 2, nothing written.

Hypothesis mutates the three kinds of file a user writes (scenario, experiment, targets)
with hostile values (deep nesting, huge numbers, NaN, lists where names go, unknown keys);
then the cases of issue 16 one by one: output paths, numbers out of bounds, stale
temporary files, the dashboard's host message and one-line usage errors. Interrupts,
kills and concurrent commands are in ``test_interrupts.py``, the fake dask schedulers in
``test_scheduler_handshake.py``.
"""

from __future__ import annotations

import copy
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_cli
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st
from test_experiment import write_experiment
from test_mutated_scenarios import _base_document, assert_runs_or_exits_cleanly

import experiments.runner as runner
from calibration.atomic import write_text_atomic
from cli.dashboard import reach

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
TARGETS = REPO / "calibration" / "targets.yaml"
DEEP = 200
HOSTILE = [
    10**400,
    -(10**30),
    math.nan,
    math.inf,
    ["a", ["b"]],
    {"name": {"nested": 1}},
    None,
    "text",
    True,
    0,
]
SEARCH = settings(
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def assert_one_line(argv: list, *fragments: str) -> str:
    """Run ``ngo-abm ARGV``: exit 2, one stderr line holding every fragment; return it."""
    status, _, err = run_cli(argv)
    lines = err.strip().splitlines()
    assert status == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def deep_list(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


# ------------------------------------------------------------ hypothesis: three file kinds


def _paths(doc) -> list[tuple]:
    found, stack = [], [(doc, ())]
    while stack:
        node, path = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            found.append((*path, key))
            if isinstance(value, dict | list):
                stack.append((value, (*path, key)))
    return sorted(found, key=str)


def hostile_mutation(doc: dict, op: str, pick: int, choice: int, depth: int = 1) -> str:
    """Apply one hostile change at depth ``depth`` or below in ``doc``; return what it was."""
    paths = [p for p in _paths(doc) if len(p) >= depth]
    path = paths[pick % len(paths)]
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    where = ".".join(str(k) for k in path)
    if op == "drop":
        del parent[path[-1]]
        return f"drop {where}"
    if op == "deep":
        parent[path[-1]] = deep_list(DEEP)
        return f"{where} = list nested {DEEP} deep"
    if op == "huge_key" and isinstance(parent, dict):
        parent[10**300] = parent.pop(path[-1])
        return f"{where} renamed to a 301-digit number"
    value = copy.deepcopy(HOSTILE[choice % len(HOSTILE)])
    parent[path[-1]] = value
    return f"{where} = {value!r:.60}"


def mutations():
    ops = st.sampled_from(("replace", "replace", "drop", "deep", "huge_key"))
    pick = st.integers(0, 10_000)
    return st.lists(st.tuples(ops, pick, pick), min_size=1, max_size=2)


def mutate(doc: dict, changes, depth: int = 1) -> dict:
    for op, pick, choice in changes:
        note(hostile_mutation(doc, op, pick, choice, depth))
    return doc


def assert_works_or_one_line(argv: list, written: Path) -> int:
    """Exit 0, or exit 2 with one line and ``written`` absent; return the status."""
    status, _, err = run_cli(argv)
    if status != 0:
        assert status == 2, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert not written.exists()
    event(f"exit status {status}")
    return status


@settings(SEARCH, max_examples=25)
@given(changes=mutations())
def test_hostile_scenario_runs_or_exits_cleanly(flat_scenario, repo, changes):
    # Depth 2: the scenario's and the behaviour file's fields, not the two files themselves.
    doc = mutate(_base_document(flat_scenario, repo, "uzbekistan"), changes, depth=2)
    event(f"exit status {assert_runs_or_exits_cleanly(doc)}")


@settings(SEARCH, max_examples=40)
@given(changes=mutations())
def test_hostile_experiment_is_described_or_exits_cleanly(tmp_path, changes):
    file = write_experiment(tmp_path / "e.yaml")
    doc = mutate(yaml.safe_load(file.read_text("utf-8")), changes)
    file.write_text(yaml.safe_dump(doc), "utf-8")
    out = tmp_path / "out"
    assert_works_or_one_line(["experiment", file, "--dry-run", "--out", out], out)


@pytest.fixture(scope="module")
def kg_targets() -> dict:
    """The committed targets file, cut to a few Kyrgyz targets (a quick comparison)."""
    doc = yaml.safe_load(TARGETS.read_text("utf-8"))
    doc.pop("external")  # the external figures' file is not copied beside the cut file
    doc["targets"] = [t for t in doc["targets"] if t["country"] == "kyrgyzstan"][:4]
    doc["periods"] = {"kyrgyzstan": doc["periods"]["kyrgyzstan"]}
    return doc


@settings(SEARCH, max_examples=20)
@given(changes=mutations())
def test_hostile_targets_compare_or_exit_cleanly(kg_run_folder, kg_targets, tmp_path, changes):
    run = tmp_path / "run"
    shutil.copytree(kg_run_folder[0], run, dirs_exist_ok=True)
    (run / "compare.csv").unlink(missing_ok=True)
    file = tmp_path / "targets.yaml"
    file.write_text(yaml.safe_dump(mutate(copy.deepcopy(kg_targets), changes)), "utf-8")
    assert_works_or_one_line(["compare", run, "--targets", file], run / "compare.csv")


# ------------------------------------------------------------ the inputs that crashed


def _scenario(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"extends: {SCENARIOS / 'uzbekistan.yaml'}\n{text}", "utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("description: " + "[" * 3000 + "]" * 3000 + "\n", "nested more than 32 levels"),
        ("description: " + "[" * 40 + "]" * 40 + "\n", "description: nested more than 32"),
        ("population_millions:\n  points:\n    " + "9" * 300 + ": 30\n", "less than or equal"),
        ("cpi_base_year: " + "9" * 300 + "\n", "cpi_base_year"),
        ("donors:\n  - name: [USAID, EU]\n", "donors.0.name"),
        ("donors:\n  - name: {first: USAID}\n", "donors.0.name"),
        (
            "state:\n  shocks:\n    - {name: x, year: 1000000000000000000000000000000, "
            "instability: 0.5, source: assumption}\n",
            "year",
        ),
    ],
    ids=["deep-3000", "deep-40", "huge-year-key", "huge-cpi-year", "list-name", "map-name", "1e30"],
)
def test_scenario_inputs_that_crashed(tmp_path, text, fragment):
    out = tmp_path / "out"
    assert_one_line(["run", _scenario(tmp_path, text), "--out", out], fragment)
    assert not out.exists()


def test_a_device_is_refused_at_once():
    # Refused as a device, not read: reading /dev/zero would end at the size limit instead.
    assert_one_line(["run", "/dev/zero"], "/dev/zero", "not a regular file")


def test_a_config_over_the_size_limit(tmp_path):
    assert_one_line(["run", _scenario(tmp_path, "#" * 1_100_000 + "\n")], "larger than")


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"end_year": 3000}, "end_year: Input should be less than or equal to 2100"),
        ({"end_year": 1985}, "end_year: end_year 1985 is before start_year"),
        ({"draws": 10**12}, "draws: Input should be less than or equal to 100000"),
        ({"replicates": 10**6}, "replicates: Input should be less than or equal to 10000"),
        ({"draws": 100_000, "replicates": 100}, "at most 1,000,000"),
        ({"seed": 10**40}, "seed"),
        ({"key_years": [10**30]}, "key_years.0"),
    ],
)
def test_experiment_numbers_out_of_bounds(tmp_path, changes, fragment):
    file = write_experiment(tmp_path / "e.yaml", **changes)
    out = tmp_path / "out"
    assert_one_line(["experiment", file, "--out", out], fragment)
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["run", SCENARIOS / "uzbekistan.yaml", "--replicates", 10**12], "from 1 to 10,000"),
        (["run", SCENARIOS / "uzbekistan.yaml", "--seed", -1], "--seed: must be from 0"),
        (["run", SCENARIOS / "uzbekistan.yaml", "--workers", 0], "--workers: must be from 1"),
        (["calibrate", "run", "--max-minutes", "nan"], "--max-minutes: must be above 0"),
        (["calibrate", "run", "--max-minutes", "inf"], "at most 10,080"),
        (["calibrate", "run", "--population", 10**9], "--population: must be from 2 to 100,000"),
        (["calibrate", "report", "--draws", 0], "--draws: must be from 1"),
        (["sensitivity", "--samples", 10**9], "--samples: must be from 2 to 65,536"),
        (["run"], "the following arguments are required"),
        (["run", "x.yaml", "--bogus"], "ngo-abm run: error: unrecognized arguments: --bogus"),
        (["sources", "--chek"], "--chek; did you mean --check? (see ngo-abm sources --help)"),
        # An option is its whole name: the beginning of one is refused, and named.
        (
            ["run", SCENARIOS / "uzbekistan.yaml", "--rep", 2],
            "unrecognized arguments: --rep 2; did you mean --replicates?",
        ),
        (["no-such-command"], "invalid choice"),
    ],
)
def test_command_line_errors_take_one_line(argv, fragment):
    assert_one_line(argv, fragment)


def test_python_m_cli_main_reports_a_usage_error_in_one_line(tmp_path):
    file = write_experiment(tmp_path / "e.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "experiment", str(file), "--workers", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "ngo-abm experiment: error: argument --workers: must be from 1 to 256, got 0 "
        "(see ngo-abm experiment --help)"
    ]


def test_targets_with_none_for_the_runs_country(kg_run_folder, kg_targets, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(kg_run_folder[0], run)
    before = sorted(p.name for p in run.iterdir())
    doc = copy.deepcopy(kg_targets)
    for target in doc["targets"]:
        target["country"] = "uzbekistan"
    file = tmp_path / "t.yaml"
    file.write_text(yaml.safe_dump(doc), "utf-8")
    assert_one_line(["compare", run, "--targets", file], "no target for kyrgyzstan")
    assert sorted(p.name for p in run.iterdir()) == before


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_non_finite_target_values(kg_run_folder, kg_targets, tmp_path, value):
    doc = copy.deepcopy(kg_targets)
    doc["targets"][0].update(kind="point", value="VALUE")
    file = tmp_path / "t.yaml"
    file.write_text(yaml.safe_dump(doc).replace("VALUE", value), "utf-8")
    assert_one_line(["compare", kg_run_folder[0], "--targets", file], "finite number")


# ------------------------------------------------------------ output paths, before any run


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if a model run starts (paths must be checked before)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a simulation started before the output path was checked")

    monkeypatch.setattr(runner, "simulate", refuse)


def _bad_outputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    file = tmp_path / "FILE"
    file.write_text("x", "utf-8")
    return {
        "file": (file, "is a file, not a folder"),
        "under-file": (file / "sub", "is under the file"),
        "proc": (Path("/proc/ngo-abm-out"), "is under /proc"),
    }


@pytest.mark.parametrize("case", ["file", "under-file", "proc"])
def test_bad_out_is_refused_before_any_run(tmp_path, no_simulation, case):
    out, fragment = _bad_outputs(tmp_path)[case]
    scenario = SCENARIOS / "uzbekistan.yaml"
    assert_one_line(["run", scenario, "--replicates", 20, "--out", out], "--out", fragment)
    file = write_experiment(tmp_path / "e.yaml")
    assert_one_line(["experiment", file, "--params", "scenario", "--out", out], fragment)


def test_unwritable_out_is_refused_before_any_run(tmp_path, no_simulation, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    real_access = os.access
    # Root may write into a read-only folder (CI runs as root): the folder's permission
    # bits are what the check reads, so they are what the test denies.
    monkeypatch.setattr(
        os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode)
    )
    out = locked / "out"
    assert_one_line(["run", SCENARIOS / "uzbekistan.yaml", "--out", out], "is not writable")
    assert not out.exists()


@pytest.mark.parametrize(
    ("db", "fragment"),
    [(None, "--db: is a folder, not a file"), (Path("/proc/ngo.db"), "--db: is under /proc")],
)
def test_bad_calibration_database(tmp_path, db, fragment):
    db = db or tmp_path
    argv = ["calibrate", "run", "--db", db, "--population", 2, "--generations", 1, "--workers", 1]
    assert_one_line(argv, fragment)


def test_posterior_must_be_a_parquet_file(tmp_path):
    argv = ["calibrate", "run", "--db", tmp_path / "c.db", "--posterior", tmp_path / "p.yaml"]
    assert_one_line(argv, "must end in .parquet")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------ small things


def test_a_stale_temporary_file_is_removed_at_the_next_write(tmp_path):
    target = tmp_path / "figure.png"
    stale = tmp_path / ".figure.png.abc123.tmp"
    other = tmp_path / ".summary.csv.abc123.tmp"
    stale.write_bytes(b"")
    other.write_bytes(b"")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert not stale.exists()
    assert other.exists()  # another file's leftovers wait for that file's next write


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "this machine only"),
        ("::1", "this machine only"),
        ("localhost", "this machine only"),
        ("0.0.0.0", "reachable from the network on every interface"),
        ("0", "reachable from the network on every interface"),
        ("127.1", "this machine only"),
        ("::ffff:127.0.0.1", "this machine only"),
        ("not-a-host.invalid", "wherever the name not-a-host.invalid resolves to"),
        ("192.168.1.5", "reachable from the network at 192.168.1.5"),
    ],
)
def test_dashboard_says_who_can_reach_it(host, expected):
    assert expected in reach(host)
