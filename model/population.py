"""The NGO population's state as numpy arrays, and the NGO rules vectorised over it.

One row is one real organisation; when the model creates agents (``agents=True``), each
row has a Mesa ``NGO`` agent (see ``model.agents``) whose attributes read that row.
Keeping the state in arrays lets the yearly rules (founding attributes, grant seeking,
domestic fundraising, survival and dormancy, reporting, deregistration) run as a few numpy
operations over the population instead of one Python call per agent. Mechanisms and
parameters: ``docs/ODD.md``.
"""

from __future__ import annotations

import numpy as np

from . import libm
from .rng import KeyedStreams

DORMANT, OPERATING, DEREGISTERED = 0, 1, 2
STATUS_NAMES = ("dormant", "operating", "deregistered")
ID_STRIDE = 1_000_000  # NGO id = founding year * stride + order within the year
LONG_ACTIVE_YEARS = 5
TRAIT = 0  # the "year" of a keyed draw that is a lasting trait drawn after founding

_FLOAT_FIELDS = (
    "capacity",
    "income_foreign",
    "income_state",
    "income_domestic",
    "income_prize",
    "reserves",
    "reserves_foreign",
    "fundraising_level",
)


# The rows a run's arrays start with: more than the NGOs a country founds in a calibrated
# run (about 20,000 in Kyrgyzstan), so that a run seldom grows them. Growing copies every
# array into fresh memory, whose first touch costs the kernel a page fault a page. The
# larger float arrays come from calloc's fresh pages, which cost nothing until touched;
# the peak memory of a run is unchanged (docs/benchmarks.md).
INITIAL_ROWS = 1 << 15


class Population:
    """Arrays of NGO state, grown by doubling so that founding does not copy every year."""

    def __init__(self, capacity_hint: int = 1024):
        n = max(capacity_hint, 16)
        self.size = 0
        self.ngo_id = np.zeros(n, dtype=np.uint64)
        self.founded = np.zeros(n, dtype=np.int32)
        self.sector = np.zeros(n, dtype=np.int8)
        self.one_day = np.zeros(n, dtype=bool)
        self.state_founded = np.zeros(n, dtype=bool)
        self.retired = np.zeros(n, dtype=bool)
        self.status = np.zeros(n, dtype=np.int8)
        self.prev_operating = np.zeros(n, dtype=bool)
        self.active = np.zeros(n, dtype=bool)
        self.prev_active = np.zeros(n, dtype=bool)
        self.reported = np.zeros(n, dtype=bool)
        self.prev_reported = np.zeros(n, dtype=bool)
        self.spent_foreign_reserves = np.zeros(n, dtype=bool)
        self.streak = np.zeros(n, dtype=np.int32)
        for name in _FLOAT_FIELDS:
            setattr(self, name, np.zeros(n, dtype=np.float64))

    def _grow(self, needed: int) -> None:
        old = self.ngo_id.size
        if needed <= old:
            return
        new = max(needed, 2 * old)
        for name, arr in vars(self).items():
            if isinstance(arr, np.ndarray) and arr.size == old:
                grown = np.zeros(new, dtype=arr.dtype)
                grown[:old] = arr
                setattr(self, name, grown)

    def view(self, name: str) -> np.ndarray:
        """Return the live part (rows ``0..size``) of one state array."""
        return getattr(self, name)[: self.size]

    def add(
        self,
        year: int,
        count: int,
        sector_probs: np.ndarray,
        streams: KeyedStreams,
        one_day_share: float,
        capacity_sd: float,
        state_share: float = 0.0,
        state_sector_probs: np.ndarray | None = None,
    ) -> slice:
        """Register ``count`` new NGOs in ``year`` and draw their founding attributes.

        Each attribute draw is keyed by the NGO's id, so the k-th NGO founded in a year
        gets the same draws in every scenario that founds at least k that year (the same
        attributes where the sector probabilities and the State's share are the same).
        Each is the State's own with probability ``state_share``, and then works in a field
        drawn from ``state_sector_probs`` (the State's priorities) instead of
        ``sector_probs``.

        Returns:
            The slice of the new rows.
        """
        rows = self.extend(count)
        ids = np.uint64(year) * np.uint64(ID_STRIDE) + np.arange(count, dtype=np.uint64)
        self.ngo_id[rows] = ids
        self.founded[rows] = year
        u = streams.uniform("sector", year, ids)
        sectors = np.searchsorted(cumulative_probabilities(sector_probs), u)
        state = np.zeros(count, dtype=bool)
        if state_share > 0:
            state = streams.uniform("state_founded", year, ids) < state_share
            state_cumulative = cumulative_probabilities(state_sector_probs)
            sectors[state] = np.searchsorted(state_cumulative, u[state])
        self.sector[rows] = sectors
        self.state_founded[rows] = state
        self.one_day[rows] = streams.uniform("one_day", year, ids) < one_day_share
        z = streams.normal("capacity", year, ids)
        self.capacity[rows] = libm.exp(capacity_sd * z - 0.5 * capacity_sd**2)
        self.fundraising_level[rows] = streams.normal("domestic_level", TRAIT, ids)
        self.status[rows] = OPERATING
        self.active[rows] = True
        return rows

    def reserve(self, rows: int) -> None:
        """Make the arrays hold at least ``rows`` rows, keeping the live ones."""
        self._grow(rows)

    def extend(self, count: int) -> slice:
        """Make room for ``count`` new rows at the end and return their slice."""
        start = self.size
        self._grow(start + count)
        self.size = start + count
        return slice(start, start + count)

    def start_year(self) -> None:
        """Carry last year's activity and reports forward and clear this year's income."""
        n = self.size
        self.prev_operating[:n] = self.status[:n] == OPERATING
        self.prev_active[:n] = self.active[:n]
        self.prev_reported[:n] = self.reported[:n]
        self.reported[:n] = False
        for name in ("income_foreign", "income_state", "income_domestic", "income_prize"):
            getattr(self, name)[:n] = 0.0

    def registered(self) -> np.ndarray:
        """Return the mask of NGOs on the register."""
        return self.view("status") != DEREGISTERED

    def total_income(self) -> np.ndarray:
        """Return each NGO's income this year (constant US dollars)."""
        return (
            self.view("income_foreign")
            + self.view("income_state")
            + self.view("income_domestic")
            + self.view("income_prize")
        )


