"""``ngo-abm compare``: its table, figure and printout, and its refusals of bad input."""

from __future__ import annotations

import json
import os
import shutil

import pandas as pd
import pytest
from cli_helpers import interrupt
from test_compare import BASE_TARGET

from calibration.targets import load_targets, load_unfitted
from cli.main import main


@pytest.fixture
def run_copy(kg_run_folder, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(kg_run_folder[0], folder)
    return folder


def run_cli(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_compare_writes_table_and_figure_and_prints_the_table(run_copy, repo, capsys, monkeypatch):
    monkeypatch.chdir(repo)  # the default --targets is calibration/targets.yaml
    status, out, err = run_cli(["compare", str(run_copy)], capsys)
    assert status == 0, err
    kg_targets = [
        t for t in load_targets(repo / "calibration" / "targets.yaml") if t.country == "kyrgyzstan"
    ]
    table = pd.read_csv(run_copy / "compare.csv")
    assert table.id.tolist() == [t.id for t in kg_targets]
    assert (table.replicates == 2).all()
    assert (run_copy / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The folder and the parameters its runs used, what its intervals mean, then its table.
    assert out.startswith(f"{run_copy}: 2 replicate(s), scenario behaviour values\nkyrgyzstan: ")
    assert f"/{len(kg_targets)} targets within tolerance" in out
    for t in kg_targets:
        assert t.id in out
    assert str(run_copy / "compare.csv") in out
    # The medians are the run table's, across its two replicates.
    by_year = pd.read_csv(run_copy / "timeseries.csv").groupby("year").registered.median()
    medians = table.set_index("id").model_median
    assert medians["kg_registered_2000"] == by_year[2000]
    assert medians["kg_registered_2010"] == by_year[2010]
    # The official counts never fitted, apart: written and printed after the targets.
    unfitted = pd.read_csv(run_copy / "unfitted.csv")
    kg_unfitted = [t.id for t in load_unfitted() if t.country == "kyrgyzstan"]
    assert unfitted.id.tolist() == kg_unfitted and (unfitted.group == "unfitted").all()
    assert unfitted.set_index("id").model_median["kg_registered_2016_icnl"] == by_year[2016]
    never_saw = out.index("Official figures the calibration never saw")
    assert out.index("kg_registered_2022_icnl") > never_saw > out.index("kg_registered_2000")
    assert f"/{len(kg_unfitted)} figures within tolerance" in out
    assert str(run_copy / "unfitted.csv") in out


def assert_clean_failure(status, err, folder, *fragments):
    lines = err.strip().splitlines()
    assert status == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert str(fragment) in lines[0], lines[0]
    assert not (folder / "compare.csv").exists()
    assert not (folder / "compare.png").exists()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("version: 1\ntargets: [unclosed\n", "malformed YAML"),
        ("version: 2\ntargets: []\n", "version"),
        ("- a list\n", "expected a mapping at the top level"),
    ],
    ids=["malformed", "wrong-version", "not-a-mapping"],
)
def test_compare_with_a_bad_targets_file_exits_2(run_copy, write_yaml, capsys, text, fragment):
    bad = write_yaml("targets.yaml", text)
    status, _, err = run_cli(["compare", str(run_copy), "--targets", str(bad)], capsys)
    assert_clean_failure(status, err, run_copy, bad, fragment)


def test_compare_with_a_target_outside_the_run_years_exits_2(run_copy, write_yaml, capsys):
    late = BASE_TARGET | {"id": "kg_late", "year": 2050}
    bad = write_yaml("targets.yaml", {"version": 1, "targets": [late]})
    status, _, err = run_cli(["compare", str(run_copy), "--targets", str(bad)], capsys)
    assert_clean_failure(status, err, run_copy, bad, "targets.kg_late", "outside the run")


def test_compare_with_a_base_year_before_the_run_exits_2(run_copy, write_yaml, capsys):
    early = BASE_TARGET | {"id": "kg_early_base", "base_year": 1980, "value": 2.0}
    bad = write_yaml("targets.yaml", {"version": 1, "targets": [early]})
    status, _, err = run_cli(["compare", str(run_copy), "--targets", str(bad)], capsys)
    assert_clean_failure(status, err, run_copy, "targets.kg_early_base")


def test_compare_on_a_folder_that_is_not_a_run_exits_2(tmp_path, capsys, repo):
    empty = tmp_path / "empty"
    empty.mkdir()
    targets = repo / "calibration" / "targets.yaml"
    status, _, err = run_cli(["compare", str(empty), "--targets", str(targets)], capsys)
    assert_clean_failure(status, err, empty, "timeseries.csv", "not found")


def test_compare_on_a_run_missing_an_output_column_exits_2(run_copy, capsys, repo):
    table = pd.read_csv(run_copy / "timeseries.csv").drop(columns="reporting")
    table.to_csv(run_copy / "timeseries.csv", index=False)
    targets = repo / "calibration" / "targets.yaml"
    status, _, err = run_cli(["compare", str(run_copy), "--targets", str(targets)], capsys)
    assert_clean_failure(status, err, run_copy, "timeseries.csv", "reporting")


def test_compare_on_a_run_with_a_broken_manifest_exits_2(run_copy, capsys, repo):
    (run_copy / "manifest.json").write_text("{not json", encoding="utf-8")
    targets = repo / "calibration" / "targets.yaml"
    status, _, err = run_cli(["compare", str(run_copy), "--targets", str(targets)], capsys)
    assert_clean_failure(status, err, run_copy, "manifest.json")


@pytest.mark.parametrize(
    ("make", "found"),
    [
        # /dev/zero read whole filled the machine's memory (22 GB) before the parser.
        (lambda path: path.symlink_to("/dev/zero"), "not a regular file"),
        (lambda path: path.mkdir(), "holds a folder named manifest.json"),
        (lambda path: path.write_text("[" * 200_000 + "]" * 200_000), "not JSON"),
        # An integer of 5,000 digits: Python's int() refuses it with a ValueError.
        (lambda path: path.write_text('{"replicates": ' + "2" * 5_000 + "}"), "not JSON"),
        (lambda path: (path.touch(), os.truncate(path, 65_000_000)), "more than a run writes"),
    ],
)
def test_compare_refuses_a_manifest_no_run_writes_in_one_line(run_copy, capsys, make, found):
    manifest = run_copy / "manifest.json"
    manifest.unlink()
    make(manifest)
    status, _, err = run_cli(["compare", str(run_copy)], capsys)
    assert_clean_failure(status, err, run_copy, "manifest.json", found)


def test_compare_names_the_manifest_for_a_country_no_run_has(run_copy, capsys):
    # it blamed the targets file: "targets: no target for atlantis, the run's country"
    manifest = run_copy / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**data, "country": "atlantis"}), encoding="utf-8")
    status, _, err = run_cli(["compare", str(run_copy)], capsys)
    assert_clean_failure(status, err, run_copy, "manifest.json: country: malformed manifest")
    assert "'atlantis', not one of kazakhstan, kyrgyzstan, uzbekistan" in err


