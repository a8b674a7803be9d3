"""Bad input found by probing the commands and the Python API (session 29).

Each case is one clear line (exit status 2 from a command, a ``ValueError`` or
``ScenarioError`` naming the field from the API), with nothing written.
"""

from __future__ import annotations

import contextlib
import io
import re
import socket
import subprocess
import sys

import pytest

from cli.main import main
from model import ScenarioError, simulate


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", [["run", "scenarios/kyrgyzstan.yaml"], ["bench"]])
def test_an_empty_out_is_refused_rather_than_the_current_folder(command, repo, monkeypatch):
    monkeypatch.chdir(repo)
    status, out, err = run_cli([*command, "--out", ""])
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "--out: expected a file or folder name, got an empty one" in err


def test_the_dashboard_refuses_a_port_in_use_or_a_bad_host_before_it_starts(repo):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = {
            ("--port", str(port)): f"cannot listen on 127.0.0.1:{port}",
            ("--host", "999.1.1.1", "--port", str(port)): "--host 999.1.1.1: no such address",
        }
        for args, message in cases.items():
            done = subprocess.run(
                [sys.executable, "-m", "cli.main", "dashboard", *args],
                cwd=repo,
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
            )
            assert done.returncode == 2, done.stderr
            assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1
            assert message in done.stderr


def test_the_api_names_a_bad_seed_or_parameter(scenarios):
    scenario = scenarios["kyrgyzstan"]
    for seed in (-1, 3.7, "5", True, ()):
        with pytest.raises(ValueError, match="^seed: must be a whole number"):
            simulate(scenario, seed=seed, agents=False)
    for params, message in (
        ({"civic_rate": "0.1"}, "params: civic_rate: must be a number, got str"),
        ({"civic_rate": True}, "params: civic_rate: must be a number, got bool"),
        ([("civic_rate", 1.0)], "params: must map parameter names to numbers"),
        ({"civic_rate": -1.0}, "params: behaviour: civic_rate = -1 is outside"),
    ):
        with pytest.raises(ScenarioError, match=f"^{re.escape(message)}"):
            scenario.with_params(params)


def test_simulate_reads_a_scenario_file(repo, scenarios):
    table = simulate(repo / "scenarios" / "kyrgyzstan.yaml", seed=3, agents=False)
    assert table.equals(simulate(scenarios["kyrgyzstan"], seed=3, agents=False))


def test_sources_with_a_folder_where_the_page_goes_is_one_line(tmp_path, monkeypatch):
    import cli.sources

    (tmp_path / "docs" / "sources.md").mkdir(parents=True)
    monkeypatch.setattr(cli.sources, "ROOT", tmp_path)
    status, out, err = run_cli(["sources"])
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "sources.md: cannot write the page: Is a directory" in err
