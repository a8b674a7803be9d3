"""A quick run of a command that rebuilds committed calibration files goes to --out DIR.

``calibrate report --draws 20``, ``chains --steps 4`` and ``calibrate regional --draws 4``
replaced the committed report, chains.json and regional posterior without a word
(``cli.committed``); the Makefile's full-size runs still write them.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pandas as pd
import pytest
import yaml

import calibration.amortised as amortised
import experiments.calibration_report as calibration_report
import experiments.regional_calibration as regional_report
from calibration.regional import REGIONAL_POSTERIOR
from calibration.regional_patterns import load_patterns
from cli.chains import COMMITTED
from cli.committed import REGIONAL_DRAWS, REPORT_FOLDER
from cli.committed import REGIONAL_POSTERIOR as WRITTEN_OUT_POSTERIOR
from cli.main import main
from model import ScenarioError

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "calibration" / "report"


def _committed_state() -> dict[Path, int]:
    """Return the modification time of every committed file these commands write."""
    files = [*REPORT.iterdir(), *REPO.glob("calibration/regional_posterior.*")]
    return {p: p.stat().st_mtime_ns for p in files}


def _never(*args, **kwargs):
    raise AssertionError("the command ran")


@pytest.fixture
def nothing_runs(monkeypatch):
    """Make every computation of the three commands fail the test if it starts."""
    monkeypatch.setattr(calibration_report, "write_report", _never)
    monkeypatch.setattr(regional_report, "calibrate_and_report", _never)
    monkeypatch.setattr(amortised, "load_estimator", _never)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["calibrate", "report", "--draws", "20", "--holdout-draws", "20", "--workers", "2"],
            "calibrate report --draws 20 --holdout-draws 20 would replace the committed "
            "report, made with --draws 1000 --holdout-draws 1000; give --out DIR for a trial run",
        ),
        (
            ["calibrate", "report", "--holdout-draws", "20"],
            "calibrate report --holdout-draws 20 would replace the committed report, made "
            "with --holdout-draws 1000;",
        ),
        (
            ["calibrate", "regional", "--draws", "4"],
            "calibrate regional --draws 4 would replace the committed regional posterior and "
            "report, made with --draws 2400; give --out DIR for a trial run",
        ),
        (
            ["calibrate", "regional"],
            "calibrate regional --draws 200 (the default) would replace the committed",
        ),
        (
            ["chains", "--chains", "2", "--steps", "4", "--burn-in", "1", "--runs", "1"],
            "chains --chains 2 --steps 4 --burn-in 1 --runs 1 would replace the committed "
            "chains.json, made with --chains 16 --steps 300 --burn-in 100 --runs 2; give "
            "--out DIR for a trial run",
        ),
        (
            ["chains", "--steps", "200", "--out", str(REPORT)],
            "chains --steps 200 would replace the committed chains.json, made with --steps 300;",
        ),
    ],
)
def test_a_run_smaller_than_the_committed_one_may_not_replace_it(
    argv, expected, nothing_runs, capsys
):
    before = _committed_state()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ngo-abm: error: ") and expected in err
    assert len(err.strip().splitlines()) == 1
    assert _committed_state() == before


def _makefile_commands() -> list[list[str]]:
    """Return the Makefile's `recalibrate` lines of the three commands, as argument lists."""
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    lines = re.findall(
        r"\$\(BIN\)/ngo-abm ((?:calibrate report|calibrate regional|chains).*)", text
    )
    return [shlex.split(line) for line in lines]


def test_the_makefiles_full_runs_still_write_the_committed_files(monkeypatch, capsys):
    # Each gets past the check to its computation, stopped there by a stand-in.
    def reached(*args, **kwargs):
        raise ScenarioError("reached", "", "the computation")

    monkeypatch.setattr(calibration_report, "write_report", reached)
    monkeypatch.setattr(regional_report, "calibrate_and_report", reached)
    monkeypatch.setattr(amortised, "load_estimator", reached)
    commands = _makefile_commands()
    assert [c[:2] for c in commands] == [
        ["calibrate", "report"],
        ["chains", "--workers"],
        ["calibrate", "regional"],
    ]
    for argv in commands:
        assert main(argv) == 2
        assert capsys.readouterr().err.strip() == "ngo-abm: error: reached: the computation"


