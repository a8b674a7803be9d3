"""Cross-border ties (``model.ties``): each mechanism on hand-made populations.

Ties form only between participants of different countries, more within a sector when
the same-sector weight is high; they lapse at ``tie_decay``, faster where a country is
closed, and die with a deregistered NGO; participation falls with openness and returns
with it. Every draw is keyed: the same inputs give the same ties.
"""

from __future__ import annotations

from collections import Counter

import networkx as nx
import numpy as np
import pytest
from tie_reference import working_copy

from model.population import DEREGISTERED
from model.rng import KeyedStreams
from model.scenario import COUNTRIES, SECTORS
from model.tie_arrays import MIXED, pair_keys, regional_ids
from model.ties import Participants, TieNetwork, select_participants

PARAMS = {
    "ties_per_participant": 1.0,
    "same_sector_weight": 1.0,
    "tie_decay": 0.1,
    "closure_decay": 0.2,
    "transboundary_weight": 1.0,
}
OPEN = dict.fromkeys(COUNTRIES, 1.0)


def everyone(pops: dict) -> Participants:
    """Return every NGO of the given populations as participants."""
    parts = [
        (
            np.full(p.size, COUNTRIES.index(c)),
            np.arange(p.size),
            regional_ids(c, p.ngo_id[: p.size]),
        )
        for c, p in pops.items()
    ]
    sector = np.concatenate([p.sector[: p.size] for p in pops.values()])
    country, row, ids = (np.concatenate(column) for column in zip(*parts, strict=True))
    return Participants(country, row, ids, sector)


@pytest.fixture
def pops(make_population):
    return {c: make_population(200) for c in ("kazakhstan", "kyrgyzstan")}


def full_openness(pops: dict, **expected: float) -> np.ndarray:
    """Return the expected participants per country at full openness (default: all)."""
    full = np.zeros(len(COUNTRIES))
    for country, pop in pops.items():
        full[COUNTRIES.index(country)] = expected.get(country, pop.size)
    return full


def leave_active(pops: dict, share: float, seed: int) -> None:
    """Leave about ``share`` of each population's NGOs active, the others dormant."""
    rng = np.random.default_rng(seed)
    for pop in pops.values():
        pop.view("active")[:] = rng.random(pop.size) < share


def formed(pops, full=None, transboundary=None, **params) -> TieNetwork:
    network = TieNetwork(KeyedStreams((7, 1)), {**PARAMS, **params}, transboundary)
    network.form(2005, "forum", everyone(pops), full_openness(pops) if full is None else full)
    return network


def test_ties_form_only_across_borders_and_each_participant_gains_about_one(pops):
    network = formed(pops)
    edges = list(network.graph.edges)
    assert all(a[0] != b[0] for a, b in edges)
    # 400 participants gaining about one tie each: about 200 ties (each has two ends).
    assert 0.8 < 2 * len(edges) / 400 < 1.2


def test_a_closed_country_cuts_only_the_ties_its_missing_participants_would_form(
    make_population,
):
    """Three countries of 200 participants each, then Uzbekistan closed (its 200 expected,
    none come): the Kazakh-Kyrgyz ties stay exactly the same, so the closure removes the
    ties with Uzbekistan instead of piling them onto the participants who still come."""
    pops = {c: make_population(200) for c in COUNTRIES}
    full = full_openness(pops)
    open_ = formed(pops, full=full)
    closed = formed({c: pops[c] for c in ("kazakhstan", "kyrgyzstan")}, full=full)
    assert set(closed.graph.edges) == {
        e for e in open_.graph.edges if "uzbekistan" not in (e[0][0], e[1][0])
    }
    # 600 participants forming about one tie each: about 300 ties, a third of them
    # between Kazakhstan and Kyrgyzstan.
    assert 0.25 < closed.graph.number_of_edges() / open_.graph.number_of_edges() < 0.4


def test_more_ties_per_participant_form_more_ties(pops):
    assert len(formed(pops, ties_per_participant=3.0).graph.edges) > 2 * len(
        formed(pops).graph.edges
    )


def test_a_same_sector_weight_keeps_ties_within_sectors(pops):
    def same_share(network):
        sector = {n: d["sector"] for n, d in network.graph.nodes(data=True)}
        return np.mean([sector[a] == sector[b] for a, b in network.graph.edges])

    # With no preference the share is about the chance that two NGOs share a sector.
    assert same_share(formed(pops)) < 0.3
    assert same_share(formed(pops, same_sector_weight=10.0)) > 0.5


ECOLOGY = np.array([s == "ecology" for s in SECTORS])


def ecology_pair_share(network: TieNetwork) -> float:
    sector = {n: d["sector"] for n, d in network.graph.nodes(data=True)}
    return np.mean([sector[a] == sector[b] == "ecology" for a, b in network.graph.edges])


def test_a_transboundary_field_ties_more_within_itself_and_nothing_else_changes(pops):
    plain = formed(pops)
    # A weight of 1 is no pull: the same ties, bit for bit.
    assert list(formed(pops, transboundary=ECOLOGY).graph.edges) == list(plain.graph.edges)
    pulled = formed(pops, transboundary=ECOLOGY, transboundary_weight=10.0)
    assert ecology_pair_share(pulled) > 3 * ecology_pair_share(plain)
    # The pull only applies where both ends work in the field: no field, no change.
    assert list(formed(pops, transboundary_weight=10.0).graph.edges) == list(plain.graph.edges)


def test_no_ties_among_one_countrys_ngos(make_population):
    assert formed({"kazakhstan": make_population(100)}).graph.number_of_edges() == 0


def test_forming_is_keyed_and_repeatable(pops):
    assert list(formed(pops).graph.edges) == list(formed(pops).graph.edges)


