"""``ngo-abm calibrate``: options an action does not read, and claims of identification."""

import re

import numpy as np
import pandas as pd
import pytest

from calibration.posterior import effective_sample_size
from calibration.priors import load_priors
from cli.main import main
from experiments.calibration_report import identification_table


@pytest.mark.parametrize("action", [["run"], ["report"]])
def test_generation_is_refused_outside_export(tmp_path, capsys, action):
    db = [] if action == ["report"] else ["--db", str(tmp_path / "x.db")]  # report reads none
    assert main(["calibrate", *action, "--generation", "3", *db]) == 2
    assert "--generation goes with `calibrate export` only" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def _narrow_posterior(weights: np.ndarray) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    columns = {}
    for name, spec in load_priors().items():
        lo, hi = spec.quantiles(np.array([0.45, 0.55]))
        columns[name] = rng.uniform(lo, hi, size=weights.size)
    return pd.DataFrame(columns).assign(weight=weights / weights.sum())


def test_identification_is_only_claimed_with_enough_effective_particles():
    even = identification_table(_narrow_posterior(np.ones(100)))
    assert set(even.identified) == {"yes"}
    collapsed = _narrow_posterior(np.r_[1000.0, np.ones(99)])
    assert effective_sample_size(collapsed) < 2
    assert all(v.startswith("unknown (ESS 1.") for v in identification_table(collapsed).identified)


def test_identification_is_yes_below_half_the_prior_width_partly_below_0_8_else_no():
    # Each parameter's draws spread evenly so that its 90% width is a chosen share of the
    # prior's 90% width: below 0.5 is identified, below 0.8 partly, else not.
    ratios = [0.3, 0.49, 0.51, 0.79, 0.81, 0.9]
    expected = {0.3: "yes", 0.49: "yes", 0.51: "partly", 0.79: "partly", 0.81: "no", 0.9: "no"}
    columns, wanted = {}, {}
    for k, (name, spec) in enumerate(load_priors().items()):
        ratio = ratios[k % len(ratios)]
        lo, hi = spec.quantiles(np.array([0.05, 0.95]))
        columns[name] = np.linspace(lo, lo + ratio / 0.9 * (hi - lo), 1001)
        wanted[name] = (ratio, expected[ratio])
    table = identification_table(pd.DataFrame(columns).assign(weight=1 / 1001))
    for _, row in table.iterrows():
        ratio, label = wanted[row["parameter"]]
        assert row["width ratio"] == pytest.approx(ratio, abs=0.005)
        assert row["identified"] == label


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["run", "--seed", "5", "--db", "x.db"],
            "calibrate run: --seed goes with `calibrate npe`,",
        ),
        # an option typed with its default value is still typed
        (
            ["run", "--seed", "1", "--db", "x.db"],
            "calibrate run: --seed goes with `calibrate npe`,",
        ),
        (["npe", "--workers", "2"], "calibrate npe: --workers goes with `calibrate run`,"),
        # 0 equals False: a typed 0 was taken for an option not given
        (
            ["run", "--seed", "0", "--db", "x.db"],
            "calibrate run: --seed goes with `calibrate npe`,",
        ),
        (["report", "--generation", "0"], "calibrate report: --generation goes with"),
        (["report", "--posterior", "p.parquet"], "calibrate report: --posterior goes with"),
        (
            ["npe", "--population", "5"],
            "calibrate npe: --population goes with `calibrate run` only",
        ),
        (["run", "--resume", "--force", "--db", "x.db"], "--resume continues a database, --force"),
        (
            ["npe", "--db", "x.db", "--posterior", "p.parquet"],
            "calibrate npe: --db and --posterior both name the posterior: one",
        ),
    ],
)
def test_an_option_the_action_does_not_read_is_refused(
    tmp_path, capsys, monkeypatch, argv, message
):
    # pyabc's samplers take no seed, and report reads the committed posterior: both were
    # accepted and ignored
    monkeypatch.chdir(tmp_path)
    assert main(["calibrate", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_the_command_lines_default_held_back_draws_are_the_reports():
    from cli.calibrate_options import DEFAULTS
    from experiments.calibration_report import HOLDOUT_DRAWS

    assert DEFAULTS["holdout_draws"] == HOLDOUT_DRAWS


def test_the_report_and_the_regional_layer_draw_their_own_default_numbers(tmp_path):
    import inspect

    from cli.calibrate_options import check_options
    from cli.main import build_parser
    from experiments.calibration_report import write_report

    parser = build_parser()
    report = parser.parse_args(["calibrate", "report"])
    check_options(report)
    assert report.draws == 1000 == inspect.signature(write_report).parameters["draws"].default
    # A trial's folder: fewer draws than the committed files' may not replace them.
    trial = ["--out", str(tmp_path)]
    regional = parser.parse_args(["calibrate", "regional", *trial])
    check_options(regional)
    assert regional.draws == 200
    given = parser.parse_args(["calibrate", "report", "--draws", "200", *trial])
    check_options(given)
    assert given.draws == 200


def test_calibrate_without_an_action_runs_nothing(tmp_path, capsys, monkeypatch):
    # `run` was the default: a bare `ngo-abm calibrate` started ABC-SMC and, minutes later,
    # replaced the committed posterior
    monkeypatch.chdir(tmp_path)
    assert main(["calibrate", "--population", "4"]) == 2
    err = capsys.readouterr().err
    assert "required: {run,npe,emulated,report,export,regional}" in err
    assert len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_the_help_names_each_action_with_the_options_it_reads(capsys):
    from cli.calibrate_options import USES

    assert main(["calibrate", "--help"]) == 0
    text = capsys.readouterr().out
    paragraphs = re.findall(r"^  (\w+) {2,}(.*?)(?=^  \w+ {2,}|^\s*$)", text, re.M | re.S)
    found = {action: set(re.findall(r"--([\w-]+)", body)) for action, body in paragraphs}
    assert found == {a: {o.replace("_", "-") for o in uses} for a, uses in USES.items()}


def test_the_default_region_is_the_project_s_whatever_the_current_folder():
    # It was `scenarios/central_asia.yaml` relative to the current folder.
    from cli.calibrate_options import DEFAULTS
    from model.regional_files import REGIONAL_SCENARIO

    assert DEFAULTS["region"] == REGIONAL_SCENARIO
    assert REGIONAL_SCENARIO.is_absolute() and REGIONAL_SCENARIO.is_file()
