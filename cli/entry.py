"""The ``ngo-abm`` program: the command line, imported where an interrupt is answered.

Importing ``cli.main`` loads the model, pandas and Mesa (about two seconds): a Ctrl-C in
that time met no handler and printed the imports' traceback.
"""

from __future__ import annotations

import signal
import sys

# Shell convention: 128 + the signal's number.
EXIT_INTERRUPTED = 128 + signal.SIGINT


def interrupted() -> int:
    """Say that the command was interrupted (Ctrl-C); return its exit status."""
    print("ngo-abm: interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    """Import the command line and run it (``cli.main.main``); return the exit status."""
    try:
        from cli.main import main as command_line
    except KeyboardInterrupt:
        return interrupted()
    return command_line(argv)
