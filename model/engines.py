"""The two implementations of the yearly NGO rules behind one interface: numpy and compiled.

``NumpyRules`` calls the vectorised functions of ``model.population``, the reference
implementation, readable rule by rule. ``CompiledRules`` runs the same rules as numba
kernels (``model.kernels``) that visit each row a few times a year instead of dozens and
draw the same keyed random numbers, so the two give the same table bit for bit (tested in
``tests/test_engines.py``). The model uses the compiled rules unless told otherwise.
Timings of both: ``docs/benchmarks.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from . import grants, kernels
from . import population as rules
from .metrics import ECOLOGY, tally
from .population import ID_STRIDE, LONG_ACTIVE_YEARS, TRAIT, ApplicantPool, Population
from .rng import KeyedStreams

ENGINES = ("compiled", "numpy")


class Founding(NamedTuple):
    """Founding attributes shared by all the NGOs registered in a year.

    ``state_share`` is the chance that a new NGO is the State's own
    (``founding.state_share``), ``state_sector_probs`` the State's priorities it then
    works by (needed only where ``state_share`` is above 0).
    """

    sector_probs: np.ndarray
    one_day_share: float
    capacity_sd: float
    state_share: float = 0.0
    state_sector_probs: np.ndarray | None = None


class Domestic(NamedTuple):
    """This year's domestic fundraising (``model.population.raise_domestic``)."""

    median_usd: float
    pool_usd: float
    raise_prob: float
    sd: float
    capacity_weight: float
    persistence: float
    cofunding: float


class Funder(NamedTuple):
    """One funder's grant round: its money, its priorities and its keyed draw."""

    budget: float
    mean_grant: float
    cap_multiple: float
    priorities: np.ndarray
    decision: str
    year: int


class YearEnd(NamedTuple):
    """The rates of the year's end (activity, engagement, reports, strike-offs)."""

    min_activity: float
    savings_rate: float
    one_day_exit: float
    learning: float
    decay: float
    volunteer_persistence: float
    report_prob: float
    habit: float
    unfunded: float
    strike_off_rate: float


def report_probability(b: Mapping[str, float], enforcement: float) -> float:
    """Return an operating NGO's chance of filing its annual report under ``enforcement``."""
    p = b["report_base"] + b["report_enforcement"] * enforcement
    return min(max(float(p), 0.0), 1.0)


def year_end(
    b: Mapping[str, float], strike_off: float, purge_share: float, enforcement: float
) -> YearEnd:
    """Return the year's end rates from the behaviour and the State's instruments in force.

    Strike-offs are voluntary closures (``deregistration_rate``), the state's procedure
    for inactive NGOs (``strike_off_rate`` times its use) and purges.
    """
    enforced = b["strike_off_rate"] * strike_off
    rate = min(1.0, b["deregistration_rate"] + enforced + purge_share)
    return YearEnd(
        b["min_activity_usd"],
        b["savings_rate"],
        b["one_day_exit"],
        b["capacity_learning"],
        b["capacity_decay"],
        b["volunteer_persistence"],
        report_probability(b, enforcement),
        b["report_habit"],
        b["report_unfunded"],
        rate,
    )


def raise_probability(b: Mapping[str, float], gdp_per_person_usd: float) -> float:
    """Return this year's probability that a fundraising NGO raises domestic money.

    Giving grows with income (among people: Wiepking and Bekkers 2012; across a country's
    NGOs as its economy grows, the model's assumption): the odds of raising domestic money
    are ``domestic_raise_prob``'s odds at a GDP per person of ``giving_reference_usd``, times
    the ratio of GDP per person to that reference to the power ``domestic_raise_elasticity``.
    The reference only says where ``domestic_raise_prob`` is read: any other gives the same
    curves. At elasticity 0 the probability is ``domestic_raise_prob`` in every year.
    """
    base = b["domestic_raise_prob"]
    ratio = (gdp_per_person_usd / b["giving_reference_usd"]) ** b["domestic_raise_elasticity"]
    weighted = base * ratio
    return weighted / (weighted + (1.0 - base)) if weighted > 0 else 0.0


