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
from .engines import (
    CompiledRules,
    Domestic,
    Founding,
    domestic_shape,
    end_year_rates,
    year_end,
)
from .metrics import ECOLOGY, OUTPUT_COLUMNS, output_row
from .population import DORMANT, LONG_ACTIVE_YEARS, Population
from .rng import KeyedStreams
from .scenario import Scenario, ScenarioError
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
_NO_SECTORS = np.ones(1)


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
        self.donor_priorities = [d.priorities.vector() for d in scenario.donors]
        scale = b["donor_grant_scale"]
        self.donor_means = [d.mean_grant_usd.value * scale for d in scenario.donors]
        self.donor_means_array = np.array(self.donor_means, dtype=np.float64)
        self.donor_caps = np.array([b["grant_cap_multiple"] * m for m in self.donor_means])
        years = np.arange(scenario.start_year, scenario.end_year + 1)
        self.keys = {d: self.streams.keys(d, years) for d in YEAR_DECISIONS}
        donor_keys = [self.streams.keys(f"grant:{d.name}", years) for d in scenario.donors]
        # One row of donor keys per year, each row contiguous for the kernel.
        self.donor_keys = np.array(donor_keys, dtype=np.uint64).reshape(-1, years.size).T.copy()
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
        """Simulate one calendar year (``NGOModel.step``)."""
        self.year += 1
        year, b = self.year, self.behaviour
        t = year - self.config.start_year
        line = self.timeline
        instability = line.instability[t]
        restriction = self._restriction(t, instability)
        budgets, priorities = self._donor_plans(t, instability, restriction)
        state_usd = (line.grant_budget[t] + line.prize_budget[t]) * line.to_usd[t]
        money, mix = founding.money_on_offer(state_usd, self.state_priorities, budgets, priorities)
        self.expected_money = founding.expected_money(
            self.expected_money, money, b["founding_lag_years"]
        )
        pop = self.population
        active = year_kernels.start_year(
            *(pop.view(n) for n in ("status", "active", "reported", "prev_operating")),
            pop.view("prev_active"),
            pop.view("prev_reported"),
            self._incomes(),
        )
        lam = founding.expected_registrations(
            b, line.people[t], active, self.expected_money or 0.0, line.burden[t]
        )
        u = self.streams.scalar_uniform("founding", year)
        new = founding.registrations(self.config.name, year, lam, u)
        counts, struck, grants_paid, prizes_paid = year_kernels.run_year(
            *self._arrays(new),
            year,
            self._founding_args(year, new, money, mix),
            self._seeking(t),
            self._donors(t, budgets, priorities),
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

    def _donor_plans(self, t: int, instability: float, restriction: float):
        """Return each donor's budget and priorities this year (``plan_donors``)."""
        b = self.behaviour
        political = decisions.donor_political_factor(
            restriction, instability, b["donor_restriction_cut"], b["donor_instability_cut"]
        )
        budgets = [path[t] * political for path in self.timeline.donor_path]
        shift = b["donor_restriction_shift"] * restriction
        priorities = [
            decisions.shifted_priorities(own, self.state_priorities, shift)
            for own in self.donor_priorities
        ]
        planned = sum(x / m for x, m in zip(budgets, self.donor_means, strict=True))
        factor = decisions.absorption_factor(planned, self.last_funded, b["donor_absorption"])
        return [x * factor for x in budgets], priorities

    def _incomes(self) -> tuple[np.ndarray, ...]:
        return tuple(self.population.view(name) for name in INCOME_FIELDS)

    def _arrays(self, new: int) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...], int]:
        """Make room for ``new`` NGOs; return the population's and incomes' arrays."""
        self.population.extend(new)
        pop = tuple(self.population.view(name) for name in POP_FIELDS)
        return pop, self._incomes()

    def _founding_args(self, year: int, count: int, money: float, mix: np.ndarray) -> tuple:
        start = self.population.size - count
        if count == 0:
            return (start, 0, _NO_SECTORS, (np.uint64(0),) * 4, 0.0, 0.0, 0.0)
        civic = self.config.civic_sectors.vector()
        pull = self.behaviour["funding_pull_sector"]
        sectors = self._founding(founding.sector_probabilities(civic, pull, money, mix))
        return (start, count, *self.rules.founding_draws(year, sectors))

    def _seeking(self, t: int) -> tuple:
        b = self.behaviour
        key = self.keys["apply_dormant"][t]
        return key, b["apply_dormant"], b["track_record_weight"], b["grant_size_capacity"]

    def _donors(self, t: int, budgets: list[float], priorities: list[np.ndarray]) -> tuple:
        shape = (len(budgets), len(self.state_priorities))
        stacked = np.array(priorities, dtype=np.float64).reshape(shape)
        budgets = np.array(budgets, dtype=np.float64)
        return budgets, self.donor_means_array, self.donor_caps, stacked, self.donor_keys[t]

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
        return pd.DataFrame(self.columns)[list(OUTPUT_COLUMNS)]


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
