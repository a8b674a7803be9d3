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

from typing import NamedTuple

import networkx as nx
import numpy as np
import pandas as pd

from .population import DEREGISTERED, Population
from .rng import KeyedStreams
from .scenario import COUNTRIES, SECTORS
from .tie_arrays import (
    Ends,
    Ties,
    at_ends,
    both_active,
    by_country,
    edge_frame,
    end_ids,
    foreign_pairs,
    listing_order,
    nodes_of,
    pair_draws,
    pair_keys,
)


class Participants(NamedTuple):
    """The NGOs taking part in one programme in one year, all countries together."""

    country: np.ndarray  # index into COUNTRIES
    row: np.ndarray
    ids: np.ndarray  # regional ids
    sector: np.ndarray


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
        # The same ties as arrays, in the order they formed (the graph's own order follows
        # its nodes): the yearly rules and counts read these instead of walking the graph,
        # and neither depends on the order.
        self.ends = Ends(*(np.zeros(0, dtype=np.int64) for _ in Ends._fields))

    def lapse(self, year: int, pops: dict[str, Population], openness: dict[str, float]) -> None:
        """Drop ties to deregistered NGOs, and each other tie with its yearly lapse chance.

        A tie lapses with probability ``tie_decay`` plus ``closure_decay`` times how closed
        the less open of its two countries is (``1 - openness``).
        """
        ends = self.ends
        if ends.row_a.size == 0:
            return
        dead = (at_ends(pops, ends.country_a, ends.row_a, "status") == DEREGISTERED) | (
            at_ends(pops, ends.country_b, ends.row_b, "status") == DEREGISTERED
        )
        alive = ~dead
        closed = 1.0 - np.minimum(
            by_country(openness, ends.country_a[alive]), by_country(openness, ends.country_b[alive])
        )
        p = self.params["tie_decay"] + self.params["closure_decay"] * closed
        keys = pair_keys(
            end_ids(pops, ends.country_a[alive], ends.row_a[alive]),
            end_ids(pops, ends.country_b[alive], ends.row_b[alive]),
        )
        kept = alive.copy()
        kept[alive] = ~(self.streams.uniform("tie_lapse", year, keys) < p)
        # The graph loses the same edges and nodes whatever the order they are removed in;
        # only an end of a lapsed tie can be left without one.
        lapsed = nodes_of(ends.where(~kept))
        self.graph.remove_edges_from(lapsed)
        self.ends = ends.where(kept)
        ends_left = {node for tie in lapsed for node in tie}
        self.graph.remove_nodes_from([n for n in ends_left if self.graph.degree(n) == 0])

    def form(
        self, year: int, name: str, people: Participants, full: np.ndarray, rate: float = 1.0
    ) -> list[tuple[tuple[str, int], tuple[str, int]]]:
        """Form ties between a programme's participants of different countries.

        Each cross-border pair forms a tie with probability ``ties_per_participant`` times
        the pair's weight over the programme's pair weight at full openness: the mean
        weight of the pairs present times the foreign participants a participant would
        meet if every country were open (from ``full``, the expected participants per
        country, indexed as ``COUNTRIES``). A pair's weight is ``same_sector_weight`` for
        two NGOs of one field, else 1, times ``transboundary_weight`` when both work in
        fields whose problems cross borders: a shared river or sea gives them a common
        agenda (Keck and Sikkink 1998; Weinthal 2002 on Central Asia's shared waters).
        At full openness a participant forms about ``ties_per_participant`` ties, more
        within its field; a closed country's missing participants cut the others' ties in
        proportion, rather than leaving more ties to the few who still come. ``rate``
        scales every pair's chance: 1 where NGOs meet, ``information_tie_rate`` where they
        only read about each other. The pairs are drawn in compiled passes
        (``foreign_pairs``, ``pair_draws``).

        Returns:
            The new ties (pairs of nodes; a pair already tied is not new).
        """
        pairs = foreign_pairs(
            people.country,
            people.sector,
            (self.params["same_sector_weight"], self.params["transboundary_weight"]),
            self.transboundary,
        )
        first, second = pair_draws(
            *pairs,
            people.ids,
            rate * self.params["ties_per_participant"],
            foreign_partners_at_full_openness(full),
            self.streams.key(f"tie_form/{name}", year),
        )
        return self._add_ties(year, people, first.tolist(), second.tolist())

    def _add_ties(self, year: int, people: Participants, i: list[int], j: list[int]) -> list:
        """Add the ties ``(i[k], j[k])`` between participants that are not tied yet.

        The new nodes (with their sectors) and then the new ties are added in the order
        they first occur, which leaves the graph in the order of adding them one by one.
        Returns the new ties as pairs of nodes.
        """
        countries, rows = people.country.tolist(), people.row.tolist()
        new, made, nodes = [], [], {}
        known: set = set()
        for a, b in zip(i, j, strict=True):
            na, nb = (COUNTRIES[countries[a]], rows[a]), (COUNTRIES[countries[b]], rows[b])
            tie = frozenset((na, nb))
            if tie in known or self.graph.has_edge(na, nb):
                continue
            known.add(tie)
            nodes.setdefault(na, a)
            nodes.setdefault(nb, b)
            new.append((na, nb))
            made.append((a, b))
        self.graph.add_nodes_from(
            (node, {"sector": SECTORS[people.sector[k]]})
            for node, k in nodes.items()
            if node not in self.graph
        )
        self.graph.add_edges_from(new, since=year)
        if made:
            a, b = np.array(made, dtype=np.int64).T
            formed = (people.country[a], people.row[a], people.country[b], people.row[b])
            grown = zip(self.ends, formed, strict=True)
            self.ends = Ends(*(np.concatenate((old, end.astype(np.int64))) for old, end in grown))
        return new

    # Counts --------------------------------------------------------------------------

    def operational_table(self, pops: dict[str, Population]) -> pd.DataFrame:
        """Return the working ties (both NGOs operational) as an edge table (``EDGE_COLUMNS``).

        In the order a copy of them, built tie by tie in the graph's order, would list them
        (``listing_order``; the copy is the tests' reference, ``tests/tie_reference.py``),
        without building it. The NGOs' sectors are their populations' (a node keeps the
        sector of its row's NGO, which never changes).
        """
        ends, since = listed_edges(self.graph)
        both = both_active(pops, ends)
        ends, since = ends.where(both), since[both]
        # A node as one integer: its country above its row.
        ca, ra, cb, rb = ends
        order, flip = listing_order((ca << 40) | ra, (cb << 40) | rb)
        listed_ends = Ends(
            np.where(flip, cb, ca)[order],
            np.where(flip, rb, ra)[order],
            np.where(flip, ca, cb)[order],
            np.where(flip, ra, rb)[order],
        )
        sector = (
            at_ends(pops, listed_ends.country_a, listed_ends.row_a, "sector"),
            at_ends(pops, listed_ends.country_b, listed_ends.row_b, "sector"),
        )
        return edge_frame(listed_ends, *sector, since[order])

    def tied_rows(self, country: str, size: int) -> np.ndarray:
        """Return a mask over a country's population rows: NGOs with a cross-border tie."""
        mask = np.zeros(size, dtype=bool)
        rows = [r for c, r in self.graph.nodes if c == country]
        mask[rows] = True
        return mask

    def operational_ties(self, pops: dict[str, Population]) -> Ties:
        """Return the ties whose two NGOs are both operational this year, as arrays.

        The outputs count these: a tie with a dormant NGO (registered, inactive) is kept,
        and may count again when it is active, but is not a working tie that year. From
        the arrays of the ties' ends, without walking or copying the graph: the yearly
        counts need only these arrays (in any order).
        """
        ends = self.ends.where(both_active(pops, self.ends))
        return Ties(
            ends,
            at_ends(pops, ends.country_a, ends.row_a, "sector").astype(np.int64),
            at_ends(pops, ends.country_b, ends.row_b, "sector").astype(np.int64),
        )


def listed_edges(graph: nx.Graph) -> tuple[Ends, np.ndarray]:
    """Return a tie graph's edges as arrays of their ends and formation years, as listed."""
    # Through an iterator: list() of the view itself first takes its len(), which
    # networkx computes in a pass over every node's neighbours.
    listed = list(iter(graph.edges(data="since")))
    index = {c: k for k, c in enumerate(COUNTRIES)}
    flat = np.array(
        [(index[a[0]], a[1], index[b[0]], b[1], since) for a, b, since in listed],
        dtype=np.int64,
    ).reshape(-1, 5)
    return Ends(*flat[:, :4].T), flat[:, 4]
