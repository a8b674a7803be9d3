"""The regional scenario: the three country scenarios and the article's regional story.

Source: Jaysanov (2023), the passages on regional cooperation (CASDIN's bulletin, the
Association of NGOs of Kazakhstan, the Kyrgyz People's Assembly and Interbilim, the
Confederation and the Environmental Forum, "Jan", the Kazakh NGO forums, the obstacles
after the 2010 events in Osh, "Cooperation for Innovations", the prize criterion, the NGO
Academy, Uzbekistan's openness, the Institute for Regional Studies). A regional file names
each country's scenario file (``countries:``, relative to itself; no number is copied),
and lists the dated regional programmes and restrictions, each with its source. Its
parameters (``parameters:``) have priors and reasons in ``calibration/priors_regional.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator

from .config_files import Name, ScenarioError, Source, Strict, Year, first_repeated, param_number
from .input_errors import first_error, named_item
from .limits import MAX_PARTICIPANTS
from .parameters import Parameter, ParameterSet
from .scenario import COUNTRIES, SECTORS, Scenario, SectorWeights
from .series import Number

Country = Literal[COUNTRIES]  # type: ignore[valid-type]

# Ranges outside which a regional parameter has no meaning; priors lie inside them.
REGIONAL_RANGES: dict[str, tuple[float, float]] = {
    "ties_per_participant": (0, 50),
    "same_sector_weight": (1, 100),
    "tie_decay": (0, 1),
    "closure_decay": (0, 1),
    "osh_obstacles_strength": (0, 1),
    "uzbek_closure_strength": (0, 1),
    "tie_capacity_gain": (0, 1),
    "prize_tie_weight": (0, 10),
    "donor_mobility": (0, 1),
    "information_tie_rate": (0, 1),
    "grantee_places": (0, 1000),
    "transboundary_weight": (1, 100),
}


class RegionalParameters(ParameterSet):
    """The regional layer's parameters (priors in ``calibration/priors_regional.yaml``)."""

    RANGES: ClassVar[dict[str, tuple[float, float]]] = REGIONAL_RANGES

    ties_per_participant: Parameter
    same_sector_weight: Parameter
    tie_decay: Parameter
    closure_decay: Parameter
    osh_obstacles_strength: Parameter
    uzbek_closure_strength: Parameter
    tie_capacity_gain: Parameter
    prize_tie_weight: Parameter
    donor_mobility: Parameter
    information_tie_rate: Parameter
    grantee_places: Parameter
    transboundary_weight: Parameter


class RegionalDonors(Strict):
    """Donors that work in several of the region's countries and can move money between them.

    ``names`` are donors of the country files (by name); each must work in at least two
    of the regional countries.
    """

    names: list[Name] = Field(min_length=1)
    source: Source

    @model_validator(mode="after")
    def _unique(self) -> RegionalDonors:
        if len(set(self.names)) != len(self.names):
            raise ValueError("names must be unique (a donor named twice would move money twice)")
        return self


