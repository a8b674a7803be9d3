"""Atomic file writes: a temporary file beside the target, then a rename.

Shared by the calibration (posterior, summaries, figures) and the experiments (run
folders, chunks, summaries, benchmarks), so that an interrupted write never leaves a
half-written output behind. A temporary file left by a killed process (a kill between
creating it and the rename) is removed at the next write of the same file: outputs are
written by one command at a time (``experiments.locks``), so no other writer owns it.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from model import ScenarioError


def write_atomic(path: str | Path, write: Callable[[str], None]) -> Path:
    """Write ``path`` by calling ``write`` on a temporary file in its folder, then renaming.

    Args:
        path: The file to write; its folder must exist.
        write: Writes the content to the path it is given.

    Returns:
        ``path``.

    Raises:
        ScenarioError: naming ``path``, if the system refuses the write (a full disk, a
            file that cannot be replaced): one line rather than a traceback.
    """
    path = Path(path)
    remove_stale_temporaries(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise ScenarioError(path, "", f"cannot be written ({exc.strerror or exc})") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
    return path


def remove_output(path: str | Path) -> None:
    """Remove an output file about to be rewritten, if it is there.

    Raises:
        ScenarioError: naming ``path``, if the system refuses (a folder of that name, a
            file that cannot be removed): one line rather than a traceback.
    """
    try:
        Path(path).unlink(missing_ok=True)
    except OSError as exc:
        found = f"cannot be replaced ({exc.strerror or exc}); remove it or write elsewhere"
        raise ScenarioError(path, "", found) from None


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def remove_stale_temporaries(path: Path) -> None:
    """Remove the temporary files an interrupted write of ``path`` left in its folder.

    Also a temporary SQLite database's rollback journal (``.tmp-journal``), which a kill
    in mid-transaction leaves beside it (``calibration.abc`` creates its database so).
    """
    prefix = f".{glob.escape(path.name)}.*"
    for pattern in (f"{prefix}.tmp", f"{prefix}.tmp-journal"):
        for stale in path.parent.glob(pattern):
            stale.unlink(missing_ok=True)
