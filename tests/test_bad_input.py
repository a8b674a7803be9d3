"""Bad input found by probing the commands and the Python API (sessions 29 to 31).

Each case is one clear line (exit status 2 from a command, a ``ValueError`` or
``ScenarioError`` naming the field from the API), with nothing written.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from cli_helpers import one_line, run_cli

from experiments.runs import run_replicates
from model import ScenarioError, simulate
from model.fastpath import run_compiled


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
    for seed in (-1, 3.7, "5", True):
        with pytest.raises(ValueError, match="^seed: must be a whole number"):
            simulate(scenario, seed=seed, agents=False)
    # numpy's SeedSequence drops trailing zeros: (1, 0) ran as 1, with agents or without.
    for seed in ((), (1, 0), [2]):
        for agents in (False, True):
            with pytest.raises(ValueError, match="^seed: a run's seed is one whole number"):
                simulate(scenario, seed=seed, agents=agents)
        with pytest.raises(ValueError, match="^seed: a run's seed is one whole number"):
            run_compiled(scenario, seed)
    for params, message in (
        ({"civic_rate": "0.1"}, "params: civic_rate: must be a number, got str"),
        ({"civic_rate": True}, "params: civic_rate: must be a number, got bool"),
        ([("civic_rate", 1.0)], "params: must map parameter names to numbers"),
        # a pandas row raised pandas' "truth value of a Series is ambiguous"
        (pd.Series({"civic_rate": 1.0}), "params: must map parameter names to numbers"),
        ({"civic_rate": -1.0}, "params: behaviour: civic_rate = -1 is outside"),
    ):
        with pytest.raises(ScenarioError, match=f"^{re.escape(message)}"):
            scenario.with_params(params)


def test_a_numpy_integer_seed_is_the_same_seed_with_or_without_agents(scenarios):
    # Mesa seeds its own generator with random.Random, which refuses numpy integers
    scenario = scenarios["kyrgyzstan"]
    for seed, plain in ((np.int64(5), 5), (np.uint32(5), 5)):
        table = simulate(scenario, seed=seed, agents=True)
        assert table.equals(simulate(scenario, seed=plain, agents=True))
        assert table.equals(simulate(scenario, seed=seed, agents=False))


def test_simulate_reads_a_scenario_file(repo, scenarios):
    table = simulate(repo / "scenarios" / "kyrgyzstan.yaml", seed=3, agents=False)
    assert table.equals(simulate(scenarios["kyrgyzstan"], seed=3, agents=False))


def test_sources_with_a_folder_where_the_page_goes_is_one_line(tmp_path, monkeypatch):
    import cli.sources

    (tmp_path / "docs" / "sources.md").mkdir(parents=True)
    monkeypatch.setattr(cli.sources, "ROOT", tmp_path)
    status, out, err = run_cli(["sources"])
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "sources.md: cannot be written (Is a directory)" in err


def test_compare_refuses_a_scenario_whose_years_leave_out_a_figure_before_running(
    scenario_file, write_yaml, tmp_path
):
    short = write_yaml("short.yaml", f"extends: {scenario_file('kyrgyzstan')}\nstart_year: 2000\n")
    out = tmp_path / "out"
    status, _, err = run_cli(["compare", str(short), "--replicates", "1", "--out", str(out)])
    one_line(status, err, "short.yaml: start_year: 2000-2023 leaves out", "targets.yaml")
    assert not out.exists()


def test_compare_checks_every_source_before_writing_into_any(tmp_path):
    folder, stray = tmp_path / "run", tmp_path / "notes.txt"
    folder.mkdir()
    stray.write_text("not a run")
    status, _, err = run_cli(["compare", str(folder), str(stray)])
    one_line(status, err, "notes.txt: neither a run folder nor a scenario file")
    status, _, err = run_cli(["compare", str(folder)])
    one_line(status, err, "timeseries.csv: file not found")
    assert not any(folder.iterdir())


def test_compare_refuses_one_out_folder_for_two_scenarios(scenario_file, tmp_path):
    out = tmp_path / "out"
    both = [str(scenario_file("kyrgyzstan")), str(scenario_file("kazakhstan"))]
    status, _, err = run_cli(["compare", *both, "--replicates", "1", "--out", str(out)])
    one_line(status, err, "--out: one run folder for several scenarios")
    assert not out.exists()


def test_compare_refuses_an_out_folder_when_no_scenario_is_run(tmp_path):
    # the comparison of a run folder is written beside its run: --out was silently ignored
    folder, out = tmp_path / "run", tmp_path / "elsewhere"
    folder.mkdir()
    status, _, err = run_cli(["compare", str(folder), "--out", str(out)])
    one_line(status, err, "--out: names the run folder of a scenario to run; no source is one")
    assert not out.exists() and not any(folder.iterdir())


@pytest.mark.parametrize("command", ["run", "compare"])
@pytest.mark.parametrize("name", ["kyrgyzstan_2035", "kyrgyzstan_mechanisms"])
def test_an_experiment_file_given_as_a_scenario_is_named_as_such(command, name, repo, tmp_path):
    out = tmp_path / "out"
    experiment = str(repo / "experiments" / f"{name}.yaml")
    status, _, err = run_cli([command, experiment, "--out", str(out)])
    one_line(status, err, f"{name}.yaml: ", "an experiment file, not a country's scenario")
    assert not out.exists()


def test_a_year_listed_twice_in_a_regional_file_is_one_column(repo, write_yaml):
    from model.regional_files import load_region

    regional = repo / "scenarios" / "central_asia.yaml"
    twice = write_yaml("twice.yaml", f"extends: {regional}\nreport_years: [2010, 2000, 2010]\n")
    assert load_region(twice).spec.report_years == [2000, 2010]


def test_compare_names_two_sources_that_would_share_a_run_folder(scenario_file, tmp_path):
    other = tmp_path / "alt" / "kyrgyzstan.yaml"
    other.parent.mkdir()
    other.write_text(f"extends: {scenario_file('kyrgyzstan')}\n")
    out = tmp_path / "work"
    out.mkdir()
    argv = ["compare", str(scenario_file("kyrgyzstan")), str(other), "--replicates", "1"]
    with contextlib.chdir(out):
        status, _, err = run_cli(argv)
    one_line(status, err, "kyrgyzstan.yaml and", "would compare in one run folder")
    assert not any(out.iterdir())


def test_compare_refuses_an_out_that_is_a_loop_of_links(scenario_file, tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    argv = ["compare", str(scenario_file("uzbekistan")), "--out", str(tmp_path / "a")]
    status, _, err = run_cli(argv)
    one_line(status, err, "--out: a loop of symbolic links")


def test_compare_claims_every_folder_before_running_the_first(scenario_file, tmp_path):
    held, out = tmp_path / "held", tmp_path / "out"
    assert run_cli(["run", str(scenario_file("uzbekistan")), "--out", str(held)])[0] == 0
    script = f"from experiments.locks import output_folder\nwith output_folder({str(held)!r}):\n"
    holder = subprocess.Popen(
        [sys.executable, "-c", script + "    print('held', flush=True); input()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        argv = ["compare", str(scenario_file("uzbekistan")), str(held), "--out", str(out)]
        status, _, err = run_cli([*argv, "--replicates", "1"])
        one_line(status, err, "source: in use by pid")
        assert not out.exists()
    finally:
        holder.communicate("\n")


def test_compare_of_a_regional_file_names_the_country_whose_years_leave_out_a_figure(
    repo, scenario_file, write_yaml
):
    kyrgyzstan = scenario_file("kyrgyzstan")
    short = write_yaml("short_kg.yaml", f"extends: {kyrgyzstan}\nstart_year: 2000\n")
    regional = write_yaml(
        "short_ca.yaml",
        f"extends: {repo / 'scenarios' / 'central_asia.yaml'}\ncountries:\n  kyrgyzstan: {short}\n",
    )
    status, _, err = run_cli(["compare", str(regional), "--replicates", "1"])
    one_line(status, err, "short_kg.yaml: start_year: 2000-")


# Commands the earlier probes left out (session 30) ----------------------------------------


def test_an_experiment_refuses_a_posterior_it_would_not_read(repo, tmp_path, monkeypatch):
    # --params scenario runs the files' own values: a named posterior was silently unused.
    monkeypatch.chdir(repo)
    out = tmp_path / "out"
    argv = ["experiment", "experiments/kyrgyzstan_2035.yaml", "--params", "scenario"]
    named = [*argv, "--posterior", "calibration/posterior.parquet", "--out", out, "--dry-run"]
    status, _, err = run_cli(named)
    one_line(status, err, "posterior.parquet: --posterior: given, but the runs take the scenarios'")
    assert not out.exists()
    status, _, err = run_cli([*argv, "--posterior", tmp_path / "none.parquet", "--dry-run"])
    one_line(status, err, "none.parquet: --posterior: file not found; or drop --posterior")
    status, described, _ = run_cli([*argv, "--dry-run"])
    assert status == 0 and "(no posterior)" in described


@pytest.mark.parametrize(
    "command", [["experiment", "experiments/kyrgyzstan_2035.yaml"], ["sensitivity"]]
)
def test_an_empty_scheduler_is_refused_rather_than_running_locally(command, repo, monkeypatch):
    monkeypatch.chdir(repo)
    status, _, err = run_cli([*command, "--scheduler", ""])
    one_line(status, err, "--scheduler: expected an address")


def test_chains_refuses_a_run_too_large_before_loading_anything(tmp_path):
    argv = ["chains", "--chains", "1000", "--steps", "100000", "--runs", "100"]
    status, _, err = run_cli([*argv, "--out", str(tmp_path / "o")])
    one_line(status, err, "10,000,000,000 model runs, over 1,000,000")


def test_chains_and_validate_name_the_option_of_an_out_that_is_a_file(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    for command in (["chains", "--chains", "2", "--steps", "3", "--burn-in", "1"], ["validate"]):
        status, _, err = run_cli([*command, "--out", str(afile)])
        one_line(status, err, "afile: --out:")


def test_validate_names_the_table_option_when_the_table_is_absent(tmp_path):
    table = tmp_path / "no-table"
    status, _, err = run_cli(["validate", "--table", str(table), "--out", str(tmp_path / "o")])
    one_line(status, err, "no-table: --table:")
    assert not (tmp_path / "o").exists()


def test_the_dashboard_prints_an_ipv6_address_in_brackets():
    from cli.dashboard import browser_url

    assert browser_url("::1", 8765) == "http://[::1]:8765/"
    assert browser_url("127.0.0.1", 8765) == "http://127.0.0.1:8765/"


def test_the_api_names_what_it_was_given_instead_of_a_scenario(repo, scenario_file):
    from model import NGOModel

    for bad in (None, {"name": "x"}, b"scenarios/kyrgyzstan.yaml"):
        with pytest.raises(TypeError, match="scenario must be a Scenario or a scenario file"):
            simulate(bad)
    with pytest.raises(TypeError, match="agents must be True or False"):
        simulate(scenario_file("uzbekistan"), agents="no")
    with pytest.raises(TypeError, match="agents must be True or False"):
        NGOModel(scenario_file("uzbekistan"), agents=1)
    assert simulate(scenario_file("uzbekistan"), agents=np.False_).equals(
        simulate(scenario_file("uzbekistan"), agents=False)
    )
    with pytest.raises(ScenarioError, match="countries: a regional scenario file"):
        simulate(repo / "scenarios" / "central_asia.yaml")
    model = NGOModel(scenario_file("uzbekistan"), rng=3)  # a path, as simulate takes
    assert model.config.country == "uzbekistan"


def test_compare_names_the_default_run_folder_it_cannot_write(scenario_file, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "uzbekistan").write_text("a file where the run folder would go")
    with contextlib.chdir(tmp_path):
        status, _, err = run_cli(["compare", str(scenario_file("uzbekistan"))])
    one_line(status, err, "the run folder out/<scenario>:")


def test_the_api_refuses_no_replicates_in_one_line(scenarios):
    # run_replicates(scenario, 1, 0) raised pandas' "No objects to concatenate"
    for replicates in (0, -1, True, 1.5):
        with pytest.raises(ScenarioError, match="^replicates: must be a whole number from 1"):
            run_replicates(scenarios["kyrgyzstan"], 1, replicates)
    # a numpy uint32 seed wrapped round past the largest seed instead of being refused
    with pytest.raises(ScenarioError, match="would end at seed 4294967299, above"):
        run_replicates(scenarios["kyrgyzstan"], np.uint32(2**32 - 1), 5)


def test_a_mistyped_required_key_is_named_as_written(tmp_path, repo):
    # It read "replicates: required field is missing", without the key the user wrote.
    text = (repo / "experiments" / "kyrgyzstan_counterfactuals.yaml").read_text(encoding="utf-8")
    text = text.replace("../scenarios", str(repo / "scenarios"))
    for right, wrong in (("replicates:", "replicats:"), ("baseline:", "basline:")):
        path = tmp_path / f"{wrong[:-1]}.yaml"
        path.write_text(text.replace(f"\n{right}", f"\n{wrong}", 1), encoding="utf-8")
        status, _, err = run_cli(["experiment", str(path), "--dry-run"])
        one_line(status, err, f"{path}: {wrong} unknown key (did you mean {right[:-1]}?)")
    # Beside another unknown key, the one that reads as the missing key is named.
    both = tmp_path / "both.yaml"
    both.write_text(text.replace("\nreplicates:", "\ncolour: red\nreplicats:", 1))
    status, _, err = run_cli(["experiment", str(both), "--dry-run"])
    one_line(status, err, f"{both}: replicats: unknown key (did you mean replicates?)")
    # A key that is no misspelling of a missing one is unknown, without a guess.
    extra = tmp_path / "extra.yaml"
    extra.write_text(text + "colour: red\n", encoding="utf-8")
    status, _, err = run_cli(["experiment", str(extra), "--dry-run"])
    one_line(status, err, f"{extra}: colour: unknown key")
    assert "did you mean" not in err


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        # A weight of 1e308 overflowed in the ties' draw and ran on to a wrong table.
        (
            "sectors",
            {"weights": {"ecology": 1e308}, "source": "a typo"},
            ".weights.ecology: Input should be less than or equal to 1000000",
        ),
        # 700.5 NGOs at a programme ran as if a count could be a fraction.
        ("participants", {"value": 700.5, "source": "a typo"}, ": must be a whole number of NGOs"),
    ],
)
def test_a_programme_value_no_run_can_use_is_refused_in_one_line(
    repo, write_yaml, tmp_path, field, value, said
):
    regional = str(repo / "scenarios" / "central_asia.yaml")
    programmes = [{"name": "CASDIN bulletin", field: value}]
    bad = write_yaml("bad.yaml", {"extends": regional, "programmes": programmes})
    out = tmp_path / "out"
    argv = ["run", str(bad), "--replicates", "1", "--params", "scenario", "--out", str(out)]
    status, _, err = run_cli(argv)
    one_line(status, err, f"bad.yaml: programmes[CASDIN bulletin].{field}")
    assert said in err
    assert not out.exists()
