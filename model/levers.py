"""Policy levers: what-if changes to a scenario that users ask about, as one pure function.

The dashboard (``app.py``) and anyone scripting a what-if apply these to a loaded (and
possibly calibrated) scenario: the state's grant budget and the year it starts, the donors'
budget level, a restriction on foreign funding that donors answer, a cut of the donors'
money from a year, the registration burden and how strongly the state reacts to foreign
money under threat. Each lever rewrites the scenario's own inputs
(``model.scenario``; the reaction is its shared behaviour parameter), so the model's rules
are unchanged and the result is an ordinary validated ``Scenario``; every rewritten input
keeps its source with the lever appended. Source of the inputs themselves: Jaysanov
(2023), CAJOTAS 4(6), and the notes in ``scenarios/*.yaml``.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import ValidationError

from .config_files import ScenarioError, is_number, is_whole
from .input_errors import first_error
from .limits import MAX_YEAR, MIN_YEAR
from .scenario import Scenario

LEVERS = "levers"
# The largest multiple of the state's reaction a lever may ask for: five times 1, the
# reaction that restricts fully at full dependence and the strongest threat (the fixed
# value is 0.5), stays inside the parameter's range (parameters.BEHAVIOUR_RANGES, 0-10).
MAX_REACTION_SCALE = 5.0
# The largest multiple of a budget a lever may ask for. Beyond it a scaled input could pass
# its own bound under some posterior draw and be refused only at run time, after a dry
# run had taken the file's own value.
MAX_BUDGET_SCALE = 1000.0


def apply_levers(
    scenario: Scenario,
    *,
    state_grant_scale: float = 1.0,
    state_funding_start: int | None = None,
    donor_budget_scale: float = 1.0,
    foreign_cut_year: int | None = None,
    foreign_cut_depth: float = 0.0,
    registration_burden: float | None = None,
    state_reaction_scale: float = 1.0,
    donor_cut_year: int | None = None,
    donor_cut_share: float = 0.0,
) -> Scenario:
    """Return a copy of ``scenario`` with policy levers applied.

    The defaults change nothing: ``apply_levers(s) == s``.

    Args:
        scenario: A validated scenario (calibrated parameters already applied, if any).
        state_grant_scale: Multiplies the state grant budget (``state.grant_budget_local``)
            in every year (0 to 1,000). State prizes are not changed.
        state_funding_start: If given, the state grant budget is zero before this year.
            From this year on it follows the scenario's path where that path is positive;
            in the years from this one up to the scenario's own first funded year, the
            programme runs at its first funded year's budget and mean grant, held at the
            same value in constant US dollars (converted with the scenario's exchange
            rates and US CPI): the same programme starting earlier. A scenario whose state
            never funds NGOs keeps a zero budget: the lever moves a programme, it does not
            invent one. A year after the scenario's own start leaves out the grants of the
            years before it and keeps the scenario's own budget from it on (the programme as
            grown by then, not its first budget moved later); one after the run's last year
            is refused.
        donor_budget_scale: Multiplies the scenario's ``donor_budget_scale`` (the level of
            every donor's budget path, itself calibrated; 0 to 1,000).
        foreign_cut_year: First year of a restriction on foreign funding; ``None`` (or a
            depth of 0) means none. A depth above 0 needs a year.
        foreign_cut_depth: Level of the restriction, 0 to 1: from ``foreign_cut_year`` on,
            ``state.foreign_funding_restriction`` is the larger of the scenario's value
            and this depth (the documented floor; the state's own reaction can still
            restrict more). A restriction, not a cut of the donors' money: donors answer it
            with the shared rules of ``model.decisions``, giving ``donor_restriction_cut``
            times the level less (0.5 x 0.5: about a quarter less at a level of 0.5) and
            moving towards the state's priorities. A cut of their money is
            ``donor_cut_year`` and ``donor_cut_share``.
        donor_cut_year: First year in which every donor plans ``donor_cut_share`` less money
            (``Donor.budget_factor``); ``None`` (or a share of 0) means none. A share above
            0 needs a year.
        donor_cut_share: Share of their planned money the donors withdraw from
            ``donor_cut_year`` on, 0 to 1 (0.5: half). Their reactions to restriction,
            instability and the sector's absorptive capacity act on what is left.
        registration_burden: If given (0 to 1), replaces the scenario's coded registration
            burden by this constant in every year (the calibrated ``burden_elasticity``
            turns the code into the share of founding held back, as it does the path's).
        state_reaction_scale: Multiplies ``state_restriction_reaction``, how strongly the
            state restricts foreign funding when it feels threatened and foreign money
            pays for much of the sector (0 to 5; 0 is a state that only follows its
            documented laws).

    Returns:
        A new validated ``Scenario``.

    Raises:
        ScenarioError: if a lever is out of range (named as ``levers: <lever>``).
        TypeError: if ``scenario`` is not a ``Scenario``.
    """
    if not isinstance(scenario, Scenario):
        raise TypeError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    _check_types(
        {
            "state_grant_scale": state_grant_scale,
            "donor_budget_scale": donor_budget_scale,
            "foreign_cut_depth": foreign_cut_depth,
            "registration_burden": registration_burden,
            "state_reaction_scale": state_reaction_scale,
            "donor_cut_share": donor_cut_share,
        },
        {
            "state_funding_start": state_funding_start,
            "foreign_cut_year": foreign_cut_year,
            "donor_cut_year": donor_cut_year,
        },
    )
    _check_levers(state_grant_scale, donor_budget_scale, registration_burden)
    _check_dated_pair("foreign_cut_year", foreign_cut_year, "foreign_cut_depth", foreign_cut_depth)
    _check_dated_pair("donor_cut_year", donor_cut_year, "donor_cut_share", donor_cut_share)
    cuts = foreign_cut_year is not None and foreign_cut_depth > 0
    donor_cuts = donor_cut_year is not None and donor_cut_share > 0
    if donor_cuts and not scenario.donors:
        raise ScenarioError(LEVERS, "donor_cut_share", "the scenario has no donors to cut")
    # A year after the run would change nothing in it (a start: no state grants at all,
    # which state_grant_scale 0 says plainly).
    for name, year in (
        ("foreign_cut_year", foreign_cut_year if cuts else None),
        ("donor_cut_year", donor_cut_year if donor_cuts else None),
        ("state_funding_start", state_funding_start),
    ):
        if year is not None and year > scenario.end_year:
            found = f"is after the scenario's last year ({scenario.end_year})"
            raise ScenarioError(LEVERS, name, found)
    if not 0.0 <= state_reaction_scale <= MAX_REACTION_SCALE:
        raise ScenarioError(
            LEVERS, "state_reaction_scale", f"must be between 0 and {MAX_REACTION_SCALE:g}"
        )
    data = scenario.model_dump(mode="python")
    state = data["state"]
    if state_funding_start is not None:
        _start_state_funding(scenario, state_funding_start, state)
    if state_grant_scale != 1.0:
        state["grant_budget_local"] = _scaled(
            state["grant_budget_local"],
            state_grant_scale,
            f"state grant budget x{state_grant_scale:g}",
        )
    if donor_budget_scale != 1.0:
        number = data["donor_budget_scale"]
        number["value"] *= donor_budget_scale
        number["source"] += f"; dashboard lever: donor budgets x{donor_budget_scale:g}"
    if cuts:
        state["foreign_funding_restriction"] = _foreign_cut(
            scenario, foreign_cut_year, foreign_cut_depth
        )
    if donor_cuts:
        for donor, dumped in zip(scenario.donors, data["donors"], strict=True):
            dumped["budget_factor"] = _donor_cut(scenario, donor, donor_cut_year, donor_cut_share)
    if registration_burden is not None:
        state["registration_burden"] = {
            "points": {scenario.start_year: float(registration_burden)},
            "interpolation": "step",
            "source": f"dashboard lever: registration burden held at {registration_burden:g} "
            f"in every year (replaces the scenario's path: "
            f"{scenario.state.registration_burden.source})",
        }
        # The lever is the burden in every year, the Soviet years included.
        state["soviet_rules_until"] = None
    if state_reaction_scale != 1.0:
        reaction = data["behaviour"]["state_restriction_reaction"]
        reaction["value"] *= state_reaction_scale
        reaction["source"] += f"; lever: state reaction x{state_reaction_scale:g}"
    set_by = {}
    if donor_budget_scale != 1.0:
        set_by["donor_budget_scale"] = f"the lever donor_budget_scale x{donor_budget_scale:g}"
    if state_reaction_scale != 1.0:
        set_by["state_restriction_reaction"] = (
            f"the lever state_reaction_scale x{state_reaction_scale:g}"
        )
    try:
        return Scenario.model_validate(data).recording({**scenario.set_by, **set_by})
    except ValidationError as exc:
        # A scale so large that a scaled input overflows, for instance.
        field, message = first_error(exc, data)
        raise ScenarioError(
            LEVERS, "", f"the scenario they give is invalid: {field}: {message}"
        ) from None


def _check_types(numbers_given: dict[str, Any], years_given: dict[str, Any]) -> None:
    """Raise ``ScenarioError`` for a lever that is not a number, or a year not a whole one.

    A bool is neither (``True`` would be a cut from year 1, or a burden of 1); numpy
    numbers are numbers. ``None`` leaves an optional lever unset.
    """
    for name, value in numbers_given.items():
        if value is not None and not is_number(value):
            raise ScenarioError(LEVERS, name, f"must be a number, got {type(value).__name__}")
    for name, value in years_given.items():
        # The inputs' own bounds on a calendar year: 1800 or 20230 is a typo, not a plan.
        if value is not None and not (is_whole(value) and MIN_YEAR <= value <= MAX_YEAR):
            found = f"must be a whole year from {MIN_YEAR} to {MAX_YEAR}, got {value!r}"
            raise ScenarioError(LEVERS, name, found)


def _check_dated_pair(year_lever: str, year: int | None, share_lever: str, share: float) -> None:
    """Refuse a share outside 0-1, or one above 0 with no year (it changed nothing, unsaid)."""
    if not 0.0 <= share <= 1.0:
        raise ScenarioError(LEVERS, share_lever, "must be between 0 and 1")
    if year is None and share > 0:
        raise ScenarioError(LEVERS, year_lever, f"a {share_lever} above 0 needs one")


def _check_levers(
    state_grant_scale: float,
    donor_budget_scale: float,
    registration_burden: float | None,
) -> None:
    for name, scale in (
        ("state_grant_scale", state_grant_scale),
        ("donor_budget_scale", donor_budget_scale),
    ):
        if not math.isfinite(scale) or not 0 <= scale <= MAX_BUDGET_SCALE:
            raise ScenarioError(LEVERS, name, f"must be from 0 to {MAX_BUDGET_SCALE:g}")
    if registration_burden is not None and not 0.0 <= registration_burden <= 1.0:
        raise ScenarioError(LEVERS, "registration_burden", "must be between 0 and 1")


def _scaled(series: dict[str, Any], factor: float, note: str) -> dict[str, Any]:
    """Return a dumped series with every point multiplied by ``factor``."""
    return {
        **series,
        "points": {year: value * factor for year, value in series["points"].items()},
        "source": f"{series['source']}; dashboard lever: {note}",
    }


def _yearly(values: dict[int, float], source: str) -> dict[str, Any]:
    """Return a dumped series given at every simulated year (held outside the run)."""
    return {"points": values, "interpolation": "step", "source": source}


def _start_state_funding(scenario: Scenario, start: int, state: dict[str, Any]) -> None:
    """Start the state grant programme in ``start`` (rewrites budget and mean grant paths)."""
    budget = scenario.state.grant_budget_local
    funded = [y for y in scenario.years if budget.at(y) > 0]
    own_start = funded[0] if funded else None
    values = {}
    for year in scenario.years:
        if year < start:
            values[year] = 0.0
        elif own_start is None or year >= own_start:
            values[year] = budget.at(year)
        else:
            values[year] = budget.at(own_start) * _local_price(scenario, year, own_start)
    state["grant_budget_local"] = _yearly(
        values,
        f"{budget.source}; dashboard lever: state grants start in {start} "
        f"(earlier years at the first funded year's level in constant US$)",
    )
    if own_start is not None and start < own_start:
        mean = scenario.state.grant_mean_local
        state["grant_mean_local"] = _yearly(
            {
                year: mean.at(own_start) * _local_price(scenario, year, own_start)
                if year < own_start
                else mean.at(year)
                for year in scenario.years
            },
            f"{mean.source}; dashboard lever: before {own_start} the {own_start} mean grant "
            f"in constant US$",
        )


def _local_price(scenario: Scenario, year: int, base: int) -> float:
    """Return local currency of ``year`` per local currency of ``base`` at equal real value."""
    rate, cpi = scenario.exchange_rate, scenario.usd_cpi
    return (rate.at(year) * cpi.at(year)) / (rate.at(base) * cpi.at(base))


def _foreign_cut(scenario: Scenario, year: int, depth: float) -> dict[str, Any]:
    """Return the foreign-funding restriction with at least ``depth`` from ``year`` on."""
    restriction = scenario.state.foreign_funding_restriction
    values = {
        y: max(restriction.at(y), depth) if y >= year else restriction.at(y) for y in scenario.years
    }
    return _yearly(
        values,
        f"{restriction.source}; dashboard lever: foreign funding cut to depth {depth:g} "
        f"from {year}",
    )


def _donor_cut(scenario: Scenario, donor: Any, year: int, share: float) -> dict[str, Any]:
    """Return a donor's budget factor with ``share`` of its money withdrawn from ``year`` on.

    On top of a factor the scenario already gives the donor (a cut of a cut multiplies).
    """
    factor = donor.budget_factor
    values = {
        y: (1.0 if factor is None else factor.at(y)) * (1.0 - share if y >= year else 1.0)
        for y in scenario.years
    }
    source = factor.source + "; " if factor is not None else ""
    return _yearly(values, f"{source}lever: donors' planned money cut by {share:g} from {year}")
