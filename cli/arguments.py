"""Command-line argument types with bounds, and a parser whose errors take one line.

Every number given on the command line is checked against a bound (``model.limits``)
and the bound is in the message: ``argument --replicates: must be from 1 to 10,000, got
1000000000000``. A parse error is one line and exit status 2, like every other bad input.
"""

from __future__ import annotations

import argparse
import difflib
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from model import ScenarioError
from model.limits import MAX_MINUTES, MAX_REPLICATES, MAX_SEED, MAX_WORKERS

EXIT_USAGE = 2


def printable(line: str) -> str:
    r"""Return ``line`` with each character that does not print escaped (``\n``, ``\x1b``).

    A file name or argument with a line break (given as ``$'a\nb'``) must not break the
    one-line error, nor a terminal's escape sequence in it reach the terminal.
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that reports a bad command line in one line (exit 2).

    An option is only ever its whole name: argparse would otherwise take ``--rep`` for
    ``--replicates``, and a script written so would change meaning, or stop, when a
    command gains another option of that beginning.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE (see PROG --help)`` and exit with status 2."""
        line = printable(f"{self.prog}: error: {message} (see {self.prog} --help)")
        self.exit(EXIT_USAGE, line + "\n")

    def parse_args(self, args=None, namespace=None):
        """Parse as argparse does; an unknown argument is named by its subcommand's parser.

        argparse reports it as the top-level parser's; the subcommand's own help lists
        what it takes, and a close option is suggested.
        """
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = self._subcommand(getattr(parsed, "command", None))
            command.error(f"unrecognized arguments: {' '.join(extras)}{command.guess(extras)}")
        return parsed

    def _subcommand(self, name: str | None) -> OneLineParser:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and name in action.choices:
                return action.choices[name]
        return self

    def guess(self, extras: list[str]) -> str:
        """Return ``; did you mean --x?`` for the first unknown option close to a known one."""
        known = [o[2:] for a in self._actions for o in a.option_strings if o.startswith("--")]
        for extra in extras:
            if not extra.startswith("--"):
                continue
            given = extra[2:].split("=")[0]
            begun = [name for name in known if given and name.startswith(given)]
            if len(begun) == 1:
                return f"; did you mean --{begun[0]}?"
            close = difflib.get_close_matches(given, known, n=1, cutoff=0.75)
            if close:
                return f"; did you mean --{close[0]}?"
        return ""


def file_path(text: str) -> Path:
    """Parse a file or folder name (argparse type); an empty name is refused.

    An empty ``--out`` would otherwise be the current folder, written into silently.
    """
    if not text:
        raise argparse.ArgumentTypeError("expected a file or folder name, got an empty one")
    return Path(text)


def address(text: str) -> str:
    """Parse a scheduler's address (argparse type); an empty one is refused.

    An empty ``--scheduler`` would otherwise mean no scheduler, and the runs would go to
    local processes without a word.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("expected an address such as tcp://HOST:PORT, got none")
    return text


def whole_number_text(text: str) -> int | None:
    """Return the whole number written in ``text``, or ``None`` if it is not one.

    ASCII digits and a leading minus only: ``int()`` also reads "1_0", " 3" and other
    scripts' digits. The dashboard's seed boxes read seeds with it too, so that a seed the
    page accepts is one ``--seed`` accepts.
    """
    return int(text) if re.fullmatch(r"-?[0-9]+", text) else None


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        value = whole_number_text(text)
        if value is None:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:,} to {high:,}, got {value}")
        return value

    return parse


seeds = whole_number(0, MAX_SEED)
replicates = whole_number(1, MAX_REPLICATES)
workers = whole_number(1, MAX_WORKERS)


def check_consecutive_seeds(seed: int, runs: int | None) -> None:
    """Raise ``ScenarioError`` if the seeds ``seed`` to ``seed + runs - 1`` pass ``MAX_SEED``.

    Each option is within its bound alone; the sum is checked before any run, and named as
    the two options rather than as a field of a file.
    """
    if runs is not None and seed + runs - 1 > MAX_SEED:
        found = (
            f"{runs:,} runs from --seed {seed:,} would end at seed {seed + runs - 1:,}, "
            f"above {MAX_SEED:,}"
        )
        raise ScenarioError("--replicates", "", found)


def share(low: float, high: float) -> Callable[[str], float]:
    """Return an argparse type: a share of probability mass from ``low`` to ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g}, got {text}")
        return value

    return parse


def minutes(text: str) -> float:
    """Parse a time limit in minutes: a number above 0 and at most a week (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of minutes, got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_MINUTES):
        raise argparse.ArgumentTypeError(
            f"must be above 0 and at most {MAX_MINUTES:,} (a week), got {text}"
        )
    return value
