"""One compiled call per simulated year: the NGO rules of ``model.kernels`` chained in order.

The calibration run (``model.fastpath``) calls ``start_year`` and then ``run_year`` once a
year instead of a dozen kernels and Python funder objects: founding, grant seeking, every
donor's grants, the State's grants and prizes, domestic money, the year's end and the output
tally, in ``NGOModel.step``'s order and with the same keyed draws, so the table is the numpy
path's bit for bit (``tests/test_fastpath.py``). The State's eligibility and prize rules
mirror ``State.eligible``, ``State.award_grants`` and ``State.award_prizes`` of
``model.agents``, where they are documented.
"""

from __future__ import annotations

import numpy as np

from . import kernels
from .kernels import jit
from .population import ID_STRIDE, OPERATING


@jit
def start_year(status, active, reported, prev_operating, prev_active, prev_reported, incomes):
    """Carry last year's activity and reports forward, clear the income; return the active."""
    foreign, state, domestic, prize = incomes[0], incomes[1], incomes[2], incomes[3]
    count = 0
    for i in range(status.size):
        prev_operating[i] = status[i] == OPERATING
        prev_active[i] = active[i]
        count += active[i]
        prev_reported[i] = reported[i]
        reported[i] = False
        foreign[i] = 0.0
        state[i] = 0.0
        domestic[i] = 0.0
        prize[i] = 0.0
    return count


@jit
def eligible(pool, prev_operating, prev_reported, requires_report):
    """Return the applicants eligible for state money (as ``State.eligible``)."""
    rows, ids, sectors, track, sizes = pool
    keep = np.empty(rows.size, dtype=np.bool_)
    for j in range(rows.size):
        i = rows[j]
        keep[j] = prev_operating[i] and (prev_reported[i] or not requires_report)
    return rows[keep], ids[keep], sectors[keep], track[keep], sizes[keep]


@jit
def award_prizes(pool, priorities, key, count, prize_usd, income_prize):
    """Give ``count`` equal prizes to the highest-merit applicants; return the winners."""
    rows, ids, sectors, track, _ = pool
    fit = priorities / (kernels.block_sum(priorities, 0, priorities.size) / priorities.size)
    merit = np.empty(rows.size)
    for j in range(rows.size):
        merit[j] = -(track[j] * fit[sectors[j]] * (0.5 + kernels.uniform(key, ids[j])))
    winners = rows[np.argsort(merit, kind="mergesort")[:count]]
    for i in winners:
        income_prize[i] += prize_usd
    return winners.size


@jit
def state_money(pool, prev_operating, prev_reported, incomes, grant, prize):
    """Award the State's grants and prizes; return what each paid (local currency).

    ``grant`` is (budget, mean grant, cap, priorities, key, requires report, local currency
    to constant US$), amounts in constant US$; ``prize`` is (budget in local currency,
    count, key).
    """
    budget, mean, cap, priorities, key, requires_report, to_usd = grant
    prize_budget, prize_count, prize_key = prize
    grants_paid = prizes_paid = 0.0
    if budget > 0 or (prize_budget > 0 and prize_count > 0):
        fit = eligible(pool, prev_operating, prev_reported, requires_report)
        if fit[0].size:
            if budget > 0:
                amounts = kernels.award(*fit, priorities, key, budget, mean, cap, incomes[1])
                grants_paid = kernels.total(amounts) / to_usd
            if prize_budget > 0 and prize_count > 0:
                prize_local = prize_budget / prize_count
                prize_usd = prize_local * to_usd
                won = award_prizes(fit, priorities, prize_key, prize_count, prize_usd, incomes[3])
                prizes_paid = prize_local * won
    return grants_paid, prizes_paid


@jit
def run_year(pop, incomes, year, founding, seeking, donors, grant, prize, domestic, ending):
    """Simulate one year of the NGO rules; return (tally, struck, state grants, prizes paid).

    ``pop`` holds the population arrays (order of ``model.fastpath.POP_FIELDS``) and
    ``incomes`` the foreign, state, domestic and prize income. The other arguments are the
    year's decisions, worked out in Python before the call (``model.fastpath``).
    """
    (ngo_id, founded, sector, one_day, retired, status, prev_operating, active, prev_active,
     reported, prev_reported, spent_foreign, streak, capacity, reserves, reserves_foreign,
     level) = pop  # fmt: skip
    start, count, cumulative, found_keys, one_day_share, sd, half_var = founding
    if count:
        arrays = (ngo_id, founded, sector, one_day, capacity, level, status, active)
        kernels.found(
            arrays,
            start,
            count,
            year,
            ID_STRIDE,
            cumulative,
            found_keys,
            one_day_share,
            sd,
            half_var,
        )
    seek_key, apply_dormant, track_weight, size_weight = seeking
    pool = kernels.seek(
        status,
        retired,
        prev_active,
        founded,
        ngo_id,
        sector,
        capacity,
        year,
        seek_key,
        apply_dormant,
        track_weight,
        size_weight,
    )
    budgets, means, caps, priorities, keys = donors
    for d in range(budgets.size):
        kernels.award(*pool, priorities[d], keys[d], budgets[d], means[d], caps[d], incomes[0])
    grants_paid, prizes_paid = state_money(
        pool, prev_operating, prev_reported, incomes, grant, prize
    )
    domestic_keys, raise_prob, median, pool_usd, shape = domestic
    kernels.raise_domestic(
        pool[0],
        ngo_id,
        capacity,
        level,
        (incomes[0], incomes[1], incomes[2]),
        domestic_keys,
        raise_prob,
        median,
        pool_usd,
        shape,
    )
    end_keys, rates, to_nominal, ecology, long_years = ending
    struck = np.zeros(status.size, dtype=np.bool_)
    arrays = (
        status,
        founded,
        one_day,
        retired,
        prev_operating,
        prev_active,
        prev_reported,
        active,
        reported,
        spent_foreign,
        streak,
        capacity,
        reserves,
        reserves_foreign,
        ngo_id,
    )
    n_struck = kernels.end_year(arrays, incomes, year, end_keys, rates, struck)
    tallied = (status, active, reported, streak, sector, spent_foreign)
    counts = kernels.tally(tallied, incomes, to_nominal, ecology, long_years)
    return counts, n_struck, grants_paid, prizes_paid
