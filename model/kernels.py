"""Compiled (numba) kernels of the yearly NGO rules: the fast path of ``model.engines``.

Each kernel visits the population rows once and draws the same keyed random numbers as
``model.rng.KeyedStreams`` (the SplitMix64 finaliser of Steele et al. 2014, applied twice
to ``id * golden ^ key``), so a run on these kernels gives the numpy path's table bit for
bit. Four details make that hold: sums of floating-point arrays use numpy's own pairwise
summation (``model.pairwise``), powers take numpy's shortcuts for the exponents it treats
specially (``model.libm.power``), exponentials and other powers are the C library's in
both paths (``model.libm``), and the inverse normal is scipy's ``ndtri`` itself, called
through its Cython export. The rules themselves are documented once, on the numpy functions of
``model.population`` that these kernels mirror, and in ``docs/ODD.md``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import binding
from numba.extending import get_cython_function_address

from .libm import power
from .metrics import DEPENDENT_SHARE, LARGE_INCOME_USD, SMALL_INCOME_USD
from .pairwise import block_sum, jit, pairwise_sum, total
from .population import DEREGISTERED, DORMANT, OPERATING

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
TO_UNIT = 2.0**-53
NORMAL_CLIP = 1e-12

# Bound by symbol name rather than as a ctypes pointer, so that the kernels that call it
# can be cached on disk (a pointer is a dynamic global that numba will not cache).
binding.add_symbol(
    "ngo_abm_ndtri", get_cython_function_address("scipy.special.cython_special", "ndtri")
)
_ndtri = numba.types.ExternalFunction("ngo_abm_ndtri", numba.float64(numba.float64))


@jit
def splitmix64(x: np.uint64) -> np.uint64:
    """Return the SplitMix64 finaliser of ``x`` (wrapping uint64 arithmetic)."""
    x = x + GOLDEN
    x ^= x >> np.uint64(30)
    x *= MIX1
    x ^= x >> np.uint64(27)
    x *= MIX2
    x ^= x >> np.uint64(31)
    return x


@jit
def uniform(key: np.uint64, ngo_id: np.uint64) -> float:
    """Return the keyed uniform of one id, as ``KeyedStreams.uniform`` does."""
    x = splitmix64(splitmix64((ngo_id * GOLDEN) ^ key))
    # Below 2**53 the value is the same as a signed int, whose conversion is one instruction.
    return float(np.int64(x >> np.uint64(11))) * TO_UNIT


@jit
def uniforms(key: np.uint64, ids: np.ndarray) -> np.ndarray:
    """Return the keyed uniform of every id, in one branch-free pass.

    The compiler turns this loop into vector instructions (0.4 to 1.3 ns an id on the
    machines measured, ``docs/benchmarks.md``, against 2 to 3 ns for one uniform drawn
    inside a branching loop), so a rule that needs the draw for most rows reads it from
    here, even for the rows where the draw cannot matter.
    """
    out = np.empty(ids.size)
    for j in range(ids.size):
        out[j] = uniform(key, ids[j])
    return out


@jit
def normal(key: np.uint64, ngo_id: np.uint64) -> float:
    """Return the keyed standard normal of one id, as ``KeyedStreams.normal`` does."""
    u = min(max(uniform(key, ngo_id), NORMAL_CLIP), 1 - NORMAL_CLIP)
    return _ndtri(u)


@jit
def found(
    pop_arrays, start, count, year, stride, cumulative, keys, one_day_share, sd, half_var, state
):
    """Write ``count`` new NGOs' ids and founding attributes from row ``start``.

    ``state`` is (the chance a new NGO is the State's, the cumulative of the State's
    sector probabilities that ``Population.add`` takes).
    """
    ngo_id, founded, sector, one_day, capacity, level, status, active, state_founded = pop_arrays
    key_sector, key_one_day, key_capacity, key_level, key_state = keys
    state_share, state_cumulative = state
    for k in range(count):
        i = start + k
        ident = np.uint64(year) * np.uint64(stride) + np.uint64(k)
        ngo_id[i] = ident
        founded[i] = year
        u = uniform(key_sector, ident)
        gongo = state_share > 0 and uniform(key_state, ident) < state_share
        state_founded[i] = gongo
        mix = state_cumulative if gongo else cumulative
        s = 0
        while mix[s] < u:
            s += 1
        sector[i] = s
        one_day[i] = uniform(key_one_day, ident) < one_day_share
        capacity[i] = math.exp(sd * normal(key_capacity, ident) - half_var)
        level[i] = normal(key_level, ident)
        status[i] = OPERATING
        active[i] = True


@jit
def seek(status, retired, prev_active, founded, ngo_id, sector, capacity, year, key, p_idle, w, g):
    """Return this year's applicants (rows, ids, sectors, track records, grant sizes).

    With ``g`` NaN the grant sizes are left NaN, for the caller to compute only for the
    winners (``model.year_kernels.award_grants``).
    """
    n = status.size
    rows = np.empty(n, dtype=np.int64)
    # Every row's draw in one vector pass, then a loop without branches that writes each
    # row at the next free place, which only an applicant keeps (as in ``winners``).
    draws = uniforms(key, ngo_id)
    m = 0
    for i in range(n):
        able = np.int64(not retired[i]) & np.int64(status[i] != DEREGISTERED)
        idle = np.int64(draws[i] < p_idle)
        seeks = np.int64(prev_active[i]) | np.int64(founded[i] == year) | idle
        rows[m] = i
        m += able & seeks
    rows = rows[:m]
    ids = np.empty(m, dtype=np.uint64)
    sectors = np.empty(m, dtype=np.int8)
    track = np.empty(m)
    sizes = np.empty(m)
    for j in range(m):
        i = rows[j]
        ids[j] = ngo_id[i]
        sectors[j] = sector[i]
        track[j] = power(capacity[i], w)
        sizes[j] = power(capacity[i], g) if g == g else np.nan
    return rows, ids, sectors, track, sizes


@jit
def winners(ids, sectors, track, priorities, key, budget, mean_grant):
    """Draw one funder's winners among the applicants (``model.grants.win_probabilities``).

    Returns:
        The winners' indices among the applicants (in the first entries) and their number.
    """
    m = ids.size
    won = np.empty(m, dtype=np.int64)
    if budget <= 0 or m == 0:
        return won, 0
    # The sectors' fit, as ``model.population.sector_fit`` computes it with numpy's mean.
    fit = priorities / (block_sum(priorities, 0, priorities.size) / priorities.size)
    scores = np.empty(m)
    for j in range(m):
        scores[j] = track[j] * fit[sectors[j]]
    score_total = total(scores)
    expected = budget / mean_grant
    if score_total <= 0 or expected <= 0:
        return won, 0
    factor = expected / score_total
    draws = uniforms(key, ids)
    w = 0
    for j in range(m):
        p = min(1.0, scores[j] * factor)
        # A uniform lies in [0, 1): for a chance of 0 or 1 the draw cannot change the outcome.
        # Every applicant is written at the next free place, which only a winner keeps: a
        # loop with no branch on the draw, whose outcome is unpredictable for p near 0.5.
        won[w] = j
        w += np.int64(p > 0) & (np.int64(p >= 1.0) | np.int64(draws[j] < p))
    return won, w


@jit
def share(rows, won, won_sizes, budget, cap, income):
    """Split the budget among the winners by size (``model.grants.split_budget``).

    Adds each grant to its winner's ``income`` and returns the amount of each applicant.
    """
    amounts = np.zeros(rows.size)
    w = won_sizes.size
    size_total = pairwise_sum(won_sizes, 0, w)
    if size_total <= 0 or budget <= 0:
        return amounts
    for k in range(w):
        j = won[k]
        amounts[j] = min(budget * won_sizes[k] / size_total, cap)
        income[rows[j]] += amounts[j]
    return amounts


@jit
def award(rows, ids, sectors, track, sizes, priorities, key, budget, mean_grant, cap, income):
    """Award one funder's grants among the applicants and add them to ``income``.

    Returns:
        The amount awarded to each applicant (``model.grants.allocate``).
    """
    won, w = winners(ids, sectors, track, priorities, key, budget, mean_grant)
    won_sizes = np.empty(w)
    for k in range(w):
        won_sizes[k] = sizes[won[k]]
    return share(rows, won, won_sizes, budget, cap, income)


@jit
def raise_domestic(
    rows, ngo_id, capacity, level, incomes, keys, raise_prob, median, pool_usd, shape
):
    """Give this year's raisers domestic income, shared out of the pool, plus co-funding.

    ``shape`` is (sd, capacity weight, persistence, sqrt(1 - persistence**2), cofunding).
    """
    key_raise, key_amount = keys
    sd, weight, persistence, fresh, cofunding = shape
    foreign, state, domestic = incomes[0], incomes[1], incomes[2]
    raisers = np.empty(rows.size, dtype=np.int64)
    asked = np.empty(rows.size)
    r = 0
    if raise_prob > 0:
        # The raisers first, without a branch on the draw (as in ``seek``), then their
        # amounts in a loop with no branch at all.
        ids = np.empty(rows.size, dtype=np.uint64)
        for j in range(rows.size):
            ids[j] = ngo_id[rows[j]]
        draws = uniforms(key_raise, ids)
        for j in range(rows.size):
            raisers[r] = rows[j]
            r += np.int64(draws[j] < raise_prob)
        for k in range(r):
            i = raisers[k]
            z = persistence * level[i] + fresh * normal(key_amount, ngo_id[i])
            asked[k] = median * power(capacity[i], weight) * math.exp(sd * z)
    asked_total = pairwise_sum(asked, 0, r)
    scale = pool_usd / asked_total if asked_total > pool_usd else 1.0
    domestic[:] = 0.0
    for k in range(r):
        domestic[raisers[k]] = asked[k] * scale
    for i in range(domestic.size):
        domestic[i] += cofunding * (foreign[i] + state[i])


@jit
def end_year(pop_arrays, incomes, year, keys, rates, struck):
    """Activity, engagement, reports and strike-offs of the year, in one pass.

    Mirrors ``update_activity``, ``update_engagement``, ``file_reports`` and ``deregister``
    of ``model.population``, in that order for each row. ``rates`` is (min activity,
    savings rate, one-project exit, capacity growth factor, capacity decay factor,
    volunteer persistence, report probability, report probability with the habit, the
    same two for an NGO active without programmes, strike-off rate); the State's own NGOs
    are never struck off. Marks the struck rows in ``struck`` and returns their number.
    """
    (status, founded, one_day, retired, prev_operating, prev_active, prev_reported,
     active, reported, spent_foreign, streak, capacity, reserves, reserves_foreign,
     ngo_id, state_founded) = pop_arrays  # fmt: skip
    foreign, state, domestic, prize = incomes[0], incomes[1], incomes[2], incomes[3]
    key_exit, key_volunteer, key_report, key_strike = keys
    (min_act, savings, exit_p, grow, shrink, volunteer_p, report_p, keep_p, idle_report_p,
     idle_keep_p, strike_p) = rates  # fmt: skip
    count = 0
    for i in range(status.size):
        if status[i] == DEREGISTERED:
            # Off the register: what the rules below give such a row, without reading its
            # money (it has none); no rule reads its capacity again, so it no longer decays.
            spent_foreign[i] = False
            streak[i] = 0
            active[i] = False
            reported[i] = False
            continue
        ident = ngo_id[i]
        income = ((foreign[i] + state[i]) + domestic[i]) + prize[i]
        funded = income >= min_act
        on_reserves = not funded and prev_operating[i] and reserves[i] >= min_act
        operating = funded or on_reserves
        spent_foreign[i] = on_reserves and reserves_foreign[i] > 0.5 * reserves[i]
        if funded:
            reserves[i] += savings * income
            reserves_foreign[i] += savings * foreign[i]
        if on_reserves:
            reserves[i] = 0.0
            reserves_foreign[i] = 0.0
        status[i] = OPERATING if operating else DORMANT
        if ((foreign[i] + state[i]) + prize[i]) > 0:
            capacity[i] *= grow
        elif not operating:
            capacity[i] *= shrink
        capacity[i] = max(capacity[i], 0.05)
        streak[i] = streak[i] + 1 if operating else 0
        if operating and one_day[i] and exit_p > 0 and uniform(key_exit, ident) < exit_p:
            retired[i] = True
        active[i] = (
            operating
            or income > 0
            or founded[i] == year
            or (
                prev_active[i]
                and not retired[i]
                and volunteer_p > 0
                and uniform(key_volunteer, ident) < volunteer_p
            )
        )
        must_report = operating and (state[i] + prize[i]) > 0
        files = False
        if active[i] and not must_report:
            if operating:
                p = keep_p if prev_reported[i] else report_p
            else:
                p = idle_keep_p if prev_reported[i] else idle_report_p
            files = p > 0 and uniform(key_report, ident) < p
        reported[i] = files or must_report
        struck[i] = (
            not active[i]
            and not state_founded[i]
            and strike_p > 0
            and uniform(key_strike, ident) < strike_p
        )
        if struck[i]:
            status[i] = DEREGISTERED
            count += 1
    return count


@jit
def tally(pop_arrays, incomes, to_nominal, ecology, long_years):
    """Return the counts and sums of the year's output row (``model.metrics.tally``)."""
    status, active, reported, streak, sector, spent_foreign, state_founded = pop_arrays
    foreign, state, domestic, prize = incomes[0], incomes[1], incomes[2], incomes[3]
    state_all = state + prize
    registered = operating = n_active = n_reported = long_active = eco = gongo = 0
    foreign_funded = dependent = small = large = 0
    # Branch-free: every row adds its flags as integers, so the loop has no jump to
    # mispredict on a register's mixed statuses. The active, reporting and long-active
    # NGOs are counted over every row, as ``metrics.tally`` counts them (a struck NGO is
    # none of them, ``end_year``).
    for i in range(status.size):
        on_register = np.int64(status[i] != DEREGISTERED)
        operates = np.int64(status[i] == OPERATING)
        registered += on_register
        n_active += np.int64(active[i])
        n_reported += np.int64(reported[i])
        long_active += np.int64(streak[i] >= long_years)
        eco += on_register & np.int64(sector[i] == ecology)
        gongo += on_register & np.int64(state_founded[i])
        income = (foreign[i] + state_all[i]) + domestic[i]
        operating += operates
        foreign_funded += operates & (np.int64(foreign[i] > 0) | np.int64(spent_foreign[i]))
        dependent += operates & np.int64(foreign[i] > DEPENDENT_SHARE * income)
        small += operates & np.int64(income * to_nominal <= SMALL_INCOME_USD)
        large += operates & np.int64(income * to_nominal > LARGE_INCOME_USD)
    return np.array(
        [
            registered,
            operating,
            n_active,
            n_reported,
            long_active,
            total(foreign),
            total(state_all),
            total(domestic),
            foreign_funded,
            dependent,
            small,
            large,
            eco,
            gongo,
        ],
        dtype=np.float64,
    )
