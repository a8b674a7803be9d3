"""Bad scenario files through ``ngo-abm run``: one line naming file and field, exit 2.

Mutated scenarios extend the committed ones by absolute path, so each case is a small
file in ``tmp_path`` that changes one thing.
"""

from __future__ import annotations

import pickle
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from cli.main import main
from model import ScenarioError, load_scenario


def extending(scenario_file, country="kyrgyzstan"):
    return f"extends: {scenario_file(country)}\n"


CASES = {
    "unknown top-level key": ("colour: blue\n", "colour", "unknown key"),
    "unknown nested key": ("state:\n  grant_budget_usd: 5\n", "state.grant_budget_usd"),
    "wrong type": ("start_year: nineteen-ninety\n", "start_year", "integer"),
    "a quoted year": ("end_year: '2010'\n", "end_year", "integer"),
    "true for a number": (
        "donor_budget_scale: {value: true, source: test}\n",
        "donor_budget_scale.value",
        "number",
    ),
    "a quoted number": (
        "donor_budget_scale: {value: '20', source: test}\n",
        "donor_budget_scale.value",
        "number",
    ),
    "quoted year keys": (
        "population_millions: {points: {'1991': 4}, source: test}\n",
        "population_millions.points",
        "integer",
    ),
    # pydantic reports a `true:` key as 1 and a `null:` one as "None": named as written.
    "a true year key": ("population_millions: {points: {true: 4}}\n", "points.true.[key]"),
    "a null year key": ("population_millions: {points: {~: 4}}\n", "points.null.[key]"),
    "wrong type in a list": (
        "donors:\n  - name: UNDP\n    entry_year: soon\n",
        "donors[UNDP].entry_year",
    ),
    "negative budget": (
        "state:\n  grant_budget_local: {points: {2016: -30000000}}\n",
        "state.grant_budget_local.points",
        "negative",
    ),
    # A country of no people got donor money and ran (session 39's walk-through).
    "no people": (
        "population_millions: {points: {1991: 0, 2023: 0}, source: test}\n",
        "population_millions.points.1991",
        "value 0.0 must be positive",
    ),
    "non-positive donor weight": (
        "donors:\n  - name: UNDP\n    weight: {value: 0, source: test}\n",
        "donors[UNDP]",
        "weight must be positive",
    ),
    "end before start": ("end_year: 1990\n", "end_year", "start_year"),
    "share above one": (
        "state:\n  registration_burden: {points: {1991: 1.5}}\n",
        "state.registration_burden.points",
        "[0, 1]",
    ),
    "share below zero": (
        "state:\n  reporting_enforcement: {points: {2000: -0.1}}\n",
        "state.reporting_enforcement.points",
    ),
    "shock instability above one": (
        "state:\n  shocks:\n    - {name: x, year: 2000, instability: 2, source: test}\n",
        "state.shocks[x].instability",
    ),
    "missing required field": (
        "donors:\n  - name: New donor\n    entry_year: 2000\n",
        "donors[New donor]",
        "required",
    ),
    "unknown sector": (
        "civic_sectors: {weights: {sport: 1}}\n",
        "civic_sectors.weights",
    ),
    "a misspelt sector": (
        "civic_sectors: {weights: {ecolgy: 1}}\n",
        "civic_sectors.weights.ecolgy",
        "'ecolgy' is not allowed (did you mean ecology?)",
    ),
    "a number where a series goes": (
        "state:\n  registration_burden: {value: 0.5, source: 'test: x'}\n",
        "state.registration_burden.value",
        "unknown key (a yearly series takes points: {year: value, ...})",
    ),
    "a series where a number goes": (
        "initial_registered: {points: {1991: 3}, source: 'test: x'}\n",
        "initial_registered.points",
        "unknown key (a single number takes value:)",
    ),
    "an empty section": ("state:\n", "state", "expected a mapping of keys to values, got nothing"),
    "a bare number for a series": (
        "state:\n  registration_burden: 0.5\n",
        "state.registration_burden",
        "expected a mapping, got a number (a number takes value: and source:, a yearly series",
    ),
    # An escape sequence in a name recoloured the terminal and every figure's title.
    "a control character in a name": ('name: "Bad\\x1b[31m"\n', "name", "a control character"),
    # A line separator breaks a line; a right-to-left override shows other text than held.
    "a line separator in a name": ('name: "Bad\\u2028name"\n', "name", "a line separator"),
    "a directional override in a name": (
        'name: "Bad\\u202ename"\n',
        "name",
        "a directional formatting character",
    ),
    "a right-to-left mark in a name": (
        'name: "Bad\\u200fname"\n',
        "name",
        "a directional formatting character",
    ),
    # A currency labels every amount: 100,000 characters took minutes to draw.
    "a long currency": (f"currency: {'K' * 17}\n", "currency", "at most 16 characters"),
    "an escape in a currency": ('currency: "K\\x1bS"\n', "currency", "a control character"),
    "an empty country": ("country:\n", "country", "required: one of kazakhstan, kyrgyzstan"),
    "a number for a section": ("state: 5\n", "state", "expected a mapping of keys to values"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_value_in_an_extending_file(case, scenario_file, write_yaml, tmp_path, clean_error):
    text, *expected = CASES[case]
    bad = write_yaml("bad.yaml", extending(scenario_file) + text)
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    clean_error(status, out, bad, *expected)


def test_missing_scenario_file(tmp_path, clean_error):
    missing = tmp_path / "nowhere.yaml"
    out = tmp_path / "out"
    status = main(["run", str(missing), "--out", str(out)])
    clean_error(status, out, missing, "not found")


def test_missing_behaviour_file_names_the_field(scenario_file, write_yaml, tmp_path, clean_error):
    bad = write_yaml("bad.yaml", extending(scenario_file) + "behaviour: nowhere.yaml\n")
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    clean_error(status, out, f"bad.yaml: behaviour: {tmp_path / 'nowhere.yaml'}: file not found")


def test_a_loop_of_symbolic_links_is_one_line(scenario_file, write_yaml, tmp_path, clean_error):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    out = tmp_path / "out"
    status = main(["run", str(tmp_path / "a"), "--out", str(out)])
    clean_error(status, out, "a loop of symbolic links")
    child = write_yaml("child.yaml", f"extends: {tmp_path / 'a'}\n")
    status = main(["run", str(child), "--out", str(out)])
    clean_error(status, out, "extends: a loop of symbolic links")
    status = main(["run", str(scenario_file("kyrgyzstan")), "--out", str(tmp_path / "a" / "x")])
    clean_error(status, out, "--out: a loop of symbolic links")


def test_an_out_folder_whose_name_is_too_long_is_one_line(scenario_file, tmp_path, clean_error):
    out = tmp_path / ("a" * 300)
    status = main(["run", str(scenario_file("kyrgyzstan")), "--out", str(out)])
    # The name cannot be looked up at all, so the check that nothing was written is that
    # the folder holding it is still empty.
    clean_error(status, tmp_path, "--out: cannot be checked")


def test_bad_behaviour_file_names_that_file_and_parameter(
    scenario_file, write_yaml, tmp_path, repo, clean_error
):
    behaviour = (repo / "scenarios" / "behaviour.yaml").read_text(encoding="utf-8")
    assert "  civic_rate:\n    value: " in behaviour
    broken = behaviour.replace("  civic_rate:\n    value: ", "  civic_rate:\n    value: lots #", 1)
    behaviour_file = write_yaml("my-behaviour.yaml", broken)
    bad = write_yaml("bad.yaml", extending(scenario_file) + f"behaviour: {behaviour_file}\n")
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    clean_error(status, out, behaviour_file, "civic_rate.value")


@pytest.mark.parametrize("key", ["one_day_exit", "extends"])
def test_a_key_beside_a_behaviour_file_s_parameters_is_refused(
    key, scenario_file, write_yaml, tmp_path, repo, clean_error
):
    # A parameter indented one level too little sat beside `parameters:` and was dropped.
    behaviour = (repo / "scenarios" / "behaviour.yaml").read_text(encoding="utf-8")
    behaviour_file = write_yaml("my-behaviour.yaml", behaviour + f"{key}:\n  value: 0.0\n")
    bad = write_yaml("bad.yaml", extending(scenario_file) + f"behaviour: {behaviour_file}\n")
    out = tmp_path / "out"
    status = main(["run", str(bad), "--params", "scenario", "--out", str(out)])
    clean_error(status, out, f"{behaviour_file}: {key}: unknown key")


def test_existing_out_folder_is_left_untouched(scenario_file, write_yaml, tmp_path, clean_error):
    bad = write_yaml("bad.yaml", extending(scenario_file) + "end_year: 1800\n")
    out = tmp_path / "out"
    out.mkdir()
    status = main(["run", str(bad), "--out", str(out)])
    clean_error(status, out, bad, "end_year")


def test_load_scenario_raises_scenario_error_with_file_and_field(scenario_file, write_yaml):
    bad = write_yaml("bad.yaml", extending(scenario_file) + "donor_budget_scale: {value: -1}\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(bad)
    assert err.value.file == str(bad)
    assert "donor_budget_scale" in str(err.value)


def test_with_params_rejects_unknown_names(scenarios):
    with pytest.raises(ScenarioError, match="no_such_parameter"):
        scenarios["kyrgyzstan"].with_params({"no_such_parameter": 1.0})
    with pytest.raises(ScenarioError, match="narnia"):
        scenarios["kyrgyzstan"].with_params({"narnia.civic_rate": 1.0})


def test_real_command_prints_one_line_and_no_traceback(repo, scenario_file, write_yaml, tmp_path):
    bad = write_yaml(
        "bad.yaml",
        extending(scenario_file) + "state:\n  registration_burden: {points: {1991: 1.5}}\n",
    )
    out = tmp_path / "out"
    done = subprocess.run(
        [str(repo / ".venv" / "bin" / "ngo-abm"), "run", str(bad), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert str(bad) in lines[0] and "state.registration_burden.points" in lines[0]
    assert not out.exists()


def test_folder_given_as_scenario(tmp_path, clean_error):
    out = tmp_path / "out"
    status = main(["run", str(tmp_path), "--out", str(out)])
    clean_error(status, out, tmp_path, "is a folder, not a file")


def test_scenario_file_that_is_not_utf8(tmp_path, clean_error):
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("name: Bishkek\ndescription: caf\xe9\n".encode("latin-1"))
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    clean_error(status, out, bad)


def test_scenario_error_survives_pickling():
    err = pickle.loads(pickle.dumps(ScenarioError("a.yaml", "donors.0.name", "bad")))
    assert isinstance(err, ScenarioError)
    assert (err.file, err.field, err.message) == ("a.yaml", "donors.0.name", "bad")
    assert str(err) == "a.yaml: donors.0.name: bad"


def flooded(scenario_file, write_yaml, more: str = "") -> Path:
    """Write a Kyrgyz scenario whose register runs away in 1991.

    Valid inputs, but a civic founding rate at its bound in a country at the population
    bound calls for more foundings than the model allows.
    """
    behaviour = yaml.safe_load((scenario_file("kyrgyzstan").parent / "behaviour.yaml").read_text())
    behaviour["parameters"]["civic_rate"]["value"] = 1e4
    eager = write_yaml("eager.yaml", behaviour)
    return write_yaml(
        "flooded.yaml",
        extending(scenario_file)
        + f"end_year: 1995\nbehaviour: {eager}\n{more}"
        + "population_millions: {points: {1991: 2000}, source: test}\n",
    )


def test_a_run_that_fails_in_a_worker_process_gives_one_line(
    scenario_file, write_yaml, tmp_path, capsys
):
    # The error is raised inside the worker processes and must reach the user intact.
    bad = flooded(scenario_file, write_yaml)
    out = tmp_path / "out"
    args = ["--params", "scenario", "--replicates", "2", "--workers", "2", "--out", str(out)]
    status = main(["run", str(bad), *args])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err and "BrokenProcessPool" not in err
    # The progress bar shares stderr; the error is the one line after it.
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1 and "expected registrations" in errors[0], err
    # The file the user gave, not only the scenario's name, which a run alone knows.
    assert f"error: {bad}: year 1991: " in errors[0], err
    assert errors[0].endswith("(scenario 'Kyrgyzstan baseline')"), err
    assert not out.exists() or not any(out.iterdir())


def test_a_runaway_counterfactual_names_the_experiment_file(
    scenario_file, write_yaml, tmp_path, capsys
):
    counterfactual = {
        "name": "flooded",
        "scenario": str(flooded(scenario_file, write_yaml, "name: Flooded\n")),
        "question": "What if the register ran away?",
    }
    spec = {
        "name": "runaway",
        "baseline": str(scenario_file("kyrgyzstan")),
        "counterfactuals": [counterfactual],
        "outputs": ["registered"],
        "key_years": [1995],
        "end_year": 1995,
        "draws": 1,
        "replicates": 1,
        "seed": 1,
        "params": "scenario",
    }
    experiment = write_yaml("experiment.yaml", spec)
    status = main(["experiment", str(experiment), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"ngo-abm: error: {experiment}: year 1991: "), err
    # Named by its entry in the experiment file (a counterfactual of levers keeps the
    # baseline's scenario name).
    assert last.endswith("(above 1,000,000): check budgets and rates (scenario 'flooded')"), err
    assert "Traceback" not in err


def test_a_runaway_error_keeps_its_kind_across_processes_and_names_the_file():
    from model import RunawayError

    err = pickle.loads(pickle.dumps(RunawayError("Some scenario", "year 1993", "too many")))
    assert isinstance(err, RunawayError)
    named = err.in_file("a.yaml")
    assert str(named) == "a.yaml: year 1993: too many (scenario 'Some scenario')"
    assert type(named) is ScenarioError


def test_a_key_with_a_line_break_is_named_on_one_line(scenario_file, write_yaml, tmp_path):
    path = write_yaml("k.yaml", f'extends: {scenario_file("kyrgyzstan")}\n"bad\\nkey": 1\n')
    status = main(["run", str(path), "--out", str(tmp_path / "o")])
    assert status == 2
    with pytest.raises(ScenarioError, match=re.escape("'bad\\nkey': unknown key")) as err:
        load_scenario(path)
    assert "\n" not in str(err.value)


def test_a_name_with_dollar_signs_is_drawn_as_written(scenario_file, write_yaml, tmp_path):
    # Matplotlib reads "$...$" as mathtext; this one is no valid formula.
    text = f"extends: {scenario_file('uzbekistan')}\nname: 'Uzbekistan at $\\nosuch$ 5'\n"
    path = write_yaml("s.yaml", text + "end_year: 1995\n")
    out = tmp_path / "out"
    status = main(
        ["run", str(path), "--replicates", "2", "--params", "scenario", "--out", str(out)]
    )
    assert status == 0
    assert (out / "timeseries.png").stat().st_size > 0
