"""Carrying stored tables over to a new key: only after their rows re-run equal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from test_reliability import assert_one_line

from calibration.reference import (
    TABLE_KEY,
    ChunkTask,
    chunk_path,
    load_table,
    table_key,
    write_chunk,
)
from calibration.truncation import EPS, PROPOSAL_FILE
from cli.main import main
from experiments.reference_table import build_table
from experiments.rekey import (
    REKEYED_FROM,
    StaleChunk,
    rekey_tables,
    rows_to_check,
    same_rows,
    table_folders,
)
from model import ScenarioError

SEED = 4
OLD = "0123456789abcdef"


def store_under_old_key(folder, starts, edit=None):
    """Rewrite the folder's chunks under the key ``OLD``, as after a change of the code."""
    for start in starts:
        frame = pd.read_parquet(chunk_path(folder, start))
        if edit is not None and start == edit[0]:
            frame.loc[frame["row"] == edit[0], edit[1]] += 1.0
        write_chunk(folder, ChunkTask(OLD, SEED, start, start + len(frame)), frame)


@pytest.fixture
def tables(tmp_path, monkeypatch):
    import calibration.reference as reference

    monkeypatch.setattr(reference, "CHUNK_ROWS", 2)
    good, bad = tmp_path / "good", tmp_path / "bad"
    for folder in (good, bad):
        assert build_table(folder, 4, seed=SEED, workers=1) == 4
    return good, bad


def test_a_table_whose_rows_rerun_equal_is_kept_under_the_new_key(tables):
    good, _ = tables
    before = load_table(good, table_key(SEED))
    store_under_old_key(good, [0, 2])
    with pytest.raises(ScenarioError, match="no reference table"):
        load_table(good, table_key(SEED))
    assert rekey_tables([good], seed=SEED, per_chunk=2, workers=1) == [(good, 2, 4)]
    pd.testing.assert_frame_equal(load_table(good, table_key(SEED)), before)
    meta = pq.read_schema(chunk_path(good, 2)).metadata
    assert meta[REKEYED_FROM] == OLD.encode()
    # Nothing is stale any more: a second call checks and rewrites nothing.
    assert rekey_tables([good], seed=SEED, per_chunk=2, workers=1) == [(good, 0, 0)]


def test_the_command_says_when_a_table_is_already_under_the_current_key(
    tmp_path, monkeypatch, capsys
):
    import calibration.abc as abc
    import calibration.reference as reference

    monkeypatch.setattr(reference, "CHUNK_ROWS", 2)
    monkeypatch.setattr(abc, "RUNS_DIR", tmp_path)
    folder = tmp_path / "reference"
    build_table(folder, 4, seed=SEED, workers=1)
    store_under_old_key(folder, [2])
    argv = ["reference", "--rekey", "--seed", str(SEED), "--workers", "1", "--check-rows", "2"]
    assert main(argv) == 0
    assert capsys.readouterr().out == (
        f"{folder}: 1 chunks now under the current key (2 rows re-run, all equal)\n"
    )
    assert main(argv) == 0
    assert (
        capsys.readouterr().out == f"{folder}: no chunk under another key: nothing to carry over\n"
    )


def test_one_row_that_reruns_differently_stops_every_table(tables):
    good, bad = tables
    store_under_old_key(good, [0, 2])
    stat = next(c for c in pd.read_parquet(chunk_path(bad, 2)).columns if c.startswith("kg_"))
    store_under_old_key(bad, [0, 2], edit=(2, stat))
    with pytest.raises(ScenarioError, match="row 2"):
        rekey_tables([good, bad], seed=SEED, per_chunk=2, workers=1)
    # The good table was checked first, yet not rewritten: all or nothing.
    for folder in (good, bad):
        assert pq.read_schema(chunk_path(folder, 0)).metadata[TABLE_KEY] == (OLD.encode())


def test_the_checked_rows_are_the_ends_and_a_keyed_sample():
    chunk = StaleChunk(Path("rows_0000200.parquet"), OLD, 200, 200)
    rows = rows_to_check(chunk, 6, seed=1)
    assert rows[0] == 200 and rows[-1] == 399 and len(rows) == 6
    assert rows == rows_to_check(chunk, 6, seed=1)
    assert rows != rows_to_check(chunk, 6, seed=2)


def test_rows_are_equal_only_with_the_same_types_and_bits():
    stored = pd.DataFrame({"row": [3], "kg": [np.nan], "kz": [0.0]})
    other_nan = np.frombuffer(np.uint64(0x7FF8000000000001).tobytes(), dtype=np.float64)
    assert np.isnan(other_nan[0])
    assert same_rows(stored, stored.assign(kg=other_nan))
    assert not same_rows(stored, stored.assign(kz=-0.0))
    assert not same_rows(stored, stored.assign(row=3.0))
    assert not same_rows(stored, stored[["row", "kz", "kg"]])


def test_only_round_folders_are_tables(tmp_path):
    for name in (
        "reference",
        "truncated_main/round2",
        "truncated_main/round10",
        "truncated_main/round_old",
    ):
        (tmp_path / name).mkdir(parents=True)
    assert [p.relative_to(tmp_path).as_posix() for p in table_folders(tmp_path)] == [
        "reference",
        "truncated_main/round2",
        "truncated_main/round10",
    ]
    assert table_folders(tmp_path / "none") == []


def test_rekey_refuses_the_options_it_would_ignore():
    assert_one_line(["reference", "--rekey", "--truncate", "main"], "--rekey", "--truncate")
    assert_one_line(["reference", "--rekey", "--sampler", "mcmc"], "--sampler")
    assert_one_line(["reference", "--check-rows", "3"], "--check-rows", "only with --rekey")
    assert_one_line(["reference", "--sampler", "mcmc", "--rows", "2"], "--sampler", "--truncate")
    assert_one_line(["reference", "--rekey", "--eps", "0.1"], "--eps")
    assert_one_line(["reference", "--rekey", "--rows", "500"], "--rekey", "drop --rows")
    assert_one_line(["reference", "--rekey", "--max-minutes", "1"], "drop --max-minutes")
    assert_one_line(["reference", "--eps", "0.1", "--rows", "2"], "--eps", "--truncate")
    for bad in ("0", "1e-5", "0.6", "1", "nan", "x"):
        assert_one_line(["reference", "--truncate", "main", "--eps", bad], "--eps")


@pytest.mark.parametrize(("argv", "eps"), [([], EPS), (["--eps", "0.1"], 0.1)])
def test_reference_draws_the_region_of_the_share_it_is_given(monkeypatch, tmp_path, argv, eps):
    import experiments.reference_table as reference_table

    seen = {}

    def proposal(folder, holdout, rows, **options):
        seen.update(options)
        return {"estimator": "main.eqx", "prior_mass": 0.5}

    monkeypatch.setattr(reference_table, "write_truncated_proposal", proposal)
    monkeypatch.setattr(reference_table, "build_table", lambda *args, **kwargs: 0)
    out = tmp_path / "round"
    assert main(["reference", "--truncate", "main", "--rows", "2", "--out", str(out), *argv]) == 0
    assert seen["eps"] == eps


def test_a_proposal_left_in_the_priors_table_is_refused_not_read_as_a_round(tmp_path):
    # An earlier `reference --truncate` refused in this folder once left its proposal.
    folder = tmp_path / "reference"
    folder.mkdir()
    (folder / PROPOSAL_FILE).write_bytes(b"a proposal")
    with pytest.raises(ScenarioError, match="a proposal in a table drawn from the priors"):
        rekey_tables([folder])
