"""One simulated year's NGO rules in one compiled function: ``model.kernels`` chained in order.

The calibration run's compiled years (``model.year_loop``) call ``start_year`` and then
``run_year`` every year instead of a dozen kernels and Python funder objects: founding,
grant seeking, every donor's grants, the State's grants and prizes, domestic money, the
year's end and the output tally, in ``NGOModel.step``'s order and with the same keyed
draws, so the table is the numpy path's bit for bit (``tests/test_fastpath.py``). The
State's eligibility and prize rules mirror ``State.eligible``, ``State.award_grants`` and
``State.award_prizes`` of ``model.agents``, where they are documented.
"""

from __future__ import annotations

import numpy as np

from . import kernels
from .kernels import jit
from .population import ID_STRIDE, OPERATING


@jit
def live(pop, n):
    """Return the first ``n`` rows of each population array (``Population.view``)."""
    return (
        pop[0][:n], pop[1][:n], pop[2][:n], pop[3][:n], pop[4][:n], pop[5][:n], pop[6][:n],
        pop[7][:n], pop[8][:n], pop[9][:n], pop[10][:n], pop[11][:n], pop[12][:n],
        pop[13][:n], pop[14][:n], pop[15][:n], pop[16][:n], pop[17][:n],
    )  # fmt: skip


@jit
def live_incomes(incomes, n):
    """Return the first ``n`` rows of each income array."""
    return incomes[0][:n], incomes[1][:n], incomes[2][:n], incomes[3][:n]


@jit
def start_year(pop, incomes, n):
    """Carry last year's activity and reports forward, clear the income; return the active.

    ``pop`` and ``incomes`` are the population's whole arrays, of which ``n`` rows live.
    """
    (_, _, _, _, _, status, prev_operating, active, prev_active, reported, prev_reported,
     _, _, _, _, _, _, _) = live(pop, n)  # fmt: skip
    foreign, state, domestic, prize = live_incomes(incomes, n)
    count = 0
    for i in range(n):
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
def normalised(weights):
    """Return ``weights`` over their sum (``founding.normalised``, numpy's sum)."""
    return weights / kernels.block_sum(weights, 0, weights.size)


@jit
def shifted_priorities(own, state, weight):
    """Return a donor's priorities moved towards the State's (``decisions.shifted_priorities``)."""
    if weight <= 0:
        return own.copy()
    weight = min(1.0, weight)
    return (1.0 - weight) * own / kernels.block_sum(own, 0, own.size) + weight * state / (
        kernels.block_sum(state, 0, state.size)
    )


@jit
def founders_sectors(offer, budgets, priorities, money):
    """Return the cumulative sector probabilities of this year's founders.

    ``offer`` is (the State's money in constant US$, its priorities, the civic sector
    weights, ``funding_pull_sector``); the sector mix of the money on offer is
    ``founding.money_on_offer``'s and the choice ``founding.sector_probabilities``'s.
    """
    state_usd, state_priorities, civic, pull = offer
    mix = state_usd * normalised(state_priorities)
    for d in range(budgets.size):
        mix = mix + budgets[d] * normalised(priorities[d])
    probs = normalised(civic)
    if money > 0:
        probs = (1 - pull) * probs + pull * mix / money
    cumulative = np.cumsum(probs / kernels.block_sum(probs, 0, probs.size))
    cumulative[-1] = 1.0
    return cumulative


@jit
def award_grants(pool, capacity, size_weight, priorities, key, budget, mean, cap, income):
    """Award one funder's grants as ``kernels.award`` does, sizing only the winners' grants.

    The pool's grant sizes start NaN (``kernels.seek``); a winner's is ``capacity **
    size_weight``, kept in the pool for the next funder.
    """
    rows, ids, sectors, track, sizes = pool
    won, w = kernels.winners(ids, sectors, track, priorities, key, budget, mean)
    won_sizes = np.empty(w)
    for k in range(w):
        j = won[k]
        if sizes[j] != sizes[j]:
            sizes[j] = kernels.power(capacity[rows[j]], size_weight)
        won_sizes[k] = sizes[j]
    return kernels.share(rows, won, won_sizes, budget, cap, income)


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
def state_money(pool, sizing, prev_operating, prev_reported, incomes, grant, prize):
    """Award the State's grants and prizes; return what each paid (local currency).

    ``sizing`` is (capacity, grant size weight) as for ``award_grants``; ``grant`` is
    (budget, mean grant, cap, priorities, key, requires report, local currency to
    constant US$), amounts in constant US$; ``prize`` is (budget in local currency,
    count, key).
    """
    budget, mean, cap, priorities, key, requires_report, to_usd = grant
    prize_budget, prize_count, prize_key = prize
    grants_paid = prizes_paid = 0.0
    if budget > 0 or (prize_budget > 0 and prize_count > 0):
        fit = eligible(pool, prev_operating, prev_reported, requires_report)
        if fit[0].size:
            if budget > 0:
                amounts = award_grants(fit, *sizing, priorities, key, budget, mean, cap, incomes[1])
                grants_paid = kernels.total(amounts) / to_usd
            if prize_budget > 0 and prize_count > 0:
                prize_local = prize_budget / prize_count
                prize_usd = prize_local * to_usd
                won = award_prizes(fit, priorities, prize_key, prize_count, prize_usd, incomes[3])
                prizes_paid = prize_local * won
    return grants_paid, prizes_paid


@jit
def run_year(pop, incomes, n, year, founding, seeking, donors, grant, prize, domestic, ending):
    """Simulate one year of the NGO rules; return (tally, struck, state grants, prizes paid).

    ``pop`` holds the whole population arrays (order of ``model.fastpath.POP_FIELDS``) and
    ``incomes`` the foreign, state, domestic and prize income, of which ``n`` rows live
    (this year's new NGOs included). The other arguments are the year's decisions, worked
    out before the call by ``model.year_loop.run_years``.
    """
    (ngo_id, founded, sector, one_day, retired, status, prev_operating, active, prev_active,
     reported, prev_reported, spent_foreign, streak, capacity, reserves, reserves_foreign,
     level, state_founded) = live(pop, n)  # fmt: skip
    incomes = live_incomes(incomes, n)
    budgets, means, caps, own_priorities, shift, keys, money, offer = donors
    priorities = np.empty_like(own_priorities)
    for d in range(budgets.size):
        priorities[d] = shifted_priorities(own_priorities[d], offer[1], shift)
    start, count, found_keys, one_day_share, sd, half_var, state = founding
    if count:
        cumulative = founders_sectors(offer, budgets, priorities, money)
        arrays = (ngo_id, founded, sector, one_day, capacity, level, status, active, state_founded)
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
            state,
        )
    seek_key, apply_dormant, track_weight, size_weight = seeking
    sizing = (capacity, size_weight)  # the grant sizes of winners only (award_grants)
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
        np.nan,
    )
    for d in range(budgets.size):
        award_grants(
            pool, *sizing, priorities[d], keys[d], budgets[d], means[d], caps[d], incomes[0]
        )
    grants_paid, prizes_paid = state_money(
        pool, sizing, prev_operating, prev_reported, incomes, grant, prize
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
        state_founded,
    )
    n_struck = kernels.end_year(arrays, incomes, year, end_keys, rates, struck)
    tallied = (status, active, reported, streak, sector, spent_foreign, state_founded)
    counts = kernels.tally(tallied, incomes, to_nominal, ecology, long_years)
    return counts, n_struck, grants_paid, prizes_paid
