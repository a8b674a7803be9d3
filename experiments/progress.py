"""Progress bars for long runs: redrawn in place on a terminal, whole lines in a log.

tqdm redraws its bar after a carriage return. Written to a file or a pipe (a background
``make recalibrate > log``, a CI log), every redraw lands on the same line, which grows to
megabytes that no pager or ``tail`` reads. Off a terminal, the bars here write each redraw
as a line of its own instead, at most one every ``LOG_INTERVAL`` seconds and none for a
run shorter than that, so that a short command's output (and a test's) is what it says.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TextIO

from tqdm import tqdm

# Seconds between two lines of a bar in a log (and before its first).
LOG_INTERVAL = 30.0


class LineStream:
    """A text stream that writes each of tqdm's redraws as a line of its own."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` without its carriage returns, as a line, unless it is blank."""
        # A redraw is "\r" + bar + padding; closing a bar that is not kept writes blanks.
        line = text.replace("\r", "").strip()
        if line:
            self.stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        """Flush the stream written to."""
        self.stream.flush()


def on_terminal(stream: TextIO) -> bool:
    """Return whether ``stream`` is a terminal (a stream without ``isatty`` is not)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def progress_bar(iterable: Iterable[Any] | None = None, *, show: bool = True, **options) -> tqdm:
    """Return a tqdm bar on standard error: in place on a terminal, lines in a log.

    ``show=False`` returns a disabled bar, which writes nothing; ``options`` are
    tqdm's (``total``, ``desc``, ``unit``, ``leave``).
    """
    if not show:
        return tqdm(iterable, disable=True, **options)
    stream = sys.stderr
    if on_terminal(stream):
        return tqdm(iterable, file=stream, **options)
    return tqdm(
        iterable,
        file=LineStream(stream),
        mininterval=LOG_INTERVAL,
        maxinterval=LOG_INTERVAL,
        delay=LOG_INTERVAL,
        ascii=True,
        ncols=100,
        **options,
    )
