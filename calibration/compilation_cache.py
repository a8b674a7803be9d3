"""JAX's persistent compilation cache for the estimators' flows, kept outside the source tree.

Every process that trains, loads or samples a flow compiles the same XLA programs again:
flowjax's training step, the flows' sampling and their densities (``calibration.npe``,
``calibration.truncation``). JAX can keep compiled programs on disk and read them back
in later processes (its persistent compilation cache, keyed by the program, the JAX and
XLA versions, the platform and the compiler options), so a second ``calibrate npe``,
``validate``, ``chains`` or ``reference --truncate`` no longer pays for them. A program
read back is the executable a fresh compilation would give, so results do not change
(``tests/test_compilation_cache.py`` trains the same flow compiled afresh and read back).

The cache lives in ``$XDG_CACHE_HOME/ngo-abm/jax`` (``~/.cache/ngo-abm/jax`` by default),
may be deleted at any time, and is left alone when JAX is told otherwise: a folder set by
``JAX_COMPILATION_CACHE_DIR`` is used as it is, and ``JAX_ENABLE_COMPILATION_CACHE=false``
turns the cache off.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path


def cache_folder() -> Path:
    """Return the project's folder for JAX's compiled programs (the XDG user cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ngo-abm" / "jax"


@cache
def use_compilation_cache() -> Path | None:
    """Point JAX's persistent compilation cache at ``cache_folder()``, once per process.

    Returns the folder in use, or None when the cache is off or its folder cannot be
    made (a read-only home: every program is then compiled, as without the cache).
    """
    import jax

    if not jax.config.jax_enable_compilation_cache:
        return None
    chosen = jax.config.jax_compilation_cache_dir
    if chosen:
        return Path(chosen)
    folder = cache_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    # JAX keeps only programs that took a second or more to compile by default; the
    # flows' many smaller ones add up to most of a short command's compile time.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return folder
