"""The calibration path: a run without Mesa agents, its years in one compiled call.

Source: the model of ``model.model`` (Jaysanov 2023, CAJOTAS 4(6); ``docs/ODD.md``), run the
way calibration needs it: many runs of a country, no agent objects. ``NGOModel`` with
``agents=False`` pays a fixed Python cost every year (Mesa's State and Donor agents deciding
through attributes, a dozen kernel calls and funder objects, the ``DataCollector``
deep-copying every value) that was about as large as the NGO rules themselves. Here every
exogenous value, key and rate of the run is read once at its start (``model.timeline``),
and the years run in one compiled call (``model.year_loop``): the State's and Donors'
decisions and the founding count as ``model.decisions`` and ``model.founding`` define
them, the NGO rules of ``model.year_kernels``, and the output row of
``model.metrics.output_row``. Same scenario and seed give ``NGOModel``'s table bit for bit,
whichever engine that runs (``tests/test_fastpath.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import founding, year_loop
from .engines import (
    CompiledRules,
    Domestic,
    Founding,
    domestic_shape,
    end_year_rates,
    raise_probability,
    year_end,
)
from .founding import RunawayError
from .metrics import ECOLOGY, OUTPUT_COLUMNS
from .population import (
    DORMANT,
    INITIAL_ROWS,
    LONG_ACTIVE_YEARS,
    TRAIT,
    Population,
    cumulative_probabilities,
)
from .rng import KeyedStreams, plain_seed
from .scenario import Scenario, checked_scenario
from .steps import refuse_step_past, whole_years
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
    "state_founded",
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
    "state_founded",
)


class CompiledRun:
    """One run of a scenario without agents (``NGOModel``'s table, faster).

    Args:
        scenario: A validated scenario.
        seed: The run's seed (the keyed streams' as in ``NGOModel``).
    """

    def __init__(self, scenario: Scenario, seed: int = 0):
        scenario = checked_scenario(scenario)  # a copy past its checks is checked here
        self.config = scenario
        # One whole number, as NGOModel's: a sequence ran (1, 0) as 1 on this path too.
        self.seed = plain_seed(seed)
        self.streams = KeyedStreams(self.seed)
        self.behaviour = scenario.behaviour.values()
        self.year = scenario.start_year - 1
        self.population = Population(capacity_hint=INITIAL_ROWS)
        self.rules = CompiledRules(self.population, self.streams)
        years = np.arange(scenario.start_year, scenario.end_year + 1)
        timeline = Timeline(scenario, self.behaviour)
        self._keys = self._year_keys(years)
        self._params = year_loop.params_array(self.behaviour)
        self._line = self._yearly_line(timeline, years)
        self._paths = np.array(timeline.donor_path, dtype=np.float64).reshape(-1, years.size)
        self._year_args = self._constants(timeline, years)
        # The State's threat, founders' expected money (none yet), last year's foreign
        # share of income and funded NGOs (``model.year_loop``).
        self._carry = np.array([0.0, np.nan, 0.0, 0.0])
        self._out = np.zeros((years.size, len(OUTPUT_COLUMNS)))
        self._seed_initial_register()

    def _year_keys(self, years: np.ndarray) -> dict[str, np.ndarray]:
        """Return every keyed decision's key for every year (``KeyedStreams.keys``).

        ``"donors"`` holds one row per donor (decision ``grant:<name>``).
        """
        decisions = [*YEAR_DECISIONS, "founding"]
        donors = [f"grant:{d.name}" for d in self.config.donors]
        keys = year_loop.year_keys(self.streams.bases(decisions + donors), years)
        named = dict(zip(decisions, keys[: len(decisions)], strict=True))
        return {**named, "donors": keys[len(decisions) :]}

    def _yearly_line(self, line: Timeline, years: np.ndarray) -> np.ndarray:
        """Return the exogenous values the decisions read, rows of ``year_loop.LINE``."""
        state_usd = [
            (g + p) * u
            for g, p, u in zip(line.grant_budget, line.prize_budget, line.to_usd, strict=True)
        ]
        founding_u = year_loop.year_uniforms(self._keys["founding"])
        rate = self.behaviour["state_founding_rate"]
        state_founding = [
            founding.state_registrations(rate, f, people)
            for f, people in zip(line.state_founding, line.people, strict=True)
        ]
        rows = {
            "instability": line.instability,
            "neighbour": [float(n) for n in line.neighbour],
            "documented": line.documented,
            "state_usd": state_usd,
            "people": line.people,
            "burden": line.burden,
            "founding_u": founding_u,
            "state_founding": state_founding,
        }
        return np.array([rows[name] for name in year_loop.LINE], dtype=np.float64)

    def _constants(self, line: Timeline, years: np.ndarray) -> tuple:
        """Return the run's constants and yearly keys and rates (``year_loop.run_years``)."""
        scenario, b, streams = self.config, self.behaviour, self.streams
        keys = self._keys
        # One row of donor keys per year, each row contiguous for the kernel.
        donor_keys = np.ascontiguousarray(keys["donors"].T)
        state_priorities = scenario.state.grant_priorities.vector()
        own = [d.priorities.vector() for d in scenario.donors]
        priorities = np.array(own, dtype=np.float64).reshape(-1, len(state_priorities))
        means = np.array([d.mean_grant_usd.value * b["donor_grant_scale"] for d in scenario.donors])
        caps = np.array([b["grant_cap_multiple"] * m for m in means.tolist()])
        offer = (state_priorities, scenario.civic_sectors.vector(), b["funding_pull_sector"])
        sd = b["capacity_sd"]
        level_key = np.uint64(streams.key("domestic_level", TRAIT))
        founding_keys = (keys["sector"], keys["one_day"], keys["capacity"], level_key)
        founding_keys = (*founding_keys, keys["state_founded"])
        state_cumulative = cumulative_probabilities(state_priorities)
        founding_args = (*founding_keys, b["one_day_share"], sd, 0.5 * sd**2, state_cumulative)
        seeking = (keys["apply_dormant"], b["apply_dormant"], b["track_record_weight"])
        seeking = (*seeking, b["grant_size_capacity"])
        return (
            means,
            caps,
            priorities,
            donor_keys,
            offer,
            founding_args,
            seeking,
            self._state_grants(line, keys["state_grant"]),
            self._prizes(line, keys["prize"]),
            self._domestic(line, keys),
            self._ending(line, keys),
        )

    def _state_grants(self, line: Timeline, keys: np.ndarray) -> tuple:
        """Return the State's yearly grant budgets, means and caps (constant US$)."""
        cap_multiple = self.behaviour["grant_cap_multiple"]
        means = [m * u for m, u in zip(line.grant_mean, line.to_usd, strict=True)]
        caps = [cap_multiple * m for m in means]
        budgets = [g * u for g, u in zip(line.grant_budget, line.to_usd, strict=True)]
        requires = bool(self.config.state.grant_requires_report)
        yearly = (np.array(budgets), np.array(means), np.array(caps))
        return (*yearly, keys, requires, np.array(line.to_usd))

    def _prizes(self, line: Timeline, keys: np.ndarray) -> tuple:
        count = int(self.config.state.prize_count.value)
        return np.array(line.prize_budget, dtype=np.float64), count, keys

    def _domestic(self, line: Timeline, keys: dict[str, np.ndarray]) -> tuple:
        """Return the domestic fundraising's keys and yearly amounts (``NGOModel._domestic``)."""
        b = self.behaviour
        years = []
        for gdp, nominal, people in zip(
            line.gdp_per_person, line.to_nominal, line.people, strict=True
        ):
            gdp_per_person = gdp / nominal
            years.append(
                Domestic(
                    b["domestic_income_gdp"] * gdp_per_person,
                    b["domestic_pool_gdp"] * gdp_per_person * (people * 1e6),
                    raise_probability(b, gdp_per_person),
                    b["domestic_income_sd"],
                    b["domestic_capacity_weight"],
                    b["domestic_persistence"],
                    b["domestic_cofunding"],
                )
            )
        medians = np.array([d.median_usd for d in years])
        pools = np.array([d.pool_usd for d in years])
        raise_probs = np.array([d.raise_prob for d in years])
        raise_keys = (keys["domestic_raise"], keys["domestic_amount"])
        return (*raise_keys, raise_probs, medians, pools, domestic_shape(years[0]))

    def _ending(self, line: Timeline, keys: dict[str, np.ndarray]) -> tuple:
        """Return the year's end keys and yearly rates (``NGOModel._deregister``)."""
        rates = [
            end_year_rates(year_end(self.behaviour, s, p, e))
            for s, p, e in zip(line.strike_off, line.purge, line.enforcement, strict=True)
        ]
        names = ("one_day_exit", "volunteer", "report", "deregister")
        yearly = (np.array(rates, dtype=np.float64), np.array(line.to_nominal))
        return (*(keys[d] for d in names), *yearly, ECOLOGY, LONG_ACTIVE_YEARS)

    def _seed_initial_register(self) -> None:
        """Register the NGOs that existed before the start year (as ``NGOModel`` does)."""
        count = int(self.config.initial_registered.value)
        if count:
            b = self.behaviour
            year = self.config.start_year - 1
            sectors = self.config.civic_sectors.vector()
            civic = Founding(sectors, b["one_day_share"], b["capacity_sd"])
            rows = self.rules.found(year, count, civic)
            self.population.status[rows] = DORMANT
            self.population.active[rows] = False

    def run_for(self, years: int) -> None:
        """Simulate the next ``years`` calendar years (a whole number), as ``NGOModel``.

        Raises:
            ValueError: for a fraction of a year, a negative number, a bool or what is no
                number, or more years than the scenario has left, before any year is
                simulated.
            RunawayError: where the register runs away (``founding.registrations``).
        """
        years = whole_years(years, "years")
        start, end = self.config.start_year, self.config.end_year
        if years > end - self.year:
            raise ValueError(
                f"years: {years} from {self.year} would run past {end}, where the scenario "
                f"ends ({end - self.year} left)"
            )
        if years:
            self._simulate(self.year + 1 - start, self.year + years + 1 - start)

    def step(self) -> None:
        """Simulate one calendar year (``NGOModel.step``); after the end year, refuse as it."""
        refuse_step_past(self.year, self.config.end_year, "scenario")
        self.run_for(1)

    def _simulate(self, first: int, stop: int) -> None:
        """Run years ``first`` to ``stop - 1`` (indices from the start year) compiled."""
        pop, start = self.population, self.config.start_year
        while True:
            fields = tuple(getattr(pop, name) for name in POP_FIELDS)
            incomes = tuple(getattr(pop, name) for name in INCOME_FIELDS)
            status, reached, pop.size, value = year_loop.run_years(
                fields,
                incomes,
                pop.size,
                first,
                stop,
                start,
                self._params,
                self._line,
                self._paths,
                self._carry,
                self._year_args,
                self._out,
            )
            self.year = start + reached - 1
            if status == year_loop.DONE:
                return
            if status != year_loop.NEED_ROWS:
                u = float(self._line[year_loop.LINE.index("founding_u"), reached])
                founding.registrations(self.config.name, start + reached, value, u)
                raise RuntimeError("the compiled founding count disagrees with the model's")
            pop.reserve(pop.size + int(value))
            first = reached

    @property
    def columns(self) -> dict[str, list]:
        """Return the yearly values so far, per output column (``OUTPUT_COLUMNS``)."""
        return {name: values.tolist() for name, values in self._arrays().items()}

    def _arrays(self) -> dict[str, np.ndarray]:
        done = self._out[: self.year + 1 - self.config.start_year]
        return {
            name: done[:, j].astype(np.int64) if name in year_loop.COUNT_COLUMNS else done[:, j]
            for j, name in enumerate(OUTPUT_COLUMNS)
        }

    def results(self) -> pd.DataFrame:
        """Return the run's yearly table (the columns of ``OUTPUT_COLUMNS``)."""
        return pd.DataFrame(self._arrays())


def run_compiled(scenario: Scenario, seed: int = 0) -> pd.DataFrame:
    """Run a scenario from its start to its end year on the calibration path; return the table."""
    run = CompiledRun(scenario, seed)
    run.run_for(scenario.end_year - scenario.start_year + 1)
    return run.results()


def run_many(tasks: list[tuple[Scenario, int]]) -> list[pd.DataFrame | None]:
    """Run each (scenario, seed) on the calibration path; ``None`` where a register ran away.

    Every run's table is the one ``run_compiled`` gives it alone: the runs share nothing
    but the compiled kernels. A run's years are one compiled call (back in Python only to
    grow its arrays, a few times a run) plus a few milliseconds of Python to set it up and
    build its table, so a loop is all a batch needs (``docs/benchmarks.md``).
    """
    tables: list[pd.DataFrame | None] = []
    for scenario, seed in tasks:
        try:
            tables.append(run_compiled(scenario, seed))
        except RunawayError:
            tables.append(None)
    return tables