class Programme(Strict):
    """A regional programme or event that brings NGOs of several countries together.

    It runs every year from ``first_year`` to ``last_year``, or only in ``years``. Each
    year it reaches ``participants`` NGOs: a share ``guest_share`` from the countries other
    than the ``host`` (all countries share equally when there is no host), narrowed by each
    country's openness. ``sectors`` weighs which NGOs take part (all sectors alike if absent).
    ``kind`` is ``meeting`` (NGOs meet: forums, trainings, joint projects) or
    ``information`` (NGOs read about each other, a bulletin: ties form at
    ``information_tie_rate`` times a meeting's rate).
    """

    name: Name
    first_year: Year | None = None
    last_year: Year | None = None
    years: list[Year] = Field(default_factory=list)
    host: Country | None = None
    countries: list[Country] = Field(min_length=2)
    participants: Number
    guest_share: Number | None = None
    sectors: SectorWeights | None = None
    kind: Literal["meeting", "information"] = "meeting"
    source: Source

    @field_validator("participants")
    @classmethod
    def _whole_count(cls, participants: Number) -> Number:
        count = participants.value
        if not (float(count).is_integer() and 0 <= count <= MAX_PARTICIPANTS):
            raise ValueError(f"must be a whole number of NGOs, 0 to {MAX_PARTICIPANTS:,}")
        return participants

    @model_validator(mode="after")
    def _dated(self) -> Programme:
        ranged = self.first_year is not None and self.last_year is not None
        if ranged == bool(self.years):
            raise ValueError("give either first_year and last_year, or years")
        if ranged and self.last_year < self.first_year:
            raise ValueError(f"last_year {self.last_year} is before first_year {self.first_year}")
        if len(set(self.countries)) != len(self.countries):
            raise ValueError("countries must be distinct")
        if self.host is not None and self.host not in self.countries:
            raise ValueError(f"host {self.host} is not among the countries")
        if (self.host is None) != (self.guest_share is None):
            raise ValueError("a host needs a guest_share, and a guest_share a host")
        if self.guest_share is not None and not 0 <= self.guest_share.value <= 1:
            raise ValueError("guest_share must be between 0 and 1")
        return self

    def runs_in(self, year: int) -> bool:
        """Return whether the programme runs in ``year``."""
        if self.years:
            return year in self.years
        return self.first_year <= year <= self.last_year

    def country_shares(self) -> dict[str, float]:
        """Return each participating country's share of the participants."""
        if self.host is None:
            return {c: 1.0 / len(self.countries) for c in self.countries}
        guests = [c for c in self.countries if c != self.host]
        share = self.guest_share.value
        return {c: (1.0 - share) if c == self.host else share / len(guests) for c in self.countries}


class Restriction(Strict):
    """Border closures or restrictions on regional events: less openness for some years.

    While in force, each listed country's openness is cut by the parameter named in
    ``strength`` (participation in regional programmes falls, ties lapse faster).
    """

    name: Name
    first_year: Year
    last_year: Year
    countries: list[Country] = Field(min_length=1)
    strength: Literal["osh_obstacles_strength", "uzbek_closure_strength"]
    source: Source

    @model_validator(mode="after")
    def _ordered(self) -> Restriction:
        if self.last_year < self.first_year:
            raise ValueError(f"last_year {self.last_year} is before first_year {self.first_year}")
        return self


class PrizeCriterion(Strict):
    """A state's NGO prizes counting cooperation with NGOs of the region as a criterion."""

    country: Country
    first_year: Year
    source: Source


def _each_once(sectors: list[str]) -> list[str]:
    # A sector listed twice would read as weighed twice, which no reader of the list can do.
    twice = first_repeated(sectors)
    if twice is not None:
        raise ValueError(f"{twice!r} is listed twice: list each sector once")
    return sectors


# Sectors of the model, each at most once.
SectorList = Annotated[list[Literal[SECTORS]], AfterValidator(_each_once)]  # type: ignore[valid-type]


class Transboundary(Strict):
    """The fields whose problems cross the region's borders (shared rivers, the Aral Sea)."""

    sectors: SectorList = Field(min_length=1)
    source: Source

    def mask(self) -> np.ndarray:
        """Return whether each sector, in the order of ``SECTORS``, is transboundary."""
        return np.array([s in self.sectors for s in SECTORS])


