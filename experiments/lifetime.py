"""Worker processes that end with the command that started them.

Three ways a command ends, and how its workers follow:

- SIGTERM: ``raise_on_sigterm`` turns it into ``Terminated`` (a ``KeyboardInterrupt``) in
  the main thread, so the command unwinds as on Ctrl-C: the pool is stopped
  (``stop_workers``) and the output locks are released.
- Ctrl-C: the terminal sends SIGINT to the whole process group; workers ignore it and
  the command stops them (they would otherwise each print a traceback).
- SIGKILL, or any death that runs no code: the kernel ends the workers. Local pools start
  workers from a forkserver, which is their parent and lives as long as they do. The
  forkserver imports ``experiments.forkserver_guard`` first (``guard_forkserver``), which
  asks for SIGKILL when the command ends (``PR_SET_PDEATHSIG``, ``die_with_parent``) and
  has each worker ask, as soon as it is forked, for SIGKILL when the forkserver ends: no
  Python has to run in a worker for it to end. Without that, a worker killed while it
  imported the command's main module (the whole model, before any initializer runs)
  lived until the import was done: up to 9 s on a loaded machine, which once failed the
  test of a kill at a random moment. Each worker also watches the command's pid through
  a Linux pidfd and exits when it ends (``die_with``), in case the forkserver was started
  without the guard (by a pool outside the main thread, or by other code).
  Processes forked by the command itself (pyabc's calibration workers) get the
  parent-death signal (``kill_forks_with_parent``).

A pool starts its workers while tasks are submitted; a signal that lands between a
worker's start and its registration in the pool would leave that worker unkilled, and it
would then fail loudly on the parent's unlinked semaphores. ``signals_held`` holds SIGTERM
and Ctrl-C over that stretch and delivers them once every started worker is known.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

# From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1
# The environment variable that tells a forkserver which process is its command.
COMMAND_PID = "NGO_ABM_COMMAND_PID"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that the command unwinds as on Ctrl-C."""


def raise_on_sigterm(signum: int, frame) -> None:
    """Signal handler: raise ``Terminated``."""
    raise Terminated


def terminated_by_signal(exc: BaseException) -> bool:
    """Whether ``exc`` was raised because of ``Terminated`` (directly or in its chain).

    A signal that lands inside an import of a compiled module surfaces as that import's
    ``ImportError``, with ``Terminated`` as its cause.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, Terminated):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGTERM and SIGINT while the body runs; deliver the first one afterwards.

    Outside the main thread (where handlers cannot be set) the body runs unguarded.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    sigs = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.signal(sig, lambda signum, frame: held.append(signum)) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if held:
        signal.raise_signal(held[0])


def die_with(command_pid: int) -> None:
    """Worker initializer: ignore Ctrl-C, and exit when process ``command_pid`` ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        pidfd = os.pidfd_open(command_pid)
    except ProcessLookupError:
        os._exit(1)
    threading.Thread(target=_exit_when_ended, args=(pidfd,), daemon=True).start()


def guard_forkserver(context) -> None:
    """Have a forkserver that ``context`` starts from now on import the guard first.

    Only from the main thread: the parent-death signal follows the thread that started
    the forkserver, which every later pool of the process shares. A forkserver already
    running is reused as it is.
    """
    if threading.current_thread() is threading.main_thread():
        os.environ[COMMAND_PID] = str(os.getpid())
        context.set_forkserver_preload(["__main__", "experiments.forkserver_guard"])


def die_with_parent(expected: int) -> None:
    """Have the kernel kill this process (SIGKILL) when its parent ``expected`` ends.

    Strictly, when the thread of ``expected`` that started this process ends. A parent
    that ended before the request sends no signal, so the process then exits at once.
    """
    _ask_for_sigkill_with_parent()
    if os.getppid() != expected:
        os._exit(1)


def _ask_for_sigkill_with_parent() -> None:
    """Ask the kernel for SIGKILL when the thread that started this process ends."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def _exit_when_ended(pidfd: int) -> None:
    # A pidfd becomes readable when its process has ended.
    select.select([pidfd], [], [])
    os._exit(1)


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's workers now, without waiting for their running tasks."""
    # ProcessPoolExecutor has no public way to do this before Python 3.14
    # (``kill_workers``); its ``_processes`` maps pids to the worker processes.
    for process in list((pool._processes or {}).values()):
        process.kill()


_FORK_HOOK = []


def kill_forks_with_parent() -> None:
    """Make the processes this one forks from now on end with it, quietly.

    Each fork gets SIGKILL when the thread that forked it ends (so fork from the main
    thread), ends on SIGTERM without a traceback (the command's ``Terminated`` handler is
    for its own main thread) and ignores Ctrl-C, like the pool workers (``die_with``).
    """
    # Fork hooks cannot be removed: register this one once per process.
    if not _FORK_HOOK:
        os.register_at_fork(after_in_child=_end_with_parent)
        _FORK_HOOK.append(_end_with_parent)


def _end_with_parent() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _ask_for_sigkill_with_parent()