def cumulative_probabilities(probs: np.ndarray) -> np.ndarray:
    """Return the cumulative distribution of ``probs`` (normalised), ending at exactly 1."""
    cumulative = np.cumsum(probs / probs.sum())
    cumulative[-1] = 1.0
    return cumulative


def sector_fit(priorities: np.ndarray) -> np.ndarray:
    """Return each sector's fit with a funder's priorities (1 is an average sector)."""
    return priorities / priorities.mean()


def chance(
    pop: Population, streams: KeyedStreams, decision: str, year: int, mask: np.ndarray, p: float
) -> np.ndarray:
    """Return ``mask`` narrowed to the rows whose keyed draw falls below ``p``.

    Only the rows in ``mask`` draw; since draws are keyed by NGO id, which rows draw does
    not change any row's draw.
    """
    rows = np.flatnonzero(mask)
    hit = np.zeros(mask.size, dtype=bool)
    if rows.size and p > 0:
        hit[rows] = streams.uniform(decision, year, pop.ngo_id[rows]) < p
    return hit


class ApplicantPool:
    """This year's grant seekers with what every funder scores them on, computed once.

    Args:
        pop: The population.
        seekers: Mask of the NGOs seeking money.
        track_record_weight: Exponent of capacity in funders' scores.
        grant_size_capacity: Exponent of capacity in grant sizes.
    """

    def __init__(
        self,
        pop: Population,
        seekers: np.ndarray,
        track_record_weight: float,
        grant_size_capacity: float,
    ):
        self.rows = np.flatnonzero(seekers)
        self.ids = pop.ngo_id[self.rows]
        self.sector = pop.sector[self.rows]
        capacity = pop.capacity[self.rows]
        self.track_record = libm.powers(capacity, track_record_weight)
        self.sizes = libm.powers(capacity, grant_size_capacity)

    def scores(self, priorities: np.ndarray) -> np.ndarray:
        """Return a funder's scores: track record times the sector's fit with its priorities."""
        return self.track_record * sector_fit(priorities)[self.sector]

    @classmethod
    def from_arrays(cls, rows, ids, sector, track_record, sizes) -> ApplicantPool:
        """Return a pool from its arrays, as the compiled rules compute them."""
        pool = object.__new__(cls)
        pool.rows, pool.ids, pool.sector = rows, ids, sector
        pool.track_record, pool.sizes = track_record, sizes
        return pool

    def subset(self, keep: np.ndarray) -> ApplicantPool:
        """Return the pool restricted to the applicants where ``keep`` (a row mask) holds."""
        chosen = keep[self.rows]
        return ApplicantPool.from_arrays(
            *(getattr(self, n)[chosen] for n in ("rows", "ids", "sector", "track_record", "sizes"))
        )


