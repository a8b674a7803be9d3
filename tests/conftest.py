"""Shared fixtures: the repository's paths, the three baseline runs, hand-made inputs.

The baseline runs (one per country, seed 1, one Mesa agent per NGO) are made once per
session (once per pytest-xdist worker), so the tests that read them share about half a
second of simulation. Every session also checks that no test changed the committed
calibration files. The slowest test files are collected first (``SLOW_FILES_FIRST``),
and the model's numba kernels are compiled once before the workers start.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from agent_helpers import FLAT_PATH

from cli.main import main
from model import COUNTRIES, SECTORS, NGOModel, Scenario, load_scenario, simulate
from model.agents import NGO
from model.population import Population
from model.rng import KeyedStreams

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"


COMMITTED_CALIBRATION = [
    REPO / "calibration" / name
    for name in (
        "posterior.parquet",
        "calibrated.yaml",
        "holdout_posterior.parquet",
        "holdout_calibrated.yaml",
    )
]


# The files that take a minute or more (``pytest --durations``, which every run prints),
# slowest first. They are collected before the others so that pytest-xdist (``--dist
# loadfile --no-loadscope-reorder``, pyproject.toml) starts them at once on separate
# workers, rather than one of them last on one worker while the other workers have nothing
# left to do. Only the order changes. Without ``--no-loadscope-reorder`` pytest-xdist
# sorts the files by their number of tests instead, which left this list without effect
# until session 64. test_regional_patterns.py's story runs 120 regional runs in one test (3.5
# minutes of a core beside other work in session 64), the longest file of the suite.
SLOW_FILES_FIRST = (
    "test_regional_patterns.py",
    "test_validation.py",
    "test_amortised.py",
    "test_dashboard_browser.py",
    "test_interrupts.py",
    "test_benchmark_smoke.py",
    "test_truncation.py",
    # Half a minute to a minute each beside other work (session 64), and late in the
    # alphabet, so otherwise among the last to start.
    "test_regional_experiment_outputs.py",
    "test_compilation_cache.py",
    "test_regional_experiment.py",
    "test_regional_outputs.py",
    "test_chains.py",
)


def pytest_configure(config):
    """Compile the model's kernels once, before pytest-xdist starts its workers.

    On a fresh clone numba's cache is empty, and each worker, and each worker process of
    a test that starts before the cache is written, would compile the same kernels itself
    (about 45 seconds of a core each, several at once). Compiled here, they are read from
    the cache everywhere else. Both entry points: the calibration path's compiled years
    and the kernels that ``NGOModel`` calls one by one.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") or not getattr(config.option, "numprocesses", 0):
        return
    if config.option.collectonly or config.option.help:
        return
    try:
        kyrgyzstan = load_scenario(SCENARIOS / "kyrgyzstan.yaml")
        simulate(kyrgyzstan, seed=1, agents=False)
        simulate(kyrgyzstan, seed=1)
    except Exception:
        # Only a warm-up: a model that fails here fails in the tests that run it, with a
        # report of its own, rather than as pytest's internal error before any test.
        pass


def pytest_collection_modifyitems(items):
    """Put the tests of ``SLOW_FILES_FIRST`` first, in that order (a stable sort)."""
    rank = {name: i for i, name in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def _digests(paths: list[Path]) -> dict[str, str | None]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None for p in paths
    }


@pytest.fixture(scope="session", autouse=True)
def committed_calibration_unchanged():
    """Fail the session if a test wrote over the committed posterior or its summaries."""
    before = _digests(COMMITTED_CALIBRATION)
    yield
    assert _digests(COMMITTED_CALIBRATION) == before, "a test changed the committed calibration"


@dataclass
class BaselineRun:
    """A finished run of a committed scenario, with the NGO agent count after each year."""

    scenario: Scenario
    model: NGOModel
    frame: pd.DataFrame
    ngo_agents: list[int]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def scenario_file():
    """Return the path of a committed country scenario."""

    def path(country: str) -> Path:
        return SCENARIOS / f"{country}.yaml"

    return path


@pytest.fixture(scope="session")
def scenarios() -> dict[str, Scenario]:
    return {c: load_scenario(SCENARIOS / f"{c}.yaml") for c in COUNTRIES}


@pytest.fixture(scope="session")
def baseline_runs(scenarios) -> dict[str, BaselineRun]:
    """Run each committed scenario with seed 1, stepping year by year."""
    runs = {}
    for country, scenario in scenarios.items():
        model = NGOModel(scenario, rng=1)
        counts = []
        while model.running:
            model.step()
            counts.append(len(model.agents_by_type.get(NGO, ())))
        runs[country] = BaselineRun(scenario, model, model.results(), counts)
    return runs


