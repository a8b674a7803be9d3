"""Bad input to ``ngo-abm sensitivity`` (probes of sessions 29 to 31 and 79).

Each case is one clear line naming the option or the file, exit status 2, nothing
written: an absent posterior, a sample too small to estimate or too large to run, a
scenario whose start year leaves out a statistic; the default scenario is found wherever
the command runs.
"""

from __future__ import annotations

import pytest
from cli_helpers import one_line, run_cli


def test_sensitivity_refuses_a_named_posterior_that_is_absent(tmp_path):
    out = tmp_path / "out"
    argv = ["sensitivity", "--posterior", str(tmp_path / "none.parquet"), "--out", str(out)]
    status, _, err = run_cli(argv)
    one_line(status, err, "none.parquet: --posterior: file not found")
    assert not out.exists()


def test_sensitivity_reads_its_default_scenario_from_the_project_wherever_it_runs():
    from cli.main import build_parser

    scenario = build_parser().parse_args(["sensitivity"]).scenario
    assert scenario.is_absolute() and scenario.is_file()


@pytest.mark.parametrize(
    "extra, expected",
    [
        # the flag's own bounds say 2: it said "from 1", and then refused 1
        (["--method", "morris", "--samples", "1"], "must be from 2 to 65,536, got 1"),
        (["--samples", "1"], "must be from 2 to 65,536, got 1"),
        (["--samples", "65536", "--replicates", "10"], "over 1,000,000 runs"),
        (["--method", "morris", "--samples", "65536"], "over 1,000,000 runs"),
    ],
)
def test_sensitivity_refuses_a_sample_too_small_to_estimate_or_too_large_to_run(
    extra, expected, tmp_path
):
    out = tmp_path / "out"
    status, _, err = run_cli(["sensitivity", *extra, "--out", str(out)])
    one_line(status, err, "--samples", expected)
    assert not out.exists()


@pytest.mark.parametrize(
    "method, expected",
    [("sobol", "at least 2 base samples"), ("morris", "at least 2 trajectories")],
)
def test_a_sensitivity_called_from_python_refuses_one_sample(method, expected):
    from experiments.sensitivity import check_size
    from model import ScenarioError

    with pytest.raises(ScenarioError, match=expected):
        check_size(method, 1, parameters=10, replicates=1)


def test_sensitivity_names_the_start_year_that_leaves_out_a_statistic(
    scenario_file, write_yaml, tmp_path
):
    late = write_yaml("late.yaml", f"extends: {scenario_file('kyrgyzstan')}\nstart_year: 2005\n")
    status, _, err = run_cli(["sensitivity", "--scenario", str(late), "--out", str(tmp_path / "o")])
    one_line(status, err, "late.yaml: start_year:")
