"""The reference table: keyed rows, the same whatever the chunking or the workers; resumable."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from test_reliability import assert_one_line, run_cli

from calibration.priors import load_priors
from calibration.reference import (
    ChunkTask,
    chunk_path,
    load_table,
    simulate_chunk,
    table_key,
)
from experiments.reference_table import build_table, missing_chunks
from model import ScenarioError
from model.code import MODEL_DIR, REGIONAL_MODULES

REPO = Path(__file__).resolve().parents[1]


def test_a_row_does_not_depend_on_its_chunk():
    key = table_key(3)
    whole = simulate_chunk(ChunkTask(key, 3, 0, 4))
    tail = simulate_chunk(ChunkTask(key, 3, 2, 4))
    pd.testing.assert_frame_equal(whole.iloc[2:].reset_index(drop=True), tail)
    assert whole["row"].tolist() == [0, 1, 2, 3]
    # The draws are the prior's normal scores; the statistics are every target's.
    assert whole.filter(regex="^z_").shape[1] == len(load_priors()) == 41
    assert whole.filter(like="kg_registered").notna().all().all()


def test_table_from_two_workers_equals_one_and_resumes(tmp_path, monkeypatch):
    import calibration.reference as reference

    monkeypatch.setattr(reference, "CHUNK_ROWS", 2)
    one, two = tmp_path / "one", tmp_path / "two"
    assert build_table(one, 5, seed=4, workers=1) == 5
    assert build_table(two, 5, seed=4, workers=2) == 5
    key = table_key(4)
    pd.testing.assert_frame_equal(load_table(one, key), load_table(two, key))
    # A larger table keeps the stored chunks and adds the missing ones.
    before = chunk_path(one, 0).stat().st_mtime_ns
    assert [t.start for t in missing_chunks(one, 4, 7)] == [4, 6]
    assert build_table(one, 7, seed=4, workers=1) == 7
    assert chunk_path(one, 0).stat().st_mtime_ns == before
    assert len(load_table(one, key)) == 7
    # A smaller table reads the stored chunks' first rows: none is rewritten shorter,
    # which left rows 5 and 6 after a gap.
    stored = sorted((p.name, p.read_bytes()) for p in one.iterdir())
    assert build_table(one, 5, seed=4, workers=1) == 5
    assert sorted((p.name, p.read_bytes()) for p in one.iterdir()) == stored
    assert load_table(one, key)["row"].tolist() == list(range(7))
    # A chunk written under another key (another seed) is not read into this table.
    assert pq.read_metadata(chunk_path(one, 0)).num_rows == 2
    assert [t.start for t in missing_chunks(one, 5, 2)] == [0]
    # A gap (a build stopped before an earlier chunk finished) is refused, not skipped.
    chunk_path(one, 2).unlink()
    with pytest.raises(ScenarioError, match="rows missing before row 5"):
        load_table(one, key, 5)


def test_reference_command_and_its_errors(tmp_path):
    out = tmp_path / "table"
    status, printed, _ = run_cli(["reference", "--rows", 2, "--workers", 1, "--out", out])
    assert status == 0 and "2 of 2 rows stored" in printed
    assert_one_line(["reference", "--rows", 0], "--rows")
    assert_one_line(
        # a posterior of its own: the committed one's lock may be another test's
        ["calibrate", "npe", "--rows", 10, "--table", tmp_path / "none"]
        + ["--posterior", tmp_path / "p.parquet"],
        "no reference",
    )
    # fewer than ten rows leave the training no row to stop on
    assert_one_line(["calibrate", "npe", "--rows", 9], "--rows")


def model_modules_imported(script: str) -> set[str]:
    """Return the ``model`` modules (file names) that a fresh process running ``script`` imports."""
    script += "import sys\nprint(sorted(m for m in sys.modules if m.startswith('model.')))\n"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    return {name.split(".")[1] + ".py" for name in ast.literal_eval(out.strip().splitlines()[-1])}


def test_the_table_key_leaves_out_exactly_the_modules_only_the_regional_layer_imports():
    """The key covers every model module a table row executes: simulating rows (and a run
    with Mesa agents) imports none of the regional layer's modules it leaves out, and
    every module that only a regional run imports is left out (a new regional module
    would otherwise make the country calibration's tables stale)."""
    country = model_modules_imported(
        "from calibration.reference import ChunkTask, simulate_chunk, table_key\n"
        "from model import load_scenario, simulate\n"
        "simulate_chunk(ChunkTask(key=table_key(1), seed=1, start=0, stop=2))\n"
        "simulate(load_scenario('scenarios/kyrgyzstan.yaml'), seed=1, agents=True)\n"
    )
    regional = model_modules_imported(
        "from model.regional import simulate_region\n"
        "from model.regional_files import load_region\n"
        "simulate_region(load_region('scenarios/central_asia.yaml'), seed=1, agents=False)\n"
    )
    assert "fastpath.py" in country and "agents.py" in country
    assert REGIONAL_MODULES <= {p.name for p in MODEL_DIR.glob("*.py")}
    assert not country & REGIONAL_MODULES
    # Loading a regional file reads its countries' files as a country experiment does
    # (experiments/spec.py): that module is the country layer's too, so in the key.
    shared = {"scenario_files.py"}
    assert regional - country - shared == REGIONAL_MODULES


def test_rows_of_another_table_are_not_overwritten(tmp_path, monkeypatch):
    # a mistyped --seed replaced a stored table's rows without a word
    import calibration.reference as reference

    monkeypatch.setattr(reference, "CHUNK_ROWS", 2)
    table = tmp_path / "table"
    assert build_table(table, 2, seed=1, workers=1) == 2
    before = sorted((p.name, p.read_bytes()) for p in table.iterdir())
    with pytest.raises(ScenarioError, match="holds rows of another table .* --rekey"):
        build_table(table, 2, seed=2, workers=1)
    assert sorted((p.name, p.read_bytes()) for p in table.iterdir()) == before
    assert build_table(table, 4, seed=1, workers=1) == 4  # its own key still extends
    assert_one_line(["reference", "--rows", 2, "--round", 2, "--out", tmp_path / "r"], "--round")


def test_a_worker_that_reads_other_files_refuses_the_chunk(monkeypatch):
    """A worker started from another checkout loads its own scenario, prior and target
    files: rows it simulated under this checkout's key would be another table's."""
    import calibration.reference as reference
    from calibration.simulator import Simulator
    from calibration.targets import load_targets

    key = table_key(3)
    priors = load_priors()
    name = next(iter(priors))
    other = {**priors, name: priors[name].model_copy(update={"high": priors[name].high * 1.1})}
    monkeypatch.setattr(reference, "simulator", lambda: Simulator(load_targets(), other))
    # A process keeps the key it first computed: this one "starts" with the other priors.
    reference.process_table_key.cache_clear()
    try:
        with pytest.raises(ScenarioError, match=f"would simulate table .*, not {key}: its"):
            simulate_chunk(ChunkTask(key, 3, 0, 1))
    finally:
        reference.process_table_key.cache_clear()


def test_a_model_file_edited_during_a_build_does_not_stop_it(tmp_path, monkeypatch):
    # The process simulates the code it imported, whose key the table has.
    import calibration.reference as reference
    import model.code

    key = table_key(5)
    reference.process_table_key.cache_clear()
    simulate_chunk(ChunkTask(key, 5, 0, 1))
    edited = tmp_path / "model"
    edited.mkdir()
    for path in model.code.MODEL_DIR.glob("*.py"):
        (edited / path.name).write_text(path.read_text(encoding="utf-8") + "# edited\n")
    monkeypatch.setattr(model.code, "MODEL_DIR", edited)
    assert table_key(5) != key
    simulate_chunk(ChunkTask(key, 5, 1, 2))


def test_a_chunk_of_another_seed_s_table_is_refused():
    with pytest.raises(ScenarioError, match=r"^reference table: chunk at row 2: this process"):
        simulate_chunk(ChunkTask(table_key(4), 3, 2, 3))


def test_a_chunk_without_a_column_of_the_others_is_refused(tmp_path, monkeypatch):
    # Its cells were NaN in the table, read as runs whose statistics are undefined.
    import calibration.reference as reference

    monkeypatch.setattr(reference, "CHUNK_ROWS", 2)
    assert build_table(tmp_path, 4, seed=4, workers=1) == 4
    key = table_key(4)
    second = chunk_path(tmp_path, 2)
    rows = pd.read_parquet(second).drop(columns="kg_registered_2010")
    reference.write_chunk(tmp_path, ChunkTask(key, 4, 2, 4), rows)
    with pytest.raises(ScenarioError) as refused:
        load_table(tmp_path, key)
    assert str(refused.value) == (
        f"{second}: kg_registered_2010: in only one of this chunk and rows_0000000.parquet, "
        "chunks of one table (edited by hand?)"
    )
