"""Behavioural parameters: the shared behaviour file and the parameter sets it is built on.

A ``Parameter`` is a value with its unit and the reason for it; a ``ParameterSet`` holds
named parameters, each within the range where it has meaning (the regional layer's
``RegionalParameters`` is one too). ``Behaviour`` is the set shared by all countries,
read from ``scenarios/behaviour.yaml`` (``load_behaviour``); country differences come from
the scenario inputs, never from per-country parameters. Source of each value: its
``source:`` note in that file (Jaysanov 2023, CAJOTAS 4(6), the literature of
``docs/ODD.md``, or an assumption with its reason); priors of the calibrated ones in
``calibration/priors.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import ValidationError, model_validator

from .config_files import ScenarioError, Source, Strict, named_file, refuse_other_kind
from .error_origin import written_by
from .input_errors import OtherKindError, field_path, first_error
from .yaml_files import read_yaml_mapping


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
    "burden_elasticity": (0.05, 5),
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
    "domestic_raise_elasticity": (0, 5),
    "giving_reference_usd": (1, 1e6),
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
    "report_unfunded": (0, 1),
    "deregistration_rate": (0, 1),
    "strike_off_rate": (0, 1),
    "state_restriction_reaction": (0, 10),
    "state_threat_memory": (0, 1),
    "state_neighbour_threat": (0, 1),
    "donor_restriction_cut": (0, 1),
    "donor_instability_cut": (0, 1),
    "donor_restriction_shift": (0, 1),
    "donor_absorption": (0, 100),
    "state_founding_rate": (0, 1e4),
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
    burden_elasticity: Parameter
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
    domestic_raise_elasticity: Parameter
    giving_reference_usd: Parameter
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
    report_unfunded: Parameter
    deregistration_rate: Parameter
    strike_off_rate: Parameter
    state_restriction_reaction: Parameter
    state_threat_memory: Parameter
    state_neighbour_threat: Parameter
    donor_restriction_cut: Parameter
    donor_instability_cut: Parameter
    donor_restriction_shift: Parameter
    donor_absorption: Parameter
    state_founding_rate: Parameter


def load_behaviour(path: str | Path, field: str = "") -> Behaviour:
    """Load and validate a behaviour file (``field``: what named it, for a file that won't read).

    Raises:
        OtherKindError: for a file of another kind (a priors file, a scenario).
        ScenarioError: naming the file and field of the first problem.
    """
    path = Path(path)
    data = read_yaml_mapping(path, field)
    refuse_other_kind(path, data, ("behaviour",), "a behaviour file")
    if "parameters" in data:
        # A key beside ``parameters:`` (a parameter indented one level too little, an
        # ``extends:``) would be silently left out.
        others = [key for key in data if key != "parameters"]
        if others:
            found = "unknown key: a behaviour file holds `parameters:` only"
            raise ScenarioError(path, field_path((others[0],)), found)
        data = data["parameters"]
    try:
        return Behaviour.model_validate(data)
    except ValidationError as exc:
        field, msg = first_error(exc, data)
        raise ScenarioError(path, field, msg) from None


def load_named_behaviour(owner: Path, name: str) -> Behaviour:
    """Return the behaviour file that ``owner``'s ``behaviour:`` names (``name``).

    A file that is absent, a folder or of another kind is the mistake of the field that
    names it, as for ``extends:``: named in the file of ``owner``'s chain that wrote it.
    """
    try:
        file = named_file(owner, "behaviour", Path(name))
    except ScenarioError as exc:
        where = written_by(owner, [("key", "behaviour")])
        raise ScenarioError(where, exc.field, exc.message) from None
    try:
        return load_behaviour(file, "behaviour")
    except OtherKindError as exc:
        raise ScenarioError(owner, "behaviour", f"{name}: {exc.message}") from None
