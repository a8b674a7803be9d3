"""Helpers of the command-line tests: run ``ngo-abm`` in-process and read its one-line errors.

A plain module, not a test file: every test of a command's output or refusal runs the
command and checks its error the same way.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from cli.main import main


def run_cli(argv: list) -> tuple[int, str, str]:
    """Run ``ngo-abm argv`` in this process; return its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def one_line(status: int, err: str, *expected: str) -> None:
    """Assert a refusal: exit status 2, one line holding every fragment, no traceback."""
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for fragment in expected:
        assert fragment in err, err


def unusable_out_folders(tmp_path: Path) -> list[tuple[Path, str]]:
    """Return ``--out`` folders every run refuses, each with a fragment of its refusal.

    A file where the folder would be, and a folder holding a run's outputs.
    """
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    a_run = tmp_path / "a_run"
    a_run.mkdir()
    (a_run / "manifest.json").write_text('{"scenario_file": "s.yaml"}')
    return [(a_file, "is a file, not a folder"), (a_run, "holds a run's outputs")]


def interrupt(*args, **kwargs):
    """Stand in for a function and raise what a Ctrl-C raises there."""
    raise KeyboardInterrupt
