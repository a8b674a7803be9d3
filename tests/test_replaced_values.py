"""A file's own change of a calibrated value that the posterior replaces is refused.

``ngo-abm run`` on such a file ran the posterior's value without a word (the regional
experiment already refused it): ``experiments.replaced_values``.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml

from cli.main import main

CHANGES = {
    "country": (
        "kyrgyzstan.yaml",
        "donor_budget_scale: {value: 3.0, source: a test}\n",
        "donor_budget_scale: changed from kyrgyzstan.yaml, but every run takes it from the "
        "posterior median",
    ),
    # A behaviour file of one's own, with one calibrated value changed.
    "behaviour": (
        "kyrgyzstan.yaml",
        "behaviour: behaviour.yaml\n",
        "behaviour.civic_rate: changed",
    ),
    "regional": (
        "central_asia.yaml",
        "parameters:\n  tie_decay: {value: 0.05, unit: a unit, source: a test}\n",
        "parameters.tie_decay: changed from central_asia.yaml, but every run takes it from "
        "the regional posterior median",
    ),
}


def _changed(repo, write_yaml, case: str):
    parent, text, expected = CHANGES[case]
    behaviour = yaml.safe_load((repo / "scenarios" / "behaviour.yaml").read_text("utf-8"))
    behaviour["parameters"]["civic_rate"]["value"] *= 2
    write_yaml("behaviour.yaml", behaviour)
    path = write_yaml("changed.yaml", f"extends: {repo / 'scenarios' / parent}\n{text}")
    return path, expected


@pytest.mark.parametrize("case", CHANGES)
def test_a_changed_calibrated_value_is_refused_with_the_posterior(
    case, repo, write_yaml, tmp_path, clean_error
):
    path, expected = _changed(repo, write_yaml, case)
    out = tmp_path / "out"
    status = main(["run", str(path), "--replicates", "1", "--out", str(out)])
    line = clean_error(status, out, path, expected)
    assert "--params scenario" in line


@pytest.mark.parametrize("case", ["country", "regional"])
def test_the_same_file_runs_its_own_value_with_the_scenario_parameters(
    case, repo, write_yaml, tmp_path
):
    path, _ = _changed(repo, write_yaml, case)
    parent = repo / "scenarios" / CHANGES[case][0]
    tables = []
    for source, out in ((path, tmp_path / "changed"), (parent, tmp_path / "parent")):
        argv = ["run", str(source), "--replicates", "1", "--params", "scenario"]
        assert main([*argv, "--out", str(out)]) == 0
        tables.append(pd.read_csv(out / "timeseries.csv"))
    # The value runs: the two tables differ.
    assert not tables[0].equals(tables[1])


def test_the_committed_files_and_a_policy_change_still_run(repo, write_yaml, tmp_path):
    no_shock = repo / "scenarios" / "counterfactuals" / "kg_no_2010_shock.yaml"
    for source in (repo / "scenarios" / "kyrgyzstan.yaml", no_shock):
        out = tmp_path / source.stem
        assert main(["run", str(source), "--replicates", "1", "--out", str(out)]) == 0


def test_a_change_further_up_the_chain_or_through_a_link_is_refused(
    repo, write_yaml, tmp_path, clean_error
):
    # Compared only with the file it extended, a file two links down, or a link to the
    # changed file from another folder, ran the posterior's value without a word.
    changed, _ = _changed(repo, write_yaml, "country")
    below = write_yaml("below.yaml", "extends: changed.yaml\nname: two links down\n")
    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "elsewhere" / "link.yaml"
    link.symlink_to(changed)
    for path in (below, link):
        out = tmp_path / f"out-{path.stem}"
        status = main(["run", str(path), "--replicates", "1", "--out", str(out)])
        clean_error(status, out, path, "donor_budget_scale: changed from kyrgyzstan.yaml")


def test_compare_refuses_such_a_file_before_any_source_runs(
    repo, write_yaml, tmp_path, clean_error, monkeypatch
):
    changed, _ = _changed(repo, write_yaml, "country")
    monkeypatch.chdir(tmp_path)
    kyrgyzstan = repo / "scenarios" / "kyrgyzstan.yaml"
    status = main(["compare", str(kyrgyzstan), str(changed), "--replicates", "1"])
    # The first source, fine, did not run: nothing under out/.
    clean_error(status, tmp_path / "out", changed, "donor_budget_scale: changed from")


@pytest.mark.parametrize(
    ("scenario", "edit", "expected"),
    [
        ("kyrgyzstan.yaml", ("behaviour.yaml", "value: 12", "value: 50"), "behaviour.civic_rate"),
        ("central_asia.yaml", ("central_asia.yaml", "value: 0.1\n", "value: 0.9\n"), "tie_decay"),
    ],
)
def test_an_edited_copy_of_the_committed_files_is_compared_with_them(
    scenario, edit, expected, repo, tmp_path, clean_error
):
    # A copy extends no whole scenario of its own: its edited calibrated value ran the
    # posterior's without a word. It is compared with the committed file of its country.
    copy = tmp_path / "scenarios"
    shutil.copytree(repo / "scenarios", copy)
    name, old, new = edit
    text = (copy / name).read_text(encoding="utf-8")
    (copy / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    out = tmp_path / "out"
    status = main(["run", str(copy / scenario), "--replicates", "1", "--out", str(out)])
    line = clean_error(status, out, copy / scenario, expected)
    assert f"changed from the committed scenarios/{scenario}" in line


def test_an_unedited_copy_runs_and_says_it_changes_nothing(repo, tmp_path, capsys):
    copy = tmp_path / "scenarios"
    shutil.copytree(repo / "scenarios", copy)
    out = tmp_path / "out"
    assert main(["run", str(copy / "uzbekistan.yaml"), "--out", str(out)]) == 0
    assert "changes from the committed scenarios/uzbekistan.yaml: none" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f.rename(columns={"civic_rate": "civic_rat"}), "civic_rat: unknown parameter"),
        (lambda f: f.assign(civic_rate=-5.0), "civic_rate = -5"),
        (lambda f: f.assign(extra_col=1.0), "extra_col: unknown parameter"),
    ],
    ids=["renamed", "negative", "extra"],
)
def test_an_experiment_names_the_posterior_its_medians_are_refused_from(
    change, expected, repo, tmp_path, clean_error
):
    # With a counterfactual that changes a value (the Kazakh policy), the medians were
    # first set on it to see what the draws replace: "params: civic_rat: unknown parameter",
    # no file named (sensitivity names it for the same posterior).
    bad = tmp_path / "post_typo.parquet"
    change(pd.read_parquet(repo / "calibration" / "posterior.parquet")).to_parquet(bad)
    experiment = repo / "experiments" / "kyrgyzstan_counterfactuals.yaml"
    argv = ["experiment", str(experiment), "--posterior", str(bad), "--draws", "2", "--dry-run"]
    out = tmp_path / "out"
    line = clean_error(main([*argv, "--out", str(out)]), out, f"{bad}: ", expected)
    assert line.startswith(f"ngo-abm: error: {bad}: ")
