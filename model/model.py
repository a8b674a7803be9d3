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

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from mesa import DataCollector, Model

from . import founding, timeline
from . import population as rules
from .agents import NGO, Donor, State, absorb_donor_money, plan_donors
from .engines import (
    Domestic,
    Founding,
    make_rules,
    raise_probability,
    report_probability,
    year_end,
)
from .fastpath import run_compiled
from .metrics import OUTPUT_COLUMNS, year_row
from .population import INITIAL_ROWS, Population
from .rng import KeyedStreams, plain_seed
from .scenario import Scenario, checked_scenario, load_scenario
from .steps import CalendarSteps, is_whole_year, refuse_step_past


class NGOModel(CalendarSteps, Model):
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
        ngo_reporters: Mesa reporters of the NGO agents (``{"sector": "sector"}``: a name
            and an ``NGO`` attribute or a function of the agent), collected every year
            for every NGO on the register: ``model.datacollector
            .get_agenttype_vars_dataframe(NGO)``, indexed by Mesa's step (the year's
            number from the start, 1 first) and the agent's id. Needs ``agents``; a Python
            call per NGO and year: the Kyrgyz run with three reporters took 10 s against
            0.3 s without.

    The scenario is ``model.config`` (``model.scenario`` is Mesa's own, which Mesa's
    ``Model`` sets), ``model.year`` the last calendar year simulated, and Mesa's
    ``model.time`` and ``model.steps`` count the years since the start. ``run_for`` and
    ``run_until`` take whole numbers of years and refuse, before stepping, a year after
    the scenario's last (``model.steps.CalendarSteps``).
    """

    def __init__(
        self,
        scenario: Scenario | str | Path,
        rng: int = 0,
        agents: bool = True,
        engine: str = "compiled",
        ngo_reporters: Mapping[str, str | Callable] | None = None,
    ):
        """Build the model of ``scenario`` for the seed ``rng`` (see the class).

        ``rng`` is the seed itself (an int), not a numpy ``Generator``: the keyed streams
        derive every draw from it.
        """
        rng = plain_seed(rng, "rng")  # before Mesa's own generator, so that a bad one is named
        scenario = as_scenario(scenario)
        agents = check_flag("agents", agents)
        if ngo_reporters and not agents:
            raise ValueError("ngo_reporters: read the NGO agents, which agents=False leaves out")
        super().__init__(rng=rng)
        self.guard_steps(scenario.end_year, "scenario")
        self.with_agents = agents
        self.config = scenario
        self.seed = rng
        self.streams = KeyedStreams(rng)
        self.behaviour = scenario.behaviour.values()
        self.year = scenario.start_year - 1
        self.population = Population(capacity_hint=INITIAL_ROWS)
        self.rules = make_rules(engine, self.population, self.streams)
        # The NGO agent of each population row, struck-off ones included (their rows stay);
        # the live ones are ``agents_by_type[NGO]``.
        self.ngos: list[NGO] = []
        self.state = State(self, scenario.state)
        self.donors = [Donor(self, cfg) for cfg in scenario.donors]
        self.row: dict[str, float] = {}
        self.to_usd = self.to_nominal = 1.0
        self.money, self.money_mix = 0.0, np.zeros(len(scenario.civic_sectors.vector()))
        self.expected_money: float | None = None
        self.datacollector = DataCollector(
            model_reporters={c: (lambda m, c=c: m.row[c]) for c in OUTPUT_COLUMNS},
            agenttype_reporters={NGO: dict(ngo_reporters)} if ngo_reporters else None,
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
        """Return the factor from constant (base-year) to nominal US dollars of ``year``.

        Raises:
            ValueError: for a year outside the scenario's (its series hold flat past
                their points, so another year would get a made-up factor).
        """
        return timeline.constant_to_nominal_usd(self.config, self._scenario_year(year))

    def local_to_constant_usd(self, year: int) -> float:
        """Return the factor from nominal local currency of ``year`` to constant US dollars.

        Raises:
            ValueError: for a year outside the scenario's (as ``constant_to_nominal_usd``).
        """
        return timeline.local_to_constant_usd(self.config, self._scenario_year(year))

    def _scenario_year(self, year) -> int:
        first, last = self.config.start_year, self.config.end_year
        if not is_whole_year(year) or not first <= year <= last:
            raise ValueError(f"year: one of the scenario's years, {first} to {last}, got {year!r}")
        return int(year)

    # The yearly step -------------------------------------------------------------------

    def step(self) -> None:
        """Simulate one calendar year."""
        self.begin_year()
        self.finish_year()

    def begin_year(self) -> None:
        """Open the next year: the State's policy and each Donor's plan for it.

        Split from ``finish_year`` so that the regional model can move donors' money
        between countries once every country's donors have planned.

        Raises:
            ValueError: past the scenario's end year, whose inputs end there (Mesa's
                ``run_for`` does not stop at ``running``; rows after it would be made up).
        """
        refuse_step_past(self.year, self.config.end_year, "scenario")
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

    def _founding(self, sector_probs: np.ndarray, state_share: float = 0.0) -> Founding:
        b = self.behaviour
        state = self.state.priorities
        return Founding(sector_probs, b["one_day_share"], b["capacity_sd"], state_share, state)

    def _domestic(self) -> Domestic:
        b = self.behaviour
        return Domestic(
            b["domestic_income_gdp"] * self.gdp_per_person_usd(),
            self.domestic_pool_usd(),
            raise_probability(b, self.gdp_per_person_usd()),
            b["domestic_income_sd"],
            b["domestic_capacity_weight"],
            b["domestic_persistence"],
            b["domestic_cofunding"],
        )

    def funding_on_offer(self) -> tuple[float, np.ndarray]:
        """Return this year's donor and state money (constant US$) and its sector mix."""
        state_usd = (self.state.grant_budget_local + self.state.prize_budget_local) * self.to_usd
        return founding.money_on_offer(
            state_usd,
            self.state.priorities,
            [d.budget_usd for d in self.donors],
            [d.priorities for d in self.donors],
        )

    def update_expected_money(self) -> float:
        """Return founders' expectation of the money on offer (``founding.expected_money``)."""
        lag = self.behaviour["founding_lag_years"]
        return founding.expected_money(self.expected_money, self.money, lag)

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
        """Return the founding multiplier of the density of active NGOs (``founding``)."""
        return founding.density_factor(active_per_million, self.behaviour)

    def expected_registrations(self) -> float:
        """Return this year's expected new registrations (``founding.expected_registrations``)."""
        return founding.expected_registrations(
            self.behaviour,
            self.config.population_millions.at(self.year),
            int(self.population.view("prev_active").sum()),
            self.expected_money or 0.0,
            self.state.burden,
        )

    def state_registrations(self) -> float:
        """Return the NGOs the State expects to found this year (``founding``'s)."""
        people = self.config.population_millions.at(self.year)
        rate = self.behaviour["state_founding_rate"]
        return founding.state_registrations(rate, self.state.founding, people)

    def _register_new(self, year: int) -> int:
        """Register the year's new NGOs, the founders' and the State's, in one keyed count."""
        civic, state = self.expected_registrations(), self.state_registrations()
        u = self.streams.scalar_uniform("founding", year)
        count = founding.registrations(self.config.name, year, civic + state, u)
        if count == 0:
            return 0
        share = founding.state_share(civic, state)
        sectors = self._founding(self._sector_probabilities(), share)
        self._create_agents(self.rules.found(year, count, sectors))
        return count

    def _sector_probabilities(self) -> np.ndarray:
        """Return founders' sector choice: the civic mix pulled towards where money is."""
        pull = self.behaviour["funding_pull_sector"]
        civic = self.config.civic_sectors.vector()
        return founding.sector_probabilities(civic, pull, self.money, self.money_mix)

    def report_probability(self) -> float:
        """Return an operating NGO's chance of filing its annual report this year."""
        return report_probability(self.behaviour, self.state.enforcement)

    def _deregister(self, year: int) -> int:
        """End the year: activity, engagement and reports, then strike idle NGOs off.

        Strike-offs are voluntary closures, the state's procedure for inactive NGOs, and
        purges.
        """
        state = self.state
        rates = year_end(self.behaviour, state.strike_off, state.purge_share, state.enforcement)
        rows = np.flatnonzero(self.rules.end_year(year, rates))
        if self.with_agents:
            for row in rows:
                self.ngos[row].remove()
        return int(rows.size)

    @property
    def columns(self) -> dict[str, list]:
        """Return the yearly values collected so far, by output column."""
        return self.datacollector.model_vars

    def results(self) -> pd.DataFrame:
        """Return the run's yearly table (the columns of ``OUTPUT_COLUMNS``)."""
        frame = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        return frame[list(OUTPUT_COLUMNS)]