def test_pair_keys_do_not_depend_on_order():
    a, b = np.array([5, 9], dtype=np.uint64), np.array([7, 3], dtype=np.uint64)
    assert np.array_equal(pair_keys(a, b), pair_keys(b, a))


def test_regional_ids_differ_between_countries_for_one_ngo_id():
    ids = np.array([2001 * 1_000_000], dtype=np.uint64)
    assert regional_ids("kazakhstan", ids)[0] != regional_ids("kyrgyzstan", ids)[0]


@pytest.mark.parametrize(
    ("decay", "closure", "openness", "low", "high"),
    [
        (0.0, 0.0, 1.0, 1.0, 1.0),  # nothing lapses
        (1.0, 0.0, 1.0, 0.0, 0.0),  # everything lapses
        (0.1, 0.0, 1.0, 0.85, 0.95),  # a tenth lapses
        (0.1, 0.4, 0.0, 0.45, 0.55),  # a closed country: half lapse
        (0.1, 0.4, 1.0, 0.85, 0.95),  # the closure rate does nothing where open
    ],
)
def test_ties_lapse_at_their_rate_and_faster_where_closed(
    pops, decay, closure, openness, low, high
):
    network = formed(pops, tie_decay=decay, closure_decay=closure)
    before = network.graph.number_of_edges()
    network.lapse(2006, pops, {"kazakhstan": 1.0, "kyrgyzstan": openness})
    kept = network.graph.number_of_edges() / before
    assert low <= kept <= high


def test_ties_of_a_deregistered_ngo_die_with_it_and_isolated_nodes_go(pops):
    network = formed(pops, tie_decay=0.0)
    node = max(network.graph.nodes, key=network.graph.degree)
    pops[node[0]].status[node[1]] = DEREGISTERED
    network.lapse(2006, pops, OPEN)
    assert node not in network.graph
    assert all(d > 0 for _, d in network.graph.degree)


def test_participation_is_about_the_expected_number_and_weighted_by_sector(make_population):
    pop = make_population(5000)
    weights = np.zeros(len(SECTORS))
    weights[SECTORS.index("disability")] = 1.0
    rows = select_participants(KeyedStreams(3), "jan", 2004, pop, 100.0, weights)
    assert 70 < rows.size < 130
    assert set(pop.sector[rows]) == {SECTORS.index("disability")}


def test_only_operational_ngos_take_part(make_population):
    pop = make_population(1000)
    pop.active[:500] = False
    rows = select_participants(KeyedStreams(3), "forum", 2004, pop, 400.0, np.ones(len(SECTORS)))
    assert rows.size > 0 and rows.min() >= 500


def test_no_participants_when_closed(make_population):
    pop = make_population(1000)
    rows = select_participants(KeyedStreams(3), "forum", 2004, pop, 0.0, np.ones(len(SECTORS)))
    assert rows.size == 0


def test_the_counted_ties_are_those_between_operational_ngos(pops):
    network = formed(pops, tie_decay=0.0)
    node = max(network.graph.nodes, key=network.graph.degree)
    degree = network.graph.degree[node]
    pops[node[0]].active[node[1]] = False  # dormant, still registered
    network.lapse(2006, pops, OPEN)
    live = working_copy(network, pops)
    assert network.graph.has_node(node)  # the tie is kept for when it is active again
    assert node not in live
    assert live.number_of_edges() == network.graph.number_of_edges() - degree
    all_ties = sum(node[0] in (a[0], b[0]) for a, b in network.graph.edges)
    assert network.operational_ties(pops).ties_of(node[0]) == all_ties - degree


def test_counts_by_country_and_by_pair_and_sector_agree(pops):
    network = formed(pops)
    total = network.graph.number_of_edges()
    counted = network.operational_ties(pops)  # every NGO of these populations operates
    assert counted.ties_of("kazakhstan") == counted.ties_of("kyrgyzstan") == total
    assert counted.ties_of("uzbekistan") == 0
    counts = counted.by_pair_and_sector()
    assert sum(counts.values()) == total
    assert {pair for pair, _ in counts} == {"kazakhstan-kyrgyzstan"}
    tied = network.tied_rows("kazakhstan", pops["kazakhstan"].size)
    assert tied.sum() == sum(1 for c, _ in network.graph.nodes if c == "kazakhstan")
    assert len(network.operational_table(pops)) == total


def test_the_yearly_counts_of_operational_ties_are_the_graphs(make_population):
    # The outputs count from arrays (operational_ties); here the same counts are taken
    # edge by edge from the graph, among three countries with a third of the NGOs dormant.
    pops = {c: make_population(150) for c in COUNTRIES}
    network = formed(pops)
    leave_active(pops, 0.7, seed=3)
    working = [
        (a, b)
        for a, b in network.graph.edges
        if pops[a[0]].active[a[1]] and pops[b[0]].active[b[1]]
    ]
    assert 0 < len(working) < network.graph.number_of_edges()
    sector = nx.get_node_attributes(network.graph, "sector")
    expected = Counter(
        ("-".join(sorted((a[0], b[0]))), sector[a] if sector[a] == sector[b] else MIXED)
        for a, b in working
    )
    assert len({pair for pair, _ in expected}) == 3 and len(expected) > 3
    live = network.operational_ties(pops)
    assert live.by_pair_and_sector() == expected
    for c in COUNTRIES:
        assert live.ties_of(c) == sum(c in (a[0], b[0]) for a, b in working)
        rows = sorted({r for tie in working for country, r in tie if country == c})
        assert np.flatnonzero(live.tied_rows(c, pops[c].size)).tolist() == rows
    # The reference copy of the working ties holds the same ties.
    copied = working_copy(network, pops).edges
    assert {frozenset(e) for e in copied} == {frozenset(e) for e in working}
