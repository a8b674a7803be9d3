"""numpy's pairwise summation, compiled: the sums the kernels must share with numpy bit for bit.

numpy adds a float array by halving it until a part has at most 128 elements, summing each
part in eight interleaved lanes, and adding the parts' sums back up the tree
(``pairwise_sum`` in numpy's ``loops_utils.h.src``). A compiled rule that sums an array
another way gets a different last bit, and the table would drift from the numpy path's
(``model.kernels``, ``tests/test_engines.py``). ``jit`` is the kernels' numba decorator;
importing this module first drops numba's cached code if any model file changed
(``drop_stale_compiled_code``; unless ``NUMBA_CACHE_DIR`` moves the cache elsewhere).
"""

from __future__ import annotations

import os
from pathlib import Path

import numba
import numpy as np

from .code import model_fingerprint

_PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE
NUMBA_CACHE = Path(__file__).with_name("__pycache__")
CACHE_STAMP = "numba-model.sha256"


def drop_stale_compiled_code(cache: Path = NUMBA_CACHE) -> bool:
    """Delete numba's cached machine code of the model if any model file changed since.

    numba checks a cached function against its own file only, not against the functions
    and constants it compiled in from other modules (``year_loop`` compiles in
    ``year_kernels``, ``kernels``, this module and constants of ``population`` and
    ``metrics``), so an edit there would leave the old code running. The cache is kept
    instead for one fingerprint of the model's code (``model.code``), written beside it.
    Only numba's default cache beside the sources is guarded (not one that
    ``NUMBA_CACHE_DIR`` moves elsewhere), and a process that imported the model before an
    edit can still cache what it compiles afterwards: restart long jobs after editing the
    model. Returns whether anything was deleted.
    """
    stamp = cache / CACHE_STAMP
    current = model_fingerprint()
    try:
        if stamp.read_text() == current:
            return False
    except OSError:
        pass
    stale = [*cache.glob("*.nbi"), *cache.glob("*.nbc")]
    try:
        for path in stale:
            path.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        tmp = cache / f".{CACHE_STAMP}.{os.getpid()}.tmp"
        tmp.write_text(current)
        tmp.replace(stamp)
    except OSError:
        # A read-only source tree: numba then caches elsewhere or not at all.
        return False
    return bool(stale)


# numba writes its cache beside the sources unless NUMBA_CACHE_DIR puts it elsewhere.
if not numba.config.CACHE_DIR:
    drop_stale_compiled_code()

jit = numba.njit(cache=True, nogil=True)


@jit
def block_sum(a: np.ndarray, lo: int, n: int) -> float:
    """Return the sum of at most 128 elements as numpy's pairwise summation leaf does."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    # Eight running sums in scalars (not an array, which would be allocated per call).
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        k = lo + i
        r0 += a[k]
        r1 += a[k + 1]
        r2 += a[k + 2]
        r3 += a[k + 3]
        r4 += a[k + 4]
        r5 += a[k + 5]
        r6 += a[k + 6]
        r7 += a[k + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@jit
def halves(n: int) -> int:
    """Return the size of the first half of a range numpy's pairwise summation splits."""
    half = n // 2
    return half - half % 8


@jit
def pairwise_sum(a: np.ndarray, lo: int, n: int) -> float:
    """Return ``a[lo:lo + n].sum()`` in numpy's pairwise order (blocks of 128, 8 lanes).

    numpy halves a range until it has at most 128 elements and adds the halves' sums;
    this walks the same tree with an explicit stack, since numba cannot cache a
    recursive function.
    """
    if n <= _PAIRWISE_BLOCK:
        return block_sum(a, lo, n)
    los = np.empty(64, dtype=np.int64)
    ns = np.empty(64, dtype=np.int64)
    left = np.empty(64)
    right_done = np.zeros(64, dtype=np.bool_)
    top = 0
    los[0], ns[0] = lo, n
    while True:
        if ns[top] > _PAIRWISE_BLOCK:
            half = halves(ns[top])
            right_done[top] = False
            los[top + 1], ns[top + 1] = los[top], half
            top += 1
            continue
        value = block_sum(a, los[top], ns[top])
        while True:
            if top == 0:
                return value
            top -= 1
            if right_done[top]:
                value = left[top] + value
                continue
            left[top] = value
            right_done[top] = True
            half = halves(ns[top])
            los[top + 1], ns[top + 1] = los[top] + half, ns[top] - half
            top += 1
            break


@jit
def total(a: np.ndarray) -> float:
    """Return ``a.sum()`` exactly as numpy computes it."""
    return pairwise_sum(a, 0, a.size)