@pytest.fixture(scope="session")
def kg_run_folder(tmp_path_factory):
    """Run ``ngo-abm run scenarios/kyrgyzstan.yaml --seed 1 --replicates 2`` once.

    Returns the run folder and what the command printed. Tests that write into a run
    folder (``compare``) work on a copy.
    """
    out = tmp_path_factory.mktemp("run") / "kg"
    argv = ["run", str(SCENARIOS / "kyrgyzstan.yaml"), "--seed", "1", "--replicates", "2"]
    # The scenario's own behaviour values, so the table can be checked against simulate().
    argv += ["--params", "scenario"]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main([*argv, "--out", str(out)])
    assert status == 0, stderr.getvalue()
    return out, stdout.getvalue()


@pytest.fixture(scope="session")
def kg_one_run(tmp_path_factory) -> Path:
    """Run ``ngo-abm run scenarios/kyrgyzstan.yaml`` (one replicate) once; return its folder.

    Tests that edit a run folder by hand work on a copy (``kg_one_run_copy``).
    """
    folder = tmp_path_factory.mktemp("kg") / "run"
    stderr = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        status = main(["run", str(SCENARIOS / "kyrgyzstan.yaml"), "--out", str(folder)])
    assert status == 0, stderr.getvalue()
    return folder


@pytest.fixture
def kg_one_run_copy(kg_one_run, tmp_path) -> Path:
    """A copy of ``kg_one_run``'s folder, for a test to edit."""
    copied = tmp_path / "run"
    shutil.copytree(kg_one_run, copied)
    return copied


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _deep_merge(base[key], value)
        else:
            assert not isinstance(base.get(key), list), f"list override of {key} not handled"
            merged[key] = value
    return merged


@pytest.fixture(scope="session")
def flat_scenario(scenario_file, tmp_path_factory):
    """Return a builder of a committed scenario as one self-contained mapping.

    The mapping has no ``extends:`` and names its behaviour file by absolute path, so it
    can be mutated and written anywhere. Each mapping is checked to load to the same
    scenario as the committed file.
    """
    tmp = tmp_path_factory.mktemp("flat")
    flats = {}
    for country in COUNTRIES:
        child = yaml.safe_load(scenario_file(country).read_text(encoding="utf-8"))
        parent_path = SCENARIOS / child.pop("extends")
        parent = yaml.safe_load(parent_path.read_text(encoding="utf-8"))
        parent["behaviour"] = str(parent_path.parent / parent["behaviour"])
        data = _deep_merge(parent, child)
        check = tmp / f"{country}.yaml"
        check.write_text(yaml.safe_dump(data), encoding="utf-8")
        assert load_scenario(check) == load_scenario(scenario_file(country))
        flats[country] = data

    def flat(country: str) -> dict:
        return copy.deepcopy(flats[country])

    return flat


@pytest.fixture
def clean_error(capsys):
    """Check a command's bad-input exit: status 2, one stderr line, nothing written.

    Returns ``check(status, out_dir, *fragments)``, which asserts that the line holds every
    fragment and that ``out_dir`` is absent or empty, and returns the line.
    """

    def check(status: int, out_dir: Path, *expected) -> str:
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert status == 2, captured.err
        assert len(lines) == 1, captured.err
        assert "Traceback" not in captured.err
        for fragment in expected:
            assert str(fragment) in lines[0], lines[0]
        assert not out_dir.exists() or not any(out_dir.iterdir())
        return lines[0]

    return check


@pytest.fixture
def write_yaml(tmp_path):
    """Write a mapping (or raw text) to a YAML file under ``tmp_path``; return its path."""

    def write(name: str, data: dict | str) -> Path:
        path = tmp_path / name
        text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def kz_model(scenarios):
    """A Kazakh model where a test donor of weight 1 has 1 million US$ in every year."""
    return NGOModel(scenarios["kazakhstan"].with_params(FLAT_PATH), rng=3)


@pytest.fixture(scope="session")
def make_population():
    """Return a builder of hand-made populations.

    ``make_population(n, founding_year=1999, **fields)`` registers ``n`` operating NGOs
    (capacity 1, no one-project NGOs) and then overwrites any state array named in
    ``fields`` (e.g. ``status=..., prev_operating=..., founded=...``).
    """

    def build(n: int, founding_year: int = 1999, **fields) -> Population:
        pop = Population(capacity_hint=n)
        pop.add(founding_year, n, np.ones(len(SECTORS)), KeyedStreams(0), 0.0, 0.0)
        for name, values in fields.items():
            pop.view(name)[:] = values
        return pop

    return build
