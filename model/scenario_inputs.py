"""The parts of a country's scenario: its sectors' weights, shocks, donors and the State's policy.

Pydantic v2 models of the inputs that ``model.scenario.Scenario`` holds, each number with its
``source:`` note (``docs/ODD.md``, section 6, "Input data"; the sources: ``docs/sources.md``).
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from .config_files import Name, Source, Strict, Year
from .limits import MAX_SECTOR_WEIGHT, MAX_YEAR, MIN_YEAR
from .series import NonNegativeSeries, Number, PositiveSeries, ShareSeries

SECTORS: tuple[str, ...] = (
    "ecology",
    "human_rights",
    "women",
    "youth",
    "disability",
    "education",
    "culture",
    "other",
)
MAX_PRIZES = 10_000


class SectorWeights(Strict):
    """Relative weights over the NGO sectors (missing sectors weigh 0)."""

    weights: dict[Literal[SECTORS], Annotated[float, Field(ge=0, le=MAX_SECTOR_WEIGHT)]]  # type: ignore[valid-type]
    source: Source

    @field_validator("weights")
    @classmethod
    def _some_weight(cls, weights: dict[str, float]) -> dict[str, float]:
        if sum(weights.values()) <= 0:
            raise ValueError("at least one sector needs a positive weight")
        return weights

    def vector(self) -> np.ndarray:
        """Return the weights as an array in the order of ``SECTORS``."""
        return np.array([self.weights.get(s, 0.0) for s in SECTORS], dtype=float)


class Shock(Strict):
    """A political shock: instability for some years, optionally a purge of the register."""

    name: Name
    year: Year
    duration_years: int = Field(default=1, ge=1, le=MAX_YEAR - MIN_YEAR)
    instability: float = Field(ge=0, le=1)
    purge_dormant_share: float = Field(default=0.0, ge=0, le=1)
    source: Source


class NeighbourRevolution(Strict):
    """A neighbouring country's regime falling to protests: a dated event the State sees."""

    name: Name
    year: Year
    source: Source


class Donor(Strict):
    """A foreign donor active in the country.

    Its money is ``weight`` shares of the country's foreign money for NGOs
    (``donor_budget_scale``), on the shared path of ``Donor.path_usd``
    (``model.agents``): arrival from ``entry_year``, growth to a plateau, decline after the
    donors' peak year; no yearly amounts are given per donor. How it answers restrictions,
    instability and the sector's absorptive capacity is shared by all donors
    (``model.decisions``), not a per-donor setting. ``budget_factor`` multiplies its planned
    money year by year: a counterfactual's cut or rise (``model.levers``), none in the
    baselines.
    """

    name: Name
    entry_year: Year
    exit_year: Year | None = None
    budget_factor: NonNegativeSeries | None = None
    weight: Number
    mean_grant_usd: Number
    priorities: SectorWeights
    source: Source

    @model_validator(mode="after")
    def _exit_after_entry(self) -> Donor:
        if self.exit_year is not None and self.exit_year < self.entry_year:
            raise ValueError(f"exit_year {self.exit_year} is before entry_year {self.entry_year}")
        if self.mean_grant_usd.value <= 0:
            raise ValueError("mean_grant_usd must be positive")
        if self.weight.value <= 0:
            raise ValueError("weight must be positive")
        return self


class YearFact(Strict):
    """A dated legal fact: the last year a rule was in force."""

    year: Year
    source: Source


class StatePolicy(Strict):
    """The state's policy timeline."""

    registration_burden: ShareSeries
    grant_budget_local: NonNegativeSeries
    grant_mean_local: PositiveSeries
    grant_priorities: SectorWeights
    grant_requires_report: bool = True
    prize_budget_local: NonNegativeSeries
    prize_count: Number
    reporting_enforcement: ShareSeries
    strike_off_inactive: ShareSeries
    state_founding: ShareSeries
    soviet_rules_until: YearFact | None = None
    foreign_funding_restriction: ShareSeries
    shocks: list[Shock] = Field(default_factory=list)
    neighbour_revolutions: list[NeighbourRevolution] = Field(default_factory=list)

    @model_validator(mode="after")
    def _whole_prize_count(self) -> StatePolicy:
        count = self.prize_count.value
        if count != int(count) or not 0 <= count <= MAX_PRIZES:
            raise ValueError(f"prize_count must be a whole number from 0 to {MAX_PRIZES}")
        # A file that extends this one changes or removes a shock by its name.
        for events in (self.shocks, self.neighbour_revolutions):
            names = [event.name for event in events]
            if len(names) != len(set(names)):
                raise ValueError("shock and neighbour revolution names must be unique")
        return self
