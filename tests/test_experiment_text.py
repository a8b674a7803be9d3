"""An experiment's text and its posterior's coverage, as a user reads them before the runs.

A counterfactual's question is one line of readable length (it heads the printout and
every figure); a posterior that lacks calibrated parameters is named for them, since the
runs keep the scenario's values for what it does not give (``docs/experiments.md``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_experiment import SCENARIOS, write_experiment
from test_experiment_input import _fails_in_one_line

from cli.main import main
from experiments.experiment import load_experiment

REPO = Path(__file__).resolve().parents[1]


def test_a_posterior_without_some_calibrated_parameters_says_which(tmp_path, capsys):
    # A posterior without civic_rate ran it at the scenario's value, and said nothing
    full = pd.read_parquet(REPO / "calibration" / "posterior.parquet")
    partial = tmp_path / "partial.parquet"
    full.drop(columns=["civic_rate"]).head(40).to_parquet(partial)
    file = write_experiment(tmp_path / "e.yaml", draws=2)
    out = tmp_path / "out"
    assert main(["experiment", str(file), "--posterior", str(partial), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "note: the posterior lacks 1 calibrated parameter(s) (civic_rate): the runs" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["calibrated_not_in_posterior"] == ["civic_rate"]
    # the committed posterior lacks none
    assert main(["experiment", str(file), "--out", str(tmp_path / "full")]) == 0
    assert "lacks" not in capsys.readouterr().out
    assert (
        json.loads((tmp_path / "full" / "manifest.json").read_text())["calibrated_not_in_posterior"]
        == []
    )


@pytest.mark.parametrize(
    "question, expected",
    [
        ("What if\x1b[2J the screen cleared?", "a control character ('\\x1b')"),
        ("What if" + " donors gave more" * 30 + "?", "at most 400 characters"),
    ],
    ids=["escape", "long"],
)
def test_a_question_is_one_line_of_readable_length(tmp_path, capsys, question, expected):
    # An escape in a question reached the terminal and every figure's title; 200,000
    # characters took 24 s to draw into collapsed panels.
    cf = {
        "name": "more",
        "scenario": str(SCENARIOS / "kyrgyzstan.yaml"),
        "question": question,
        "levers": {"donor_budget_scale": 2.0},
    }
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=[cf])
    where = "e.yaml: counterfactuals[more].question: "
    _fails_in_one_line(capsys, ["experiment", str(file)], tmp_path / "out", where, expected)


def test_a_folded_question_ending_in_a_line_feed_is_taken(tmp_path):
    # YAML's ">" style ends the text with a line feed, which is no control character to refuse
    text = write_experiment(tmp_path / "e.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["counterfactuals"][0]["question"] = "What did the 2010 shock cost?\n"
    (tmp_path / "f.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    experiment = load_experiment(tmp_path / "f.yaml")
    assert experiment.spec.counterfactuals[0].question == "What did the 2010 shock cost?"


def test_the_runs_are_reported_before_the_outputs_are_written(tmp_path, capsys, monkeypatch):
    # The summary, drivers and figures took 30-85 s after the runs, with nothing printed.
    import experiments.experiment

    said = []
    real = experiments.experiment.write_outputs

    def write_outputs(*args, **kwargs):
        said.append(capsys.readouterr().out)
        return real(*args, **kwargs)

    monkeypatch.setattr(experiments.experiment, "write_outputs", write_outputs)
    file = write_experiment(tmp_path / "e.yaml", draws=2)
    assert main(["experiment", str(file), "--out", str(tmp_path / "out")]) == 0
    [before] = said
    assert "ran 4 runs, reused 0 stored runs" in before
    assert before.rstrip().endswith("; writing the summary, drivers and figures")
    assert "difference [90% interval]" in capsys.readouterr().out
