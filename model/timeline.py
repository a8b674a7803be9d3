"""What a scenario fixes for every year before the run: prices, policies, shocks, donor paths.

Source: the scenario files, whose every number carries its own source (Jaysanov 2023,
CAJOTAS 4(6), for the stages and events it reports; public records for dated laws and
procedures; assumptions with their reasons; ``docs/sources.md``); the mechanisms are in
``docs/ODD.md``. None of these values depends on what the NGOs, the State
or the Donors do during a run, only on the scenario and its behavioural parameters, so a run
can read them all at its start (``Timeline``). The model's agents call the same functions
year by year (``model.agents``, ``model.model``), so there is one definition of each.
"""

from __future__ import annotations

from collections.abc import Mapping

from .scenario import Donor, Scenario, StatePolicy


def constant_to_nominal_usd(scenario: Scenario, year: int) -> float:
    """Return the factor from constant (base-year) to nominal US dollars of ``year``."""
    return scenario.usd_cpi.at(year) / scenario.usd_cpi.at(scenario.cpi_base_year)


def local_to_constant_usd(scenario: Scenario, year: int) -> float:
    """Return the factor from nominal local currency of ``year`` to constant US dollars."""
    return 1.0 / (scenario.exchange_rate.at(year) * constant_to_nominal_usd(scenario, year))


def registration_burden(
    policy: StatePolicy, year: int, b: Mapping[str, float], path: float | None = None
) -> float:
    """Return the share of would-be founders that registration holds back in ``year``.

    The scenario codes each year's registration rules on a 0-1 scale (its path;
    ``path``, if given, is its value in ``year``). The code orders legal regimes; it is
    not a measured share, so the share it holds back is ``1 - (1 - code) **
    burden_elasticity``, with the shared elasticity calibrated: at 1 the share is the
    code itself, below 1 every code holds back less than its value, above 1 more. Under
    Soviet registration rules (up to ``soviet_rules_until``, a dated legal fact) the share
    is at least the shared ``soviet_burden``, which is calibrated rather than read back
    from the first registration counts.
    """
    if path is None:
        path = policy.registration_burden.at(year)
    elasticity = b["burden_elasticity"]
    # At 1 the code is returned as it is: 1 - (1 - code) differs from it in the last bit.
    share = path if elasticity == 1.0 else 1.0 - (1.0 - path) ** elasticity
    soviet = policy.soviet_rules_until
    if soviet is not None and year <= soviet.year:
        return max(share, b["soviet_burden"])
    return share


def shocks_in_force(policy: StatePolicy, year: int) -> tuple[float, float]:
    """Return the instability and the purge share of the shocks in force in ``year``.

    Overlapping shocks do not add up: each is the largest of the shocks in force (an
    upheaval is as unsettling as the worst one going on).
    """
    live = [s for s in policy.shocks if s.year <= year < s.year + s.duration_years]
    instability = max((s.instability for s in live), default=0.0)
    return instability, max((s.purge_dormant_share for s in live), default=0.0)


def neighbour_revolution(policy: StatePolicy, year: int) -> bool:
    """Return whether a neighbour's regime fell to protests in ``year``."""
    return any(r.year == year for r in policy.neighbour_revolutions)


def donor_share(scenario: Scenario, donor: Donor) -> float:
    """Return a donor's share of the country's foreign money (its weight over the total)."""
    return donor.weight.value / sum(d.weight.value for d in scenario.donors)


def donor_path_usd(donor: Donor, behaviour: Mapping[str, float], level: float, year: int) -> float:
    """Return a donor's planned money for ``year`` before reactions (constant US$).

    ``level`` is its money at plateau: its share of ``donor_budget_scale`` (million
    constant US$). The path, shared by all donors, grows in a straight line from arrival to
    the plateau over ``donor_ramp_years``, then declines by ``donor_decline`` a year after
    ``donor_peak_year``; nothing outside the donor's entry and exit years. A counterfactual
    may multiply it by the donor's ``budget_factor`` of the year.
    """
    b = behaviour
    if year < donor.entry_year or (donor.exit_year is not None and year > donor.exit_year):
        return 0.0
    ramp = min(1.0, max(0.0, year - donor.entry_year + 1) / b["donor_ramp_years"])
    decline = (1.0 - b["donor_decline"]) ** max(0.0, year - b["donor_peak_year"])
    planned = level * ramp * decline
    # A counterfactual's cut of the donor's money (``Donor.budget_factor``); none in the baselines.
    return planned if donor.budget_factor is None else planned * donor.budget_factor.at(year)


def donor_level_usd(scenario: Scenario, donor: Donor) -> float:
    """Return a donor's money at plateau (constant US$): its share of the country's.

    ``Donor.path_usd`` computes the same with the share it keeps.
    """
    return scenario.donor_budget_scale.value * 1e6 * donor_share(scenario, donor)


class Timeline:
    """Every year's exogenous values of one scenario, read once at the start of a run.

    Lists indexed by ``year - start_year``; ``donor_path[d]`` is donor ``d``'s planned
    money (``donor_path_usd``).
    """

    def __init__(self, scenario: Scenario, behaviour: Mapping[str, float]):
        years = range(scenario.start_year, scenario.end_year + 1)
        policy = scenario.state
        to_nominal, to_usd = scenario.usd_factors()
        self.to_nominal, self.to_usd = to_nominal.tolist(), to_usd.tolist()
        self.people = scenario.population_millions.over(years)
        self.gdp_per_person = scenario.gdp_per_capita_usd.over(years)
        paths = policy.registration_burden.over(years)
        self.burden = [
            registration_burden(policy, y, behaviour, p) for y, p in zip(years, paths, strict=True)
        ]
        self.strike_off = policy.strike_off_inactive.over(years)
        self.state_founding = policy.state_founding.over(years)
        self.enforcement = policy.reporting_enforcement.over(years)
        self.grant_budget = policy.grant_budget_local.over(years)
        self.grant_mean = policy.grant_mean_local.over(years)
        self.prize_budget = policy.prize_budget_local.over(years)
        self.documented = policy.foreign_funding_restriction.over(years)
        shocks = [shocks_in_force(policy, y) for y in years]
        self.instability = [s[0] for s in shocks]
        self.purge = [s[1] for s in shocks]
        self.neighbour = [neighbour_revolution(policy, y) for y in years]
        levels = [donor_level_usd(scenario, d) for d in scenario.donors]
        self.donor_path = [
            [donor_path_usd(d, behaviour, level, y) for y in years]
            for d, level in zip(scenario.donors, levels, strict=True)
        ]
