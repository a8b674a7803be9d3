"""Scenario and behaviour configuration: YAML files validated with pydantic v2.

A scenario file describes one country's inputs (policy timeline, donors, population,
exchange rates); it may ``extends:`` another file and override a few fields, so that a
counterfactual is a small file. The behavioural parameters shared by all countries live in
one file (``scenarios/behaviour.yaml``) that scenarios name through ``behaviour:``.

Every number carries a ``source:`` note (the article's words with their section, another
public source, or ``assumption`` with a reason). YAML is read with ``yaml.safe_load`` only:
configs are data.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from .limits import MAX_CONFIG_BYTES, MAX_NESTING, MAX_YEAR, MIN_YEAR, nesting_path

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
COUNTRIES: tuple[str, ...] = ("kazakhstan", "kyrgyzstan", "uzbekistan")

Source = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3)]


class ScenarioError(ValueError):
    """A configuration problem, reported as one line naming the file and the field."""

    def __init__(self, file: str | Path, field: str, message: str):
        self.file, self.field, self.message = str(file), field, message
        where = f"{self.file}: {field}" if field else self.file
        super().__init__(f"{where}: {message}")

    def __reduce__(self):
        # A run in a worker process can raise it; the default pickling would call
        # __init__ with the one formatted message and fail in the parent.
        return type(self), (self.file, self.field, self.message)


# No input may exceed this magnitude: beyond it a run would exhaust memory, not answer.
MAX_MAGNITUDE = 1e15
MAX_NGOS = 1_000_000
MAX_PRIZES = 10_000
MAX_POPULATION_MILLIONS = 2_000
# A calendar year in the inputs: series points, donors, shocks, the CPI base.
Year = Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR)]


class Strict(BaseModel):
    """An input model: unknown fields, changes after loading and inf or NaN are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Number(Strict):
    """A single sourced number."""

    value: float = Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)
    source: Source


class Series(Strict):
    """A sourced yearly path given at a few years; held constant outside them."""

    points: dict[Year, Annotated[float, Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]] = Field(
        min_length=1
    )
    interpolation: Literal["linear", "step"] = "linear"
    source: Source

    def at(self, year: int) -> float:
        """Return the value in ``year`` (linear or step interpolation between points).

        Linear interpolation is ``numpy.interp``'s arithmetic in plain Python, which the
        model asks for hundreds of times a run: numpy's fixed cost per call was a tenth of
        a calibration particle.
        """
        return self._value(sorted(self.points), year)

    def over(self, years: range) -> list[float]:
        """Return the value in each of ``years`` (``at`` for each, sorting the points once)."""
        known = sorted(self.points)
        return [self._value(known, year) for year in years]

    def _value(self, years: list[int], year: int) -> float:
        i = bisect.bisect_right(years, year) - 1
        if i < 0:
            return float(self.points[years[0]])
        left = float(self.points[years[i]])
        if self.interpolation == "step" or i == len(years) - 1 or years[i] == year:
            return left
        right = float(self.points[years[i + 1]])
        slope = (right - left) / float(years[i + 1] - years[i])
        return slope * float(year - years[i]) + left


class NonNegativeSeries(Series):
    """A series whose values are amounts and may not be negative."""

    @field_validator("points")
    @classmethod
    def _non_negative(cls, points: dict[int, float]) -> dict[int, float]:
        for year, value in points.items():
            if value < 0:
                raise ValueError(f"value {value} in {year} is negative")
        return points


class PositiveSeries(Series):
    """A series of sizes that must be strictly positive (e.g. a mean grant)."""

    @field_validator("points")
    @classmethod
    def _positive(cls, points: dict[int, float]) -> dict[int, float]:
        for year, value in points.items():
            if value <= 0:
                raise ValueError(f"value {value} in {year} must be positive")
        return points


class ShareSeries(Series):
    """A series of shares or indices between 0 and 1."""

    @field_validator("points")
    @classmethod
    def _unit_interval(cls, points: dict[int, float]) -> dict[int, float]:
        for year, value in points.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"value {value} in {year} is outside [0, 1]")
        return points


class SectorWeights(Strict):
    """Relative weights over the NGO sectors (missing sectors weigh 0)."""

    weights: dict[Literal[SECTORS], Annotated[float, Field(ge=0)]]  # type: ignore[valid-type]
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

    name: str
    year: Year
    duration_years: int = Field(default=1, ge=1, le=MAX_YEAR - MIN_YEAR)
    instability: float = Field(ge=0, le=1)
    purge_dormant_share: float = Field(default=0.0, ge=0, le=1)
    source: Source


