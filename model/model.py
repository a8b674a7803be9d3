"""NGOModel: the Mesa model of NGO-sector growth and donor dependence in Central Asia.

Source: Jaysanov (2023), "The Dynamics of Non-Governmental Organizations and Their
Development in Central Asia (In the Case of Kazakhstan and Kyrgyzstan)", CAJOTAS 4(6).
One step is one calendar year. Each year the State applies its policy timeline and
decides its restriction on foreign funding, Donors set their budgets, new NGOs register,
funders award grants, NGOs raise domestic money, operate, keep some activity or fall
idle, file reports, and idle NGOs are struck off (voluntary closures, the state's
procedure for inactive NGOs, purges).
The full description is ``docs/ODD.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from mesa import DataCollector, Model

from . import population as rules
from .agents import NGO, Donor, State, absorb_donor_money, plan_donors
from .engines import Domestic, Founding, YearEnd, make_rules
from .metrics import OUTPUT_COLUMNS, year_row
from .population import Population
from .rng import KeyedStreams, poisson_quantile
from .scenario import MAX_NGOS, Scenario, ScenarioError

# Active NGOs per million people at which the legitimation factor is 1, so that
# ``civic_rate`` and ``funding_rate`` read as rates at about the density of the 1990s.
DENSITY_REFERENCE = 100.0


class NGOModel(Model):
    """The NGO sector of one country, one step per calendar year.

    Args:
        scenario: A validated scenario (``load_scenario``).
        rng: The run's seed (int). Every stochastic decision draws from a stream keyed by
            (seed, decision, year, NGO id); Mesa's own generator is seeded with it too.
        agents: Create an ``NGO`` agent for every registered organisation. The rules run
            on the population arrays, which the agents only read, so a run without them
            gives the same output; calibration skips them because building tens of thousands
            of Mesa agents is more than half the cost of a particle.
        engine: ``"compiled"`` (numba kernels, the default) or ``"numpy"`` (the reference
            implementation); both give the same table bit for bit (``model.engines``).
    """

    def __init__(
        self, scenario: Scenario, rng: int = 0, agents: bool = True, engine: str = "compiled"
    ):
        super().__init__(rng=rng)
        self.with_agents = agents
        self.config = scenario
        self.seed = rng
        self.streams = KeyedStreams(rng)
        self.behaviour = scenario.behaviour.values()
        self.year = scenario.start_year - 1
        self.population = Population(capacity_hint=4096)
        self.rules = make_rules(engine, self.population, self.streams)
        self.ngos: list[NGO] = []
        self.state = State(self, scenario.state)
        self.donors = [Donor(self, cfg) for cfg in scenario.donors]
        self.row: dict[str, float] = {}
        self.to_usd = self.to_nominal = 1.0
        self.money, self.money_mix = 0.0, np.zeros(len(scenario.civic_sectors.vector()))
        self.expected_money: float | None = None
        self.datacollector = DataCollector(
            model_reporters={c: (lambda m, c=c: m.row[c]) for c in OUTPUT_COLUMNS}
        )
        self._seed_initial_register()

    def _seed_initial_register(self) -> None:
        """Register the NGOs that existed before the start year (dormant until they apply)."""
        count = int(self.config.initial_registered.value)
        if count:
            year = self.config.start_year - 1
            rows = self.rules.found(year, count, self._founding(self.config.civic_sectors.vector()))
            self.population.status[rows] = rules.DORMANT
            self.population.active[rows] = False
            self._create_agents(rows)

    def _create_agents(self, rows: slice) -> None:
        if not self.with_agents:
            return
        # Constructing directly rather than through NGO.create_agents skips the weak-keyed
        # AgentSet that create_agents returns, which cost 40% of founding time.
        self.ngos.extend(NGO(self, row) for row in range(rows.start, rows.stop))

    # Conversions -----------------------------------------------------------------------

    def constant_to_nominal_usd(self, year: int) -> float:
        """Return the factor from constant (base-year) to nominal US dollars of ``year``."""
        s = self.config
        return s.usd_cpi.at(year) / s.usd_cpi.at(s.cpi_base_year)

    def local_to_constant_usd(self, year: int) -> float:
        """Return the factor from nominal local currency of ``year`` to constant US dollars."""
        return 1.0 / (self.config.exchange_rate.at(year) * self.constant_to_nominal_usd(year))

    # The yearly step -------------------------------------------------------------------

    def step(self) -> None:
        """Simulate one calendar year."""
        self.begin_year()
        self.finish_year()

    def begin_year(self) -> None:
        """Open the next year: the State's policy and each Donor's plan for it.

        Split from ``finish_year`` so that the regional model can move donors' money
        between countries once every country's donors have planned.
        """
        self.year += 1
        self.to_usd = self.local_to_constant_usd(self.year)
        self.to_nominal = self.constant_to_nominal_usd(self.year)
        # The State and the Donors decide on what they saw last year (last year's row).
        self.state.apply_policy(self.year, self.row.get("share_income_foreign", 0.0))
        plan_donors(self, self.year)

    def finish_year(self) -> None:
        """Close the year the last ``begin_year`` opened: absorption, founding, money, tally."""
        year, b = self.year, self.behaviour
        absorb_donor_money(self, int(self.row.get("funded", 0)))
        self.money, self.money_mix = self.funding_on_offer()
        self.expected_money = self.update_expected_money()
        self.rules.start_year()
        new = self._register_new(year)
        pool = self.rules.seek(
            year, b["apply_dormant"], b["track_record_weight"], b["grant_size_capacity"]
        )
        for donor in self.donors:
            donor.award_grants(year, pool)
        self.state.award_grants(year, pool)
        self.state.award_prizes(year, pool)
        self.rules.raise_domestic(year, pool, self._domestic())
        struck = self._deregister(year)
        self.row = year_row(self, new, struck, self.rules.tally(self.to_nominal))
        self.datacollector.collect(self)
        if year >= self.config.end_year:
            self.running = False

    def _founding(self, sector_probs: np.ndarray) -> Founding:
        b = self.behaviour
        return Founding(sector_probs, b["one_day_share"], b["capacity_sd"])

    def _domestic(self) -> Domestic:
        b = self.behaviour
        return Domestic(
            b["domestic_income_gdp"] * self.gdp_per_person_usd(),
            self.domestic_pool_usd(),
            b["domestic_raise_prob"],
            b["domestic_income_sd"],
            b["domestic_capacity_weight"],
            b["domestic_persistence"],
            b["domestic_cofunding"],
        )

    def funding_on_offer(self) -> tuple[float, np.ndarray]:
        """Return this year's donor and state money (constant US$) and its sector mix."""
        state_usd = (self.state.grant_budget_local + self.state.prize_budget_local) * self.to_usd
        mix = state_usd * self._normalised(self.state.priorities)
        total = state_usd
        for donor in self.donors:
            total += donor.budget_usd
            mix = mix + donor.budget_usd * self._normalised(donor.priorities)
        return total, mix

    @staticmethod
    def _normalised(weights: np.ndarray) -> np.ndarray:
        return weights / weights.sum()

    def update_expected_money(self) -> float:
        """Return founders' expectation of the money on offer after seeing this year's.

        An adaptive expectation, ``E += (money - E) / (1 + founding_lag_years)``, starting
        at the first year's money: founding an NGO for money takes time, and founders go by
        what they have seen funded in recent years (an exponential lag of mean
        ``founding_lag_years``).
        """
        if self.expected_money is None:
            return self.money
        weight = 1.0 / (1.0 + self.behaviour["founding_lag_years"])
        return self.expected_money + weight * (self.money - self.expected_money)

    def gdp_per_person_usd(self) -> float:
        """Return this year's GDP per person in constant US$."""
        return self.config.gdp_per_capita_usd.at(self.year) / self.to_nominal

    def domestic_pool_usd(self) -> float:
        """Return the most domestic money the country gives its NGOs this year (constant US$).

        A share ``domestic_pool_gdp`` of the country's GDP (GDP per person times people),
        so it grows with the economy and not with the number of NGOs.
        """
        people = self.config.population_millions.at(self.year) * 1e6
        return self.behaviour["domestic_pool_gdp"] * self.gdp_per_person_usd() * people

    def density_factor(self, active_per_million: float) -> float:
        """Return the founding multiplier of the density of active NGOs founders see.

        Organisational ecology's density dependence (Hannan and Carroll 1992): founding
        rises with density while NGOs gain legitimacy (``(1 + d) ** legitimation``,
        relative to ``DENSITY_REFERENCE`` per million people) and falls as competition
        for members, staff and attention sets in (``exp(-(d / competition_density)**2)``).
        """
        b = self.behaviour
        legitimacy = ((1.0 + active_per_million) / (1.0 + DENSITY_REFERENCE)) ** b["legitimation"]
        return legitimacy * float(np.exp(-((active_per_million / b["competition_density"]) ** 2)))

    def expected_registrations(self) -> float:
        """Return this year's expected new registrations.

        A civic base rate per million people plus a response to the money founders expect
        on offer, damped by the scramble for it (expected money per NGO active last year
        against ``crowding_usd``; Cooley and Ron 2002), both scaled by the density of
        active NGOs (``density_factor``) and held back by the registration burden.
        """
        b = self.behaviour
        people = self.config.population_millions.at(self.year)
        active = int(self.population.view("prev_active").sum())
        money = self.expected_money or 0.0
        per_ngo = money / max(active, 1)
        uncrowded = per_ngo / (per_ngo + b["crowding_usd"])
        funded = b["funding_rate"] * money / 1e6 * uncrowded
        density = self.density_factor(active / max(people, 1e-9))
        return (1.0 - self.state.burden) * (b["civic_rate"] * people + funded) * density

    def _register_new(self, year: int) -> int:
        lam = self.expected_registrations()
        if lam > MAX_NGOS:
            raise ScenarioError(
                self.config.name,
                f"year {year}",
                f"{lam:,.0f} expected registrations (above {MAX_NGOS:,}): check budgets and rates",
            )
        # Inverse-CDF of one keyed uniform: more expected foundings never means fewer.
        count = poisson_quantile(self.streams.scalar_uniform("founding", year), lam)
        if count >= rules.ID_STRIDE:
            # Ids are founding year * ID_STRIDE + order: more would reuse next year's ids.
            raise ScenarioError(
                self.config.name, f"year {year}", f"{count:,} registrations in one year"
            )
        if count == 0:
            return 0
        founding = self._founding(self._sector_probabilities())
        self._create_agents(self.rules.found(year, count, founding))
        return count

    def _sector_probabilities(self) -> np.ndarray:
        """Return founders' sector choice: the civic mix pulled towards where money is."""
        civic = self._normalised(self.config.civic_sectors.vector())
        pull = self.behaviour["funding_pull_sector"]
        if self.money <= 0:
            return civic
        return (1 - pull) * civic + pull * self.money_mix / self.money

    def report_probability(self) -> float:
        """Return an operating NGO's chance of filing its annual report this year."""
        b = self.behaviour
        p = b["report_base"] + b["report_enforcement"] * self.state.enforcement
        return min(max(float(p), 0.0), 1.0)

    def _deregister(self, year: int) -> int:
        """End the year: activity, engagement and reports, then strike idle NGOs off.

        Strike-offs are voluntary closures, the state's procedure for inactive NGOs, and
        purges.
        """
        b = self.behaviour
        enforced = b["strike_off_rate"] * self.state.strike_off
        rate = min(1.0, b["deregistration_rate"] + enforced + self.state.purge_share)
        rates = YearEnd(
            b["min_activity_usd"],
            b["savings_rate"],
            b["one_day_exit"],
            b["capacity_learning"],
            b["capacity_decay"],
            b["volunteer_persistence"],
            self.report_probability(),
            b["report_habit"],
            rate,
        )
        rows = np.flatnonzero(self.rules.end_year(year, rates))
        if self.with_agents:
            for row in rows:
                self.ngos[row].remove()
        return int(rows.size)

    def results(self) -> pd.DataFrame:
        """Return the run's yearly table (the columns of ``OUTPUT_COLUMNS``)."""
        frame = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        return frame[list(OUTPUT_COLUMNS)]


def simulate(
    scenario: Scenario, seed: int = 0, agents: bool = True, engine: str = "compiled"
) -> pd.DataFrame:
    """Run a scenario from its start to its end year and return the yearly table.

    Args:
        scenario: A validated scenario.
        seed: The run's seed.
        agents: Create the Mesa ``NGO`` agents (the output is the same without them).
        engine: ``"compiled"`` or ``"numpy"`` rules (same output; ``model.engines``).

    Returns:
        One row per year with the columns of ``OUTPUT_COLUMNS``.
    """
    model = NGOModel(scenario, rng=seed, agents=agents, engine=engine)
    model.run_for(scenario.end_year - scenario.start_year + 1)
    return model.results()
