"""The calibration path: a run without Mesa agents, one compiled call per simulated year.

Source: the model of ``model.model`` (Jaysanov 2023, CAJOTAS 4(6); ``docs/ODD.md``), run the
way calibration needs it: many runs of a country, no agent objects. ``NGOModel`` with
``agents=False`` pays a fixed Python cost every year (Mesa's State and Donor agents deciding
through attributes, a dozen kernel calls and funder objects, the ``DataCollector``
deep-copying every value) that was about as large as the NGO rules themselves. Here the
exogenous values of every year are read once (``model.timeline``), the State's and Donors'
decisions are the same pure functions (``model.decisions``, ``model.founding``) on plain
numbers, the NGO rules of the year are one compiled call (``model.year_kernels``) and the
output row goes into plain lists. Same scenario and seed give ``NGOModel``'s table bit for
bit, whichever engine that runs (``tests/test_fastpath.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import decisions, founding, year_kernels
from .config_files import ScenarioError
from .engines import (
    CompiledRules,
    Domestic,
    Founding,
    domestic_shape,
    end_year_rates,
    year_end,
)
from .metrics import ECOLOGY, OUTPUT_COLUMNS, output_row
from .population import DORMANT, LONG_ACTIVE_YEARS, TRAIT, Population
from .rng import KeyedStreams
from .scenario import Scenario
from .timeline import Timeline

POP_FIELDS = (
    "ngo_id",
    "founded",
    "sector",
    "one_day",
    "retired",
    "status",
    "prev_operating",
    "active",
    "prev_active",
    "reported",
    "prev_reported",
    "spent_foreign_reserves",
    "streak",
    "capacity",
    "reserves",
    "reserves_foreign",
    "fundraising_level",
)
INCOME_FIELDS = ("income_foreign", "income_state", "income_domestic", "income_prize")
# The keyed decisions drawn every year, besides each donor's grants ("grant:<name>").
YEAR_DECISIONS = (
    "sector",
    "one_day",
    "capacity",
    "apply_dormant",
    "state_grant",
    "prize",
    "domestic_raise",
    "domestic_amount",
    "one_day_exit",
    "volunteer",
    "report",
    "deregister",
)


class CompiledRun:
    """One run of a scenario without agents, year by year (``NGOModel``'s table, faster).

    Args:
        scenario: A validated scenario.
        seed: The run's seed (the keyed streams' as in ``NGOModel``).
    """

    def __init__(self, scenario: Scenario, seed: int = 0):
        self.config = scenario
        self.seed = seed
        self.streams = KeyedStreams(seed)
        self.behaviour = b = scenario.behaviour.values()
        self.timeline = Timeline(scenario, b)
        self.year = scenario.start_year - 1
        self.population = Population(capacity_hint=4096)
        self.rules = CompiledRules(self.population, self.streams)
        self.columns: dict[str, list] = {c: [] for c in OUTPUT_COLUMNS}
        self.state_priorities = scenario.state.grant_priorities.vector()
        sectors = len(self.state_priorities)
        own = [d.priorities.vector() for d in scenario.donors]
        self.donor_priorities = np.array(own, dtype=np.float64).reshape(-1, sectors)
        self.civic = scenario.civic_sectors.vector()
        scale = b["donor_grant_scale"]
        self.donor_means = [d.mean_grant_usd.value * scale for d in scenario.donors]
        self.donor_means_array = np.array(self.donor_means, dtype=np.float64)
        self.donor_caps = np.array([b["grant_cap_multiple"] * m for m in self.donor_means])
        years = np.arange(scenario.start_year, scenario.end_year + 1)
        self.keys = {d: self.streams.keys(d, years) for d in YEAR_DECISIONS}
        self.level_key = self.streams.key("domestic_level", TRAIT)
        donor_keys = [self.streams.keys(f"grant:{d.name}", years) for d in scenario.donors]
        # One row of donor keys per year, each row contiguous for the kernel.
        self.donor_keys = np.array(donor_keys, dtype=np.uint64).reshape(-1, years.size).T.copy()
        self._arrays: tuple | None = None
        self.threat = 0.0
        self.expected_money: float | None = None
        self.last_foreign_share = 0.0
        self.last_funded = 0
        self._seed_initial_register()

    def _founding(self, sector_probs: np.ndarray) -> Founding:
        b = self.behaviour
        return Founding(sector_probs, b["one_day_share"], b["capacity_sd"])

    def _seed_initial_register(self) -> None:
        """Register the NGOs that existed before the start year (as ``NGOModel`` does)."""
        count = int(self.config.initial_registered.value)
        if count:
            year = self.config.start_year - 1
            civic = self._founding(self.config.civic_sectors.vector())
            rows = self.rules.found(year, count, civic)
            self.population.status[rows] = DORMANT
            self.population.active[rows] = False

    def run_for(self, years: int) -> None:
        """Simulate the next ``years`` years (up to the scenario's end year)."""
        for _ in range(years):
            self.step()

    def step(self) -> None:
        """Simulate one calendar year (``NGOModel.step``).

        Raises:
            ValueError: past the scenario's end year (the timeline stops there).
        """
        if self.year >= self.config.end_year:
            raise ValueError(f"{self.config.name}: the run already reached {self.year}")
        self.year += 1
        year, b = self.year, self.behaviour
        t = year - self.config.start_year
        line = self.timeline
        instability = line.instability[t]
        restriction = self._restriction(t, instability)
        budgets = self._donor_budgets(t, instability, restriction)
        state_usd = (line.grant_budget[t] + line.prize_budget[t]) * line.to_usd[t]
        money = state_usd  # the total of ``founding.money_on_offer``, in its order
        for budget in budgets:
            money += budget
        self.expected_money = founding.expected_money(
            self.expected_money, money, b["founding_lag_years"]
        )
        pop = self.population
        active = year_kernels.start_year(*self._whole(), pop.size)
        lam = founding.expected_registrations(
            b, line.people[t], active, self.expected_money or 0.0, line.burden[t]
        )
        u = self.streams.scalar_uniform("founding", year)
        new = founding.registrations(self.config.name, year, lam, u)
        offer = (state_usd, self.state_priorities, self.civic, b["funding_pull_sector"])
        donors = (
            np.array(budgets, dtype=np.float64),
            self.donor_means_array,
            self.donor_caps,
            self.donor_priorities,
            b["donor_restriction_shift"] * restriction,
            self.donor_keys[t],
            money,
            offer,
        )
        counts, struck, grants_paid, prizes_paid = year_kernels.run_year(
            *self._whole(new),
            pop.size,
            year,
            self._founding_args(t, new),
            self._seeking(t),
            donors,
            self._state_grant(t),
            self._prizes(t),
            self._domestic(t),
            self._ending(t),
        )
        row = output_row(
            year, new, struck, counts, (grants_paid, prizes_paid, restriction), budgets
        )
        for name, value in row.items():
            self.columns[name].append(value)
        self.last_foreign_share = row["share_income_foreign"]
        self.last_funded = int(row["funded"])

    def _restriction(self, t: int, instability: float) -> float:
        """Return the State's restriction in force (``State.decide_restriction``)."""
        b, line = self.behaviour, self.timeline
        self.threat = decisions.perceived_threat(
            instability,
            line.neighbour[t],
            self.threat,
            b["state_neighbour_threat"],
            b["state_threat_memory"],
        )
        reactive = decisions.reactive_restriction(
            self.last_foreign_share, self.threat, b["state_restriction_reaction"]
        )
        return decisions.restriction_in_force(line.documented[t], reactive)

    def _donor_budgets(self, t: int, instability: float, restriction: float) -> list[float]:
        """Return each donor's budget this year (as ``plan_donors`` then ``absorb_donor_money``)."""
        b = self.behaviour
        political = decisions.donor_political_factor(
            restriction, instability, b["donor_restriction_cut"], b["donor_instability_cut"]
        )
        budgets = [path[t] * political for path in self.timeline.donor_path]
        return decisions.absorbed_budgets(
            budgets, self.donor_means, self.last_funded, b["donor_absorption"]
        )

    def _whole(self, new: int = 0) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        """Make room for ``new`` NGOs; return the population's and incomes' whole arrays."""
        pop = self.population
        pop.extend(new)
        if self._arrays is None or self._arrays[0][0] is not pop.ngo_id:  # grown
            fields = tuple(getattr(pop, name) for name in POP_FIELDS)
            self._arrays = fields, tuple(getattr(pop, name) for name in INCOME_FIELDS)
        return self._arrays

    def _founding_args(self, t: int, count: int) -> tuple:
        b, keys = self.behaviour, self.keys
        draws = (keys["sector"][t], keys["one_day"][t], keys["capacity"][t], self.level_key)
        sd = b["capacity_sd"]
        start = self.population.size - count
        return start, count, draws, b["one_day_share"], sd, 0.5 * sd**2

    def _seeking(self, t: int) -> tuple:
        b = self.behaviour
        key = self.keys["apply_dormant"][t]
        return key, b["apply_dormant"], b["track_record_weight"], b["grant_size_capacity"]

    def _state_grant(self, t: int) -> tuple:
        line = self.timeline
        to_usd = line.to_usd[t]
        mean = line.grant_mean[t] * to_usd
        cap = self.behaviour["grant_cap_multiple"] * mean
        key = self.keys["state_grant"][t]
        requires = bool(self.config.state.grant_requires_report)
        budget = line.grant_budget[t] * to_usd
        return budget, mean, cap, self.state_priorities, key, requires, to_usd

    def _prizes(self, t: int) -> tuple:
        count = int(self.config.state.prize_count.value)
        return self.timeline.prize_budget[t], count, self.keys["prize"][t]

    def _domestic(self, t: int) -> tuple:
        """Return the domestic fundraising's keys and rates (``NGOModel._domestic``)."""
        b, line = self.behaviour, self.timeline
        gdp_per_person = line.gdp_per_person[t] / line.to_nominal[t]
        people = line.people[t] * 1e6
        d = Domestic(
            b["domestic_income_gdp"] * gdp_per_person,
            b["domestic_pool_gdp"] * gdp_per_person * people,
            b["domestic_raise_prob"],
            b["domestic_income_sd"],
            b["domestic_capacity_weight"],
            b["domestic_persistence"],
            b["domestic_cofunding"],
        )
        keys = (self.keys["domestic_raise"][t], self.keys["domestic_amount"][t])
        return keys, d.raise_prob, d.median_usd, d.pool_usd, domestic_shape(d)

    def _ending(self, t: int) -> tuple:
        """Return the year's end keys and rates (``NGOModel._deregister``)."""
        line = self.timeline
        rates = year_end(self.behaviour, line.strike_off[t], line.purge[t], line.enforcement[t])
        keys = tuple(self.keys[d][t] for d in ("one_day_exit", "volunteer", "report", "deregister"))
        return keys, end_year_rates(rates), self.timeline.to_nominal[t], ECOLOGY, LONG_ACTIVE_YEARS

    def results(self) -> pd.DataFrame:
        """Return the run's yearly table (the columns of ``OUTPUT_COLUMNS``)."""
        # Arrays rather than lists: pandas builds the frame from them twice as fast, with
        # the dtypes it infers from the lists (int64, float64).
        return pd.DataFrame({name: np.array(values) for name, values in self.columns.items()})


def run_compiled(scenario: Scenario, seed: int = 0) -> pd.DataFrame:
    """Run a scenario from its start to its end year on the calibration path; return the table."""
    run = CompiledRun(scenario, seed)
    run.run_for(scenario.end_year - scenario.start_year + 1)
    return run.results()


def run_many(tasks: list[tuple[Scenario, int]]) -> list[pd.DataFrame | None]:
    """Run each (scenario, seed) on the calibration path; ``None`` where a register ran away.

    Every run's table is the one ``run_compiled`` gives it alone: the runs share nothing
    but the compiled kernels.
    """
    tables: list[pd.DataFrame | None] = []
    for scenario, seed in tasks:
        try:
            tables.append(run_compiled(scenario, seed))
        except ScenarioError:
            tables.append(None)
    return tables