class RegionalSpec(Strict):
    """A regional scenario file as written (country files by name)."""

    name: Name
    description: str = ""
    countries: dict[Country, str] = Field(min_length=2)
    parameters: RegionalParameters
    programmes: list[Programme] = Field(default_factory=list)
    restrictions: list[Restriction] = Field(default_factory=list)
    prize_criteria: list[PrizeCriterion] = Field(default_factory=list)
    regional_donors: RegionalDonors | None = None
    transboundary: Transboundary | None = None
    # Regional parameters a counterfactual holds whatever the calibration says.
    fixed: dict[Literal[tuple(REGIONAL_RANGES)], Number] = Field(default_factory=dict)  # type: ignore[valid-type]
    network_years: list[Year] = Field(default_factory=list, max_length=12)
    # The years whose ties ``ngo-abm run`` prints (the network's years if absent).
    report_years: list[Year] = Field(default_factory=list, max_length=40)

    @field_validator("network_years", "report_years")
    @classmethod
    def _sorted_years(cls, years: list[int]) -> list[int]:
        # As an experiment's key years: a year listed twice is one column, in order.
        return sorted(set(years))

    @model_validator(mode="after")
    def _fixed_in_range(self) -> RegionalSpec:
        for name, number in self.fixed.items():
            low, high = REGIONAL_RANGES[name]
            if not low <= number.value <= high:
                raise ValueError(f"fixed {name} {number.value:g} is outside {low:g}-{high:g}")
        return self

    @model_validator(mode="after")
    def _known_countries(self) -> RegionalSpec:
        # The messages start with the field: a check of the whole file has no place of its own.
        names = [p.name for p in self.programmes] + [r.name for r in self.restrictions]
        twice = first_repeated(names)
        if twice is not None:
            raise ValueError(f"{twice!r} names two programmes or restrictions: give each one name")
        listed = [(named_item("programmes", p.name), p.countries) for p in self.programmes]
        listed += [(named_item("restrictions", r.name), r.countries) for r in self.restrictions]
        listed += [(f"prize_criteria.{k}", [c.country]) for k, c in enumerate(self.prize_criteria)]
        twice = first_repeated([c.country for c in self.prize_criteria])
        if twice is not None:
            # Only the earliest would count: a second year for one country is a slip.
            raise ValueError(f"prize_criteria: {twice} has two criteria: give each country one")
        for where, countries in listed:
            missing = [c for c in countries if c not in self.countries]
            if missing:
                raise ValueError(f"{where}: {missing[0]} is not among the regional countries")
        return self


class Region:
    """A loaded regional scenario: the spec and each country's validated scenario."""

    def __init__(self, path: Path, spec: RegionalSpec, countries: dict[str, Scenario]):
        self.path, self.spec, self.countries = path, spec, countries
        self.params = {**spec.parameters.values(), **self.fixed}

    @property
    def fixed(self) -> dict[str, float]:
        """The regional parameters the file holds fixed (a counterfactual's), by name."""
        return {name: float(n.value) for name, n in self.spec.fixed.items()}

    @property
    def name(self) -> str:
        """The regional scenario's name."""
        return self.spec.name

    @property
    def start_year(self) -> int:
        """The first year any country runs."""
        return min(s.start_year for s in self.countries.values())

    @property
    def end_year(self) -> int:
        """The last year any country runs."""
        return max(s.end_year for s in self.countries.values())

    def with_params(self, params: dict[str, float] | None) -> Region:
        """Return a copy with regional parameters (by name) or country parameters overridden.

        A regional parameter name sets the regional value, unless the file holds it
        ``fixed``; any other name goes to every country's ``Scenario.with_params``
        (country-prefixed names to that country only).

        Raises:
            ScenarioError: if ``params`` is not a mapping, a name is neither regional nor a
                country parameter, or a value is not a number in the parameter's range.
        """
        # The mapping check first: a pandas row has no truth value to test.
        if params is None:
            return self
        if not isinstance(params, Mapping):
            raise ScenarioError("params", "", "must map parameter names to numbers")
        if not params:
            return self
        regional = {k: v for k, v in params.items() if k in REGIONAL_RANGES}
        others = {k: v for k, v in params.items() if k not in REGIONAL_RANGES}
        # From this region's values, so earlier overrides hold through a second call.
        data = self.spec.parameters.model_dump()
        for name, value in {**self.params, **regional}.items():
            data[name]["value"] = param_number(name, value)
        try:
            checked = RegionalParameters.model_validate(data)
        except ValidationError as exc:
            field, msg = first_error(exc, data)
            raise ScenarioError("params", field, msg) from None
        copy = Region(self.path, self.spec, self.countries)
        copy.params = {**checked.values(), **self.fixed}
        copy.countries = {c: s.with_params(others) for c, s in self.countries.items()}
        return copy