class NeighbourRevolution(Strict):
    """A neighbouring country's regime falling to protests: a dated event the State sees."""

    name: str
    year: Year
    source: Source


class Donor(Strict):
    """A foreign donor active in the country.

    Its money is ``weight`` shares of the country's foreign money for NGOs
    (``donor_budget_scale``), on the shared path of ``Donor.path_usd``
    (``model.agents``): arrival from ``entry_year``, growth to a plateau, decline after the
    donors' peak year; no yearly amounts are given per donor. How it answers restrictions,
    instability and the sector's absorptive capacity is shared by all donors
    (``model.decisions``), not a per-donor setting.
    """

    name: str
    entry_year: Year
    exit_year: Year | None = None
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
    soviet_rules_until: YearFact | None = None
    foreign_funding_restriction: ShareSeries
    shocks: list[Shock] = Field(default_factory=list)
    neighbour_revolutions: list[NeighbourRevolution] = Field(default_factory=list)

    @model_validator(mode="after")
    def _whole_prize_count(self) -> StatePolicy:
        count = self.prize_count.value
        if count != int(count) or not 0 <= count <= MAX_PRIZES:
            raise ValueError(f"prize_count must be a whole number from 0 to {MAX_PRIZES}")
        return self


class Parameter(Strict):
    """A behavioural parameter with its unit and the reason for its value."""

    value: float
    unit: str
    source: Source


# Ranges outside which a behavioural parameter has no meaning (probabilities, shares,
# exponents and spreads of a plausible size); calibration priors lie well inside them.
BEHAVIOUR_RANGES: dict[str, tuple[float, float]] = {
    "civic_rate": (0, 1e4),
    "funding_rate": (0, 1e4),
    "crowding_usd": (1, 1e8),
    "legitimation": (0, 5),
    "competition_density": (1, 1e6),
    "soviet_burden": (0, 1),
    "founding_lag_years": (0, 50),
    "funding_pull_sector": (0, 1),
    "one_day_share": (0, 1),
    "one_day_exit": (0, 1),
    "capacity_sd": (0, 5),
    "capacity_learning": (0, 1),
    "capacity_decay": (0, 1),
    "track_record_weight": (0, 5),
    "grant_size_capacity": (0, 5),
    "grant_cap_multiple": (1, 1e3),
    "donor_grant_scale": (0.01, 100),
    "donor_ramp_years": (1, 50),
    "donor_peak_year": (1950, 2100),
    "donor_decline": (0, 1),
    "apply_dormant": (0, 1),
    "domestic_raise_prob": (0, 1),
    "domestic_income_gdp": (0, 1e3),
    "domestic_pool_gdp": (0, 0.1),
    "domestic_income_sd": (0, 5),
    "domestic_capacity_weight": (0, 5),
    "domestic_persistence": (0, 1),
    "domestic_cofunding": (0, 10),
    "min_activity_usd": (0, 1e7),
    "savings_rate": (0, 1),
    "volunteer_persistence": (0, 1),
    "report_base": (0, 1),
    "report_enforcement": (0, 1),
    "report_habit": (0, 1),
    "deregistration_rate": (0, 1),
    "strike_off_rate": (0, 1),
    "state_restriction_reaction": (0, 10),
    "state_threat_memory": (0, 1),
    "state_neighbour_threat": (0, 1),
    "donor_restriction_cut": (0, 1),
    "donor_instability_cut": (0, 1),
    "donor_restriction_shift": (0, 1),
    "donor_absorption": (0, 100),
}


class ParameterSet(Strict):
    """Named ``Parameter`` fields, each within the range (``RANGES``) where it has meaning."""

    RANGES: ClassVar[dict[str, tuple[float, float]]] = {}

    @model_validator(mode="after")
    def _in_range(self) -> ParameterSet:
        for name, (low, high) in self.RANGES.items():
            value = getattr(self, name).value
            if not low <= value <= high:
                raise ValueError(f"{name} = {value:g} is outside [{low:g}, {high:g}]")
        return self

    def values(self) -> dict[str, float]:
        """Return ``{name: value}`` for every parameter."""
        return {name: getattr(self, name).value for name in type(self).model_fields}


