"""Which command may write where, and the regional files' bad input (found in session 31).

A folder holding another kind of command's outputs (a run's, an experiment's, a regional
experiment's) is refused before anything runs; a folder of the user's, or a run of the
other kind (country or regional), is written. Regional scenario years outside the run, a
missing country file and a regional run with no years to print; a write the system refuses
(a full disk). Each refusal is one line
with exit status 2, and nothing is written.
"""

from __future__ import annotations

import errno
import json
import os

import pytest
from test_bad_input import run_cli

from experiments.output_paths import outputs_kind

OUTPUTS_OF = {
    "run": ({"scenario_file": "s.yaml"}, ("timeseries.csv",)),
    "experiment": ({"experiment_file": "e.yaml", "runs_run": 4}, ("summary.csv",)),
    "regional experiment": ({"experiment_file": "e.yaml"}, ("summary.csv", "runs.csv")),
}
COMMAND_OF = {
    "run": ["run", "scenarios/kyrgyzstan.yaml", "--replicates", "1"],
    "regional run": ["run", "scenarios/central_asia.yaml", "--replicates", "1"],
    "experiment": ["experiment", "experiments/kyrgyzstan_counterfactuals.yaml"],
    "regional experiment": [
        "regional-experiment",
        "experiments/regional/central_asia_counterfactuals.yaml",
    ],
}


def _outputs(folder, kind: str) -> list[str]:
    manifest, names = OUTPUTS_OF[kind]
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    for name in names:
        (folder / name).write_text("x\n")
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("command", COMMAND_OF)
def test_a_folder_of_another_commands_outputs_is_refused_before_any_run(
    command, repo, tmp_path, monkeypatch
):
    # an experiment written over a run left the run's table beside the experiment's
    # manifest, which compare then called malformed
    monkeypatch.chdir(repo)
    writes = "run" if command.endswith("run") else command
    for kind in set(OUTPUTS_OF) - {writes}:
        folder = tmp_path / kind.replace(" ", "_")
        before = _outputs(folder, kind)
        status, out, err = run_cli([*COMMAND_OF[command], "--out", str(folder)])
        assert status == 2 and len(err.strip().splitlines()) == 1, err
        article = "an" if kind[0] in "aeiou" else "a"
        assert f"holds {article} {kind}'s outputs; write elsewhere or remove them" in err
        assert sorted(p.name for p in folder.iterdir()) == before


# And the files each writes after its runs: written one by one, the files before one that
# was a folder were left behind (a run's figure before its table), without a manifest.
WRITTEN = [
    ("run", "timeseries.png"),
    ("run", "timeseries.csv"),
    ("regional run", "network.csv"),
    ("regional run", "ties.csv"),
    ("experiment", "effects.png"),
    ("experiment", "income_no-2010-shock.png"),
    ("experiment", "drivers.csv"),
    ("regional experiment", "runs.csv"),
    ("regional experiment", "diff_uzbekistan-stays-closed.png"),
]
REPLACED = [
    (command, name)
    for command in COMMAND_OF
    for name in ("manifest.json", *(("summary.csv",) if "experiment" in command else ()))
] + WRITTEN


@pytest.mark.parametrize(("command", "name"), REPLACED)
def test_a_folder_named_as_an_output_the_command_replaces_is_refused_before_any_run(
    command, name, repo, tmp_path, monkeypatch
):
    # removing it (a manifest goes first, so that an interrupted rewrite leaves none) ended
    # in a traceback after every run
    monkeypatch.chdir(repo)
    (tmp_path / "out" / name).mkdir(parents=True)
    status, _, err = run_cli([*COMMAND_OF[command], "--out", str(tmp_path / "out")])
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert f"holds a folder named {name}" in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == [name]


@pytest.mark.parametrize("name", ["runs", "runs/baseline"])
def test_a_file_where_an_experiment_keeps_its_runs_is_refused_before_any_run(
    name, repo, tmp_path, monkeypatch
):
    # the chunks' folder was made when the first chunk was stored: a traceback after the runs
    monkeypatch.chdir(repo)
    out = tmp_path / "out"
    (out / name).parent.mkdir(parents=True, exist_ok=True)
    (out / name).write_text("", encoding="utf-8")
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    status, _, err = run_cli([*COMMAND_OF["experiment"], "--out", str(out), "--draws", "1"])
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert f"holds a file named {name}, where the command keeps its runs in a folder" in err
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_a_folder_where_an_experiment_stores_runs_is_refused_before_its_outputs_go(
    repo, tmp_path, monkeypatch
):
    # The earlier run's summary, manifest and figures were retired, then the write failed.
    monkeypatch.chdir(repo)
    out = tmp_path / "out"
    (out / "runs" / "baseline" / "draws-00000-00000.parquet").mkdir(parents=True)
    (out / "summary.csv").write_text("an earlier result\n", encoding="utf-8")
    status, _, err = run_cli([*COMMAND_OF["experiment"], "--out", str(out), "--draws", "1"])
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "holds a folder named runs/baseline/draws-00000-00000.parquet" in err
    assert (out / "summary.csv").read_text(encoding="utf-8") == "an earlier result\n"


