"""Helpers of the command-line tests: run ``ngo-abm`` in-process and read its one-line errors.

A plain module, not a test file: every test of a command's output or refusal runs the
command and checks its error the same way.
"""

from __future__ import annotations

import contextlib
import io

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