def test_compare_names_a_source_too_long_for_the_system_in_one_line(tmp_path, capsys):
    source = tmp_path / ("a" * 300)
    status, _, err = run_cli(["compare", str(source)], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{source}: source: cannot be checked: File name too long" in err
    assert "Traceback" not in err and not list(tmp_path.iterdir())


def test_compare_refuses_a_run_table_that_is_a_folder_in_one_line(run_copy, capsys):
    (run_copy / "timeseries.csv").unlink()
    (run_copy / "timeseries.csv").mkdir()
    status, _, err = run_cli(["compare", str(run_copy)], capsys)
    assert_clean_failure(status, err, run_copy, "timeseries.csv", "not a readable run table")


def test_compare_on_a_run_with_an_empty_table_exits_2(run_copy, capsys, repo):
    (run_copy / "timeseries.csv").write_text("", encoding="utf-8")
    targets = repo / "calibration" / "targets.yaml"
    status, _, err = run_cli(["compare", str(run_copy), "--targets", str(targets)], capsys)
    assert_clean_failure(status, err, run_copy, "timeseries.csv")


def test_compare_with_a_folder_as_targets_exits_2(run_copy, tmp_path, capsys):
    status, _, err = run_cli(["compare", str(run_copy), "--targets", str(tmp_path)], capsys)
    assert_clean_failure(status, err, run_copy, tmp_path)


def test_compare_with_a_targets_file_that_is_not_utf8_exits_2(run_copy, tmp_path, capsys):
    bad = tmp_path / "targets.yaml"
    bad.write_bytes(b"version: 1\ntargets: \xff\xfe\n")
    status, _, err = run_cli(["compare", str(run_copy), "--targets", str(bad)], capsys)
    assert_clean_failure(status, err, run_copy, bad)


def test_compare_with_an_unknown_column_names_the_entry(run_copy, write_yaml, capsys):
    bad = write_yaml("targets.yaml", {"version": 1, "targets": [BASE_TARGET | {"column": "x"}]})
    status, _, err = run_cli(["compare", str(run_copy), "--targets", str(bad)], capsys)
    assert_clean_failure(status, err, run_copy, bad, "targets.t.column")


def test_a_run_with_no_unfitted_count_in_its_years_leaves_no_old_file(run_copy, write_yaml, capsys):
    # A run to 2005, which no official count the calibration never saw falls in.
    table, manifest = run_copy / "timeseries.csv", run_copy / "manifest.json"
    frame = pd.read_csv(table)
    frame[frame.year <= 2005].to_csv(table, index=False)
    data = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**data, "end_year": 2005}), encoding="utf-8")
    (run_copy / "unfitted.csv").write_text("left by an earlier comparison\n")
    targets = write_yaml("targets.yaml", {"version": 1, "targets": [BASE_TARGET]})
    status, out, err = run_cli(["compare", str(run_copy), "--targets", str(targets)], capsys)
    assert status == 0, err
    assert not (run_copy / "unfitted.csv").exists()
    assert "never saw" not in out