class Behaviour(ParameterSet):
    """Behavioural parameters shared by all countries (calibrated ones are overridden)."""

    RANGES: ClassVar[dict[str, tuple[float, float]]] = BEHAVIOUR_RANGES

    civic_rate: Parameter
    funding_rate: Parameter
    crowding_usd: Parameter
    legitimation: Parameter
    competition_density: Parameter
    soviet_burden: Parameter
    founding_lag_years: Parameter
    funding_pull_sector: Parameter
    one_day_share: Parameter
    one_day_exit: Parameter
    capacity_sd: Parameter
    capacity_learning: Parameter
    capacity_decay: Parameter
    track_record_weight: Parameter
    grant_size_capacity: Parameter
    grant_cap_multiple: Parameter
    donor_grant_scale: Parameter
    donor_ramp_years: Parameter
    donor_peak_year: Parameter
    donor_decline: Parameter
    apply_dormant: Parameter
    domestic_raise_prob: Parameter
    domestic_income_gdp: Parameter
    domestic_pool_gdp: Parameter
    domestic_income_sd: Parameter
    domestic_capacity_weight: Parameter
    domestic_persistence: Parameter
    domestic_cofunding: Parameter
    min_activity_usd: Parameter
    savings_rate: Parameter
    volunteer_persistence: Parameter
    report_base: Parameter
    report_enforcement: Parameter
    report_habit: Parameter
    deregistration_rate: Parameter
    strike_off_rate: Parameter
    state_restriction_reaction: Parameter
    state_threat_memory: Parameter
    state_neighbour_threat: Parameter
    donor_restriction_cut: Parameter
    donor_instability_cut: Parameter
    donor_restriction_shift: Parameter
    donor_absorption: Parameter