def test_a_folder_named_as_another_commands_output_is_left_alone(repo, tmp_path, monkeypatch):
    # A run writes no summary.csv: a folder of that name is the user's.
    monkeypatch.chdir(repo)
    (tmp_path / "out" / "summary.csv").mkdir(parents=True)
    status, _, err = run_cli([*COMMAND_OF["run"], "--out", str(tmp_path / "out")])
    assert status == 0, err
    assert (tmp_path / "out" / "summary.csv").is_dir()


def test_an_output_that_cannot_be_removed_is_one_line(tmp_path, monkeypatch):
    from calibration.atomic import remove_output
    from model import ScenarioError

    def refuse(self, missing_ok=False):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(type(tmp_path), "unlink", refuse)
    with pytest.raises(ScenarioError, match="manifest.json: cannot be replaced"):
        remove_output(tmp_path / "manifest.json")


def test_an_interrupted_experiments_chunks_are_not_written_over(repo, tmp_path, monkeypatch):
    # stopped before its manifest, an experiment's folder was taken for nobody's
    monkeypatch.chdir(repo)
    folder = tmp_path / "stopped"
    (folder / "runs" / "baseline").mkdir(parents=True)
    (folder / "runs" / "baseline" / "draws-00000-00001.parquet").write_text("x")
    status, _, err = run_cli([*COMMAND_OF["run"], "--out", str(folder)])
    assert status == 2 and "holds an experiment's outputs" in err, err
    assert sorted(p.name for p in folder.iterdir()) == ["runs"]


def test_a_folder_the_user_made_or_a_run_of_the_other_kind_is_written(repo, tmp_path, monkeypatch):
    # a manifest.json of the user's own is no command's; a regional run replaces a country
    # run (test_cli.py checks which files it removes)
    monkeypatch.chdir(repo)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "manifest.json").write_text('{"author": "me"}')
    (mine / "summary.csv").write_text("mine\n")
    assert outputs_kind(mine) is None
    country = tmp_path / "country"
    _outputs(country, "run")
    assert outputs_kind(country) == "run"
    status, _, err = run_cli([*COMMAND_OF["regional run"], "--out", str(country)])
    assert status == 0, err
    assert json.loads((country / "manifest.json").read_text())["countries"]


def test_the_folders_of_the_commands_that_write_no_manifest_are_told_apart(
    repo, tmp_path, monkeypatch
):
    # reference, chains and validate wrote into a run's folder, and others into theirs
    monkeypatch.chdir(repo)
    run = tmp_path / "run"
    before = _outputs(run, "run")
    status, _, err = run_cli(["reference", "--rows", "2", "--workers", "1", "--out", str(run)])
    assert status == 2 and "holds a run's outputs" in err, err
    assert sorted(p.name for p in run.iterdir()) == before
    table, report = tmp_path / "table", tmp_path / "report"
    table.mkdir()
    (table / "rows_0000000.parquet").write_text("x")
    report.mkdir()
    (report / "chains.json").write_text("{}")
    (report / "chains_states.npz").write_text("x")
    writes_there = [
        (["validate", "--out", str(table)], "reference table"),
        (["reference", "--rows", "2", "--out", str(report)], "calibration report"),
    ]
    for argv, kind in writes_there:
        status, _, err = run_cli(argv)
        assert status == 2 and f"holds a {kind}'s outputs" in err, err
    for folder, kind in ((table, "reference table"), (report, "calibration report")):
        status, _, err = run_cli([*COMMAND_OF["run"], "--out", str(folder)])
        assert status == 2 and f"holds a {kind}'s outputs" in err, err
        sensitivity = ["sensitivity", "--method", "morris", "--samples", "2", "--out", str(folder)]
        status, _, err = run_cli(sensitivity)
        assert status == 2 and f"holds a {kind}'s outputs" in err, err
    assert [p.name for p in table.iterdir()] == ["rows_0000000.parquet"]
    assert sorted(p.name for p in report.iterdir()) == ["chains.json", "chains_states.npz"]
    # A folder of the user's with a report.md of its own is no command's: it is written.
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "report.md").write_text("my notes\n")
    assert outputs_kind(notes) is None
    assert outputs_kind(repo / "calibration" / "report") == "calibration report"


def test_compare_refuses_an_experiments_folder_as_a_run(repo, tmp_path, monkeypatch):
    monkeypatch.chdir(repo)
    folder = tmp_path / "exp"
    _outputs(folder, "experiment")
    status, out, err = run_cli(["compare", str(folder)])
    assert status == 2 and "holds an experiment's outputs" in err, err
    # Said as what compare reads, not as advice to remove the results.
    assert "compare reads the folders of ngo-abm run" in err


