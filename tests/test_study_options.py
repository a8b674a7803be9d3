"""The command line the studies share (experiments/options.py).

Bad input costs one line on stderr naming the option or file, exit status 2, and no
output file; an option's name is given as typed (``--max-draws``, not ``--max_draws``).
"""

from __future__ import annotations

import argparse

import pytest

from experiments import (
    age_hazards,
    density_hazards,
    emulator_check,
    input_screen,
    run_noise,
    screen,
)
from experiments.options import check_bounds
from model import ScenarioError

STUDIES = (age_hazards.main, density_hazards.main)


@pytest.mark.parametrize("main", STUDIES)
@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--draws", "0"], "--draws"),
        (["--seed", "-1"], "--seed"),
        (["--workers", "0"], "--workers"),
        (["--scenario", "scenarios/nowhere.yaml"], "nowhere.yaml"),
        (["--out", "scenarios"], "--out"),
    ],
)
def test_bad_options_get_one_line_and_status_2(main, argv, named, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0]


@pytest.mark.parametrize("main", STUDIES)
def test_a_refused_out_file_is_not_written(main, tmp_path):
    out = tmp_path / "table.csv"
    assert main(["--draws", "0", "--out", str(out)]) == 2
    assert not out.exists()


def test_an_option_is_named_as_typed():
    args = argparse.Namespace(max_draws=0)
    with pytest.raises(ScenarioError, match="--max-draws"):
        check_bounds(args, {"max_draws": (1, None)})
    check_bounds(argparse.Namespace(max_draws=5), {"max_draws": (1, 10)})


@pytest.mark.parametrize("main", STUDIES)
def test_an_option_that_is_not_a_number_is_one_line_too(main, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--draws", "abc"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--draws" in err[0] and "abc" in err[0]


@pytest.mark.parametrize(
    ("main", "option"),
    [
        (screen.main, "--trajectories"),
        (input_screen.main, "--draws"),
        (run_noise.main, "--rows"),
        (emulator_check.main, "--truths"),
    ],
)
def test_every_study_parses_in_one_line(main, option, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([option, "abc"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and option in err[0]
