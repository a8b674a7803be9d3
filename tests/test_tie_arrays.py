"""The tie network's arrays (``model.tie_arrays``) against its networkx graph.

The yearly rules and counts read the ties' ends as arrays, and the network snapshots are
written from them in the order of a copy of the graph that is no longer built: both must
stay what the graph itself gives.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ties import OPEN, PARAMS, everyone, full_openness, leave_active

from model.population import DEREGISTERED
from model.rng import KeyedStreams
from model.scenario import COUNTRIES
from model.tie_arrays import listing_order, nodes_of
from model.ties import TieNetwork

pairs = st.lists(
    st.tuples(st.integers(0, 12), st.integers(0, 12)).filter(lambda p: p[0] != p[1]),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(pairs)
def test_the_listing_order_is_the_order_networkx_lists_a_built_graphs_edges(raw):
    seen, ties = set(), []
    for a, b in raw:  # each tie once, in either orientation
        if frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            ties.append((a, b))
    graph = nx.Graph()
    for a, b in ties:
        graph.add_node(a)
        graph.add_node(b)
        graph.add_edge(a, b)
    first = np.array([a for a, _ in ties], dtype=np.int64)
    second = np.array([b for _, b in ties], dtype=np.int64)
    order, flip = listing_order(first, second)
    listed = [(second[k], first[k]) if flip[k] else (first[k], second[k]) for k in order]
    assert listed == list(graph.edges)


def network_over_years(pops: dict) -> TieNetwork:
    """Ties formed, lapsed (some NGOs struck off) and formed again, as the years do."""
    network = TieNetwork(KeyedStreams((7, 1)), {**PARAMS, "tie_decay": 0.3})
    network.form(2005, "forum", everyone(pops), full_openness(pops))
    rng = np.random.default_rng(5)
    for pop in pops.values():
        pop.view("status")[rng.random(pop.size) < 0.15] = DEREGISTERED
    network.lapse(2006, pops, OPEN)
    network.form(2006, "meeting", everyone(pops), full_openness(pops))
    return network


def test_the_ends_arrays_hold_the_graphs_ties_after_forming_and_lapsing(make_population):
    pops = {c: make_population(120) for c in COUNTRIES}
    network = network_over_years(pops)
    held = [frozenset(tie) for tie in nodes_of(network.ends)]
    assert len(held) == len(set(held)) == network.graph.number_of_edges() > 0
    assert set(held) == {frozenset(e) for e in network.graph.edges}


def test_the_snapshot_table_is_the_graph_copys_table(make_population):
    pops = {c: make_population(120) for c in COUNTRIES}
    network = network_over_years(pops)
    leave_active(pops, 0.6, seed=8)
    table = network.operational_table(pops)
    copied = network.among_operational(pops).edge_table()
    assert 0 < len(table) < network.graph.number_of_edges()
    pd.testing.assert_frame_equal(table, copied)
    leave_active(pops, 0.0, seed=8)
    pd.testing.assert_frame_equal(
        network.operational_table(pops), network.among_operational(pops).edge_table()
    )
