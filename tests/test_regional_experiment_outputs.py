"""What a regional experiment writes and how it runs: its workers, dry run and figures.

The experiment's spec, refusals and summary are in ``test_regional_experiment.py``.
"""

from __future__ import annotations

import json

from cli_helpers import interrupt, unusable_out_folders
from test_regional_experiment import EXPERIMENT, REPO, _experiment_with, run_cli


def test_two_workers_give_the_one_workers_files_and_keep_one_pool(tmp_path, monkeypatch):
    # A pool per scenario paid the workers' start-up for each (two workers ran several
    # times slower than one); the files must not depend on the workers either way.
    import experiments.runner as runner

    moved = tmp_path / "moved.yaml"
    base = f"extends: {REPO / 'scenarios' / 'central_asia.yaml'}\nname: No mobility\n"
    moved.write_text(base + 'fixed:\n  donor_mobility: {value: 0, source: "a test"}\n')
    path = _experiment_with(tmp_path, moved)
    pools = []
    made = runner._pool

    def counted(workers):
        pools.append(workers)
        return made(workers)

    monkeypatch.setattr(runner, "_pool", counted)
    outs = {}
    for workers in (1, 2):
        outs[workers] = tmp_path / f"w{workers}"
        argv = ["regional-experiment", str(path), "--replicates", "2", "--workers", str(workers)]
        status, _, stderr = run_cli([*argv, "--out", str(outs[workers])])
        assert status == 0, stderr
    assert pools == [2]
    for name in ("summary.csv", "runs.csv"):
        assert (outs[1] / name).read_bytes() == (outs[2] / name).read_bytes(), name
    manifest = json.loads((outs[2] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["backend"] == "2 local process(es)" and manifest["params_source"].startswith(
        "regional posterior draws"
    )


def test_a_dry_run_describes_the_runs_and_writes_nothing(tmp_path):
    out = tmp_path / "o"
    argv = ["regional-experiment", str(EXPERIMENT), "--dry-run", "--out", str(out)]
    status, stdout, stderr = run_cli(argv)
    assert status == 0, stderr
    assert (
        "6 scenarios x 20 replicate(s) = 120 runs; parameters: regional posterior draws" in stdout
    )
    assert (
        "  uzbekistan-stays-closed: restrictions[Uzbekistan before its opening].last_year" in stdout
    )
    assert not out.exists()


def test_a_dry_run_checks_the_out_folder_as_the_run_would(tmp_path):
    # A dry run that passed was followed by a run that refused the folder.
    for out, message in unusable_out_folders(tmp_path):
        argv = ["regional-experiment", str(EXPERIMENT), "--dry-run", "--out", str(out)]
        status, stdout, stderr = run_cli(argv)
        assert status == 2 and not stdout, stdout
        assert "\n" not in stderr.strip() and message in stderr, stderr


def test_a_rerun_with_other_counterfactuals_leaves_no_earlier_figure(tmp_path):
    moved = tmp_path / "moved.yaml"
    base = f"extends: {REPO / 'scenarios' / 'central_asia.yaml'}\nname: No mobility\n"
    moved.write_text(base + 'fixed:\n  donor_mobility: {value: 0, source: "a test"}\n')
    out = tmp_path / "o"
    out.mkdir()
    (out / "diff_gone.png").write_bytes(b"an earlier run's figure")
    argv = ["regional-experiment", str(_experiment_with(tmp_path, moved)), "--replicates", "1"]
    status, _, stderr = run_cli([*argv, "--out", str(out)])
    assert status == 0, stderr
    assert sorted(p.name for p in out.glob("diff_*.png")) == ["diff_cf.png"]


def test_a_rerun_stopped_while_drawing_leaves_no_summary_of_the_earlier_run(tmp_path, monkeypatch):
    # Its summary was written before the figures: a stop there left this run's summary
    # without a manifest, or an earlier run's beside these runs.
    import experiments.regional_experiment as regional

    moved = tmp_path / "moved.yaml"
    base = f"extends: {REPO / 'scenarios' / 'central_asia.yaml'}\nname: No mobility\n"
    moved.write_text(base + 'fixed:\n  donor_mobility: {value: 0, source: "a test"}\n')
    path = _experiment_with(tmp_path, moved)
    argv = ["regional-experiment", str(path), "--replicates", "1", "--out", str(tmp_path / "o")]
    assert run_cli(argv)[0] == 0

    monkeypatch.setattr(regional, "write_difference_figures", interrupt)
    status, _, stderr = run_cli(argv)
    assert status == 130, stderr
    assert (tmp_path / "o" / "runs.csv").exists()
    assert not (tmp_path / "o" / "summary.csv").exists()
    assert not (tmp_path / "o" / "manifest.json").exists()
