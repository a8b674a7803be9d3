"""JAX's persistent compilation cache for the estimators' flows, kept outside the source tree.

Every process that trains, loads or samples a flow compiles the same XLA programs again:
flowjax's training step, the flows' sampling and their densities (``calibration.npe``,
``calibration.truncation``). JAX can keep compiled programs on disk and read them back
in later processes (its persistent compilation cache, keyed by the program, the JAX and
XLA versions, the platform and the compiler options), so a second ``calibrate npe``,
``validate``, ``chains`` or ``reference --truncate`` no longer pays for them. On the CPU
that compiled it, a program read back gives the results a fresh compilation gives
(``tests/test_compilation_cache.py``). JAX's key names the platform ("cpu") but not the
CPU's model, so each CPU (its architecture and feature flags) gets a folder of its own:
a cache in a home shared by several machines never hands one machine another's code.

The cache lives in ``$XDG_CACHE_HOME/ngo-abm/jax`` (``~/.cache/ngo-abm/jax`` by default)
and may be deleted at any time. JAX's own settings win: a folder set by
``JAX_COMPILATION_CACHE_DIR`` is used with JAX's own thresholds and warnings, and
``JAX_ENABLE_COMPILATION_CACHE=false`` turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import warnings
from functools import cache
from pathlib import Path


def cpu_signature() -> str:
    """Return the machine's architecture and a digest of its CPU's feature flags.

    Linux names the flags ``flags`` on x86 and ``Features`` on ARM; elsewhere (no
    ``/proc/cpuinfo``) the processor's name stands in for them.
    """
    described = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            described = next(
                (line for line in info if line.startswith(("flags", "Features"))), described
            )
    except OSError:
        pass
    return f"{platform.machine()}-{hashlib.sha256(described.encode()).hexdigest()[:12]}"


def cache_folder() -> Path:
    """Return the project's folder for this CPU's compiled JAX programs (XDG user cache).

    Raises:
        RuntimeError: if there is no home folder to put it in.
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG specification: a relative path is invalid and is ignored.
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "ngo-abm" / "jax" / cpu_signature()


def _drop_empty_entries(folder: Path) -> None:
    """Delete the empty entries that a process killed in mid-write left behind.

    JAX writes an entry in place and never replaces one that exists, so an empty file
    would cost its compilation in every later process. An entry cut short elsewhere
    costs the same, silently (the warnings are off, ``use_compilation_cache``).
    """
    for entry in folder.glob("*-cache"):
        # Another process may be sweeping the same folder at the same moment.
        with contextlib.suppress(OSError):
            if entry.stat().st_size == 0:
                entry.unlink()


def _writable_folder() -> Path | None:
    """Return ``cache_folder()``, made if need be, or None if it cannot be written to."""
    try:
        folder = cache_folder()
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):
        return None
    if not os.access(folder, os.W_OK):
        return None
    _drop_empty_entries(folder)
    return folder


@cache
def use_compilation_cache() -> Path | None:
    """Point JAX's persistent compilation cache at ``cache_folder()``, once per process.

    Returns the folder in use, or None when the cache is off or no folder can be
    written to (every program is then compiled, as without the cache).
    """
    import jax

    if not jax.config.jax_enable_compilation_cache:
        return None
    chosen = jax.config.jax_compilation_cache_dir
    if chosen:
        return Path(chosen)
    folder = _writable_folder()
    if folder is None:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    # JAX keeps only programs that took a second or more to compile by default; the
    # flows' many smaller ones add up to most of a short command's compile time.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    # An unreadable or unwritable entry only costs a compilation; JAX's warning about it
    # would break the commands' one-line error output.
    warnings.filterwarnings(
        "ignore", message="Error (reading|writing) persistent compilation cache entry"
    )
    return folder
