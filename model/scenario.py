"""A country's scenario: its inputs as YAML files validated with pydantic v2.

A scenario file describes one country's inputs (policy timeline, donors, population,
exchange rates); it may ``extends:`` another file and override a few fields, so that a
counterfactual is a small file (``model.config_files``). The behavioural parameters shared
by all countries live in one file (``scenarios/behaviour.yaml``, ``model.parameters``) that
scenarios name through ``behaviour:``.

Every number carries a ``source:`` note (the article's words with their section, another
public source, or ``assumption`` with a reason). YAML is read with ``yaml.safe_load`` only:
configs are data.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from .config_files import (
    PROSE_FIELDS,
    Currency,
    Name,
    RunYear,
    ScenarioError,
    Source,
    Strict,
    Year,
    param_number,
    path_argument,
    refuse_other_kind,
    without_keys,
)
from .error_origin import validation_error
from .extends import resolve_extends
from .input_errors import first_error
from .limits import MAX_DOLLARS
from .parameters import Behaviour, load_named_behaviour
from .scenario_inputs import (  # noqa: F401 (the parts are named from here too)
    SECTORS,
    Donor,
    NeighbourRevolution,
    SectorWeights,
    Shock,
    StatePolicy,
    YearFact,
)
from .series import (
    Number,
    PositiveSeries,
    PriceIndexSeries,
)

COUNTRIES: tuple[str, ...] = ("kazakhstan", "kyrgyzstan", "uzbekistan")

MAX_NGOS = 1_000_000
MAX_POPULATION_MILLIONS = 2_000
# A country's foreign money for NGOs at its plateau, million US$ a year: the calibration
# prior's top (100, calibration/priors.yaml) times the donor lever's (1,000,
# ``model.levers``); 20,000,000 (dollars given for millions) ran without a word.
MAX_DONOR_MILLIONS = 100_000
# The scenario numbers a parameter set may override besides the behavioural ones.
SCENARIO_NUMBERS = ("donor_budget_scale", "initial_registered")


# The scenarios pydantic built and checked, by identity: a copy by ``model_copy`` (or an
# unpickled one) skipped the checks, and a NaN rate in it gave a table of zeros.
_CHECKED: weakref.WeakValueDictionary[int, Scenario] = weakref.WeakValueDictionary()


class Scenario(Strict):
    """One country's scenario, with the shared behaviour resolved."""

    country: Literal[COUNTRIES]  # type: ignore[valid-type]
    name: Name
    description: str = ""
    currency: Currency
    start_year: RunYear
    end_year: RunYear
    years_source: Source
    initial_registered: Number
    population_millions: PositiveSeries
    gdp_per_capita_usd: PositiveSeries
    exchange_rate: PositiveSeries
    usd_cpi: PriceIndexSeries
    cpi_base_year: Year
    donor_budget_scale: Number
    civic_sectors: SectorWeights
    state: StatePolicy
    donors: list[Donor] = Field(min_length=0)
    behaviour: Behaviour
    # The parameters a lever or a switched-off mechanism set, each with what set it:
    # parameters applied after them (the posterior's) would undo them without a word,
    # and the counterfactual would run as the baseline (``with_params`` refuses).
    _set_by: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("donor_budget_scale")
    @classmethod
    def _plausible_donor_money(cls, number: Number) -> Number:
        if not 0 <= number.value <= MAX_DONOR_MILLIONS:
            bound = f"must be from 0 to {MAX_DONOR_MILLIONS:,} million US$ a year"
            raise ValueError(f"{bound}, got {number.value:g} (dollars given for millions?)")
        return number

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.end_year < self.start_year:
            raise ValueError(f"end_year {self.end_year} is before start_year {self.start_year}")
        names = [d.name for d in self.donors]
        if len(names) != len(set(names)):
            raise ValueError("donor names must be unique")
        if not 0 <= self.initial_registered.value <= MAX_NGOS:
            raise ValueError(f"initial_registered must be between 0 and {MAX_NGOS:,}")
        if not float(self.initial_registered.value).is_integer():
            # A count of NGOs: 1.5 ran as 1 and 0.9 as none.
            found = self.initial_registered.value
            raise ValueError(f"initial_registered must be a whole number of NGOs, got {found:g}")
        if max(self.population_millions.points.values()) > MAX_POPULATION_MILLIONS:
            raise ValueError(
                f"population_millions: above {MAX_POPULATION_MILLIONS:,} million in some year"
            )
        # Outside the CPI series the base would be read at its first or last point.
        cpi_years = self.usd_cpi.points
        if not min(cpi_years) <= self.cpi_base_year <= max(cpi_years):
            raise ValueError(
                f"cpi_base_year {self.cpi_base_year} is outside the usd_cpi series "
                f"({min(cpi_years)}-{max(cpi_years)})"
            )
        self._refuse_money_beyond_dollars()
        _CHECKED[id(self)] = self
        return self

    def _refuse_money_beyond_dollars(self) -> None:
        """Refuse a local amount worth more than ``MAX_DOLLARS`` in a year (a rate near 0).

        An inf amount made the founding count NaN and the run end without a word; a bound
        far above any budget also keeps the sums and products a run makes of them finite.
        """
        years = self.years
        _, to_usd = self.usd_factors()
        with np.errstate(over="ignore", invalid="ignore"):
            local = {
                f"state.{name}": np.array(getattr(self.state, name).over(years))
                for name in ("grant_budget_local", "grant_mean_local", "prize_budget_local")
            }
            # The run adds the grants' and the prizes' budgets before it converts them.
            total = local["state.grant_budget_local"] + local["state.prize_budget_local"]
            dollars = {name: amounts * to_usd for name, amounts in local.items()}
            dollars["state.prize_budget_local"] = total * to_usd
        beyond = ~(to_usd <= MAX_DOLLARS)
        if beyond.any():
            year = years[int(np.argmax(beyond))]
            raise ValueError(
                f"exchange_rate: in {year} one {self.currency} is worth over {MAX_DOLLARS:g} "
                "US dollars (the rate is too near 0)"
            )
        for name, amounts in dollars.items():
            beyond = ~(amounts <= MAX_DOLLARS)
            if beyond.any():
                year = years[int(np.argmax(beyond))]
                what = "with the grants' budget it is" if "prize" in name else "it is"
                raise ValueError(
                    f"{name}: in {year} {what} over {MAX_DOLLARS:g} US dollars (at that "
                    "year's exchange rate and price index)"
                )

    def usd_factors(self) -> tuple[np.ndarray, np.ndarray]:
        """Return ``timeline``'s constant-to-nominal and local-to-constant dollars, every year."""
        to_nominal = np.array(self.usd_cpi.over(self.years)) / self.usd_cpi.at(self.cpi_base_year)
        with np.errstate(over="ignore", divide="ignore"):
            to_usd = 1.0 / (np.array(self.exchange_rate.over(self.years)) * to_nominal)
        return to_nominal, to_usd

    @property
    def years(self) -> range:
        """Return the simulated calendar years."""
        return range(self.start_year, self.end_year + 1)

    def fingerprint(self) -> str:
        """Return a SHA-256 of the resolved scenario (behaviour included)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def inputs_fingerprint(self) -> str:
        """Return a SHA-256 of what a run reads: the fingerprint without the prose.

        Source notes, units, the description and the scenario's name change no run, so a
        reworded source keeps it; every number, year, name of a donor or shock (a donor's
        draws are keyed by its name) and choice of interpolation changes it.
        """
        data = without_keys(self.model_dump(mode="json"), PROSE_FIELDS)
        data.pop("name")
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def with_params(self, params: dict[str, float] | None) -> Scenario:
        """Return a copy with behavioural parameters or country inputs overridden.

        Args:
            params: ``{name: value}``; a name is a behaviour parameter
                (``civic_rate``) or a scenario number (``donor_budget_scale``).
                Country-prefixed names (``kyrgyzstan.donor_budget_scale``) apply only
                to that country's scenario; the others check their names and that their
                values are finite numbers, and leave them out.

        Raises:
            ScenarioError: if ``params`` is not a mapping, a name is unknown, or a value is
                not a number in the parameter's range.
        """
        # The mapping check first: a pandas row has no truth value to test.
        if params is None:
            return self
        if not isinstance(params, Mapping):
            raise ScenarioError("params", "", "must map parameter names to numbers")
        if not params:
            return self
        data = self.model_dump(mode="python")
        for name, value in params.items():
            if not isinstance(name, str):
                raise ScenarioError("params", repr(name), "a parameter's name is text")
            country, dot, field = name.rpartition(".")
            if dot and country not in COUNTRIES:
                raise ScenarioError("params", name, "unknown country prefix")
            if field not in Behaviour.model_fields and field not in SCENARIO_NUMBERS:
                raise ScenarioError("params", name, "unknown parameter")
            # Another country's name and value are checked too: a misspelt one would
            # otherwise be dropped in every country's run.
            number = param_number(name, value)
            if country and country != self.country:
                continue
            if field not in getattr(params, "set_by", {}):  # a switch outranks a lever
                self._refuse_undoing(name, field, number)
            if field in Behaviour.model_fields:
                data["behaviour"][field]["value"] = number
            else:
                data[field]["value"] = number
        try:
            changed = Scenario.model_validate(data)
        except ValidationError as exc:
            field, msg = first_error(exc, data)
            raise ScenarioError("params", field, msg) from None
        return changed.recording({**self._set_by, **getattr(params, "set_by", {})})

    @property
    def set_by(self) -> dict[str, str]:
        """The parameters a lever or switch set, each with what set it (``with_params``)."""
        return dict(self._set_by)

    def recording(self, set_by: Mapping[str, str]) -> Scenario:
        """Record ``{parameter: what set it}`` for levers and switches; return the scenario."""
        self._set_by = dict(set_by)
        return self

    def _refuse_undoing(self, name: str, field: str, number: float) -> None:
        held = getattr(self.behaviour if field in Behaviour.model_fields else self, field).value
        if field in self._set_by and number != held:
            found = f"would undo {self._set_by[field]} ({held:g}); apply the parameters first, "
            raise ScenarioError("params", name, found + "then the levers and switches")


def checked_scenario(scenario: Scenario) -> Scenario:
    """Return ``scenario`` if pydantic checked it, else a checked copy (ScenarioError if bad).

    By identity: lists and mappings changed in place (``model_copy`` shares them) are not
    seen; change a scenario with ``with_params``, ``apply_levers`` or a file instead.
    """
    if _CHECKED.get(id(scenario)) is scenario:
        return scenario
    data = scenario.model_dump()
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        field, msg = first_error(exc, data)
        raise ScenarioError("scenario", field, msg) from None


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
    path = path_argument(path)
    data = resolve_extends(path)
    # Files of the other kinds, named as such rather than by the first field they lack.
    refuse_other_kind(path, data, ("scenario",), "a country's scenario")
    behaviour_ref = data.pop("behaviour", None)
    if not isinstance(behaviour_ref, str):
        raise ScenarioError(path, "behaviour", "must name a behaviour file")
    behaviour = load_named_behaviour(path, behaviour_ref)
    data["behaviour"] = behaviour.model_dump(mode="python")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise validation_error(path, exc, data) from None
    return scenario.with_params(params)
