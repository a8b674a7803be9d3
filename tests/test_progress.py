"""The progress bars of long runs (``experiments/progress.py``).

On a terminal tqdm redraws its bar in place; in a log each redraw is a whole line of its
own, at most one every ``LOG_INTERVAL`` seconds, and a run shorter than that writes none.
"""

from __future__ import annotations

import io
import sys

import pytest

from experiments import progress
from experiments.progress import LineStream, progress_bar


class Terminal(io.StringIO):
    """A captured stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run_bar(steps: int = 3, **options) -> None:
    for _ in progress_bar(range(steps), desc="runs", **options):
        pass


def test_in_a_log_each_redraw_is_a_line_of_its_own(monkeypatch):
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)
    run_bar()
    written = log.getvalue()
    assert "\r" not in written
    lines = written.splitlines()
    assert len(lines) >= 2 and all(line.startswith("runs:") for line in lines)
    assert "3/3" in lines[-1]


@pytest.mark.parametrize("leave", [True, False])
def test_in_a_log_a_run_shorter_than_the_interval_writes_nothing(monkeypatch, leave):
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    run_bar(leave=leave)
    assert log.getvalue() == ""


def test_on_a_terminal_the_bar_is_redrawn_in_place(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run_bar()
    written = terminal.getvalue()
    assert written.count("\r") >= 2 and "3/3" in written


@pytest.mark.parametrize("stream", [io.StringIO(), Terminal()], ids=["log", "terminal"])
def test_a_bar_not_shown_writes_nothing(monkeypatch, stream):
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)
    run_bar(show=False)
    assert stream.getvalue() == ""


def test_the_line_stream_drops_blank_redraws():
    log = io.StringIO()
    lines = LineStream(log)
    lines.write("\rruns: 1/2   ")
    lines.write("\r      \r")
    lines.write("\rruns: 2/2")
    assert log.getvalue() == "runs: 1/2\nruns: 2/2\n"
