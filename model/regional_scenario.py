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
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from .config_files import (
    ScenarioError,
    Source,
    Strict,
    Year,
    first_error,
    first_repeated,
    named_file,
    named_item,
    param_number,
)
from .extends import resolve_extends
from .parameters import Parameter, ParameterSet
from .scenario import COUNTRIES, SECTORS, Number, Scenario, SectorWeights, load_scenario

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
    "grantee_participation": (0, 1),
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
    grantee_participation: Parameter
    transboundary_weight: Parameter


class RegionalDonors(Strict):
    """Donors that work in several of the region's countries and can move money between them.

    ``names`` are donors of the country files (by name); each must work in at least two
    of the regional countries.
    """

    names: list[str] = Field(min_length=1)
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

    name: str
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
        if not 0 <= self.participants.value <= 100_000:
            raise ValueError("participants must be between 0 and 100,000")
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

    name: str
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


class Transboundary(Strict):
    """The fields whose problems cross the region's borders (shared rivers, the Aral Sea)."""

    sectors: list[Literal[SECTORS]] = Field(min_length=1)  # type: ignore[valid-type]
    source: Source

    def mask(self) -> np.ndarray:
        """Return whether each sector, in the order of ``SECTORS``, is transboundary."""
        return np.array([s in self.sectors for s in SECTORS])


class RegionalSpec(Strict):
    """A regional scenario file as written (country files by name)."""

    name: str
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


def is_regional_file(path: str | Path) -> bool:
    """Return whether a YAML file is a regional scenario (``countries:``, its own or extended).

    Any ``countries`` key counts, well formed or not, so that a malformed regional file is
    reported by the regional loader. A file that does not read is no regional file.
    """
    try:
        return "countries" in resolve_region(Path(path))
    except ScenarioError:
        return False


def _anchor_countries(data: dict, folder: Path) -> None:
    """Name the country files relative to the file that names them.

    So a counterfactual in another folder can extend the baseline; lists of named items
    merge by name (an item with ``remove: true`` removes the parent's), others are replaced.
    """
    countries = data.get("countries")
    if isinstance(countries, dict):
        data["countries"] = {
            c: str(folder / f) if isinstance(f, str) else f for c, f in countries.items()
        }


def resolve_region(path: Path) -> dict:
    """Read a regional file and everything it ``extends:``, child fields winning.

    Raises:
        ScenarioError: naming the file and the fault if it, or a file it extends, does not
            read.
    """
    return resolve_extends(path, (), _anchor_countries)


def load_region(path: str | Path) -> Region:
    """Load a regional scenario file and each country scenario it names.

    Raises:
        ScenarioError: one line naming the file and field of the first problem (in the
            regional file, or in a country file it names).
    """
    path = Path(path)
    data = resolve_region(path)
    try:
        spec = RegionalSpec.model_validate(data)
    except ValidationError as exc:
        field, msg = first_error(exc, data)
        raise ScenarioError(path, field, msg) from None
    countries: dict[str, Scenario] = {}
    for country, name in spec.countries.items():
        scenario = load_scenario(named_file(path, f"countries.{country}", Path(name)))
        if scenario.country != country:
            found = f"{name} is a {scenario.country} scenario"
            raise ScenarioError(path, f"countries.{country}", found)
        countries[country] = scenario
    region = Region(path, spec, countries)
    _check_years(path, region)
    _check_regional_donors(path, region)
    return region


def _check_regional_donors(path: Path, region: Region) -> None:
    """Raise ``ScenarioError`` for a regional donor that works in fewer than two countries."""
    if region.spec.regional_donors is None:
        return
    for k, name in enumerate(region.spec.regional_donors.names):
        where = [c for c, s in region.countries.items() if name in {d.name for d in s.donors}]
        if len(where) < 2:
            found = f"{name!r} is a donor of {len(where)} of the regional countries (at least 2)"
            raise ScenarioError(path, f"regional_donors.names.{k}", found)


def _check_years(path: Path, region: Region) -> None:
    """Raise ``ScenarioError`` for a dated item of the file outside the run's years.

    Reported years, programmes, restrictions and prize criteria: a year no country runs
    would silently do nothing.
    """
    first, last = region.start_year, region.end_year
    dated: list[tuple[str, list[int]]] = [
        ("network_years", region.spec.network_years),
        ("report_years", region.spec.report_years),
    ]
    items = (
        ("programmes", region.spec.programmes, ("years", "first_year", "last_year")),
        ("restrictions", region.spec.restrictions, ("first_year", "last_year")),
        ("prize_criteria", region.spec.prize_criteria, ("first_year",)),
    )
    for field, listed, names in items:
        for k, item in enumerate(listed):
            # By name, as the file's other errors give them (prize criteria have none).
            label = named_item(field, item.name) if hasattr(item, "name") else f"{field}.{k}"
            for name in names:
                if value := getattr(item, name):
                    dated.append((f"{label}.{name}", value if name == "years" else [value]))
    for field, years in dated:
        outside = [y for y in years if not first <= y <= last]
        if outside:
            raise ScenarioError(path, field, f"{outside[0]} is outside the run ({first}-{last})")