def test_compare_of_a_scenario_reads_the_targets_before_running_it(repo, tmp_path, capsys):
    out = tmp_path / "out"
    missing = tmp_path / "nowhere.yaml"
    argv = ["compare", str(repo / "scenarios" / "kyrgyzstan.yaml"), "--targets", str(missing)]
    status, _, err = run_cli([*argv, "--replicates", "1", "--out", str(out)], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{missing}: --targets: file not found" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "option",
    [["--params", "posterior"], ["--seed", "7"], ["--replicates", "5"], ["--workers", "1"]],
)
def test_a_run_option_with_only_run_folders_is_refused_not_ignored(run_copy, capsys, option):
    status, out, err = run_cli(["compare", str(run_copy), *option], capsys)
    assert status == 2 and out == ""
    assert err.strip().splitlines() == [
        f"ngo-abm: error: {option[0]}: says how a scenario runs; every source is a run folder, "
        "compared as it was run (run the scenario again to change it)"
    ]
    assert not (run_copy / "compare.csv").exists()


def test_replicates_of_the_posterior_median_are_said_to_spread_by_noise_only(run_copy, capsys):
    manifest = json.loads((run_copy / "manifest.json").read_text())
    manifest["params_source"] = "posterior median (posterior.parquet)"
    (run_copy / "manifest.json").write_text(json.dumps(manifest))
    status, out, err = run_cli(["compare", str(run_copy)], capsys)
    assert status == 0, err
    head = f"{run_copy}: 2 replicate(s), posterior median (posterior.parquet)\n"
    assert out.startswith(head + "note: every replicate ran the posterior median, so the 90% ")


@pytest.mark.parametrize("name", ["compare.json", "unfitted.csv"])
def test_compare_refuses_a_folder_named_as_a_file_it_writes_before_writing(run_copy, capsys, name):
    # compare.csv, unfitted.csv and compare.png were written before the record that could
    # not be, and left behind
    (run_copy / name).mkdir()
    before = sorted(p.name for p in run_copy.iterdir())
    status, _, err = run_cli(["compare", str(run_copy)], capsys)
    assert_clean_failure(status, err, run_copy, f"holds a folder named {name}")
    assert sorted(p.name for p in run_copy.iterdir()) == before


def test_a_comparison_stopped_while_writing_leaves_no_record_of_the_earlier_one(
    run_copy, capsys, monkeypatch, tmp_path
):
    # The new compare.csv beside the earlier compare.json would say it was made against
    # the earlier targets file.
    import experiments.runs

    assert run_cli(["compare", str(run_copy)], capsys)[0] == 0
    assert (run_copy / "compare.json").exists()

    monkeypatch.setattr(experiments.runs, "comparison_figure", interrupt)
    status, _, err = run_cli(["compare", str(run_copy)], capsys)
    assert status == 130, err
    assert (run_copy / "compare.csv").exists() and not (run_copy / "compare.json").exists()
