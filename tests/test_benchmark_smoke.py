"""Smoke tests of ``ngo-abm bench --quick``: it runs and prints well-formed records.

No timing is asserted: speed is measured by the benchmark, never by tests.
"""

import json
import math

import pytest

from cli.main import main
from experiments import bench_report
from experiments.benchmark import CASES, GOALS, summary

TIMED = ("seconds", "agent_years", "us_per_agent_year")
NUMERIC = {
    "run_kg": (*TIMED, "ngos_founded"),
    "run_kg_no_agents": (*TIMED, "ngos_founded"),
    "mesa_floor": TIMED,
    "numpy_floor": TIMED,
    "run_kg_x10": (*TIMED, "ngos_founded"),
    "memory": ("peak_rss_mb", "loaded_rss_mb"),
    "ensemble": ("runs", "runs_per_second_1", "runs_per_second_2", "speedup"),
    "calib_path": ("seconds_compiled", "seconds_numpy", "us_per_ngo_year_compiled", "speedup"),
    "calib_batch": ("runs", "runs_per_second_compiled", "runs_per_second_numpy", "speedup"),
    "compile": ("seconds_cold", "seconds_cached"),
}


def _json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _finite_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def test_quick_bench_prints_one_record_per_case_and_writes_them(tmp_path, capsys):
    out = tmp_path / "bench.jsonl"

    assert main(["bench", "--quick", "--out", str(out)]) == 0

    printed = capsys.readouterr().out
    records = _json_lines(printed)
    assert [r["case"] for r in records] == ["header", *CASES, "summary"]
    by = {r["case"]: r for r in records}
    for case, fields in NUMERIC.items():
        for name in fields:
            assert _finite_number(by[case][name]), (case, name, by[case][name])
            assert by[case][name] > 0, (case, name)
    header = by["header"]
    assert header["quick"] is True
    assert header["nproc"] >= 1 and header["python"] and header["numpy"]
    assert "commit" in header
    # The floors do exactly the run's agent-years; ten times the founding rate adds NGOs.
    run_years = by["run_kg"]["agent_years"]
    assert by["mesa_floor"]["agent_years"] == by["numpy_floor"]["agent_years"] == run_years
    assert by["run_kg_no_agents"]["agent_years"] == run_years
    assert by["run_kg_x10"]["ngos_founded"] > by["run_kg"]["ngos_founded"]
    assert by["ensemble"]["runs"] == 10
    assert by["ensemble"]["identical"] is True
    goals = by["summary"]["goals"]
    assert [g["goal"] for g in goals] == [g.name for g in GOALS]
    assert all(isinstance(g["pass"], bool) and _finite_number(g["value"]) for g in goals)
    assert "| goal |" in printed
    # the smoke run's goals are listed, not judged: its timings mean nothing
    assert "| pass |" not in printed and "| FAIL |" not in printed
    assert printed.count("| not judged (--quick) |") == len(GOALS)
    assert _json_lines(out.read_text()) == records
    assert list(tmp_path.iterdir()) == [out]


def test_bench_runs_only_the_chosen_cases(capsys):
    assert main(["bench", "--quick", "--cases", "numpy_floor"]) == 0

    records = _json_lines(capsys.readouterr().out)
    assert [r["case"] for r in records] == ["header", "numpy_floor", "summary"]
    assert all(g["pass"] is None for g in records[-1]["goals"])