REGIONAL_CHANGES = {
    "restrictions[Late].first_year: 2100 is outside the run (1989-2023)": (
        "restrictions:\n  - name: Late\n    first_year: 2100\n    last_year: 2110\n"
        "    countries: [uzbekistan]\n    strength: uzbek_closure_strength\n"
        "    source: a test\n"
    ),
    "prize_criteria.0.first_year: 2150 is outside the run (1989-2023)": (
        "prize_criteria:\n  - country: kazakhstan\n    first_year: 2150\n    source: a test\n"
    ),
}


@pytest.mark.parametrize("expected", REGIONAL_CHANGES)
def test_a_regional_year_no_country_runs_is_refused(expected, repo, tmp_path):
    # a restriction or prize criterion after the run did nothing, without a word
    path = tmp_path / "ca.yaml"
    parent = repo / "scenarios" / "central_asia.yaml"
    path.write_text(f"extends: {parent}\nname: Late\n{REGIONAL_CHANGES[expected]}")
    status, out, err = run_cli(["run", str(path), "--out", str(tmp_path / "o")])
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{path}: {expected}" in err and not (tmp_path / "o").exists()


def test_a_missing_country_file_is_named_with_its_regional_field(repo, tmp_path):
    path = tmp_path / "ca.yaml"
    parent = repo / "scenarios" / "central_asia.yaml"
    path.write_text(f"extends: {parent}\nname: Missing\ncountries:\n  uzbekistan: nothere.yaml\n")
    status, out, err = run_cli(["run", str(path), "--out", str(tmp_path / "o")])
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{path}: countries.uzbekistan: {tmp_path / 'nothere.yaml'}: file not found" in err


def test_a_regional_run_without_years_to_print_says_so(repo, tmp_path):
    path = tmp_path / "ca.yaml"
    parent = repo / "scenarios" / "central_asia.yaml"
    path.write_text(f"extends: {parent}\nname: Quiet\nnetwork_years: []\nreport_years: []\n")
    status, out, err = run_cli(
        ["run", str(path), "--replicates", "1", "--out", str(tmp_path / "o")]
    )
    assert status == 0, err
    assert "Empty DataFrame" not in out
    assert "no report_years or network_years: no years to print" in out
    assert f"{tmp_path / 'o' / 'manifest.json'}" in out


def test_a_write_the_system_refuses_is_one_line_and_leaves_no_manifest(repo, tmp_path, monkeypatch):
    # A full disk, met at the first file the run writes after its manifest was removed.
    import calibration.atomic

    def no_space(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.chdir(repo)
    out = tmp_path / "run"
    assert run_cli([*COMMAND_OF["run"], "--params", "scenario", "--out", str(out)])[0] == 0
    monkeypatch.setattr(calibration.atomic.os, "replace", no_space)
    status, _, err = run_cli([*COMMAND_OF["run"], "--params", "scenario", "--out", str(out)])
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "cannot be written (No space left on device)" in err and "Traceback" not in err
    assert not (out / "manifest.json").exists()
    assert not list(out.glob(".*.tmp"))


SENSITIVITY = ["sensitivity", "--method", "morris", "--samples", "2"]


@pytest.mark.parametrize(
    "command", [*COMMAND_OF.values(), [*COMMAND_OF["experiment"], "--dry-run"], SENSITIVITY]
)
@pytest.mark.parametrize("where", ["calibration", "scenarios/counterfactuals"])
def test_outputs_never_go_among_the_projects_own_files(command, where, repo, monkeypatch):
    # compare.csv beside calibration/compare.py invited a "rm calibration/compare.*"
    monkeypatch.chdir(repo)
    before = sorted(p.name for p in (repo / where).iterdir())
    status, out, err = run_cli([*command, "--out", where])
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    top = where.split("/")[0]
    assert f"is in the project's {top}/ folder: write outputs elsewhere (out/, say)" in err
    assert sorted(p.name for p in (repo / where).iterdir()) == before


def test_a_projects_root_is_refused_and_a_folder_of_ones_own_scripts_is_not(
    repo, tmp_path, monkeypatch
):
    monkeypatch.chdir(repo)
    before = sorted(p.name for p in repo.iterdir())
    status, out, err = run_cli([*COMMAND_OF["run"], "--out", "."])
    assert status == 2 and "is a project's root folder" in err
    assert sorted(p.name for p in repo.iterdir()) == before
    (tmp_path / "analysis.py").write_text("print('mine')\n")
    status, out, err = run_cli([*COMMAND_OF["run"], "--out", str(tmp_path)])
    assert status == 0, err
    assert (tmp_path / "timeseries.csv").exists() and (tmp_path / "analysis.py").exists()