def applicants(
    pop: Population, year: int, streams: KeyedStreams, apply_dormant: float
) -> np.ndarray:
    """Return the mask of NGOs that seek grants this year.

    NGOs with any activity last year and those founded this year apply; idle ones apply
    with probability ``apply_dormant``; deregistered NGOs and retired one-project NGOs
    never do.
    """
    status = pop.view("status")
    able = ~pop.view("retired") & (status != DEREGISTERED)
    usual = able & (pop.view("prev_active") | (pop.view("founded") == year))
    idle = able & ~usual
    return usual | chance(pop, streams, "apply_dormant", year, idle, apply_dormant)


def raise_domestic(
    pop: Population,
    year: int,
    streams: KeyedStreams,
    seekers: np.ndarray,
    median_usd: float,
    pool_usd: float,
    raise_prob: float,
    sd: float,
    capacity_weight: float,
    persistence: float,
    cofunding: float,
) -> None:
    """Give fundraising NGOs domestic income (fees, local donations, earned income).

    An NGO that seeks funds raises some domestic money with probability ``raise_prob``;
    the amount it asks for is lognormal around ``median_usd`` times its capacity to the
    power ``capacity_weight``. Its log-deviation mixes the NGO's lasting fundraising level
    (weight ``persistence``) with this year's luck. What the country gives its NGOs in a
    year is at most ``pool_usd``: when the amounts asked for add up to more, every raiser
    gets the same fraction of its amount, so more NGOs do not make more local money. On
    top, a funded project draws ``cofunding`` domestic dollars per dollar of this year's
    foreign and state grants (local contributions, earned income).
    """
    rows = np.flatnonzero(chance(pop, streams, "domestic_raise", year, seekers, raise_prob))
    income = pop.view("income_domestic")
    income[:] = 0.0
    ids = pop.ngo_id[rows]
    z = persistence * pop.fundraising_level[rows] + np.sqrt(1.0 - persistence**2) * streams.normal(
        "domestic_amount", year, ids
    )
    asked = median_usd * libm.powers(pop.capacity[rows], capacity_weight) * libm.exp(sd * z)
    total = asked.sum()
    income[rows] = asked * (pool_usd / total if total > pool_usd else 1.0)
    income += cofunding * (pop.view("income_foreign") + pop.view("income_state"))