class Scenario(Strict):
    """One country's scenario, with the shared behaviour resolved."""

    country: Literal[COUNTRIES]  # type: ignore[valid-type]
    name: str
    description: str = ""
    currency: str
    start_year: int = Field(ge=1980, le=2100)
    end_year: int = Field(ge=1980, le=2100)
    years_source: Source
    initial_registered: Number
    population_millions: NonNegativeSeries
    gdp_per_capita_usd: NonNegativeSeries
    exchange_rate: PositiveSeries
    usd_cpi: PositiveSeries
    cpi_base_year: Year
    donor_budget_scale: Number
    civic_sectors: SectorWeights
    state: StatePolicy
    donors: list[Donor] = Field(min_length=0)
    behaviour: Behaviour

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.end_year < self.start_year:
            raise ValueError(f"end_year {self.end_year} is before start_year {self.start_year}")
        names = [d.name for d in self.donors]
        if len(names) != len(set(names)):
            raise ValueError("donor names must be unique")
        if self.donor_budget_scale.value < 0:
            raise ValueError("donor_budget_scale must not be negative")
        if not 0 <= self.initial_registered.value <= MAX_NGOS:
            raise ValueError(f"initial_registered must be between 0 and {MAX_NGOS:,}")
        if max(self.population_millions.points.values()) > MAX_POPULATION_MILLIONS:
            raise ValueError(f"population above {MAX_POPULATION_MILLIONS:,} million")
        return self

    @property
    def years(self) -> range:
        """Return the simulated calendar years."""
        return range(self.start_year, self.end_year + 1)

    def fingerprint(self) -> str:
        """Return a SHA-256 of the resolved scenario (behaviour included)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def with_params(self, params: dict[str, float] | None) -> Scenario:
        """Return a copy with behavioural parameters or country inputs overridden.

        Args:
            params: ``{name: value}``; a name is a behaviour parameter
                (``civic_rate``) or a scenario number (``donor_budget_scale``).
                Country-prefixed names (``kyrgyzstan.donor_budget_scale``) apply only
                to that country's scenario and are ignored for the others.

        Raises:
            ScenarioError: if a name is unknown.
        """
        if not params:
            return self
        data = self.model_dump(mode="python")
        for name, value in params.items():
            country, _, field = name.rpartition(".")
            if country and country != self.country:
                if country not in COUNTRIES:
                    raise ScenarioError("params", name, "unknown country prefix")
                continue
            if field in Behaviour.model_fields:
                data["behaviour"][field]["value"] = float(value)
            elif field in ("donor_budget_scale", "initial_registered"):
                data[field]["value"] = float(value)
            else:
                raise ScenarioError("params", name, "unknown parameter")
        return Scenario.model_validate(data)


def read_yaml_mapping(path: str | Path, field: str = "") -> dict[str, Any]:
    """Read a YAML file (``yaml.safe_load``) whose top level is a mapping.

    Raises:
        ScenarioError: a missing, unreadable, non-UTF-8 or malformed file, or one whose
            top level is not a mapping (``field`` names what pointed at the file).
    """
    path = Path(path)
    try:
        text = _read_config_text(path, field)
    except FileNotFoundError:
        raise ScenarioError(path, field, "file not found") from None
    except UnicodeDecodeError:
        raise ScenarioError(path, field, "not UTF-8 text") from None
    except OSError as exc:
        raise ScenarioError(path, field, f"cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        raise ScenarioError(path, where, "malformed YAML") from None
    except RecursionError:
        raise ScenarioError(path, "", f"nested more than {MAX_NESTING} levels deep") from None
    if not isinstance(data, dict):
        raise ScenarioError(path, "", "expected a mapping at the top level")
    deep = nesting_path(data)
    if deep is not None:
        raise ScenarioError(path, deep, f"nested more than {MAX_NESTING} levels deep")
    return data


def _read_config_text(path: Path, field: str) -> str:
    """Return a config file's text; refuse devices, pipes and files over the size limit."""
    # Checked before opening: opening a pipe would wait for a writer.
    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        raise ScenarioError(path, field, "is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise ScenarioError(path, field, "not a regular file (a device or a pipe?)")
    with path.open("rb") as file:
        data = file.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ScenarioError(path, field, f"larger than {MAX_CONFIG_BYTES:,} bytes")
    return data.decode("utf-8")


def _merge(base: Any, override: Any) -> Any:
    """Deep-merge ``override`` into ``base``; lists of named mappings merge by ``name``."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    if _is_named_list(base) and _is_named_list(override):
        merged_list = list(base)
        index = {item["name"]: i for i, item in enumerate(merged_list)}
        for item in override:
            if item.get("remove") is True:
                if item["name"] in index:
                    merged_list[index[item["name"]]] = None
                continue
            if item["name"] in index:
                merged_list[index[item["name"]]] = _merge(merged_list[index[item["name"]]], item)
            else:
                merged_list.append(item)
        return [item for item in merged_list if item is not None]
    return override


def _is_named_list(value: Any) -> bool:
    # Only string names merge by name: a list or mapping as a name is left to validation.
    return isinstance(value, list) and all(
        isinstance(i, dict) and isinstance(i.get("name"), str) for i in value
    )


def _anchor_behaviour(data: dict[str, Any], folder: Path) -> None:
    """Name the behaviour file relative to the file that names it."""
    if isinstance(data.get("behaviour"), str):
        data["behaviour"] = str(folder / data["behaviour"])


def resolve_extends(
    path: Path,
    chain: tuple[Path, ...] = (),
    anchor: Callable[[dict[str, Any], Path], None] = _anchor_behaviour,
) -> dict[str, Any]:
    """Read ``path`` and everything it extends, child fields winning.

    ``anchor(data, folder)`` rewrites the file names a file gives relative to its folder.
    """
    path = path.resolve()
    if path in chain:
        loop = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError(chain[0], "extends", f"extends loop: {loop}")
    data = read_yaml_mapping(path, "extends" if chain else "")
    anchor(data, path.parent)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(path, "extends", "must be a file name")
    return _merge(resolve_extends(path.parent / parent, (*chain, path), anchor), data)


def _format_location(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc if not str(part).startswith("function-")]
    # A mistyped year key can be hundreds of digits long: keep the line readable.
    return ".".join(part if len(part) <= 24 else f"{part[:12]}..." for part in parts)


def first_error(exc: ValidationError) -> tuple[str, str]:
    """Return the field and message of a validation error's first problem, for one line.

    Shared by every loader of input files (scenarios, regional files, experiments).
    """
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if p not in ("Literal", "literal"))
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required field is missing"
    return _format_location(loc), msg


def load_behaviour(path: str | Path) -> Behaviour:
    """Load and validate a behaviour file.

    Raises:
        ScenarioError: naming the file and field of the first problem.
    """
    path = Path(path)
    data = read_yaml_mapping(path)
    try:
        return Behaviour.model_validate(data.get("parameters", data))
    except ValidationError as exc:
        field, msg = first_error(exc)
        raise ScenarioError(path, field, msg) from None


def load_scenario(path: str | Path, params: dict[str, float] | None = None) -> Scenario:
    """Load a scenario YAML (following ``extends:``) and validate it.

    Args:
        path: The scenario file.
        params: Optional overrides, as for ``Scenario.with_params``.

    Returns:
        The validated ``Scenario`` with its behaviour resolved.

    Raises:
        ScenarioError: one line naming the file and the field of the first problem.
    """
    path = Path(path)
    data = resolve_extends(path)
    behaviour_ref = data.pop("behaviour", None)
    if not isinstance(behaviour_ref, str):
        raise ScenarioError(path, "behaviour", "must name a behaviour file")
    data["behaviour"] = load_behaviour(behaviour_ref).model_dump(mode="python")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        field, msg = first_error(exc)
        raise ScenarioError(path, field, msg) from None
    return scenario.with_params(params)
