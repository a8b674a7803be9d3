"""Cross-border ties between NGOs of different countries: a networkx graph and its rules.

Source: Jaysanov (2023) on regional cooperation: ties form where NGOs of several
countries meet (CASDIN's bulletin as "an information bridge in establishing cooperation
between NGOs in the region", forums, trainings, joint projects), preferably within a
field ("Jan" uniting disability NGOs of the region); "precautionary measures of the
governments have created certain obstacles for the regional cooperation of NGOs" after
2010; cooperation "revived" with "the policy of openness in neighboring Uzbekistan".
Fields whose problems cross borders tie more readily: transnational networks form around
shared problems (Keck and Sikkink 1998, Activists beyond Borders), and in Central Asia the
rivers and the Aral Sea are shared (Weinthal 2002, State Making and Environmental
Cooperation). A node is ``(country, row)``: an NGO's row in its country's
``Population``. Every draw is keyed by the regional layer's own streams
(``model.rng.KeyedStreams``), never by a stream a country's model uses.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

import networkx as nx
import numpy as np
import pandas as pd

from .population import DEREGISTERED, Population
from .rng import KeyedStreams
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
_PAIR_MIX = np.uint64(0xD6E8FEB86659FD93)


def regional_ids(country: str, ngo_ids: np.ndarray) -> np.ndarray:
    """Return ids unique across the region: the country's index above the NGO's own id.

    NGO ids (founding year x 1,000,000 + order) repeat between countries.
    """
    return (np.uint64(COUNTRIES.index(country)) << np.uint64(32)) | ngo_ids.astype(np.uint64)


def pair_keys(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return a key per unordered pair of regional ids (the same whichever comes first)."""
    low, high = np.minimum(a, b), np.maximum(a, b)
    return (low * _PAIR_MIX) ^ high


class Participants(NamedTuple):
    """The NGOs taking part in one programme in one year, all countries together."""

    country: np.ndarray  # index into COUNTRIES
    row: np.ndarray
    ids: np.ndarray  # regional ids
    sector: np.ndarray


def pair_name(a: int, b: int) -> str:
    """Return the name of the country pair ``COUNTRIES[a]``, ``COUNTRIES[b]`` (sorted)."""
    return "-".join(sorted((COUNTRIES[a], COUNTRIES[b])))


class Ends(NamedTuple):
    """Ties' two NGOs as arrays, in the graph's edge order (countries index ``COUNTRIES``)."""

    country_a: np.ndarray
    row_a: np.ndarray
    country_b: np.ndarray
    row_b: np.ndarray


def edge_ends(edges: list[tuple[tuple[str, int], tuple[str, int]]]) -> Ends:
    """Return the ends of ``edges`` (pairs of ``(country, row)`` nodes) as arrays."""
    index = {c: k for k, c in enumerate(COUNTRIES)}
    flat = np.array(
        [(index[a[0]], a[1], index[b[0]], b[1]) for a, b in edges], dtype=np.int64
    ).reshape(-1, 4)
    return Ends(*flat.T)


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
    """A set of ties as arrays, in the graph's edge order, and the counts the outputs take."""

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


def select_participants(
    streams: KeyedStreams,
    decision: str,
    year: int,
    pop: Population,
    expected: float,
    sector_weights: np.ndarray,
) -> np.ndarray:
    """Return the rows of a country's operational NGOs that take part in a programme.

    Each operational NGO takes part with probability ``expected`` times its sector's
    weight over the summed weight of all operational NGOs (capped at 1), so about
    ``expected`` NGOs take part, more of them from the programme's sectors.
    """
    rows = np.flatnonzero(pop.view("active"))
    if rows.size == 0 or expected <= 0:
        return rows[:0]
    weight = sector_weights[pop.sector[rows]]
    total = weight.sum()
    if total <= 0:
        return rows[:0]
    p = np.minimum(1.0, expected * weight / total)
    return rows[streams.uniform(decision, year, pop.ngo_id[rows]) < p]


