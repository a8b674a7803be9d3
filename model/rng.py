"""Keyed random numbers: each draw depends on (seed, decision, year, key), nothing else.

Design after Starsim's common-random-numbers scheme (Kerr et al. 2024, "Starsim" and
"Common random numbers in agent-based models"): instead of one shared generator whose
state advances with every draw, a decision's uniform for one NGO is a counter-based hash
of the run's seed, the decision's name, the year and the NGO's stable id. Adding, removing
or changing some NGOs therefore leaves every other NGO's draws unchanged, which is what
paired counterfactuals need.

Each decision's base key comes from numpy's ``SeedSequence`` (its spawn key carries the
decision); the year is mixed into it, and each NGO's id into that, by the SplitMix64
finaliser (Steele et al. 2014).
"""

from __future__ import annotations

import numbers
import zlib

import numpy as np
from scipy.special import ndtri, pdtr, pdtrik

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 2.0**-53
_MASK = (1 << 64) - 1
_GOLDEN_INT, _MIX1_INT, _MIX2_INT = int(_GOLDEN), int(_MIX1), int(_MIX2)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """Return the SplitMix64 finaliser of each uint64 in ``x`` (wrapping arithmetic).

    Works in place on a fresh array ``x + GOLDEN`` to avoid temporaries.
    """
    x = x + _GOLDEN
    x ^= x >> np.uint64(30)
    x *= _MIX1
    x ^= x >> np.uint64(27)
    x *= _MIX2
    x ^= x >> np.uint64(31)
    return x


def _splitmix64_int(x: int) -> int:
    """Return the SplitMix64 finaliser of one 64-bit Python int (as ``_splitmix64`` does).

    Python ints avoid the fixed cost of a numpy call for the one key of each decision
    and year, which is paid hundreds of times a run.
    """
    x = (x + _GOLDEN_INT) & _MASK
    x ^= x >> 30
    x = (x * _MIX1_INT) & _MASK
    x ^= x >> 27
    x = (x * _MIX2_INT) & _MASK
    return x ^ (x >> 31)


def decision_code(decision: str) -> int:
    """Return a stable 32-bit code for a decision name (CRC32, same in every process)."""
    return zlib.crc32(decision.encode("utf-8"))


def check_seed(seed, name: str = "seed", sequences: bool = True) -> None:
    """Raise ``ValueError`` unless ``seed`` is a whole number >= 0 or a sequence of them.

    What ``SeedSequence`` takes as entropy; checked first so that a bad seed is named
    rather than failing deep inside numpy (a bool is refused: it is no seed anyone means).
    With ``sequences`` False only one whole number is a seed (a run's, ``plain_seed``).
    """
    if not sequences and isinstance(seed, (tuple, list)):
        raise ValueError(f"{name}: a run's seed is one whole number >= 0, got {seed!r}")
    values = seed if isinstance(seed, (tuple, list)) else (seed,)
    # Not config_files.is_whole: this module imports nothing of the package's, so that it
    # loads on its own (tests/test_rng.py loads it in a process with another hash seed).
    if not values or any(
        isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0 for v in values
    ):
        either = " (or a sequence of them)" if sequences else ""
        found = f"must be a whole number >= 0{either}, got {seed!r}"
        raise ValueError(f"{name}: {found}")


def plain_seed(seed, name: str = "seed") -> int:
    """Return a run's checked seed, one whole number >= 0, as a Python int.

    Mesa seeds its own generator with ``random.Random``, which refuses numpy integers
    (``np.int64`` from ``np.arange``), though the keyed streams take them. A sequence is
    refused: ``SeedSequence`` drops its trailing zeros (``(1, 0)`` would run as ``1``),
    and the regional layer keys its own streams by ``(seed, its code)``.
    """
    check_seed(seed, name, sequences=False)
    return int(seed)


class KeyedStreams:
    """Named random streams derived from one run seed.

    Each decision gets a base key from ``SeedSequence(seed, spawn_key=(decision code,))``;
    the year is mixed into it with SplitMix64, so that a run creates one ``SeedSequence``
    per decision rather than one per decision and year.

    Args:
        seed: The run's seed: an int or a sequence of ints (``SeedSequence`` entropy).
    """

    def __init__(self, seed: int | tuple[int, ...]):
        check_seed(seed)
        self.seed = seed
        self._bases: dict[str, np.uint64] = {}
        self._keys: dict[tuple[str, int], np.uint64] = {}

    def key(self, decision: str, year: int) -> np.uint64:
        """Return the 64-bit key of one decision in one year (what each id is mixed with)."""
        cache_key = (decision, year)
        key = self._keys.get(cache_key)
        if key is None:
            base = self._base(decision)
            key = np.uint64(_splitmix64_int((year * _GOLDEN_INT & _MASK) ^ int(base)))
            self._keys[cache_key] = key
        return key

    def _base(self, decision: str) -> np.uint64:
        base = self._bases.get(decision)
        if base is None:
            ss = np.random.SeedSequence(self.seed, spawn_key=(decision_code(decision),))
            base = ss.generate_state(1, np.uint64)[0]
            self._bases[decision] = base
        return base

    def bases(self, decisions: list[str]) -> np.ndarray:
        """Return the base key of each decision (uint64 array; ``keys`` mixes in the year)."""
        return np.array([self._base(d) for d in decisions], dtype=np.uint64)

    def keys(self, decision: str, years: np.ndarray) -> np.ndarray:
        """Return ``key(decision, year)`` for each of ``years`` at once (uint64 array)."""
        x = np.asarray(years, dtype=np.uint64) * _GOLDEN
        x ^= self._base(decision)
        return _splitmix64(x)

    def uniform(self, decision: str, year: int, ids: np.ndarray) -> np.ndarray:
        """Return one uniform in [0, 1) per id, keyed by (seed, decision, year, id).

        Args:
            decision: Name of the decision (e.g. ``"survival"``).
            year: Calendar year of the draw.
            ids: Stable integer ids of the NGOs (or other keys) drawing.

        Returns:
            Float array of the same length as ``ids``.
        """
        x = np.asarray(ids, dtype=np.uint64) * _GOLDEN
        x ^= self.key(decision, year)
        x = _splitmix64(_splitmix64(x))
        x >>= np.uint64(11)
        return x.astype(np.float64) * _TO_UNIT

    def normal(self, decision: str, year: int, ids: np.ndarray) -> np.ndarray:
        """Return one standard normal per id (inverse CDF of the keyed uniform)."""
        u = self.uniform(decision, year, ids)
        return ndtri(np.clip(u, 1e-12, 1 - 1e-12))

    def scalar_uniform(self, decision: str, year: int) -> float:
        """Return a single keyed uniform for an aggregate decision of a year."""
        mixed = _splitmix64_int(_splitmix64_int(int(self.key(decision, year))))
        return (mixed >> 11) * _TO_UNIT


def poisson_quantile(u: float, lam: float) -> int:
    """Return the Poisson(``lam``) quantile of ``u``: the least k with P(X <= k) >= u.

    Uses the incomplete-gamma inverse of ``scipy.special`` (as ``scipy.stats.poisson.ppf``
    does) without the cost of the ``scipy.stats`` machinery on every call.
    """
    if lam <= 0:
        return 0
    k = max(int(np.ceil(pdtrik(u, lam))), 0)
    return k - 1 if k > 0 and pdtr(k - 1, lam) >= u else k