def domestic_shape(d: Domestic) -> tuple[float, float, float, float, float]:
    """Return the shape of domestic amounts that ``kernels.raise_domestic`` takes.

    That is the sd, the capacity weight, the persistence, the weight of this year's luck
    (``sqrt(1 - persistence**2)``) and the co-funding.
    """
    fresh = float(np.sqrt(1.0 - d.persistence**2))
    return (d.sd, d.capacity_weight, d.persistence, fresh, d.cofunding)


def end_year_rates(r: YearEnd) -> tuple[float, ...]:
    """Return the kernels' rates of the year's end (``kernels.end_year``)."""
    keep = 1.0 - (1.0 - r.report_prob) * (1.0 - r.habit)
    return (
        r.min_activity,
        r.savings_rate,
        r.one_day_exit,
        1.0 + r.learning,
        1.0 - r.decay,
        r.volunteer_persistence,
        r.report_prob,
        keep,
        r.report_prob * r.unfunded,
        keep * r.unfunded,
        r.strike_off_rate,
    )


class NumpyRules:
    """The reference implementation: the numpy functions of ``model.population``."""

    name = "numpy"

    def __init__(self, pop: Population, streams: KeyedStreams):
        self.pop, self.streams = pop, streams

    def start_year(self) -> None:
        """Carry last year's activity and reports forward and clear this year's income."""
        self.pop.start_year()

    def found(self, year: int, count: int, founding: Founding) -> slice:
        """Register ``count`` NGOs founded in ``year``; return their rows."""
        return self.pop.add(year, count, founding[0], self.streams, *founding[1:])

    def seek(self, year: int, apply_dormant: float, track: float, size: float) -> ApplicantPool:
        """Return this year's grant seekers."""
        seekers = rules.applicants(self.pop, year, self.streams, apply_dormant)
        return ApplicantPool(self.pop, seekers, track, size)

    def award(self, pool: ApplicantPool, funder: Funder, income: np.ndarray) -> np.ndarray:
        """Award one funder's grants among ``pool`` and add them to ``income``."""
        if funder.budget <= 0 or pool.rows.size == 0:
            return np.zeros(pool.rows.size)
        amounts = grants.allocate(
            funder.budget,
            funder.mean_grant,
            pool.scores(funder.priorities),
            pool.sizes,
            self.streams.uniform(funder.decision, funder.year, pool.ids),
            funder.cap_multiple,
        )
        income[pool.rows] += amounts
        return amounts

    def raise_domestic(self, year: int, pool: ApplicantPool, d: Domestic) -> None:
        """Give this year's fundraisers their domestic income."""
        seekers = np.zeros(self.pop.size, dtype=bool)
        seekers[pool.rows] = True
        rules.raise_domestic(self.pop, year, self.streams, seekers, *d)

    def end_year(self, year: int, r: YearEnd) -> np.ndarray:
        """Run the year's activity, engagement, reports and strike-offs; return those struck."""
        pop, streams = self.pop, self.streams
        rules.update_activity(
            pop, year, streams, r.min_activity, r.savings_rate, r.one_day_exit, r.learning, r.decay
        )
        rules.update_engagement(pop, year, streams, r.volunteer_persistence)
        state_funded = (pop.view("income_state") + pop.view("income_prize")) > 0
        rules.file_reports(pop, year, streams, r.report_prob, r.habit, r.unfunded, state_funded)
        return rules.deregister(pop, year, streams, r.strike_off_rate)

    def tally(self, to_nominal: float) -> np.ndarray:
        """Return the year's counts and sums (``model.metrics.TALLY``)."""
        return tally(self.pop, to_nominal)


