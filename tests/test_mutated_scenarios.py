"""Mutated scenarios through ``ngo-abm run`` (property-based, hypothesis).

A mutated scenario must either run normally (exit 0, the three files written) or stop
cleanly (exit 2, one line on stderr, nothing written). Anything else is a failure.
"""

from __future__ import annotations

import contextlib
import copy
import math
import resource
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st
from test_cli import RUN_FILES, run_cli

# Short windows keep each run near 0.1 s of simulation; each covers different mechanisms.
WINDOWS = {
    "kyrgyzstan": (1991, 1996),  # donor influx
    "kazakhstan": (2014, 2018),  # state grants, prizes, restriction on foreign money
    "uzbekistan": (2003, 2008),  # shock with purge, donor exit and cuts
}
OTHER_TYPES = ["text", [1, 2], {"key": 1}, None, True]
NUMBERS = [0, 0.0, -1, -1e6, 1e18, 1e300, math.inf, math.nan]
# Start and end years: out of range, or moved by a year or two (runs stay short).
YEARS = [1900, 1979, 2101, *range(-2, 3)]
STRUCTURAL_OPS = ("drop", "retype", "year", "inject", "drop_point", "negate")
# Value changes reach the model (the others are mostly caught by validation): weigh them up.
OPS = (*STRUCTURAL_OPS, *("number", "add_point") * 2)


def _nodes(doc: dict) -> list[tuple]:
    """Return the path of every node below the two roots (scenario, behaviour)."""
    found = []

    def walk(node, path):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            found.append((*path, key))
            if isinstance(value, dict | list):
                walk(value, (*path, key))

    for root in doc:
        walk(doc[root], (root,))
    return found


def _pick(paths: list[tuple], pick: int, choice: int) -> tuple:
    """Pick a field fairly, then one of its year points: long series do not dominate."""
    fields: dict[tuple, list[tuple]] = {}
    for path in paths:
        field = tuple("*" if isinstance(k, int) and k >= 1000 else k for k in path)
        fields.setdefault(field, []).append(path)
    members = list(fields.values())[pick % len(fields)]
    return members[choice % len(members)]


def _get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


DROP = object()


