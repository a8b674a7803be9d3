"""How many NGOs are founded each year, and in which fields: pure functions of what founders see.

A year that calls for more foundings than the model allows stops the run with a
``RunawayError``, which a caller that read the scenario's file names (``runaway_names``).

Source: organisational ecology's density dependence (Hannan and Carroll 1992), the "NGO
scramble" for donor money (Cooley and Ron 2002), and Jaysanov (2023), CAJOTAS 4(6), for the
founding waves that followed donor money in Central Asia. Equations and parameters:
``docs/ODD.md``; the parameters in ``scenarios/behaviour.yaml``. ``NGOModel`` calls these;
the calibration path runs compiled copies of them (``model.year_loop``), each tested
against its definition here (``tests/test_year_loop.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .config_files import ScenarioError
from .population import ID_STRIDE
from .rng import poisson_quantile
from .scenario import MAX_NGOS

# Active NGOs per million people at which the legitimation factor is 1, so that
# ``civic_rate`` and ``funding_rate`` read as rates at about the density of the 1990s.
DENSITY_REFERENCE = 100.0


def normalised(weights: np.ndarray) -> np.ndarray:
    """Return ``weights`` divided by their sum."""
    return weights / weights.sum()


def money_on_offer(
    state_usd: float,
    state_priorities: np.ndarray,
    budgets: Sequence[float],
    priorities: Sequence[np.ndarray],
) -> tuple[float, np.ndarray]:
    """Return the year's state and donor money (constant US$) and its sector mix."""
    mix = state_usd * normalised(state_priorities)
    total = state_usd
    for budget, weights in zip(budgets, priorities, strict=True):
        total += budget
        mix = mix + budget * normalised(weights)
    return total, mix


def expected_money(previous: float | None, money: float, lag_years: float) -> float:
    """Return founders' expectation of the money on offer after seeing this year's.

    An adaptive expectation, ``E += (money - E) / (1 + founding_lag_years)``, starting
    at the first year's money: founding an NGO for money takes time, and founders go by
    what they have seen funded in recent years (an exponential lag of mean
    ``founding_lag_years``).
    """
    if previous is None:
        return money
    weight = 1.0 / (1.0 + lag_years)
    return previous + weight * (money - previous)


def density_factor(active_per_million: float, b: Mapping[str, float]) -> float:
    """Return the founding multiplier of the density of active NGOs founders see.

    Founding rises with density while NGOs gain legitimacy (``(1 + d) ** legitimation``,
    relative to ``DENSITY_REFERENCE`` per million people) and falls as competition
    for members, staff and attention sets in (``exp(-(d / competition_density)**2)``).
    """
    legitimacy = ((1.0 + active_per_million) / (1.0 + DENSITY_REFERENCE)) ** b["legitimation"]
    # The C library's exp, as the compiled copy (model.year_loop) calls: numpy's may differ.
    return legitimacy * math.exp(-((active_per_million / b["competition_density"]) ** 2))


def expected_registrations(
    b: Mapping[str, float], people: float, active: int, money: float, burden: float
) -> float:
    """Return a year's expected new registrations.

    A civic base rate per million people plus a response to the money founders expect
    on offer, damped by the scramble for it (expected money per NGO active last year
    against ``crowding_usd``), both scaled by the density of active NGOs
    (``density_factor``) and held back by the registration burden.

    Args:
        b: The behavioural parameters.
        people: The country's people (millions).
        active: NGOs active last year.
        money: The money founders expect on offer (constant US$).
        burden: The registration burden (0-1).
    """
    per_ngo = money / max(active, 1)
    uncrowded = per_ngo / (per_ngo + b["crowding_usd"])
    funded = b["funding_rate"] * money / 1e6 * uncrowded
    density = density_factor(active / max(people, 1e-9), b)
    return (1.0 - burden) * (b["civic_rate"] * people + funded) * density


def state_registrations(rate: float, in_force: float, people: float) -> float:
    """Return the NGOs the State expects to found this year.

    Governments that co-opt civil society found NGOs of their own to carry their
    programmes and hold the civic space (Naim 2007; Hasmath, Hildebrandt and Hsu 2019),
    district by district, so in proportion to the country's people: ``state_founding_rate``
    NGOs a year per million people (``people``, millions), in the years its policy of
    founding them is in force (``in_force``, 0-1). The registration burden and the
    founders' density and crowding do not hold the State back.
    """
    return rate * in_force * people


def state_share(civic: float, state: float) -> float:
    """Return the chance that one of the year's new NGOs is the State's: its share of the rates."""
    return state / (civic + state) if state > 0 else 0.0


def sector_probabilities(
    civic: np.ndarray, pull: float, money: float, mix: np.ndarray
) -> np.ndarray:
    """Return founders' sector choice: the civic mix pulled towards where money is.

    Args:
        civic: The civic sector weights.
        pull: ``funding_pull_sector`` (0-1).
        money: The money on offer this year.
        mix: Its sector mix.
    """
    civic = normalised(civic)
    if money <= 0:
        return civic
    return (1 - pull) * civic + pull * mix / money


class RunawayError(ScenarioError):
    """A register that ran away in a run, raised naming the scenario's ``name``.

    A run holds no file name (the same scenario may come from a file, a copy with other
    parameters or a counterfactual's levers); a caller that read the file names it
    instead (``in_file``).
    """

    def in_file(self, path: str | Path) -> ScenarioError:
        """Return the same error naming ``path``, with the scenario's name in the message."""
        return ScenarioError(path, self.field, f"{self.message} (scenario '{self.file}')")


@contextmanager
def runaway_names(path: str | Path) -> Iterator[None]:
    """Name ``path`` in the error of a register that runs away in the runs inside."""
    try:
        yield
    except RunawayError as exc:
        raise exc.in_file(path) from None


def _count(lam: float) -> str:
    """Return an expected count as a message prints it: in full, or as 1.2e+300 when huge."""
    return f"{lam:,.0f}" if lam < 1e15 else f"{lam:.3g}"


def registrations(scenario: str, year: int, lam: float, u: float) -> int:
    """Return the year's new registrations: the Poisson(``lam``) quantile of the keyed ``u``.

    An inverse CDF of one keyed uniform, so that more expected foundings never mean fewer.

    Raises:
        RunawayError: if the register runs away (``lam`` above ``MAX_NGOS`` or not a
            number, or more registrations than a year's ids can number).
    """
    if lam != lam:
        # An amount that overflowed (a budget at an exchange rate near 0) makes the money on
        # offer inf and the count NaN, which no comparison catches: the run went on with no
        # NGO founded and ended without a word.
        raise RunawayError(
            scenario,
            f"year {year}",
            "expected registrations are not a number, as an amount of money overflowed: "
            "check the budgets, exchange rates and price index",
        )
    if lam > MAX_NGOS:
        raise RunawayError(
            scenario,
            f"year {year}",
            f"{_count(lam)} expected registrations (above {MAX_NGOS:,}): check budgets and rates",
        )
    count = poisson_quantile(u, lam)
    if count >= ID_STRIDE:
        # Ids are founding year * ID_STRIDE + order: more would reuse next year's ids.
        raise RunawayError(scenario, f"year {year}", f"{count:,} registrations in one year")
    return count