def test_bench_out_under_a_file_names_the_file(tmp_path, capsys):
    (tmp_path / "afile.txt").write_text("x")
    out = tmp_path / "afile.txt" / "bench.jsonl"
    assert main(["bench", "--quick", "--cases", "numpy_floor", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "afile.txt: --out: is a file, not a folder" in err, err


def test_bench_out_in_a_missing_folder_is_a_one_line_error(tmp_path, capsys):
    out = tmp_path / "missing" / "bench.jsonl"

    assert main(["bench", "--quick", "--cases", "numpy_floor", "--out", str(out)]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "--out" in captured.err
    assert not out.parent.exists()


def test_bench_out_keeps_a_file_that_is_not_an_earlier_benchmark(tmp_path, capsys):
    out = tmp_path / "kyrgyzstan.yaml"
    out.write_text("country: kyrgyzstan\n")
    argv = ["bench", "--quick", "--cases", "numpy_floor", "--out", str(out)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "kyrgyzstan.yaml: --out: exists and is not an earlier benchmark's output" in captured.err
    assert out.read_text() == "country: kyrgyzstan\n"
    # An earlier benchmark's lines are replaced, as a rerun to the same file expects.
    earlier = tmp_path / "bench.jsonl"
    earlier.write_text('{"case": "header"}\n')
    assert main(argv[:-1] + [str(earlier)]) == 0
    assert '"case": "numpy_floor"' in earlier.read_text()


def test_bench_out_reads_only_the_first_line_of_a_file_in_its_way(tmp_path, capsys):
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "\n")  # too deep for json: no RecursionError traceback
    empty = tmp_path / "empty.jsonl"
    empty.touch()  # nothing to lose: replaced
    argv = ["bench", "--quick", "--cases", "numpy_floor", "--out"]
    assert main([*argv, str(deep)]) == 2
    assert "deep.jsonl: --out: exists and is not" in capsys.readouterr().err
    assert main([*argv, str(empty)]) == 0
    assert '"case": "numpy_floor"' in empty.read_text()


def test_bench_out_that_cannot_be_read_is_one_line(tmp_path, capsys, monkeypatch):
    # As root no file is unreadable, so the read is made to fail as it would for a user.
    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(bench_report, "is_benchmark_output", denied)
    out = tmp_path / "theirs.jsonl"
    out.write_text("x\n")
    assert main(["bench", "--quick", "--cases", "numpy_floor", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "theirs.jsonl: --out: cannot be read (Permission denied)" in err


def _verdicts(records):
    return {g["goal"]: g["pass"] for g in summary(records, 1.0)["goals"]}


@pytest.mark.parametrize(
    ("mesa_floor_seconds", "meets_2x", "meets_5x"),
    [(1.9, False, False), (2.0, True, False), (5.0, True, True), (5.1, True, True)],
)
def test_a_goal_of_at_least_passes_from_its_threshold_on(mesa_floor_seconds, meets_2x, meets_5x):
    records = [
        {"case": "run_kg", "seconds": 1.0},
        {"case": "mesa_floor", "seconds": mesa_floor_seconds},
    ]
    verdicts = _verdicts(records)
    assert verdicts["run_kg at least 2x faster than mesa_floor"] is meets_2x
    assert verdicts["stretch: run_kg at least 5x faster than mesa_floor"] is meets_5x
    assert verdicts["calib_path at least 5x faster than the numpy rules"] is None  # not run


@pytest.mark.parametrize(("run_seconds", "meets"), [(19.9, True), (20.0, True), (20.1, False)])
def test_a_goal_of_at_most_passes_up_to_its_threshold(run_seconds, meets):
    records = [{"case": "run_kg", "seconds": run_seconds}, {"case": "numpy_floor", "seconds": 1.0}]
    assert _verdicts(records)["run_kg within 20x of numpy_floor"] is meets


@pytest.mark.parametrize(("rss", "meets"), [(299.0, True), (300.0, False), (301.0, False)])
def test_a_goal_of_under_fails_at_its_threshold(rss, meets):
    records = [{"case": "memory", "peak_rss_mb": rss}]
    assert _verdicts(records)["peak RSS of a 1:1 run under 300 MB"] is meets


def test_the_memory_case_measures_a_second_process_after_one_that_fills_the_cache(monkeypatch):
    # With an empty numba cache the measured process compiled the kernels: 335 MB, where a
    # run that loads them takes 277 MB. The first child fills the cache; the second counts.
    import experiments.benchmark as benchmark

    calls = []
    children = iter(
        [
            {"source": "VmHWM", "peak_kb": 343_000, "loaded_kb": 220_000},
            {"source": "VmHWM", "peak_kb": 284_000, "loaded_kb": 216_000},
        ]
    )

    def child(code, args, root):
        calls.append((code, args, root))
        return next(children)

    monkeypatch.setattr(benchmark, "python_child", child)
    settings = benchmark.Settings(quick=True, repeats=1, years=4, ensemble_runs=10, batch_runs=10)
    record = benchmark.case_memory(settings)
    assert len(calls) == 2 and calls[0] == calls[1]
    assert record["peak_rss_mb"] == pytest.approx(284_000 / 1024)
    assert record["run_rss_mb"] == pytest.approx((284_000 - 216_000) / 1024)