def foreign_partners_at_full_openness(full: np.ndarray) -> float:
    """Return the mean number of foreign participants a participant meets when all are open.

    ``full`` holds the expected participants per country at openness 1: a participant of
    country ``c`` (``full[c]`` of the ``N`` participants) meets ``N - full[c]`` foreigners.
    """
    total = full.sum()
    return float((full * (total - full)).sum() / total) if total > 0 else 0.0


def open_pair_weight(weight: np.ndarray, full: np.ndarray) -> float:
    """Return a participant's summed pair weight at full openness (the formation's scale).

    The mean weight of the pairs present (their sector mix) times the foreign partners a
    participant would meet at full openness.
    """
    return float(weight.mean()) * foreign_partners_at_full_openness(full)


class TieNetwork:
    """The region's cross-border ties: form at programmes, lapse yearly, die with an NGO.

    Args:
        streams: The regional layer's keyed streams.
        params: The regional parameters (``RegionalParameters.values()``).
        transboundary: Whether each sector (in ``SECTORS`` order) is a field whose
            problems cross borders; none if absent.
    """

    def __init__(
        self,
        streams: KeyedStreams,
        params: dict[str, float],
        transboundary: np.ndarray | None = None,
    ):
        self.streams = streams
        self.params = params
        self.transboundary = (
            np.zeros(len(SECTORS), dtype=bool) if transboundary is None else transboundary
        )
        self.graph = nx.Graph()

    def edges(self) -> list[tuple[tuple[str, int], tuple[str, int]]]:
        """Return the ties as a list of node pairs, in the graph's order."""
        # Through an iterator: list() of the view itself first takes its len(), which
        # networkx computes in a pass over every node's neighbours.
        return list(iter(self.graph.edges))

    def lapse(self, year: int, pops: dict[str, Population], openness: dict[str, float]) -> None:
        """Drop ties to deregistered NGOs, and each other tie with its yearly lapse chance.

        A tie lapses with probability ``tie_decay`` plus ``closure_decay`` times how closed
        the less open of its two countries is (``1 - openness``).
        """
        edges = self.edges()
        if not edges:
            return
        ends = edge_ends(edges)
        dead = (at_ends(pops, ends.country_a, ends.row_a, "status") == DEREGISTERED) | (
            at_ends(pops, ends.country_b, ends.row_b, "status") == DEREGISTERED
        )
        # Removing edges keeps the others' order, so the survivors are the graph's edges.
        self.graph.remove_edges_from([e for e, d in zip(edges, dead, strict=True) if d])
        alive = ~dead
        if alive.any():
            ends = Ends(*(end[alive] for end in ends))
            closed = 1.0 - np.minimum(
                by_country(openness, ends.country_a), by_country(openness, ends.country_b)
            )
            p = self.params["tie_decay"] + self.params["closure_decay"] * closed
            keys = pair_keys(
                end_ids(pops, ends.country_a, ends.row_a), end_ids(pops, ends.country_b, ends.row_b)
            )
            u = self.streams.uniform("tie_lapse", year, keys)
            survivors = [e for e, d in zip(edges, dead, strict=True) if not d]
            self.graph.remove_edges_from(
                [e for e, hit in zip(survivors, u < p, strict=True) if hit]
            )
        self.graph.remove_nodes_from([n for n, d in list(self.graph.degree) if d == 0])

    def form(
        self, year: int, name: str, people: Participants, full: np.ndarray, rate: float = 1.0
    ) -> list[tuple[tuple[str, int], tuple[str, int]]]:
        """Form ties between a programme's participants of different countries.

        Each cross-border pair forms a tie with probability ``ties_per_participant`` times
        the pair's weight (``pair_weight``) over the programme's pair weight at full
        openness: the mean weight of the pairs present times the foreign participants a
        participant would meet if every country were open (from ``full``, the expected
        participants per country, indexed as ``COUNTRIES``).
        At full openness a participant forms about ``ties_per_participant`` ties, more
        within its field; a closed country's missing participants cut the others' ties in
        proportion, rather than leaving more ties to the few who still come. ``rate``
        scales every pair's chance: 1 where NGOs meet, ``information_tie_rate`` where they
        only read about each other.

        Returns:
            The new ties (pairs of nodes; a pair already tied is not new).
        """
        i, j = np.triu_indices(people.row.size, k=1)
        foreign = people.country[i] != people.country[j]
        i, j = i[foreign], j[foreign]
        if i.size == 0:
            return []
        weight = self.pair_weight(people.sector[i], people.sector[j])
        scale = open_pair_weight(weight, full)
        if scale <= 0:
            return []
        p = np.minimum(1.0, rate * self.params["ties_per_participant"] * weight / scale)
        u = self.streams.uniform(f"tie_form/{name}", year, pair_keys(people.ids[i], people.ids[j]))
        hit = u < p
        new = []
        for a, b in zip(i[hit], j[hit], strict=True):
            na, nb = self._node(people, a), self._node(people, b)
            if not self.graph.has_edge(na, nb):
                self.graph.add_edge(na, nb, since=year)
                new.append((na, nb))
        return new

    def pair_weight(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Return the weight of each pair of sectors ``a[k]``, ``b[k]`` in tie formation.

        ``same_sector_weight`` for two NGOs of one field, else 1; times
        ``transboundary_weight`` when both work in fields whose problems cross borders: a
        shared river or sea gives them a common agenda (Keck and Sikkink 1998; Weinthal
        2002 on Central Asia's shared waters).
        """
        weight = np.where(a == b, self.params["same_sector_weight"], 1.0)
        shared = self.transboundary[a] & self.transboundary[b]
        return weight * np.where(shared, self.params["transboundary_weight"], 1.0)

    def _node(self, people: Participants, k: int) -> tuple[str, int]:
        """Return participant ``k``'s node, added with its sector if it has no tie yet."""
        node = (COUNTRIES[people.country[k]], int(people.row[k]))
        if node not in self.graph:
            self.graph.add_node(node, sector=SECTORS[people.sector[k]])
        return node

    # Counts --------------------------------------------------------------------------

    def among_operational(self, pops: dict[str, Population]) -> TieNetwork:
        """Return the ties whose two NGOs are both operational this year (a copy).

        The outputs count these: a tie with a dormant NGO (registered, inactive) is kept,
        and may count again when it is active, but is not a working tie that year.
        """
        live = TieNetwork(self.streams, self.params, self.transboundary)
        # Built edge by edge in the graph's order (an edge subgraph's order follows hashes).
        for a, b, data in self.graph.edges(data=True):
            if pops[a[0]].active[a[1]] and pops[b[0]].active[b[1]]:
                live.graph.add_node(a, **self.graph.nodes[a])
                live.graph.add_node(b, **self.graph.nodes[b])
                live.graph.add_edge(a, b, **data)
        return live

    def tied_rows(self, country: str, size: int) -> np.ndarray:
        """Return a mask over a country's population rows: NGOs with a cross-border tie."""
        mask = np.zeros(size, dtype=bool)
        rows = [r for c, r in self.graph.nodes if c == country]
        mask[rows] = True
        return mask

    def operational_ties(self, pops: dict[str, Population]) -> Ties:
        """Return the ties whose two NGOs are both operational this year, as arrays.

        The same ties as ``among_operational``, without copying the graph: the yearly
        counts need only these arrays, and a copy of the graph costs more than the
        year's rules of the ties.
        """
        ends = edge_ends(self.edges())
        both = at_ends(pops, ends.country_a, ends.row_a, "active") & at_ends(
            pops, ends.country_b, ends.row_b, "active"
        )
        ends = Ends(*(end[both] for end in ends))
        return Ties(
            ends,
            at_ends(pops, ends.country_a, ends.row_a, "sector").astype(np.int64),
            at_ends(pops, ends.country_b, ends.row_b, "sector").astype(np.int64),
        )

    def edge_table(self) -> pd.DataFrame:
        """Return the ties as a table (both ends' country, row and sector; the year formed)."""
        sector = nx.get_node_attributes(self.graph, "sector")
        rows = [
            {
                "country_a": a[0],
                "row_a": a[1],
                "sector_a": sector[a],
                "country_b": b[0],
                "row_b": b[1],
                "sector_b": sector[b],
                "since": data["since"],
            }
            for a, b, data in self.graph.edges(data=True)
        ]
        return pd.DataFrame(rows, columns=list(EDGE_COLUMNS))
