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
from tie_reference import edge_table, working_copy

from model.pairwise import pairwise_sum
from model.population import DEREGISTERED
from model.rng import KeyedStreams
from model.scenario import COUNTRIES, SECTORS
from model.tie_arrays import foreign_pairs, listing_order, nodes_of, pair_draws, pair_keys
from model.ties import Participants, TieNetwork

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
    copied = edge_table(working_copy(network, pops))
    assert 0 < len(table) < network.graph.number_of_edges()
    pd.testing.assert_frame_equal(table, copied)
    leave_active(pops, 0.0, seed=8)
    pd.testing.assert_frame_equal(
        network.operational_table(pops), edge_table(working_copy(network, pops))
    )


def numpy_pairs(country, sector, weights, transboundary):
    """The foreign pairs and their weights as numpy arrays (what the compiled pass must give)."""
    i, j = np.triu_indices(country.size, k=1)
    foreign = country[i] != country[j]
    i, j = i[foreign], j[foreign]
    weight = np.where(sector[i] == sector[j], weights[0], 1.0) * np.where(
        transboundary[sector[i]] & transboundary[sector[j]], weights[1], 1.0
    )
    return i, j, weight


def numpy_draws(i, j, weight, ids, chance, partners, uniform):
    """The pairs that form a tie, drawn with numpy (what the compiled pass must give)."""
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
        # Weights whose sums round, so that the order of the additions shows.
        weights = (float(rng.uniform(0.5, 3.0)), float(rng.uniform(0.5, 3.0)))
        pairs = foreign_pairs(country, sector, weights, transboundary)
        expected = numpy_pairs(country, sector, weights, transboundary)
        for got, want in zip(pairs, expected, strict=True):
            np.testing.assert_array_equal(got, want)
        weight = pairs[2]
        if weight.size:  # the scale's mean, as the compiled pass takes it
            assert pairwise_sum(weight, 0, weight.size) / weight.size == weight.mean()
        chance = float(rng.random() * 3)
        partners = float(rng.choice([0.0, rng.random() * 60]))
        uniform = functools.partial(streams.uniform, "tie_form/forum", trial)
        drawn = pair_draws(*pairs, ids, chance, partners, streams.key("tie_form/forum", trial))
        want = numpy_draws(*expected, ids, chance, partners, uniform)
        assert [a.tolist() for a in drawn] == [a.tolist() for a in want]
        formed += drawn[0].size
    assert formed > 1000


def test_new_ties_leave_the_graph_as_adding_them_one_by_one(make_population):
    """Nodes (with their sectors) and ties in the order adding them one by one gives:
    what networkx lists, and so the outputs' order, rests on it. The second programme
    meets NGOs already tied and lists some NGOs twice."""
    pops = {c: make_population(120) for c in COUNTRIES}
    network = TieNetwork(KeyedStreams((7, 1)), {**PARAMS, "ties_per_participant": 2.0})
    replay = nx.Graph()
    people = everyone(pops)
    twice = Participants(*(np.concatenate((column, column[::3])) for column in people))
    for year, programme in ((2005, people), (2006, twice)):
        new = network.form(year, "forum", programme, full_openness(pops))
        assert new
        for a, b in new:
            for node in (a, b):
                if node not in replay:
                    replay.add_node(node, sector=SECTORS[pops[node[0]].sector[node[1]]])
            replay.add_edge(a, b, since=year)
    assert list(network.graph.nodes(data=True)) == list(replay.nodes(data=True))
    assert [(n, list(ties.items())) for n, ties in network.graph.adjacency()] == [
        (n, list(ties.items())) for n, ties in replay.adjacency()
    ]
    held = [frozenset(tie) for tie in nodes_of(network.ends)]
    assert len(held) == len(set(held)) == network.graph.number_of_edges()
