"""The article's regional story as patterns of the regional model's ties, defined once.

Source: Jaysanov (2023) on regional cooperation. The article gives dated events and a few
participant counts but no count of ties, so its story is read as qualitative patterns
(pattern-oriented modelling, Grimm et al. 2005, Science 310): the regional calibration
(``calibration.regional``) keeps the parameter sets that reproduce the fitted one (today's
fields), and the tests and the report check all of them on the posterior predictive.
Each pattern quotes its passage. Three of those passages also date inputs of
``scenarios/central_asia.yaml``: the KNOK and Environmental Forum sentence dates those
programmes (from 2000) and says they "began to contribute to regional cooperation" (the
growth pattern); the sentences of the obstacles after Osh and of the revival date the
restrictions. A passage is an input or a target, never both, so those three patterns are
not fitted: they check that the mechanism turns the dated inputs into the story's shape
(the fall and the revival hold at nearly every prior draw).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from model.regional import RegionalModel
from model.scenario import SECTORS


@dataclass(frozen=True)
class Pattern:
    """A qualitative pattern of the working cross-border ties, with its passage."""

    id: str
    description: str
    quote: str
    holds: Callable[[pd.Series, pd.Series], bool]


def tie_totals(model: RegionalModel) -> pd.Series:
    """Return the region's working cross-border ties by year (each tie counted once)."""
    return model.tie_table().groupby("year").ties.sum()


def sector_concentration(model: RegionalModel) -> pd.Series:
    """Return each sector's share of the last year's tie ends over its share of operational NGOs.

    Above 1: the sector's NGOs hold more of the working ties than their number gives them.
    """
    pops = {c: m.population for c, m in model.countries.items()}
    edges = model.network.among_operational(pops).edge_table()
    ends = pd.concat([edges.sector_a, edges.sector_b]).value_counts(normalize=True)
    operational = pd.concat(
        [pd.Series(p.view("sector")[p.view("active")]) for p in pops.values()]
    ).map(dict(enumerate(SECTORS)))
    share = operational.value_counts(normalize=True)
    return (ends.reindex(list(SECTORS), fill_value=0) / share.reindex(list(SECTORS))).fillna(0)


def _top_three(concentration: pd.Series) -> set[str]:
    return set(concentration.nlargest(3).index)


PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        "ties_grow_2000s",
        "working ties in 2009 above 2001",
        "'the Confederation of NGOs of Kazakhstan (KNOK), the Environmental Form of NGOs were "
        "formed and began to contribute to regional cooperation' (Kazakhstan, third stage)",
        lambda t, c: bool(t.loc[2009] > t.loc[2001]),
    ),
    Pattern(
        "ties_fall_after_2010",
        "working ties in 2015 at most those of 2010",
        "'the precautionary measures of the governments have created certain obstacles for "
        "the regional cooperation of NGOs' (Kyrgyzstan, second stage)",
        lambda t, c: bool(t.loc[2015] <= t.loc[2010]),
    ),
    Pattern(
        "ties_revive_after_2016",
        "working ties in 2023 above 2016",
        "'the activities of NGOs contributing to the strengthening of regional cooperation "
        "were revived ... the policy of openness in neighboring Uzbekistan' (Kyrgyzstan, "
        "third stage)",
        lambda t, c: bool(t.loc[2023] > t.loc[2016]),
    ),
    Pattern(
        "ecology_education_lead",
        "ecology, education and 'other' (which holds agriculture) the three sectors most "
        "over-represented among 2023 tie ends",
        "'In recent years, they have been effectively cooperating in various fields, "
        "especially in the fields of ecology, education, and agriculture' (Kyrgyzstan, "
        "conclusion; the model has no agriculture sector, so agriculture NGOs are in "
        "'other', the fields outside the model's list)",
        lambda t, c: _top_three(c) == {"ecology", "education", "other"},
    ),
)


def pattern_inputs(model: RegionalModel) -> tuple[pd.Series, pd.Series]:
    """Return what the patterns read from one finished run: tie totals and concentration."""
    return tie_totals(model), sector_concentration(model)


def holds(totals: pd.Series, concentration: pd.Series) -> dict[str, bool]:
    """Return whether each pattern holds for these tie totals and sector concentration."""
    return {p.id: p.holds(totals, concentration) for p in PATTERNS}


def pattern_values(model: RegionalModel) -> dict[str, bool]:
    """Return whether each pattern holds in one finished regional run."""
    return holds(*pattern_inputs(model))


def median_pattern_values(inputs: list[tuple[pd.Series, pd.Series]]) -> dict[str, bool]:
    """Return whether each pattern holds in the median over runs (``pattern_inputs`` each)."""
    totals = pd.concat([t for t, _ in inputs], axis=1).median(axis=1)
    concentration = pd.concat([c for _, c in inputs], axis=1).median(axis=1)
    return holds(totals, concentration)