def _target(doc: dict, op: str, pick: int, choice: int, window: tuple[int, int]):
    """Return the path a mutation changes and its new value (``DROP`` to delete it)."""
    nodes = _nodes(doc)
    if op == "drop":
        return _pick(nodes, pick, choice), DROP
    if op == "retype":
        return _pick(nodes, pick, choice), OTHER_TYPES[choice % len(OTHER_TYPES)]
    if op in ("number", "negate"):
        path = _pick([p for p in nodes if _is_number(_get(doc, p))], pick, choice)
        return path, -_get(doc, path) if op == "negate" else NUMBERS[choice % len(NUMBERS)]
    if op == "year":
        year = YEARS[choice % len(YEARS)]
        return ("scenario", ("start_year", "end_year")[pick % 2]), (
            year if year > 100 else window[pick % 2] + year
        )
    if op == "inject":
        mappings = [p for p in nodes if isinstance(_get(doc, p), dict)] + [("scenario",)]
        return (*mappings[pick % len(mappings)], "unexpected_key"), choice
    series = [p for p in nodes if isinstance(_get(doc, p), dict) and "points" in _get(doc, p)]
    points = (*_pick(series, pick, 0), "points")
    if not isinstance(_get(doc, points), dict) or not _get(doc, points):
        return None, None
    if op == "add_point":
        years = (1900, window[0] - 1, window[0], window[0] + 2, window[1], 2101)
        return (*points, years[choice % len(years)]), NUMBERS[(choice // 7) % len(NUMBERS)]
    return (*points, sorted(_get(doc, points))[choice % len(_get(doc, points))]), DROP


def _mutate(doc: dict, op: str, pick: int, choice: int, window: tuple[int, int]) -> str:
    """Apply one mutation to ``doc`` and return a description of it."""
    path, value = _target(doc, op, pick, choice, window)
    if path is None:
        return f"{op}: nothing to change"
    parent = _get(doc, path[:-1])
    where = ".".join(str(k) for k in path)
    if value is DROP:
        del parent[path[-1]]
        return f"drop {where}"
    # A copy, so that a later mutation inside it cannot alter OTHER_TYPES or nest it in itself.
    parent[path[-1]] = copy.deepcopy(value)
    return f"{where} = {value!r}"


def _base_document(flat_scenario, repo: Path, country: str) -> dict:
    scenario = flat_scenario(country)
    scenario["start_year"], scenario["end_year"] = WINDOWS[country]
    scenario["behaviour"] = "behaviour.yaml"
    behaviour = yaml.safe_load((repo / "scenarios" / "behaviour.yaml").read_text("utf-8"))
    return {"scenario": scenario, "behaviour": behaviour}


@contextlib.contextmanager
def address_space_ceiling(extra_bytes: int):
    """Cap this process's address space for a while, so a runaway allocation fails fast.

    A mutated number can ask the model for billions of NGOs; on a shared machine that
    must end as a MemoryError (a test failure), not as the machine swapping.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        used = int(statm.read().split()[0]) * resource.getpagesize()
    limit = used + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def assert_runs_or_exits_cleanly(doc: dict) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "behaviour.yaml").write_text(yaml.safe_dump(doc["behaviour"]), "utf-8")
        scenario = folder / "scenario.yaml"
        scenario.write_text(yaml.safe_dump(doc["scenario"]), "utf-8")
        out = folder / "out"
        with address_space_ceiling(4 * 2**30):
            status, _, stderr = run_cli(["run", str(scenario), "--out", str(out)])
        if status == 0:
            assert {p.name for p in out.iterdir()} == RUN_FILES
            return status
        assert status == 2, stderr
        lines = stderr.strip().splitlines()
        assert len(lines) == 1, stderr
        assert lines[0].startswith("ngo-abm: error: ")
        assert not out.exists() or not any(out.iterdir())
        return status


def mutations(ops):
    """Strategy: one to three (operation, field pick, value pick) mutations."""
    pick = st.integers(0, 10_000)
    return st.lists(st.tuples(st.sampled_from(ops), pick, pick), min_size=1, max_size=3)


SEARCH = settings(
    deadline=None,
    derandomize=True,
    database=None,
    # No shrinking: a shrink reruns the model dozens of times. A failing example is
    # reported as drawn, with each mutation noted as path = value.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)


def check_mutations(flat_scenario, repo, country, changes):
    doc = _base_document(flat_scenario, repo, country)
    for op, pick, choice in changes:
        note(_mutate(doc, op, pick, choice, WINDOWS[country]))
    event(f"exit status {assert_runs_or_exits_cleanly(doc)}")


@settings(SEARCH, max_examples=40)
@given(country=st.sampled_from(sorted(WINDOWS)), changes=mutations(OPS))
def test_mutated_scenario_runs_or_exits_cleanly(flat_scenario, repo, country, changes):
    check_mutations(flat_scenario, repo, country, changes)


@settings(SEARCH, max_examples=25)
@given(country=st.sampled_from(sorted(WINDOWS)), changes=mutations(STRUCTURAL_OPS))
def test_structurally_mutated_scenario_runs_or_exits_cleanly(flat_scenario, repo, country, changes):
    """Dropped keys, other types, moved years, unknown keys, dropped points, negated numbers.

    A narrower search than the one above (no zero, huge or non-finite numbers), so that
    structural mutations get their own examples.
    """
    check_mutations(flat_scenario, repo, country, changes)


def test_unmutated_short_windows_run(flat_scenario, repo):
    # They must run, not merely fail cleanly: they are the mutation searches' baseline.
    for country in WINDOWS:
        assert assert_runs_or_exits_cleanly(_base_document(flat_scenario, repo, country)) == 0


# Crashes the mutation search found once, pinned so that they stay fixed ---------------

INF = math.inf
KNOWN_CRASHES = [
    pytest.param(
        "kyrgyzstan",
        ("scenario", "exchange_rate", "points", 1994),
        0.0,
        id="zero-exchange-rate",
    ),
    pytest.param(
        "kyrgyzstan",
        ("scenario", "usd_cpi", "points", 2023),
        0.0,
        id="zero-cpi-in-base-year",
    ),
    pytest.param(
        "kyrgyzstan",
        ("scenario", "population_millions", "points", 1991),
        INF,
        id="infinite-population",
    ),
    pytest.param(
        "kyrgyzstan",
        ("scenario", "donors", 0, "weight", "value"),
        1e18,
        id="huge-donor-weight",
    ),
    pytest.param(
        "kyrgyzstan",
        ("scenario", "donor_budget_scale", "value"),
        math.nan,
        id="nan-donor-budget-scale",
    ),
    pytest.param(
        "kyrgyzstan",
        ("scenario", "initial_registered", "value"),
        1e18,
        id="huge-initial-register",
    ),
    pytest.param(
        "kyrgyzstan",
        ("behaviour", "parameters", "capacity_sd", "value"),
        1e300,
        id="huge-capacity-sd",
    ),
    pytest.param(
        "kazakhstan",
        ("scenario", "state", "prize_count", "value"),
        INF,
        id="infinite-prize-count",
    ),
]


@pytest.mark.parametrize(("country", "path", "value"), KNOWN_CRASHES)
def test_known_crash_runs_or_exits_cleanly(flat_scenario, repo, country, path, value):
    doc = _base_document(flat_scenario, repo, country)
    _get(doc, path[:-1])[path[-1]] = value
    assert_runs_or_exits_cleanly(doc)
