"""The Monte Carlo uncertainty of a median of runs: its distribution-free confidence interval.

A figure's model value is the median of a few runs (posterior draws, seeds); another set of
runs gives another median. ``calibration.compare`` reports this interval beside each median,
so that a verdict within or outside tolerance that the runs do not settle is marked.
Source: Conover (1999), *Practical Nonparametric Statistics*, 3rd ed., section 3.2.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import binom

MEDIAN_LEVEL = 0.9


def median_interval(values: np.ndarray, level: float = MEDIAN_LEVEL) -> tuple[float, float]:
    """Return the distribution-free confidence interval of the median of ``values``.

    A median of runs is a Monte Carlo estimate: other seeds or posterior draws give
    another. The interval is the ``j``-th to the ``(n + 1 - j)``-th smallest of the ``n``
    finite values, with the largest ``j`` whose binomial tail ``P(B <= j - 1)``, ``B ~
    Binomial(n, 1/2)``, is at most ``(1 - level) / 2``; it covers the median of the runs'
    distribution with probability at least ``level`` (the source above). NaN where no such
    ``j`` exists: fewer than 5 runs at ``level`` 0.9.
    """
    x = np.sort(np.asarray(values, dtype=float))
    x = x[np.isfinite(x)]
    tails = binom.cdf(np.arange(x.size), x.size, 0.5)
    j = int(np.count_nonzero(tails <= (1 - level) / 2))
    if j == 0:
        return math.nan, math.nan
    return float(x[j - 1]), float(x[x.size - j])
