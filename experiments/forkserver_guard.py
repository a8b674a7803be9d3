"""Imported by a pool's forkserver, first: it and its workers end when their command ends.

``experiments.lifetime.guard_forkserver`` names this module in the forkserver's preload
list and puts the command's pid in the environment, so the import runs in the forkserver
process only. The forkserver then gets SIGKILL from the kernel when the command ends,
however it ends, and every worker it forks asks, the moment it is forked, for the same
when the forkserver ends: before the worker imports anything (a worker first imports the
command's main module, the whole model, which takes seconds on a loaded machine), and
without running any Python when the time comes (``experiments.lifetime``). The workers'
own forks are left alone. Imported where no command set its pid, it does nothing.
"""

import os

from .lifetime import COMMAND_PID, die_with_parent

_forkserver: int | None = os.getpid()


def _worker_ends_with_forkserver() -> None:
    """After a fork, in the child: a worker of the forkserver ends with it."""
    global _forkserver
    if _forkserver is None:  # a worker's own fork
        return
    expected, _forkserver = _forkserver, None
    die_with_parent(expected)


if COMMAND_PID in os.environ:
    die_with_parent(int(os.environ[COMMAND_PID]))
    os.register_at_fork(after_in_child=_worker_ends_with_forkserver)
