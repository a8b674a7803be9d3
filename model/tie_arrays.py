"""Cross-border ties as arrays: their ends, the populations' values there, their counts.

Source: the tie network of ``model.ties`` (Jaysanov 2023 on regional cooperation;
``docs/ODD.md``, section 8). The network keeps its ties twice: as a networkx graph, whose
order the outputs' edge tables follow, and as arrays of their ends (``Ends``), which the
yearly rules and counts read without walking the graph. ``listing_order`` gives the order
in which networkx lists the edges of a graph built tie by tie, so that a table of a set of
ties can be written in a copy's order without building the copy. ``foreign_pairs`` and
``pair_draws`` draw a programme's new ties among its participants in compiled passes.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

import numpy as np
import pandas as pd

from .kernels import uniform
from .pairwise import jit, pairwise_sum
from .population import Population
from .scenario import COUNTRIES, SECTORS

MIXED = "mixed"
EDGE_COLUMNS: tuple[str, ...] = (
    "country_a",
    "row_a",
    "sector_a",
    "country_b",
    "row_b",
    "sector_b",
    "since",
)

# A large odd constant: pair keys mix the two NGOs' regional ids without collisions in
# practice (the keyed streams hash them again).
PAIR_MIX = np.uint64(0xD6E8FEB86659FD93)


def regional_ids(country: str, ngo_ids: np.ndarray) -> np.ndarray:
    """Return ids unique across the region: the country's index above the NGO's own id.

    NGO ids (founding year x 1,000,000 + order) repeat between countries.
    """
    return (np.uint64(COUNTRIES.index(country)) << np.uint64(32)) | ngo_ids.astype(np.uint64)


def pair_name(a: int, b: int) -> str:
    """Return the name of the country pair ``COUNTRIES[a]``, ``COUNTRIES[b]`` (sorted)."""
    return "-".join(sorted((COUNTRIES[a], COUNTRIES[b])))


class Ends(NamedTuple):
    """Ties' two NGOs as arrays (countries index ``COUNTRIES``)."""

    country_a: np.ndarray
    row_a: np.ndarray
    country_b: np.ndarray
    row_b: np.ndarray

    def where(self, mask: np.ndarray) -> Ends:
        """Return the ties where ``mask`` holds."""
        return Ends(*(end[mask] for end in self))


def nodes_of(ends: Ends) -> list[tuple[tuple[str, int], tuple[str, int]]]:
    """Return the ties ``ends`` as pairs of ``(country, row)`` nodes of the graph."""
    return [
        ((COUNTRIES[ca], ra), (COUNTRIES[cb], rb))
        for ca, ra, cb, rb in zip(*(end.tolist() for end in ends), strict=True)
    ]


def at_ends(
    pops: dict[str, Population], country: np.ndarray, row: np.ndarray, field: str
) -> np.ndarray:
    """Return a population array's value at each NGO ``(country[k], row[k])``.

    Raises ``KeyError`` for a country that has no population in ``pops``.
    """
    out = np.empty(row.size, dtype=getattr(next(iter(pops.values())), field).dtype)
    for k in np.unique(country):
        here = country == k
        out[here] = getattr(pops[COUNTRIES[k]], field)[row[here]]
    return out


def both_active(pops: dict[str, Population], ends: Ends) -> np.ndarray:
    """Return whether each tie's two NGOs are both operational this year (a working tie)."""
    return at_ends(pops, ends.country_a, ends.row_a, "active") & at_ends(
        pops, ends.country_b, ends.row_b, "active"
    )


def by_country(values: dict[str, float], country: np.ndarray) -> np.ndarray:
    """Return each element's country's value (``KeyError`` for a country not in ``values``)."""
    out = np.empty(country.size)
    for k in np.unique(country):
        out[country == k] = values[COUNTRIES[k]]
    return out


