"""What the commands print, as a reader of their output needs it (session 39's walk-through).

Reported whole numbers without a trailing ``.0``; the official figures never fitted in the
countries' order of the table above them; a regional experiment's money in the unit
``summary.csv`` gives; a run's changes with each series' first year of a different value
and a changed end year; a lever's change dated too; a missing posterior named for
what it is; and replicates of the posterior median said to spread by noise only.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from calibration.compare import format_table
from calibration.posterior import DEFAULT_POSTERIOR, missing_posterior
from cli.main import main
from experiments.changes import dated_experiment_changes
from experiments.experiment import experiment_from_mapping
from experiments.regional_experiment import difference_table

REPO = Path(__file__).resolve().parents[1]
KYRGYZSTAN = REPO / "scenarios" / "kyrgyzstan.yaml"


def _table(reported: list) -> pd.DataFrame:
    n = len(reported)
    return pd.DataFrame(
        {
            "country": ["kazakhstan"] * n,
            "id": [f"t{i}" for i in range(n)],
            "quantity": ["registered"] * n,
            "reported": reported,
            "tolerance": [0.1] * n,
            "model_median": [1578.0] * n,
            "model_q05": [1500.0] * n,
            "model_q95": [1600.0] * n,
            "rel_error": [-0.014] * n,
            "within_tolerance": [True] * n,
            "settled": [True] * n,
        }
    )


def test_reported_figures_print_as_the_models_columns_do():
    # A column of numbers only was read as floats and printed "1600.0"; a bound printed
    # ">=16716150000" beside a median of "16684.7M".
    rows = format_table(_table([1600.0, 0.5])).splitlines()[2:]
    assert [row.split()[2] for row in rows] == ["1,600", "0.5"]
    figures = [">=22000", 23335, ">=16716150000", "0.533-0.65", "-0.5", "1.23457e+06"]
    shown = [row.split()[2] for row in format_table(_table(figures)).splitlines()[2:]]
    assert shown == [">=22,000", "23,335", ">=16716.2M", "0.533-0.65", "-0.5", "1.2M"]


def test_the_unfitted_counts_follow_the_countries_of_the_table_above(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    region = str(REPO / "scenarios" / "central_asia.yaml")
    printed = []
    monkeypatch.setattr("builtins.print", lambda *a, **k: printed.append(" ".join(map(str, a))))
    assert main(["compare", region, "--replicates", "1", "--out", str(tmp_path / "r")]) == 0
    blocks = re.findall(r"^(\w+): \d+/\d+ (targets|counts)", "\n".join(printed), re.M)
    targets = [c for c, kind in blocks if kind == "targets"]
    counts = [c for c, kind in blocks if kind == "counts"]
    assert len(targets) == 3 and counts == [c for c in targets if c in counts]
    assert counts != ["uzbekistan", "kyrgyzstan", "kazakhstan"]  # the counts file's order


def test_a_regional_difference_is_labelled_with_the_summarys_unit():
    # It read "constant US$ (the scenario's base year)" beside a summary.csv naming 2023.
    summary = pd.DataFrame(
        {
            "counterfactual": ["cf"],
            "country": ["kazakhstan"],
            "output": ["donor_budget_usd"],
            "unit": ["constant 2023 US$"],
            "year": [2010],
            "baseline_median": [3.0e7],
            "counterfactual_median": [3.0e7],
            "difference_q10": [-38.8],
            "difference_q50": [-33.7],
            "difference_q90": [-28.6],
        }
    )
    table = difference_table(summary, [2010])
    assert table.index[0] == ("donor_budget_usd (constant 2023 US$)", "kazakhstan")


def first_line_of_run(tmp_path, capsys, text: str) -> tuple[str, bytes]:
    """Run a file extending the Kyrgyz scenario with ``text``; its first line and table."""
    path = tmp_path / "changed.yaml"
    path.write_text(f"extends: {KYRGYZSTAN}\n{text}", encoding="utf-8")
    out = tmp_path / "o"
    assert main(["run", str(path), "--params", "scenario", "--out", str(out)]) == 0
    return capsys.readouterr().out.splitlines()[0], (out / "timeseries.csv").read_bytes()


def test_a_run_prints_each_series_first_year_and_a_changed_end_year(tmp_path, capsys):
    law = (
        "end_year: 2030\nstate:\n  registration_burden:\n"
        "    points: {2019: 0.3, 2020: 0.5}\n    interpolation: step\n    source: a test\n"
    )
    first, _ = first_line_of_run(tmp_path, capsys, law)
    expected = "changes from kyrgyzstan.yaml: state.registration_burden (from 1992), "
    assert first == expected + "end_year 2023 -> 2030"


@pytest.mark.parametrize(("name", "year"), [("Future war", 2150), ("Old war", 1950)])
def test_a_change_outside_the_years_run_is_said_to_change_nothing(name, year, tmp_path, capsys):
    # A shock in 2150, or one over before 1991, was listed as a change of a run it leaves
    # as it was.
    late = (
        f"state:\n  shocks:\n    - name: {name}\n      year: {year}\n"
        "      instability: 0.5\n      source: a test of a shock outside the run\n"
    )
    first, table = first_line_of_run(tmp_path, capsys, late)
    assert first == (
        f"changes from kyrgyzstan.yaml: state.shocks[{name}] added; "
        "none of them changes the years run (1991-2023)"
    )
    base = tmp_path / "base"
    assert main(["run", str(KYRGYZSTAN), "--params", "scenario", "--out", str(base)]) == 0
    assert table == (base / "timeseries.csv").read_bytes()


def test_events_at_the_edges_of_the_run_are_said_idle_only_outside_it(tmp_path, capsys):
    def first(text: str) -> str:
        return first_line_of_run(tmp_path, capsys, text)[0]

    idle = "none of them changes the years run"
    revolution = "state:\n  neighbour_revolutions:\n    - {name: R, year: %d, source: a test}\n"
    assert idle in first(revolution % 1990) and idle in first(revolution % 2024)
    assert idle not in first(revolution % 1991)
    # A shock from 1989 that lasts into 1991 is in force in the run's first year.
    shock = (
        "state:\n  shocks:\n    - {name: S, year: 1989, duration_years: %d, instability: 0.5, "
        "source: a test}\n"
    )
    assert idle in first(shock % 2) and idle not in first(shock % 3)


def test_a_changed_end_year_alone_is_not_said_to_change_nothing(tmp_path, capsys):
    first, _ = first_line_of_run(tmp_path, capsys, "end_year: 2010\n")
    assert first == "changes from kyrgyzstan.yaml: end_year 2023 -> 2010"


def test_a_levers_change_is_dated_against_the_scenario_it_acts_on(tmp_path):
    spec = {
        "name": "levers",
        "baseline": str(KYRGYZSTAN),
        "counterfactuals": [
            {
                "name": "cut",
                "scenario": str(KYRGYZSTAN),
                "question": "What if donors were cut from 2012?",
                "levers": {"foreign_cut_year": 2012, "foreign_cut_depth": 0.5},
            }
        ],
        "outputs": ["registered"],
        "key_years": [2012],
        "draws": 2,
        "replicates": 1,
        "seed": 1,
    }
    experiment = experiment_from_mapping(tmp_path / "nb.ipynb", spec)
    assert experiment.changes["cut"] == ["levers: state.foreign_funding_restriction"]
    dated = dated_experiment_changes(experiment, "cut")
    assert dated == ["levers: state.foreign_funding_restriction (from 2012)"]


def test_a_missing_posterior_is_named_for_what_it_is(tmp_path):
    # Both read "run `ngo-abm calibrate` first", the old ABC-SMC, whatever the file.
    assert "make recalibrate" in missing_posterior(DEFAULT_POSTERIOR)
    assert missing_posterior(tmp_path / "mistyped.parquet") == "file not found"


def test_replicates_of_the_posterior_median_say_their_spread_is_noise_only(tmp_path, capsys):
    # The median's replicates were shown as bands with no word that the parameters'
    # uncertainty is not in them; draws, a single run and the file's values need none.
    note = "note: every replicate ran the posterior median"
    for params, replicates, said in (
        ("median", 2, True),
        ("auto", 2, True),
        ("posterior", 2, False),
        ("median", 1, False),
        ("scenario", 2, False),
    ):
        argv = ["run", str(KYRGYZSTAN), "--params", params, "--replicates", str(replicates)]
        assert main([*argv, "--out", str(tmp_path / f"{params}{replicates}")]) == 0
        assert (note in capsys.readouterr().out) == said, (params, replicates)


class _Terminal:
    """A stderr that says it is a terminal and keeps what is written to it."""

    def __init__(self):
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


@pytest.mark.parametrize(("cached", "said"), [(False, True), (True, False)])
def test_a_terminal_is_told_when_the_rules_compile_first(tmp_path, monkeypatch, cached, said):
    import numba

    import model.pairwise
    from cli.main import note_first_compile

    # The first run sat at "1/4" for half a minute, saying nothing.
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setattr(model.pairwise, "NUMBA_CACHE", tmp_path)
    if cached:
        (tmp_path / "year_loop.run_years-12.py312.nbi").write_bytes(b"")
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    note_first_compile()
    assert ("compiling the model's rules for this machine first" in terminal.text) is said
