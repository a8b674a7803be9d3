"""The tie network's reference copy for the tests: the working ties as a graph, its table.

``model.ties`` once counted and wrote the working ties (both NGOs operational) from a copy
of its graph, built tie by tie in the graph's order. The counts now come from arrays of
the ties' ends (``TieNetwork.operational_ties``) and the network snapshots from one
listing of the graph's edges (``TieNetwork.operational_table``); this copy and its table
are what they must give.
"""

from __future__ import annotations

import networkx as nx
import pandas as pd

from model.tie_arrays import EDGE_COLUMNS
from model.ties import TieNetwork


def working_copy(network: TieNetwork, pops: dict) -> nx.Graph:
    """Return a copy of the ties whose two NGOs are both operational, built edge by edge."""
    live = nx.Graph()
    # In the graph's order (an edge subgraph's order follows hashes).
    for a, b, data in network.graph.edges(data=True):
        if pops[a[0]].active[a[1]] and pops[b[0]].active[b[1]]:
            live.add_node(a, **network.graph.nodes[a])
            live.add_node(b, **network.graph.nodes[b])
            live.add_edge(a, b, **data)
    return live


def edge_table(graph: nx.Graph) -> pd.DataFrame:
    """Return a tie graph as a table (both ends' country, row and sector; the year formed)."""
    sector = nx.get_node_attributes(graph, "sector")
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
        for a, b, data in graph.edges(data=True)
    ]
    return pd.DataFrame(rows, columns=list(EDGE_COLUMNS))