class CompiledRules(NumpyRules):
    """The same rules as compiled kernels (``model.kernels``), fused row by row.

    The start of the year stays numpy's: a few whole-array copies, which numpy does faster
    than a loop.
    """

    name = "compiled"

    def _arrays(self, *names: str) -> tuple[np.ndarray, ...]:
        return tuple(self.pop.view(name) for name in names)

    def _incomes(self) -> tuple[np.ndarray, ...]:
        return self._arrays("income_foreign", "income_state", "income_domestic", "income_prize")

    def _keys(self, year: int, *decisions: str) -> tuple[np.uint64, ...]:
        return tuple(self.streams.key(decision, year) for decision in decisions)

    def _level_key(self) -> np.uint64:
        return self.streams.key("domestic_level", TRAIT)

    def founding_draws(self, year: int, founding: Founding) -> tuple:
        """Return the founding draws' arguments of ``kernels.found``.

        That is the cumulative sector probabilities, the keys of the sector, one-project,
        capacity, fundraising-level and State-founded draws, the one-project share, the
        capacity's sd and half its variance, and the chance that a new NGO is the State's
        with the State's cumulative sector probabilities.
        """
        keys = (*self._keys(year, "sector", "one_day", "capacity"), self._level_key())
        keys = (*keys, self.streams.key("state_founded", year))
        sd = founding.capacity_sd
        cumulative = rules.cumulative_probabilities(founding.sector_probs)
        # The kernel reads the State's mix only for its own NGOs, none where the share is 0.
        own = founding.state_sector_probs if founding.state_share > 0 else founding.sector_probs
        state = founding.state_share, rules.cumulative_probabilities(own)
        return cumulative, keys, founding.one_day_share, sd, 0.5 * sd**2, state

    def found(self, year: int, count: int, founding: Founding) -> slice:
        """Register ``count`` NGOs founded in ``year``; return their rows."""
        rows = self.pop.extend(count)
        names = ("ngo_id", "founded", "sector", "one_day", "capacity", "fundraising_level")
        arrays = self._arrays(*names, "status", "active", "state_founded")
        draws = self.founding_draws(year, founding)
        kernels.found(arrays, rows.start, count, year, ID_STRIDE, *draws)
        return rows

    def seek(self, year: int, apply_dormant: float, track: float, size: float) -> ApplicantPool:
        """Return this year's grant seekers."""
        names = ("status", "retired", "prev_active", "founded", "ngo_id", "sector", "capacity")
        arrays = kernels.seek(
            *self._arrays(*names),
            year,
            self.streams.key("apply_dormant", year),
            apply_dormant,
            track,
            size,
        )
        return ApplicantPool.from_arrays(*arrays)

    def award(self, pool: ApplicantPool, funder: Funder, income: np.ndarray) -> np.ndarray:
        """Award one funder's grants among ``pool`` and add them to ``income``."""
        return kernels.award(
            pool.rows,
            pool.ids,
            pool.sector,
            pool.track_record,
            pool.sizes,
            funder.priorities,
            self.streams.key(funder.decision, funder.year),
            funder.budget,
            funder.mean_grant,
            funder.cap_multiple * funder.mean_grant,
            income,
        )

    def raise_domestic(self, year: int, pool: ApplicantPool, d: Domestic) -> None:
        """Give this year's fundraisers their domestic income."""
        keys = self._keys(year, "domestic_raise", "domestic_amount")
        kernels.raise_domestic(
            pool.rows,
            self.pop.view("ngo_id"),
            self.pop.view("capacity"),
            self.pop.view("fundraising_level"),
            self._incomes()[:3],
            keys,
            d.raise_prob,
            d.median_usd,
            d.pool_usd,
            domestic_shape(d),
        )

    def end_year(self, year: int, r: YearEnd) -> np.ndarray:
        """Run the year's activity, engagement, reports and strike-offs; return those struck."""
        names = (
            "status",
            "founded",
            "one_day",
            "retired",
            "prev_operating",
            "prev_active",
            "prev_reported",
            "active",
            "reported",
            "spent_foreign_reserves",
            "streak",
            "capacity",
            "reserves",
            "reserves_foreign",
            "ngo_id",
            "state_founded",
        )
        rates = end_year_rates(r)
        struck = np.zeros(self.pop.size, dtype=bool)
        keys = self._keys(year, "one_day_exit", "volunteer", "report", "deregister")
        kernels.end_year(self._arrays(*names), self._incomes(), year, keys, rates, struck)
        return struck

    def tally(self, to_nominal: float) -> np.ndarray:
        """Return the year's counts and sums (``model.metrics.TALLY``)."""
        names = ("status", "active", "reported", "streak", "sector", "spent_foreign_reserves")
        names = (*names, "state_founded")
        return kernels.tally(
            self._arrays(*names), self._incomes(), to_nominal, ECOLOGY, LONG_ACTIVE_YEARS
        )


def make_rules(engine: str, pop: Population, streams: KeyedStreams) -> NumpyRules:
    """Return the rules of ``engine`` (``"compiled"`` or ``"numpy"``) over ``pop``."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    return (CompiledRules if engine == "compiled" else NumpyRules)(pop, streams)
