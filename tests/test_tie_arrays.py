"""The tie network's arrays (``model.tie_arrays``) against its networkx graph.

The yearly rules and counts read the ties' ends as arrays, and the network snapshots are
written from them in the order of a copy of the graph that is no longer built: both must
stay what the graph itself gives.
"""

from __future__ import annotations

import functools

import networkx as nx
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ties import OPEN, PARAMS, everyone, full_openness, leave_active

from model.population import DEREGISTERED
from model.rng import KeyedStreams
from model.scenario import COUNTRIES, SECTORS
from model.tie_arrays import foreign_pair_draws, listing_order, nodes_of, pair_keys
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


def numpy_pair_draws(country, sector, ids, weights, transboundary, chance, partners, uniform):
    """The formation's draws as numpy arrays, pair by pair (what the compiled pass must give)."""
    i, j = np.triu_indices(country.size, k=1)
    foreign = country[i] != country[j]
    i, j = i[foreign], j[foreign]
    weight = np.where(sector[i] == sector[j], weights[0], 1.0) * np.where(
        transboundary[sector[i]] & transboundary[sector[j]], weights[1], 1.0
    )
    scale = float(weight.mean()) * partners if i.size else 0.0
    if scale <= 0:
        return i[:0], j[:0]
    hit = uniform(pair_keys(ids[i], ids[j])) < np.minimum(1.0, chance * weight / scale)
    return i[hit], j[hit]


def test_the_compiled_pair_draws_are_numpys():
    streams = KeyedStreams((7, 1))
    rng = np.random.default_rng(11)
    formed = 0
    for trial in range(200):
        n = int(rng.integers(0, 90))
        country = rng.integers(0, len(COUNTRIES), n)
        sector = rng.integers(0, len(SECTORS), n).astype(np.int8)
        ids = rng.integers(0, 2**40, n).astype(np.uint64)
        transboundary = rng.random(len(SECTORS)) < 0.3
        weights = (float(rng.choice([1.0, 2.5])), float(rng.choice([1.0, 3.0])))
        chance = float(rng.random() * 3)
        partners = float(rng.choice([0.0, rng.random() * 60]))
        args = (country, sector, ids, weights, transboundary, chance, partners)
        uniform = functools.partial(streams.uniform, "tie_form/forum", trial)
        expected = numpy_pair_draws(*args, uniform)
        got = foreign_pair_draws(*args, streams.key("tie_form/forum", trial))
        assert [a.tolist() for a in got] == [a.tolist() for a in expected]
        formed += got[0].size
    assert formed > 1000