def update_activity(
    pop: Population,
    year: int,
    streams: KeyedStreams,
    min_activity: float,
    savings_rate: float,
    one_day_exit: float,
    learning: float,
    decay: float,
) -> None:
    """Decide who operates this year, and update reserves, capacity and the activity streak.

    An NGO operates when its income reaches ``min_activity`` or, having operated last
    year, its reserves can pay for a year at that level; such a year spends all its
    reserves and is financed by whoever's money they mostly are. Others fall dormant but
    stay on the register. A one-project NGO that has operated retires after the year with
    probability ``one_day_exit``.
    """
    status = pop.view("status")
    income = pop.total_income()
    reserves = pop.view("reserves")
    registered = status != DEREGISTERED
    funded = registered & (income >= min_activity)
    on_reserves = registered & ~funded & pop.view("prev_operating") & (reserves >= min_activity)
    operating = funded | on_reserves
    foreign_reserves = pop.view("reserves_foreign")
    # Reserves remember how much of them came from foreign grants, so that a year spent on
    # them counts as financed by the donors whose money it is.
    pop.view("spent_foreign_reserves")[:] = on_reserves & (foreign_reserves > 0.5 * reserves)
    reserves += np.where(funded, savings_rate * income, 0.0)
    foreign_reserves += np.where(funded, savings_rate * pop.view("income_foreign"), 0.0)
    # A year without income uses up the reserves: they bridge a gap between grants, not a
    # run of empty years (otherwise a few large grants keep an NGO "operating" for a decade).
    reserves[on_reserves] = 0.0
    foreign_reserves[on_reserves] = 0.0
    status[:] = np.where(operating, OPERATING, np.where(registered, DORMANT, DEREGISTERED))
    granted = (pop.view("income_foreign") + pop.view("income_state") + pop.view("income_prize")) > 0
    capacity = pop.view("capacity")
    # A struck-off NGO's capacity stays as it was, as kernels.end_year leaves its row: no
    # rule reads it again.
    factor = np.where(granted, 1.0 + learning, np.where(operating, 1.0, 1.0 - decay))
    capacity *= np.where(registered, factor, 1.0)
    np.maximum(capacity, 0.05, out=capacity, where=registered)
    streak = pop.view("streak")
    streak[:] = np.where(operating, streak + 1, 0)
    one_project = operating & pop.view("one_day")
    pop.view("retired")[:] |= chance(pop, streams, "one_day_exit", year, one_project, one_day_exit)


def update_engagement(
    pop: Population, year: int, streams: KeyedStreams, volunteer_persistence: float
) -> None:
    """Decide which registered NGOs show any activity this year (the statistics' count).

    Official statistics count an NGO as operating when it did anything in the year: any
    income, an event, volunteer work. Here that is an NGO running programmes (``OPERATING``),
    one with any income, one registered this year, or one active last year that keeps
    going on its members' unpaid effort (probability ``volunteer_persistence``). An NGO
    that has stopped does not restart on volunteers alone: only money revives it.
    """
    status = pop.view("status")
    registered = status != DEREGISTERED
    some_money = pop.total_income() > 0
    new = pop.view("founded") == year
    carried = registered & pop.view("prev_active") & ~pop.view("retired")
    keeps_going = chance(pop, streams, "volunteer", year, carried, volunteer_persistence)
    pop.view("active")[:] = registered & ((status == OPERATING) | some_money | new | keeps_going)


def file_reports(
    pop: Population,
    year: int,
    streams: KeyedStreams,
    report_prob: float,
    habit: float,
    unfunded: float,
    must_report: np.ndarray,
) -> None:
    """Active NGOs file their annual report; operating state grantees always do.

    An operating NGO files with ``report_prob``; one that filed last year files with
    ``1 - (1 - report_prob) * (1 - habit)``, since its accounts and routine are in place.
    An NGO active without programmes (on volunteers or a small income) has the same duty
    but less to account for and no donor asking for accounts: it files with ``unfunded``
    times those probabilities. Paper NGOs (no activity) do not file.
    """
    operating = pop.view("status") == OPERATING
    may_skip = pop.view("active") & ~(operating & must_report)
    routine = pop.view("prev_reported")
    keep_prob = 1.0 - (1.0 - report_prob) * (1.0 - habit)
    funded = may_skip & operating
    idle = may_skip & ~operating
    files = chance(pop, streams, "report", year, funded & ~routine, report_prob)
    files |= chance(pop, streams, "report", year, funded & routine, keep_prob)
    files |= chance(pop, streams, "report", year, idle & ~routine, report_prob * unfunded)
    files |= chance(pop, streams, "report", year, idle & routine, keep_prob * unfunded)
    pop.view("reported")[:] = files | (operating & must_report)


def deregister(pop: Population, year: int, streams: KeyedStreams, rate: float) -> np.ndarray:
    """Strike NGOs with no activity this year off the register with probability ``rate``.

    The State keeps the NGOs it founded on the register, active or not.

    Returns:
        The mask of the NGOs struck off.
    """
    idle = (pop.view("status") != DEREGISTERED) & ~pop.view("active") & ~pop.view("state_founded")
    struck = chance(pop, streams, "deregister", year, idle, rate)
    pop.view("status")[struck] = DEREGISTERED
    return struck