def as_scenario(scenario: Scenario | str | Path) -> Scenario:
    """Return ``scenario``, loading it first if it is a file name (``load_scenario``).

    Raises:
        TypeError: for anything else (a mapping, bytes, None), named.
        ScenarioError: for a bad scenario file, or a scenario changed past its checks
            (``model_copy(update=...)``).
    """
    if isinstance(scenario, (str, Path)):
        return load_scenario(scenario)
    if not isinstance(scenario, Scenario):
        kind = type(scenario).__name__
        raise TypeError(f"scenario must be a Scenario or a scenario file's path, got {kind}")
    return checked_scenario(scenario)


def check_flag(name: str, value: object) -> bool:
    """Return ``value`` as a bool; anything but True or False (numpy's too) is a TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def simulate(
    scenario: Scenario | str | Path, seed: int = 0, agents: bool = True, engine: str = "compiled"
) -> pd.DataFrame:
    """Run a scenario from its start to its end year and return the yearly table.

    Args:
        scenario: A validated scenario, or a scenario file (read by ``load_scenario``).
        seed: The run's seed.
        agents: Create the Mesa ``NGO`` agents (the output is the same without them).
        engine: ``"compiled"`` or ``"numpy"`` rules (same output; ``model.engines``).
            Compiled rules without agents run the calibration path (``model.fastpath``),
            which gives the same table again.

    Returns:
        One row per year with the columns of ``OUTPUT_COLUMNS``.
    """
    scenario = as_scenario(scenario)
    agents = check_flag("agents", agents)
    seed = plain_seed(seed)  # named as simulate's seed, whichever path runs it
    if engine == "compiled" and not agents:
        return run_compiled(scenario, seed)
    model = NGOModel(scenario, rng=seed, agents=agents, engine=engine)
    model.run_for(scenario.end_year - scenario.start_year + 1)
    return model.results()