def end_ids(pops: dict[str, Population], country: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Return the regional ids (``regional_ids``) of the NGOs ``(country[k], row[k])``."""
    out = np.empty(row.size, dtype=np.uint64)
    for k in np.unique(country):
        here = country == k
        out[here] = regional_ids(COUNTRIES[k], pops[COUNTRIES[k]].ngo_id[row[here]])
    return out


class Ties(NamedTuple):
    """A set of ties as arrays and the counts the outputs take (none depends on their order)."""

    ends: Ends
    sector_a: np.ndarray  # index into SECTORS
    sector_b: np.ndarray

    def ties_of(self, country: str) -> int:
        """Return the number of ties with one end in ``country`` (the other is abroad)."""
        k = COUNTRIES.index(country)
        return int(((self.ends.country_a == k) | (self.ends.country_b == k)).sum())

    def tied_rows(self, country: str, size: int) -> np.ndarray:
        """Return a mask over a country's population rows: NGOs with one of these ties."""
        k = COUNTRIES.index(country)
        mask = np.zeros(size, dtype=bool)
        mask[self.ends.row_a[self.ends.country_a == k]] = True
        mask[self.ends.row_b[self.ends.country_b == k]] = True
        return mask

    def by_pair_and_sector(self) -> Counter:
        """Return the ties counted by (country pair, sector; ``mixed`` across sectors)."""
        names = (*SECTORS, MIXED)
        sector = np.where(self.sector_a == self.sector_b, self.sector_a, len(SECTORS))
        low = np.minimum(self.ends.country_a, self.ends.country_b)
        high = np.maximum(self.ends.country_a, self.ends.country_b)
        # One integer per (pair, sector) cell, counted in one pass.
        cells = (low * len(COUNTRIES) + high) * len(names) + sector
        counts = np.bincount(cells, minlength=len(COUNTRIES) ** 2 * len(names))
        result: Counter = Counter()
        for cell in np.flatnonzero(counts):
            pair, kind = divmod(int(cell), len(names))
            result[pair_name(*divmod(pair, len(COUNTRIES))), names[kind]] = int(counts[cell])
        return result


def listing_order(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the order in which networkx lists the edges of a graph built from these ties.

    ``first[k]`` and ``second[k]`` are tie ``k``'s two nodes (as integers), the ties added
    to an empty ``networkx.Graph`` in order, each tie's nodes first (``first`` then
    ``second``). networkx lists a graph's edges node by node, the nodes in the order they
    were added and each node's ties in the order they were added, every tie once, from the
    end that was added first. Returns the ties' indices in that order and, for each tie,
    whether it is listed from its ``second`` node.
    """
    added = np.empty(2 * first.size, dtype=np.int64)
    added[0::2], added[1::2] = first, second
    nodes, when = np.unique(added, return_index=True)
    came_first = when[np.searchsorted(nodes, first)]
    came_second = when[np.searchsorted(nodes, second)]
    from_second = came_second < came_first
    order = np.lexsort((np.arange(first.size), np.minimum(came_first, came_second)))
    return order, from_second


def edge_frame(
    ends: Ends, sector_a: np.ndarray, sector_b: np.ndarray, since: np.ndarray
) -> pd.DataFrame:
    """Return ties as an edge table (``EDGE_COLUMNS``): countries and sectors by name."""
    if ends.row_a.size == 0:
        # A table of no rows, as a list of no rows gives it (object columns): an empty
        # snapshot keeps the columns' types it always had.
        return pd.DataFrame([], columns=list(EDGE_COLUMNS))
    countries, sectors = np.array(COUNTRIES), np.array(SECTORS)
    columns = {
        "country_a": countries[ends.country_a].tolist(),
        "row_a": ends.row_a.astype(np.int64),
        "sector_a": sectors[sector_a].tolist(),
        "country_b": countries[ends.country_b].tolist(),
        "row_b": ends.row_b.astype(np.int64),
        "sector_b": sectors[sector_b].tolist(),
        "since": since.astype(np.int64),
    }
    return pd.DataFrame(columns, columns=list(EDGE_COLUMNS))


def pair_keys(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return a key per unordered pair of regional ids (the same whichever comes first)."""
    low, high = np.minimum(a, b), np.maximum(a, b)
    return (low * PAIR_MIX) ^ high


@jit
def foreign_pairs(country, sector, weights, transboundary):
    """Return the pairs of participants of different countries and each pair's weight.

    Participant ``k`` is of country ``country[k]`` and works in ``sector[k]``; the pairs
    in the order of ``numpy.triu_indices``. A pair's weight is ``weights[0]`` (the
    same-sector weight) for two NGOs of one field, else 1, times ``weights[1]`` (the
    transboundary weight) when both fields' problems cross borders (``transboundary``, by
    sector): numpy's products of the same numbers.
    """
    same, shared_weight = weights
    n = country.size
    m = 0
    for a in range(n):
        for b in range(a + 1, n):
            m += country[a] != country[b]
    first = np.empty(m, dtype=np.int64)
    second = np.empty(m, dtype=np.int64)
    weight = np.empty(m)
    k = 0
    for a in range(n):
        for b in range(a + 1, n):
            if country[a] != country[b]:
                sa, sb = sector[a], sector[b]
                shared = transboundary[sa] and transboundary[sb]
                first[k], second[k] = a, b
                weight[k] = (same if sa == sb else 1.0) * (shared_weight if shared else 1.0)
                k += 1
    return first, second, weight


@jit
def pair_draws(first, second, weight, ids, chance, partners, key):
    """Return the pairs (``foreign_pairs``) that form a tie this time, in their order.

    A pair forms a tie with probability ``chance`` (the rate times ties per participant)
    times its weight over the scale, the pairs' mean weight (numpy's pairwise sum over
    their number) times ``partners``, the foreign participants one meets at full
    openness; the draw is the pair's keyed uniform (``key``; the pair's key as
    ``pair_keys`` of the participants' regional ids ``ids``). The chances are numpy's
    (``np.minimum``, which keeps a NaN) of the same numbers in the same order.
    """
    m = weight.size
    scale = pairwise_sum(weight, 0, m) / m * partners if m else 0.0
    if scale <= 0:
        return first[:0], second[:0]
    hits = np.empty(m, dtype=np.int64)
    h = 0
    for k in range(m):
        p = np.minimum(1.0, chance * weight[k] / scale)
        x, y = ids[first[k]], ids[second[k]]
        hits[h] = k
        h += np.int64(uniform(key, (min(x, y) * PAIR_MIX) ^ max(x, y)) < p)
    return first[hits[:h]], second[hits[:h]]
