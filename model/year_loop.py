"""The calibration path's years in one compiled call: decisions, rules and output rows.

Each year: the State's and Donors' decisions, the founding count, the NGO rules and the
output row.

Source: the same model as ``model.model`` (Jaysanov 2023, CAJOTAS 4(6); ``docs/ODD.md``).
The decisions are defined once, as the pure functions of ``model.decisions`` (the State's
restriction, the Donors' cuts and absorptive capacity) and ``model.founding`` (founders'
expectation of money, density dependence, the Poisson count), and the output row once, by
``model.metrics.output_row``; the functions here mirror them operation for operation, so
that a run gives ``NGOModel``'s table bit for bit (``tests/test_fastpath.py``,
``tests/test_year_loop.py``). Two details matter for that: Python's ``sum`` of floats is
compensated (Neumaier's summation, CPython 3.12), so the sums it makes are made the same
way here (``python_sum``), and the Poisson quantile calls scipy's own ``pdtrik`` and
``pdtr`` through their Cython exports, as ``model.rng.poisson_quantile`` does.

The founding rule's exponential is the C library's here and in ``founding.density_factor``
(``math.exp``; numpy's own differs in the last bit on CPUs with AVX-512, ``model.libm``).

``run_years`` stops early, with nothing of that year changed, when a year's new NGOs need
more rows than the population arrays hold (the caller grows them and calls again) or when
the register runs away (the caller raises the ``ScenarioError`` of ``founding.registrations``).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import binding
from numba.extending import get_cython_function_address

from . import kernels, year_kernels
from .founding import DENSITY_REFERENCE
from .metrics import OUTPUT_COLUMNS, TALLY
from .pairwise import jit
from .population import ID_STRIDE
from .scenario import MAX_NGOS


def _cython_double(name: str) -> int:
    """Return the address of scipy's Cython export of ``name`` (``pdtrik``, ``pdtr``).

    scipy 1.18 exports ``pdtrik`` fused on double and float, the double first
    (``__pyx_fuse_0pdtrik``), and ``pdtr`` unfused; other versions may export either
    unfused. The tests compare the results with scipy's own functions.
    """
    try:
        return get_cython_function_address("scipy.special.cython_special", f"__pyx_fuse_0{name}")
    except ValueError:
        return get_cython_function_address("scipy.special.cython_special", name)


# Bound by symbol name (as ``model.kernels`` binds ndtri) so that the loop can be cached.
binding.add_symbol("ngo_abm_pdtrik", _cython_double("pdtrik"))
binding.add_symbol("ngo_abm_pdtr", _cython_double("pdtr"))
_SIGNATURE = numba.float64(numba.float64, numba.float64, numba.intc)
_pdtrik = numba.types.ExternalFunction("ngo_abm_pdtrik", _SIGNATURE)
_pdtr = numba.types.ExternalFunction("ngo_abm_pdtr", _SIGNATURE)

# What ``run_years`` returns as its status.
DONE, NEED_ROWS, RUNAWAY_RATE, RUNAWAY_COUNT = 0, 1, 2, 3
# The carried state, in ``carry``: the State's threat, founders' expected money (NaN
# before the first year), last year's foreign share of income and funded NGOs.
THREAT, EXPECTED, FOREIGN_SHARE, FUNDED = 0, 1, 2, 3
# The behavioural parameters ``run_years`` reads, in ``params``.
PARAMS = (
    "state_neighbour_threat",
    "state_threat_memory",
    "state_restriction_reaction",
    "donor_restriction_cut",
    "donor_instability_cut",
    "donor_absorption",
    "donor_restriction_shift",
    "founding_lag_years",
    "legitimation",
    "competition_density",
    "crowding_usd",
    "funding_rate",
    "civic_rate",
)
(NEIGHBOUR, MEMORY, REACTION, RESTRICTION_CUT, INSTABILITY_CUT, ABSORPTION, SHIFT, LAG,
 LEGITIMATION, COMPETITION, CROWDING, FUNDING_RATE, CIVIC_RATE) = range(len(PARAMS))  # fmt: skip
# After them, ``params_array`` puts the exponent 2 of the competition term: as a constant,
# LLVM would turn ``pow(x, 2.0)`` into ``x * x``, which differs from the ``pow`` that
# Python's ``x ** 2`` calls in about one case in a thousand.
SQUARE = len(PARAMS)
# The yearly exogenous values ``run_years`` reads, rows of ``line`` (``model.timeline``).
# ``state_founding`` is the NGOs the State expects to found (``founding.state_registrations``).
LINE = (
    "instability",
    "neighbour",
    "documented",
    "state_usd",
    "people",
    "burden",
    "founding_u",
    "state_founding",
)
(INSTABILITY, NEIGHBOUR_REVOLUTION, DOCUMENTED, STATE_USD, PEOPLE, BURDEN, FOUNDING_U,
 STATE_FOUNDING) = range(len(LINE))  # fmt: skip
# Positions in the population's tally (``metrics.TALLY``).
(T_REGISTERED, T_FUNDED, T_OPERATIONAL, T_REPORTING, T_LONG, T_FOREIGN, T_STATE, T_DOMESTIC,
 T_FOREIGN_FUNDED, T_DEPENDENT, T_LE_5K, T_GT_50K, T_ECOLOGY, T_STATE_FOUNDED) = range(
    len(TALLY))  # fmt: skip
assert TALLY[T_ECOLOGY] == "ecology" and TALLY[T_FOREIGN_FUNDED] == "foreign_funded"
assert TALLY[T_STATE_FOUNDED] == "state_founded"
SHARE_FOREIGN = OUTPUT_COLUMNS.index("share_income_foreign")
OPERATIONAL = OUTPUT_COLUMNS.index("operational")
# The output columns that are counts (ints in the table); the rest are floats.
COUNT_COLUMNS = (*OUTPUT_COLUMNS[:8], "donors_active")
assert OUTPUT_COLUMNS[7] == "long_active" and "donors_active" in OUTPUT_COLUMNS


@jit
def python_sum(values):
    """Return ``sum(values)`` as CPython 3.12 adds floats (Neumaier's compensated sum)."""
    total = 0.0
    compensation = 0.0
    for x in values:
        t = total + x
        if abs(total) >= abs(x):
            compensation += (total - t) + x
        else:
            compensation += (x - t) + total
        total = t
    if compensation != 0.0 and math.isfinite(compensation):
        total += compensation
    return total


def params_array(behaviour) -> np.ndarray:
    """Return the behavioural parameters ``run_years`` reads (``PARAMS``, then ``SQUARE``)."""
    return np.array([*(float(behaviour[name]) for name in PARAMS), 2.0])


@jit
def year_keys(bases, years):
    """Return ``KeyedStreams.keys`` of each base key (rows) for each year (columns)."""
    keys = np.empty((bases.size, years.size), dtype=np.uint64)
    for d in range(bases.size):
        for t in range(years.size):
            keys[d, t] = kernels.splitmix64((np.uint64(years[t]) * kernels.GOLDEN) ^ bases[d])
    return keys


@jit
def year_uniforms(keys):
    """Return ``KeyedStreams.scalar_uniform`` of each key."""
    u = np.empty(keys.size)
    for t in range(keys.size):
        u[t] = kernels.uniform(keys[t], np.uint64(0))
    return u


@jit
def poisson_quantile(u, lam):
    """Return the Poisson(``lam``) quantile of ``u`` (``model.rng.poisson_quantile``)."""
    if lam <= 0:
        return 0
    k = max(int(math.ceil(_pdtrik(u, lam, 0))), 0)
    if k > 0 and _pdtr(float(k - 1), lam, 0) >= u:
        return k - 1
    return k


@jit
def restriction(p, line, t, carry):
    """Return the State's threat and restriction in force (``decisions``, ``State``)."""
    threat = max(
        line[INSTABILITY, t],
        p[NEIGHBOUR] * line[NEIGHBOUR_REVOLUTION, t],
        p[MEMORY] * carry[THREAT],
    )
    reactive = min(1.0, p[REACTION] * carry[FOREIGN_SHARE] * threat)
    return threat, max(line[DOCUMENTED, t], reactive)


@jit
def donor_budgets(p, paths, means, t, instability, restricted, capable):
    """Return each donor's budget after its cuts and the sector's absorption (``decisions``)."""
    political = max(0.0, 1.0 - p[RESTRICTION_CUT] * restricted) * max(
        0.0, 1.0 - p[INSTABILITY_CUT] * instability
    )
    budgets = np.empty(paths.shape[0])
    planned = np.empty(paths.shape[0])
    for d in range(paths.shape[0]):
        budgets[d] = paths[d, t] * political
        planned[d] = budgets[d] / means[d]
    factor = 1.0 / (1.0 + p[ABSORPTION] * python_sum(planned) / max(1, capable))
    for d in range(budgets.size):
        budgets[d] = budgets[d] * factor
    return budgets


@jit
def expected_registrations(p, people, active, money, burden):
    """Return a year's expected new registrations (``founding.expected_registrations``)."""
    per_ngo = money / max(active, 1)
    uncrowded = per_ngo / (per_ngo + p[CROWDING])
    funded = p[FUNDING_RATE] * money / 1e6 * uncrowded
    density = density_factor(p, active / max(people, 1e-9))
    return (1.0 - burden) * (p[CIVIC_RATE] * people + funded) * density


@jit
def density_factor(p, active_per_million):
    """Return the founding multiplier of the density of active NGOs (``founding``'s)."""
    d = active_per_million
    legitimacy = math.pow((1.0 + d) / (1.0 + DENSITY_REFERENCE), p[LEGITIMATION])
    return legitimacy * math.exp(-math.pow(d / p[COMPETITION], p[SQUARE]))


@jit
def state_share(civic, state):
    """Return the chance that a new NGO is the State's (``founding.state_share``)."""
    return state / (civic + state) if state > 0 else 0.0


@jit
def count_active(active, n):
    """Return the NGOs active last year (what ``year_kernels.start_year`` counts)."""
    count = 0
    for i in range(n):
        count += active[i]
    return count


@jit
def share(part, whole):
    """Return ``part / whole``, 0 for an empty whole (``metrics._share``)."""
    return part / whole if whole > 0 else 0.0


@jit
def write_row(out, t, year, new, struck, counts, paid, restricted, budgets):
    """Write the year's output row (``metrics.output_row``, columns of ``OUTPUT_COLUMNS``)."""
    foreign, state, domestic = counts[T_FOREIGN], counts[T_STATE], counts[T_DOMESTIC]
    funded = counts[T_FUNDED]
    active_donors = 0
    for b in budgets:
        active_donors += b > 0
    out[t, 0] = year
    out[t, 1] = counts[T_REGISTERED]
    out[t, 2] = new
    out[t, 3] = struck
    out[t, 4] = counts[T_OPERATIONAL]
    out[t, 5] = funded
    out[t, 6] = counts[T_REPORTING]
    out[t, 7] = counts[T_LONG]
    out[t, 8] = foreign
    out[t, 9] = state
    out[t, 10] = domestic
    out[t, 11] = share(foreign, foreign + state + domestic)
    out[t, 12] = share(counts[T_FOREIGN_FUNDED], funded)
    out[t, 13] = share(counts[T_DEPENDENT], funded)
    out[t, 14] = share(counts[T_LE_5K], funded)
    out[t, 15] = share(counts[T_GT_50K], funded)
    out[t, 16] = paid[0]
    out[t, 17] = paid[1]
    out[t, 18] = active_donors
    out[t, 19] = python_sum(budgets)
    out[t, 20] = restricted
    out[t, 21] = share(counts[T_ECOLOGY], counts[T_REGISTERED])
    out[t, 22] = share(counts[T_STATE_FOUNDED], counts[T_REGISTERED])


@jit
def run_years(pop, incomes, n, t0, t1, first_year, p, line, paths, carry, year_args, out):
    """Simulate years ``t0`` to ``t1 - 1`` (indices from the start year); write their rows.

    ``year_args`` holds the run's constants and yearly keys and rates that
    ``year_kernels.run_year`` takes besides this year's decisions (built by
    ``model.fastpath.CompiledRun``). Returns (status, the index of the year reached, the
    live rows, a value): ``DONE``; ``NEED_ROWS`` with the year's new NGOs, nothing of that
    year yet changed; ``RUNAWAY_RATE`` or ``RUNAWAY_COUNT`` with the expected
    registrations, where ``founding.registrations`` raises.
    """
    means, caps, own_priorities, donor_keys, offer, founding, seeking = year_args[:7]
    grant, prize, domestic, ending = year_args[7:]
    for t in range(t0, t1):
        threat, restricted = restriction(p, line, t, carry)
        budgets = donor_budgets(
            p, paths, means, t, line[INSTABILITY, t], restricted, int(carry[FUNDED])
        )
        money = line[STATE_USD, t]
        for budget in budgets:
            money += budget
        expected = carry[EXPECTED]
        if expected != expected:  # NaN: the first year, founders expect what they see
            expected = money
        else:
            expected = expected + 1.0 / (1.0 + p[LAG]) * (money - expected)
        # Last year's tally counted the active NGOs among the registered ones, and the
        # year's end leaves no struck-off NGO active (``kernels.end_year``), so it is the
        # count ``start_year`` makes; the first year of a call counts afresh, as the
        # population may have been changed between calls.
        active = count_active(pop[7], n) if t == t0 else int(out[t - 1, OPERATIONAL])
        civic = expected_registrations(p, line[PEOPLE, t], active, expected, line[BURDEN, t])
        state = line[STATE_FOUNDING, t]
        lam = civic + state
        # NaN too (money that overflowed): ``founding.registrations`` says which.
        if not lam <= MAX_NGOS:
            return RUNAWAY_RATE, t, n, lam
        new = poisson_quantile(line[FOUNDING_U, t], lam)
        if new >= ID_STRIDE:
            return RUNAWAY_COUNT, t, n, lam
        if n + new > pop[0].size:
            return NEED_ROWS, t, n, float(new)
        carry[THREAT] = threat
        carry[EXPECTED] = expected
        year_kernels.start_year(pop, incomes, n)
        state_offer = (line[STATE_USD, t], offer[0], offer[1], offer[2])
        shift = p[SHIFT] * restricted
        donors = (budgets, means, caps, own_priorities, shift, donor_keys[t], money, state_offer)
        counts, struck, grants_paid, prizes_paid = year_kernels.run_year(
            pop,
            incomes,
            n + new,
            first_year + t,
            founding_args(founding, t, n, new, state_share(civic, state)),
            (seeking[0][t], seeking[1], seeking[2], seeking[3]),
            donors,
            (grant[0][t], grant[1][t], grant[2][t], offer[0], grant[3][t], grant[4], grant[5][t]),
            (prize[0][t], prize[1], prize[2][t]),
            ((domestic[0][t], domestic[1][t]), domestic[2][t], domestic[3][t], domestic[4][t],
             domestic[5]),
            ending_args(ending, t),
        )  # fmt: skip
        n += new
        paid = (grants_paid, prizes_paid)
        write_row(out, t, first_year + t, new, struck, counts, paid, restricted, budgets)
        carry[FOREIGN_SHARE] = out[t, SHARE_FOREIGN]
        carry[FUNDED] = counts[T_FUNDED]
    return DONE, t1, n, 0.0


@jit
def founding_args(founding, t, start, count, state_share):
    """Return ``year_kernels.run_year``'s founding argument for year ``t``."""
    sector, one_day, capacity, level, state_keys, one_day_share, sd, half_var, cumulative = founding
    keys = (sector[t], one_day[t], capacity[t], level, state_keys[t])
    return start, count, keys, one_day_share, sd, half_var, (state_share, cumulative)


@jit
def ending_args(ending, t):
    """Return ``year_kernels.run_year``'s year-end argument for year ``t``."""
    exit_keys, volunteer, report, deregister, rates, to_nominal, ecology, long_years = ending
    r = rates[t]
    year_rates = (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10])
    keys = (exit_keys[t], volunteer[t], report[t], deregister[t])
    return keys, year_rates, to_nominal[t], ecology, long_years
