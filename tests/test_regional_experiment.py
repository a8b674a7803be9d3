"""Regional counterfactuals (``experiments.regional_experiment``, ``ngo-abm regional-experiment``).

The shipped file's four counterfactuals each change what they say in the baseline;
scenarios run on common random numbers, so a counterfactual that only differs after 2016
gives zero paired difference up to 2016; bad input stops in one line with exit status 2.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from cli_helpers import run_cli

from experiments.git_state import git_dirty
from experiments.paired import UNSEEN
from experiments.regional_experiment import (
    BASELINE,
    OUTPUTS,
    RegionalExperimentSpec,
    load_regional_experiment,
    paired_summary,
)
from model.config_files import Strict
from model.limits import MAX_SEED
from model.regional_scenario import RegionalSpec

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = REPO / "experiments" / "regional" / "central_asia_counterfactuals.yaml"


def test_each_counterfactual_changes_what_it_says():
    _, regions = load_regional_experiment(EXPERIMENT)
    base = regions[BASELINE].spec

    def names(items):
        return {item.name for item in items}

    no_osh = regions["no-closures-after-2010"].spec
    assert names(base.restrictions) - names(no_osh.restrictions) == {
        "Obstacles after the 2010 events in Osh"
    }
    closed = {r.name: r for r in regions["uzbekistan-stays-closed"].spec.restrictions}
    assert closed["Uzbekistan before its opening"].last_year == 2023
    gone = names(base.programmes) - names(regions["no-regional-programmes"].spec.programmes)
    assert gone == {"Kazakh NGO forums", "NGO Academy", "Cooperation for Innovations"}
    assert regions["prizes-without-regional-criterion"].spec.prize_criteria == []
    for name, region in regions.items():
        assert region.countries == regions[BASELINE].countries, name


def test_paired_differences_are_counterfactual_minus_baseline_per_replicate():
    def frame(values):
        return pd.DataFrame(
            {"replicate": [0, 1, 2], "country": "kyrgyzstan", "year": 2020, "ties": values}
        )

    summary = paired_summary(
        {BASELINE: frame([10, 20, 30]), "more": frame([11, 25, 60])}, ["ties"], [2020]
    )
    row = summary.iloc[0]
    assert row.difference_q50 == 5 and row.baseline_median == 20
    assert row.counterfactual_median == 25


def test_the_command_writes_the_summary_and_pairs_on_common_random_numbers(tmp_path):
    out = tmp_path / "exp"
    status, stdout, stderr = run_cli(
        ["regional-experiment", str(EXPERIMENT), "--replicates", "1", "--out", str(out)]
    )
    assert status == 0, stderr
    # One replicate's interval is its one difference ("+624 [+624, +624]"): said so.
    assert "one replicate: each interval is that run's difference alone" in stdout
    figures = {
        f"diff_{c['name']}.png" for c in yaml.safe_load(EXPERIMENT.read_text())["counterfactuals"]
    }
    assert {p.name for p in out.iterdir()} == {"summary.csv", "runs.csv", "manifest.json"} | figures
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary.counterfactual) == {
        "no-closures-after-2010",
        "uzbekistan-stays-closed",
        "no-regional-programmes",
        "prizes-without-regional-criterion",
        "donors-keep-money-in-each-country",
    }
    # Money regional donors withhold next door, not moved, is money the region lacks.
    kept = summary[
        (summary.counterfactual == "donors-keep-money-in-each-country")
        & (summary.output == "donor_budget_usd")
        & (summary.year == 2010)
    ]
    assert len(kept) == 3 and kept.difference_q50.sum() < 0
    assert set(kept.unit) == {"constant 2023 US$"}
    ties = summary[summary.output == "cross_border_ties"]
    assert len(ties) > 0 and set(ties.unit) == {"cross-border ties"}
    # The same seed and parameters: until Uzbekistan would have opened, nothing differs.
    closed = summary[(summary.counterfactual == "uzbekistan-stays-closed") & (summary.year <= 2016)]
    assert len(closed) > 0 and (closed.difference_q50 == 0).all()
    # The issue's three outputs, each counterfactual paired with the baseline.
    assert all(name in stdout for name in ("cross_border_ties", "registered", "operational"))
    # A counterfactual whose every interval is [0, 0] is said to be unseen, no other.
    bounds = summary[["difference_q10", "difference_q90"]].eq(0).all(axis=1)
    unseen = set(summary[bounds].counterfactual) - set(summary[~bounds].counterfactual)
    blocks = {b.split(":")[0]: b for b in stdout.split("\n\n")}
    for name in set(summary.counterfactual):
        assert (UNSEEN in blocks[name]) == (name in unseen), name
    # The manifest records what ran: every scenario's files with their hashes, the design.
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["spec"]["replicates"] == 1 and len(manifest["params"]) == 1
    base = manifest["scenarios"]["baseline"]
    assert set(base["country_files"]) == {"kazakhstan", "kyrgyzstan", "uzbekistan"}
    for record in base["country_files"].values():
        assert record["sha256"] == hashlib.sha256(Path(record["file"]).read_bytes()).hexdigest()
    resolved = {s["resolved_sha256"] for s in manifest["scenarios"].values()}
    assert len(resolved) == len(manifest["scenarios"])  # each counterfactual differs
    assert manifest["git_dirty"] == git_dirty()


def test_a_bad_regional_experiment_stops_in_one_line(tmp_path):
    data = yaml.safe_load(EXPERIMENT.read_text(encoding="utf-8"))
    data["outputs"] = ["ties_everywhere"]
    data["baseline"] = str(REPO / "scenarios" / "central_asia.yaml")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    status, _, stderr = run_cli(["regional-experiment", str(path), "--out", str(tmp_path / "o")])
    assert status == 2
    assert len(stderr.strip().splitlines()) == 1 and "outputs" in stderr and str(path) in stderr
    # No allowed output is close to it: the line names every one, not how many there are.
    assert "'ties_everywhere' is not allowed: one of " in stderr
    assert all(name in stderr for name in OUTPUTS), stderr
    assert not (tmp_path / "o").exists()


def test_a_regional_experiment_of_more_runs_than_the_limit_stops_in_one_line(tmp_path):
    data = yaml.safe_load(EXPERIMENT.read_text(encoding="utf-8"))
    data["baseline"] = str(REPO / "scenarios" / "central_asia.yaml")
    one = {**data["counterfactuals"][0]}
    one["scenario"] = str((EXPERIMENT.parent / one["scenario"]).resolve())
    data["counterfactuals"] = [{**one, "name": f"copy-{i}"} for i in range(100)]
    data["replicates"] = 10_000
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    status, _, stderr = run_cli(["regional-experiment", str(path), "--out", str(tmp_path / "o")])
    assert status == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert "1,010,000 runs (scenarios x replicates); at most 1,000,000" in stderr
    assert not (tmp_path / "o").exists()
    data["replicates"] = 1
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    argv = ["regional-experiment", str(path), "--replicates", "10000", "--out", str(tmp_path / "o")]
    status, _, stderr = run_cli(argv)
    assert status == 2 and stderr.strip().endswith("at most 1,000,000 (with --replicates 10000)")


def test_the_files_own_replicates_are_checked_where_the_command_line_replaces_them(tmp_path):
    data = yaml.safe_load(EXPERIMENT.read_text(encoding="utf-8"))
    data["replicates"] = -1
    data["baseline"] = str(REPO / "scenarios" / "central_asia.yaml")
    data["counterfactuals"] = [
        {**c, "scenario": str((EXPERIMENT.parent / c["scenario"]).resolve())}
        for c in data["counterfactuals"]
    ]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    argv = ["regional-experiment", str(path), "--replicates", "1", "--out", str(tmp_path / "o")]
    status, _, stderr = run_cli(argv)
    assert status == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert f"{path}: replicates: " in stderr
    assert not (tmp_path / "o").exists()


def test_regional_inputs_share_the_scenarios_strict_model_and_no_private_name_is_imported():
    assert issubclass(RegionalExperimentSpec, Strict) and issubclass(RegionalSpec, Strict)
    packages = ("model", "calibration", "experiments", "cli", "dashboard")
    private = []
    for path in sorted(REPO.glob("*/*.py")) + [REPO / "app.py"]:
        if path.parts[-2] not in packages and path.name != "app.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            project = isinstance(node, ast.ImportFrom) and (
                node.level > 0 or (node.module or "").split(".")[0] in packages
            )
            if project:
                names = [a.name for a in node.names if a.name.startswith("_")]
                private += [f"{path.relative_to(REPO)}: {n}" for n in names if n[:2] != "__"]
    assert private == []


def test_a_missing_regional_scenario_is_named_with_its_field(tmp_path):
    data = yaml.safe_load(EXPERIMENT.read_text(encoding="utf-8"))
    data["baseline"] = str(tmp_path / "nowhere.yaml")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    status, _, stderr = run_cli(["regional-experiment", str(path), "--out", str(tmp_path / "o")])
    assert status == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert f"{path}: baseline: {tmp_path / 'nowhere.yaml'}: file not found" in stderr
    assert not (tmp_path / "o").exists()


def _experiment_with(tmp_path: Path, counterfactual: Path, key_years=(2010, 2020)) -> Path:
    data = yaml.safe_load(EXPERIMENT.read_text(encoding="utf-8"))
    data["baseline"] = str(REPO / "scenarios" / "central_asia.yaml")
    data["counterfactuals"] = [
        {"name": "cf", "scenario": str(counterfactual), "question": "What does it change?"}
    ]
    data["key_years"] = list(key_years)
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _refused(path: Path, tmp_path: Path, *expected: str) -> None:
    status, _, stderr = run_cli(["regional-experiment", str(path), "--out", str(tmp_path / "o")])
    assert status == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert all(text in stderr for text in expected), stderr
    assert not (tmp_path / "o").exists()


def test_a_counterfactual_that_changes_nothing_or_is_a_country_file_is_refused(tmp_path):
    same = tmp_path / "same.yaml"
    same.write_text(f"extends: {REPO / 'scenarios' / 'central_asia.yaml'}\nname: Same\n")
    _refused(
        _experiment_with(tmp_path, same), tmp_path, "counterfactuals[cf].scenario: changes nothing"
    )
    country = REPO / "scenarios" / "kyrgyzstan.yaml"
    _refused(
        _experiment_with(tmp_path, country),
        tmp_path,
        f"counterfactuals[cf].scenario: {country} is a country's scenario file, not a regional one",
    )
    # One that extends a country's file is one too: named by the experiment's field, not by
    # its own extends: as if the user had written it wrong.
    extending = REPO / "scenarios" / "counterfactuals" / "kg_state_funding_2005.yaml"
    _refused(
        _experiment_with(tmp_path, extending),
        tmp_path,
        f"e.yaml: counterfactuals[cf].scenario: {extending}: extends kyrgyzstan.yaml: a "
        "country's scenario file, not a regional scenario file",
    )


def test_a_country_change_after_the_run_is_refused(tmp_path):
    # It ran, and every difference was exactly 0.
    late = tmp_path / "kg_late.yaml"
    late.write_text(
        f"extends: {REPO / 'scenarios' / 'kyrgyzstan.yaml'}\nstate:\n"
        "  foreign_funding_restriction: {points: {2024: 0.5}, source: a test}\n"
    )
    region = tmp_path / "late.yaml"
    region.write_text(
        f"extends: {REPO / 'scenarios' / 'central_asia.yaml'}\nname: Late\n"
        f"countries:\n  kyrgyzstan: {late}\n"
    )
    _refused(
        _experiment_with(tmp_path, region),
        tmp_path,
        "counterfactuals[cf].scenario: changes nothing in the run: its changes "
        "(kyrgyzstan.state.foreign_funding_restriction)",
    )
    # Nor do the years a run prints or draws change what it does.
    printed = tmp_path / "printed.yaml"
    printed.write_text(
        f"extends: {REPO / 'scenarios' / 'central_asia.yaml'}\nname: Printed\n"
        "report_years: [2000, 2023]\nnetwork_years: [2000]\n"
    )
    _refused(
        _experiment_with(tmp_path, printed),
        tmp_path,
        "changes nothing in the run: its changes (network_years, report_years)",
    )


def test_a_parameter_the_posterior_replaces_is_refused_unless_held_fixed(tmp_path):
    # Under the regional posterior a file's `parameters:` value is replaced in every run:
    # the counterfactual would report no effect. Held under `fixed:` it is kept.
    base = f"extends: {REPO / 'scenarios' / 'central_asia.yaml'}\nname: No mobility\n"
    moved = tmp_path / "moved.yaml"
    value = '{value: 0, unit: share, source: "a test"}'
    moved.write_text(base + f"parameters:\n  donor_mobility: {value}\n")
    _refused(
        _experiment_with(tmp_path, moved),
        tmp_path,
        "counterfactuals[cf].scenario: sets parameters.donor_mobility, which the posterior "
        "replaces in every run (params: posterior); hold it under fixed:",
    )
    # So does a calibrated country parameter that a country file of the region changes.
    richer = tmp_path / "kg_richer.yaml"
    kyrgyzstan = REPO / "scenarios" / "kyrgyzstan.yaml"
    richer.write_text(f"extends: {kyrgyzstan}\ndonor_budget_scale: {{value: 40, source: a test}}\n")
    region = tmp_path / "richer.yaml"
    region.write_text(base + f"countries:\n  kyrgyzstan: {richer}\n")
    _refused(
        _experiment_with(tmp_path, region),
        tmp_path,
        # No hint to hold it under fixed:, which takes regional parameters only.
        "sets kyrgyzstan.donor_budget_scale, which the posterior replaces in every run "
        "(params: posterior); run with params: scenario",
    )
    held = tmp_path / "held.yaml"
    held.write_text(base + 'fixed:\n  donor_mobility: {value: 0, source: "a test"}\n')
    spec, regions = load_regional_experiment(_experiment_with(tmp_path, held))
    assert regions["cf"].with_params({"donor_mobility": 0.4}).params["donor_mobility"] == 0
    # With the file's own values (params: scenario) the change is what runs.
    data = yaml.safe_load(_experiment_with(tmp_path, moved).read_text(encoding="utf-8"))
    path = tmp_path / "scenario_params.yaml"
    path.write_text(yaml.safe_dump({**data, "params": "scenario"}), encoding="utf-8")
    assert load_regional_experiment(path)[1]["cf"].params["donor_mobility"] == 0


def test_repeated_outputs_are_refused_before_any_run(tmp_path):
    data = yaml.safe_load(EXPERIMENT.read_text(encoding="utf-8"))
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump({**data, "outputs": ["registered", "registered"]}))
    _refused(path, tmp_path, "e.yaml: outputs: ", "must not repeat")


def test_a_key_year_a_counterfactuals_country_does_not_run_is_refused(tmp_path):
    # a Kazakhstan that ends in 2012 gave NaN differences for 2020 (exit 0)
    short = tmp_path / "kz_short.yaml"
    short.write_text(f"extends: {REPO / 'scenarios' / 'kazakhstan.yaml'}\nend_year: 2012\n")
    region = tmp_path / "ca_short.yaml"
    region.write_text(
        f"extends: {REPO / 'scenarios' / 'central_asia.yaml'}\nname: Short\n"
        f"countries:\n  kazakhstan: {short}\n"
    )
    expected = "key_years: 2020 is outside the runs of kazakhstan in counterfactuals[cf].scenario"
    _refused(_experiment_with(tmp_path, region), tmp_path, expected, "(1989-2012)")


def test_a_regional_counterfactual_that_does_not_read_is_reported_as_such(tmp_path):
    # it was called "a country scenario" whatever was wrong with it
    broken = tmp_path / "broken.yaml"
    broken.write_text("extends: nowhere.yaml\nname: Broken\n")
    _refused(_experiment_with(tmp_path, broken), tmp_path, "nowhere.yaml", "file not found")
    status, _, stderr = run_cli(
        ["regional-experiment", str(tmp_path / "e.yaml"), "--out", str(tmp_path / "o")]
    )
    assert "country scenario" not in stderr


def test_seeds_that_would_pass_the_largest_are_named_with_the_file(tmp_path):
    data = yaml.safe_load(EXPERIMENT.read_text(encoding="utf-8"))
    data.update(seed=MAX_SEED, replicates=2)
    data["baseline"] = str(REPO / "scenarios" / "central_asia.yaml")
    for item in data["counterfactuals"]:
        item["scenario"] = str((EXPERIMENT.parent / item["scenario"]).resolve())
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    _refused(path, tmp_path, f"{path}: seed: 2 runs from seed {MAX_SEED}")


@pytest.mark.parametrize(
    ("command", "file", "expected"),
    [
        (
            "experiment",
            EXPERIMENT,
            "baseline: a regional scenario, so this is a regional experiment file "
            "(ngo-abm regional-experiment runs it)",
        ),
        (
            "regional-experiment",
            REPO / "experiments" / "kyrgyzstan_2035.yaml",
            "baseline: a country's scenario, so this is an experiment file "
            "(ngo-abm experiment runs it)",
        ),
    ],
)
def test_an_experiment_file_of_the_other_kind_names_the_command_that_runs_it(
    tmp_path, command, file, expected
):
    status, _, stderr = run_cli([command, str(file), "--out", str(tmp_path / "o")])
    assert status == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert f"{file}: baseline: " in stderr and expected in stderr, stderr
    assert not (tmp_path / "o").exists()


def test_a_baseline_name_too_long_for_the_system_is_one_line(tmp_path):
    data = yaml.safe_load(EXPERIMENT.read_text(encoding="utf-8"))
    data["baseline"] = "b" * 300 + ".yaml"
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    for command in ("experiment", "regional-experiment"):
        status, _, stderr = run_cli([command, str(path), "--out", str(tmp_path / "o")])
        assert status == 2 and len(stderr.strip().splitlines()) == 1, stderr
        assert "Traceback" not in stderr and f"{path}: " in stderr


def test_a_regional_question_with_an_escape_is_refused(tmp_path):
    # printed raw before the runs, and into every figure's title
    path = _experiment_with(tmp_path, REPO / "scenarios" / "central_asia.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["counterfactuals"][0]["question"] = "What if\x07 it rang?"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    _refused(path, tmp_path, "counterfactuals[cf].question: a control character ('\\x07')")
