"""The Morris screen of the calibrated parameters on the targets' errors."""

from __future__ import annotations

import pytest

from calibration.compare import compare
from calibration.simulator import SCENARIO_FILES
from calibration.targets import load_targets
from experiments.screen import ERROR_CAP, SEED, main, target_errors
from model import load_scenario, simulate


def test_target_errors_are_the_comparisons_errors_capped():
    errors = target_errors({})
    targets = load_targets()
    runs = {
        c: simulate(load_scenario(f), seed=SEED, agents=False) for c, f in SCENARIO_FILES.items()
    }
    # The one definition of fit, read the way `ngo-abm compare` reads one run.
    expected = compare(runs, targets).set_index("id").loc[[t.id for t in targets], "error"]
    assert errors == [min(e, ERROR_CAP) for e in expected]
    assert any(0.0 < e < ERROR_CAP for e in errors) and min(errors) == 0.0


def test_a_runaway_register_scores_the_cap_on_every_target():
    runaway = {
        "civic_rate": 1e4,
        "funding_rate": 1e4,
        "legitimation": 1.0,
        "competition_density": 1e6,
    }
    assert set(target_errors(runaway)) == {ERROR_CAP}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--trajectories", "1"], "--trajectories: 1: at least 2"),
        (["--workers", "0"], "--workers: 0: at least 1"),
        (["--out", "{tmp}"], "{tmp}: --out: is a folder: the screen writes one CSV file"),
        (["--out", "{tmp}/no/s.csv"], "--out: its folder does not exist"),
        (["--priors", "{tmp}/none.yaml"], "{tmp}/none.yaml: file not found"),
    ],
)
def test_bad_options_are_refused_in_one_line_before_any_run(tmp_path, capsys, argv, message):
    argv = [a.format(tmp=tmp_path) for a in argv]
    out = ["--out", str(tmp_path / "s.csv")] if "--out" not in argv else []
    assert main([*argv, *out]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message.format(tmp=tmp_path) in err, err
    assert not (tmp_path / "s.csv").exists()
