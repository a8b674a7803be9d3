"""The project's git state, as the manifests record it: the commit and uncommitted changes.

A manifest's ``git_commit`` cites the code that made its tables only if the working tree
held that commit: ``git_dirty`` says whether it did. It is ``true`` when any file git
tracks (code, scenarios, calibration inputs, docs) differs from the commit, staged or
not; untracked files do not count, so the outputs the commands write (``out/``,
``calibration/runs/``, a user's own ``--out`` folder, ignored or not) never make the next
run's manifest dirty, whatever ran before it. A scenario file of one's own that git does
not track is recorded by its hash in the manifest instead. ``null`` outside a git
checkout (a release's archive) or where git cannot be run.

Neither depends on the number of workers or the time: two runs of the same commit and
tree record the same values.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def git(*args: str) -> str | None:
    """Return the output of ``git ARGS`` run in the project's folder, or None if it fails."""
    # No optional locks: reading the state must not rewrite the repository's index, which
    # a command running beside another (or git itself) may hold.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *args],
            capture_output=True,
            text=True,
            timeout=10,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_commit() -> str | None:
    """Return the current git commit of the project, or None outside a checkout."""
    return git("rev-parse", "HEAD") or None


def git_dirty() -> bool | None:
    """Return whether the project's tracked files differ from its commit (None: unknown).

    Only the project's own folder counts (``-- .``): a checkout that holds the project in
    a subfolder has changes elsewhere that no run reads.
    """
    changes = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    return None if changes is None else bool(changes)
