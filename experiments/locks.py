"""One command at a time per output folder or calibration database: a lock naming its holder.

A command that writes into a folder (``run``, ``compare``, ``experiment``, ``sensitivity``,
the calibration report) or a calibration database first claims it: an advisory ``flock``
on a lock file (``DIR/.ngo-abm.lock``, ``DB.lock``) that holds the holder's pid and command
line. A second command on the same folder stops with one line naming the holder (exit 2)
instead of mixing its results with the first's. The kernel releases a ``flock`` when its
holder dies, however it dies, so the lock of a killed command is stale and the next
command takes it over (overwriting the dead holder's line).
"""

from __future__ import annotations

import fcntl
import os
import shlex
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from model import ScenarioError

from .output_paths import check_file, check_outputs_kind, make_folder, remove_empty

LOCK_NAME = ".ngo-abm.lock"
# Locks this process holds (lock file -> depth): a command that claims a folder and calls
# another that claims it too (``compare`` running a scenario) does not lock itself out.
_HELD: dict[Path, int] = {}


@contextmanager
def output_folder(
    path: str | Path, flag: str = "--out", kind: str | None = None, writes: tuple[str, ...] = ()
) -> Iterator[Path]:
    """Check and create an output folder, and hold its lock while the body runs.

    Folders created here are removed again if the body leaves them empty (a command
    stopped by bad input writes nothing). With ``kind`` (``"run"``, ``"experiment"``,
    ``"regional experiment"``, ``"sensitivity analysis"``, ``"reference table"``,
    ``"calibration report"``), a folder that holds another
    kind of command's outputs, or a folder where one of the files it ``writes`` goes, is
    refused once the lock is held (``output_paths.check_outputs_kind``).

    Raises:
        ScenarioError: if the folder cannot be written, another command holds it, or it
            holds another kind of command's outputs.
    """
    path = Path(path)
    created = make_folder(path, flag)
    try:
        with claim(path / LOCK_NAME, path, flag):
            if kind is not None:
                check_outputs_kind(path, flag, kind, writes)
            yield path
    finally:
        remove_empty(created)


@contextmanager
def database_lock(db: str | Path, flag: str = "--db") -> Iterator[Path]:
    """Check a calibration database's path and hold its lock (``DB.lock``) while the body runs."""
    db = Path(db)
    check_file(db, flag)
    created = make_folder(db.parent, flag)
    try:
        with claim(db.with_name(db.name + ".lock"), db, flag):
            yield db
    finally:
        remove_empty(created)


@contextmanager
def claim(lock_file: Path, target: Path, flag: str) -> Iterator[None]:
    """Hold the lock ``lock_file`` of ``target`` while the body runs.

    Raises:
        ScenarioError: naming ``target``, ``flag`` and the holder, if another process
            holds the lock.
    """
    # The folder resolved, not the lock file: a lock file that is a symlink is refused
    # (``_acquire``), never followed to a file it would truncate and delete.
    key = Path(os.path.realpath(lock_file.parent)) / lock_file.name
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    fd = _acquire(key, target, flag)
    _HELD[key] = 1
    try:
        yield
    finally:
        del _HELD[key]
        # Removed while still locked: a process waiting on this file then finds it gone
        # and starts again on a new one (``_acquire``).
        key.unlink(missing_ok=True)
        os.close(fd)


def _acquire(lock_file: Path, target: Path, flag: str) -> int:
    while True:
        fd = _open_lock(lock_file, flag)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise ScenarioError(
                target, flag, f"in use by {holder}; wait for it to finish or write elsewhere"
            ) from None
        if _is_current(fd, lock_file):
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
    # A path that is not UTF-8 (bytes the file system allows) is written escaped.
    os.write(fd, f"pid {os.getpid()} ({command})\n".encode(errors="backslashreplace"))
    return fd


def _open_lock(lock_file: Path, flag: str) -> int:
    """Open (or create) the lock file itself: a symlink, folder or device is refused."""
    try:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        found = f"cannot be opened as a lock file ({exc.strerror}): remove it"
        raise ScenarioError(lock_file, flag, found) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ScenarioError(lock_file, flag, "is not a regular file: remove it")
    return fd


def _holder(fd: int) -> str:
    text = os.pread(fd, 4096, 0).decode(errors="replace").strip()
    return text or "another command (starting)"


def _is_current(fd: int, lock_file: Path) -> bool:
    """Return whether ``fd`` is still the file at ``lock_file`` (not removed by its holder)."""
    try:
        return os.lstat(lock_file).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