def test_the_committed_sizes_are_those_the_committed_files_record():
    assert REPORT_FOLDER == calibration_report.REPORT_DIR
    assert WRITTEN_OUT_POSTERIOR == REGIONAL_POSTERIOR
    summary = yaml.safe_load(REGIONAL_POSTERIOR.with_suffix(".yaml").read_text("utf-8"))
    assert summary["draws"] == REGIONAL_DRAWS
    settings = json.loads((REPORT / "chains.json").read_text("utf-8"))["settings"]
    assert {k: settings[k] for k in COMMITTED} == COMMITTED
    report = (REPORT / "report.md").read_text("utf-8")
    assert "## Posterior predictive check (1000 posterior draws" in report
    assert "Forecasts from 1,000 draws of the held-back posterior" in report


def _fake_regional_runs(monkeypatch) -> None:
    """Make ``calibrate regional`` cheap: three kept draws, no predictive or country runs."""
    from calibration.regional import RegionalDraw, draws_table, prior_draw

    every = {p.id: True for p in load_patterns()}
    draws = [RegionalDraw(i, prior_draw(1, i), 100 + i) for i in range(3)]
    outcomes = {"countries_as_alone": True, "lost_targets": "", "log_weight": 0.0}
    table = draws_table(draws, [{**every, **outcomes}] * 3)
    monkeypatch.setattr(regional_report, "run_calibration", lambda *args: table)
    monkeypatch.setattr(regional_report, "predictive_patterns", lambda *args: every)
    monkeypatch.setattr(regional_report, "country_check", lambda *args: None)
    monkeypatch.setattr(regional_report, "country_lines", lambda check: [])


def test_a_trial_of_the_regional_layer_writes_every_file_into_its_folder(
    tmp_path, monkeypatch, capsys
):
    _fake_regional_runs(monkeypatch)
    before = _committed_state()
    out = tmp_path / "trial"
    assert main(["calibrate", "regional", "--draws", "3", "--workers", "1", "--out", str(out)]) == 0
    names = ["regional_posterior.parquet", "regional_posterior.yaml", "regional.md"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, "regional_draws.csv"])
    assert len(pd.read_parquet(out / "regional_posterior.parquet")) == 3
    assert yaml.safe_load((out / "regional_posterior.yaml").read_text("utf-8"))["draws"] == 3
    assert (
        f"wrote {out / names[0]}, {out / names[1]} and {out / names[2]}" in capsys.readouterr().out
    )
    assert _committed_state() == before


def test_a_trial_report_is_written_into_its_folder(tmp_path, monkeypatch, capsys):
    given = {}

    def write_report(**kwargs):
        given.update(kwargs)
        return kwargs["out"] / "report.md"

    monkeypatch.setattr(calibration_report, "write_report", write_report)
    out = tmp_path / "trial"
    argv = ["calibrate", "report", "--draws", "20", "--holdout-draws", "20", "--out", str(out)]
    assert main(argv) == 0
    assert given["out"] == out and given["draws"] == 20 and given["holdout_draws"] == 20
    assert capsys.readouterr().out.strip() == f"wrote {out / 'report.md'}"


@pytest.mark.parametrize(
    "argv",
    [
        ["calibrate", "regional", "--draws", "4", "--out", "calibration"],
        ["calibrate", "report", "--draws", "4", "--out", "calibration/trial"],
        ["chains", "--steps", "4", "--burn-in", "1", "--out", "calibration"],
    ],
)
def test_a_trial_inside_the_projects_folders_is_refused(argv, nothing_runs, monkeypatch, capsys):
    # A trial's regional posterior in calibration/ would be the committed one.
    monkeypatch.chdir(REPO)
    before = _committed_state()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("--out: is in the project's calibration/ folder: write outputs "
                        "elsewhere (out/, say)")  # fmt: skip
    assert _committed_state() == before
    assert not (REPO / "calibration" / "trial").exists()


def test_out_goes_with_the_report_and_the_regional_layer_only(tmp_path, capsys):
    argv = ["calibrate", "run", "--db", str(tmp_path / "x.db"), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(
        "calibrate run: --out goes with `calibrate report`, `calibrate regional` only"
    )
    assert list(tmp_path.iterdir()) == []
