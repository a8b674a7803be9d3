"""``ngo-abm sources``: write docs/sources.md, every source behind the numbers.

The page is generated from the scenario and target files (``calibration.sources``);
``--check`` writes nothing and exits 1 when the committed page is not current. Given files
(a researcher's own scenarios), it prints every source behind each and writes nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from calibration.atomic import write_text_atomic
from calibration.sources import PAGE, ROOT, check_page, render_file_sources, render_sources
from model import ScenarioError
from model.config_files import path_argument


def cmd_sources(args: argparse.Namespace) -> int:
    """Write the sources page, check that the committed one is current, or print a file's."""
    if args.files:
        if args.check:
            raise ScenarioError("--check", "", "checks the committed page: give no files with it")
        # Each file is checked before any is printed: a bad one is one line, nothing else.
        tables = [render_file_sources(path_argument(name)) for name in args.files]
        print("\n".join(tables), end="")
        return 0
    page = ROOT / PAGE
    if args.check:
        if _page_check(page):
            print(f"{PAGE} is current")
            return 0
        print(f"{PAGE} is not current: run `ngo-abm sources`")
        return 1
    # A page whose place is taken (a folder there) is one line (``write_atomic``).
    write_text_atomic(page, render_sources())
    print(f"wrote {Path(PAGE)}")
    return 0


def _page_check(page: Path) -> bool:
    """Return whether the committed page is current (``check_page``); one line if unreadable."""
    try:
        return check_page()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ScenarioError(page, "", f"cannot read the page: {reason}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sources`` subcommand."""
    parser = subparsers.add_parser(
        "sources",
        help="write docs/sources.md: every source of the scenario and target files",
        description="Write docs/sources.md from the scenario and target files: every "
        "source note with the input it supports, and every reported figure with its source.",
    )
    parser.add_argument(
        "files",
        nargs="*",
        help="scenario or regional files of your own: print every source behind each (its "
        "extends: chain merged) instead of writing the page",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the page is not current"
    )
    parser.set_defaults(func=cmd_sources)
