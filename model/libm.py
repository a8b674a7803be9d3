"""Exponentials and powers of arrays from the C library, as the compiled kernels call it.

numpy's float64 ``exp`` and ``power`` loops take SIMD approximations on CPUs with AVX-512
(numpy's CPU dispatch), whose results differ from the C library's in the last bit for some
inputs. The compiled kernels (``model.kernels``) and Python's own floats call the C
library, so on such a CPU the numpy rules gave other tables than the compiled rules and
the pinned runs (found on an AMD EPYC Zen 5 machine; the earlier machines
had no AVX-512). The numpy rules of ``model.population`` therefore take their
exponentials and powers of arrays from here: each element through the C library, and a
power with numpy's shortcuts for the exponents it treats specially (``power``, which the
kernels call too). What this guarantees is that both engines make the same calls in one
process; across machines the results are the C library's, whose ``exp`` and ``pow`` glibc
picks by CPU, so they agree wherever those do (they did on every machine so far). numba's
Intel SVML vector maths would replace these calls by inexact ones: it is off
(``numba.config.USING_SVML``, checked by ``tests/test_engines.py``).
"""

from __future__ import annotations

import math

import numpy as np

from .pairwise import jit


@jit
def power(x: float, w: float) -> float:
    """Return ``x ** w`` as numpy's array power with a scalar exponent computes it.

    numpy squares, takes the square root or the reciprocal, copies, or gives 1 for the
    exponents 2, 0.5, -1, 1 and 0, all exact operations; any other exponent is the C
    library's ``pow``.
    """
    # An integer exponent would compile to repeated multiplication, not the C library's pow.
    w = float(w)
    if w == 2.0:
        return x * x
    if w == 0.5:
        return math.sqrt(x)
    if w == 1.0:
        return x
    if w == -1.0:
        return 1.0 / x
    if w == 0.0:
        return 1.0
    return x**w


def exp(x) -> np.ndarray:
    """Return ``e ** x`` elementwise (an array of ``x``'s shape), each by the C library's."""
    a = np.asarray(x, dtype=np.float64)
    return _exp_each(a.ravel()).reshape(a.shape)


@jit
def _exp_each(x: np.ndarray) -> np.ndarray:
    out = np.empty(x.size)
    for i in range(x.size):
        out[i] = math.exp(x[i])
    return out


@jit
def powers(x: np.ndarray, w: float) -> np.ndarray:
    """Return ``x ** w`` elementwise, each as ``power`` computes it."""
    out = np.empty(x.size)
    w = float(w)
    for i in range(x.size):
        out[i] = power(x[i], w)
    return out
