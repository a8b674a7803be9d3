"""The model's yearly output: one row per year, computed from the population arrays.

These are the only definitions of the output columns; the run table, the comparison with
reported figures, calibration, experiments and the dashboard all read them. The
calibration path writes its rows with a compiled copy of ``output_row``
(``model.year_loop.write_row``), tested against it bit for bit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .population import DEREGISTERED, LONG_ACTIVE_YEARS, OPERATING, Population
from .scenario import SECTORS

if TYPE_CHECKING:
    from .model import NGOModel

# The income bands in which the article gives its Kyrgyz figures (targets
# kg_share_income_le_5k_today and kg_share_income_gt_50k_today): what those statistics
# count, not an input of any rule. And the share of income above which an NGO counts as
# dependent on foreign money ("more than half"). The compiled tally (``model.kernels``)
# reads these same names.
SMALL_INCOME_USD = 5_000
LARGE_INCOME_USD = 50_000
DEPENDENT_SHARE = 0.5

OUTPUT_COLUMNS: tuple[str, ...] = (
    "year",
    "registered",
    "new_registrations",
    "deregistered",
    "operational",
    "funded",
    "reporting",
    "long_active",
    "income_foreign_usd",
    "income_state_usd",
    "income_domestic_usd",
    "share_income_foreign",
    "share_foreign_funded",
    "share_foreign_dependent",
    "share_income_le_5k",
    "share_income_gt_50k",
    "state_grants_local",
    "state_prizes_local",
    "donors_active",
    "donor_budget_usd",
    "foreign_restriction",
    "share_ecology",
    "share_state_founded",
)

COLUMN_DOCS: dict[str, str] = {
    "year": "calendar year",
    "registered": "NGOs on the state register at the end of the year",
    "new_registrations": "NGOs registered during the year",
    "deregistered": "NGOs struck off the register during the year",
    "operational": "registered NGOs with any activity that year (any income, an event, "
    "volunteer work), as official statistics count operating NGOs",
    "funded": "NGOs whose income (or reserves) paid for a year of programmes "
    "(at least min_activity_usd)",
    "reporting": "NGOs that filed their annual report to the state that year",
    "long_active": "NGOs funded in each of the last five years",
    "income_foreign_usd": "income of all NGOs from foreign donors (constant US$)",
    "income_state_usd": "income of all NGOs from state grants and prizes (constant US$)",
    "income_domestic_usd": "income of all NGOs from fees, local donations, earned income, "
    "co-funding of grant-funded projects "
    "(constant US$)",
    "share_income_foreign": "foreign share of all NGO income",
    "share_foreign_funded": "share of funded NGOs financed by foreign donors that year "
    "(a foreign grant, or reserves saved mostly from foreign grants)",
    "share_foreign_dependent": "share of funded NGOs with more than half their income "
    "from foreign donors",
    "share_income_le_5k": "share of funded NGOs with income at most 5,000 nominal US$",
    "share_income_gt_50k": "share of funded NGOs with income above 50,000 nominal US$",
    "state_grants_local": "state grants disbursed (local currency, nominal)",
    "state_prizes_local": "state NGO prizes paid (local currency, nominal)",
    "donors_active": "foreign donors with money in the country that year",
    "donor_budget_usd": "foreign donors' budgets for NGOs that year after their decisions "
    "(restriction, instability, absorptive capacity; constant US$)",
    "foreign_restriction": "the state's restriction on foreign funding in force that year "
    "(0-1: the stricter of its documented laws and its reaction)",
    "share_ecology": "share of registered NGOs working on ecology",
    "share_state_founded": "share of registered NGOs that the State founded (GONGOs)",
}

ECOLOGY = SECTORS.index("ecology")


def _share(part: int | float, whole: int | float) -> float:
    return float(part) / float(whole) if whole > 0 else 0.0


# What the output row needs from the population, in this order: counts of registered,
# funded, operational, reporting and long-active NGOs; the year's foreign, state and
# domestic income; counts among funded NGOs of the foreign-funded, the foreign-dependent,
# those with at most 5,000 and above 50,000 nominal US$; registered ecology NGOs and
# registered NGOs that the State founded.
TALLY = (
    "registered",
    "funded",
    "operational",
    "reporting",
    "long_active",
    "income_foreign",
    "income_state",
    "income_domestic",
    "foreign_funded",
    "foreign_dependent",
    "income_le_5k",
    "income_gt_50k",
    "ecology",
    "state_founded",
)


def tally(pop: Population, to_nominal: float) -> np.ndarray:
    """Return the population's counts and sums in the order of ``TALLY`` (numpy path).

    ``model.kernels.tally`` computes the same in one compiled pass.
    """
    status = pop.view("status")
    registered = status != DEREGISTERED
    operating = status == OPERATING
    foreign = pop.view("income_foreign")
    state = pop.view("income_state") + pop.view("income_prize")
    domestic = pop.view("income_domestic")
    income = foreign + state + domestic
    nominal = income[operating] * to_nominal
    return np.array(
        [
            registered.sum(),
            operating.sum(),
            pop.view("active").sum(),
            pop.view("reported").sum(),
            (pop.view("streak") >= LONG_ACTIVE_YEARS).sum(),
            foreign.sum(),
            state.sum(),
            domestic.sum(),
            ((foreign > 0) | pop.view("spent_foreign_reserves"))[operating].sum(),
            (foreign[operating] > DEPENDENT_SHARE * income[operating]).sum(),
            (nominal <= SMALL_INCOME_USD).sum(),
            (nominal > LARGE_INCOME_USD).sum(),
            (pop.view("sector")[registered] == ECOLOGY).sum(),
            pop.view("state_founded")[registered].sum(),
        ],
        dtype=np.float64,
    )


def year_row(model: NGOModel, new: int, struck: int, counts: np.ndarray) -> dict[str, float]:
    """Return the output row of the year just simulated by ``model`` (``output_row``)."""
    state = model.state
    return output_row(
        model.year,
        new,
        struck,
        counts,
        (state.grants_paid_local, state.prizes_paid_local, state.restriction),
        [d.budget_usd for d in model.donors],
    )


def output_row(
    year: int,
    new: int,
    struck: int,
    counts: np.ndarray,
    state: tuple[float, float, float],
    donor_budgets: list[float],
) -> dict[str, float]:
    """Return the output row of a year.

    Args:
        year: The year just simulated.
        new: NGOs registered this year.
        struck: NGOs deregistered this year.
        counts: The population's tally (``TALLY``), from the numpy or the compiled rules.
        state: The State's grants and prizes paid (local currency) and its restriction.
        donor_budgets: Each donor's budget this year (constant US$).
    """
    c = dict(zip(TALLY, counts.tolist(), strict=True))
    funded = int(c["funded"])
    foreign, state_usd, domestic = c["income_foreign"], c["income_state"], c["income_domestic"]
    grants, prizes, restriction = state
    return {
        "year": year,
        "registered": int(c["registered"]),
        "new_registrations": new,
        "deregistered": struck,
        "operational": int(c["operational"]),
        "funded": funded,
        "reporting": int(c["reporting"]),
        "long_active": int(c["long_active"]),
        "income_foreign_usd": foreign,
        "income_state_usd": state_usd,
        "income_domestic_usd": domestic,
        "share_income_foreign": _share(foreign, foreign + state_usd + domestic),
        "share_foreign_funded": _share(c["foreign_funded"], funded),
        "share_foreign_dependent": _share(c["foreign_dependent"], funded),
        "share_income_le_5k": _share(c["income_le_5k"], funded),
        "share_income_gt_50k": _share(c["income_gt_50k"], funded),
        "state_grants_local": grants,
        "state_prizes_local": prizes,
        "donors_active": sum(1 for b in donor_budgets if b > 0),
        "donor_budget_usd": float(sum(donor_budgets)),
        "foreign_restriction": restriction,
        "share_ecology": _share(c["ecology"], int(c["registered"])),
        "share_state_founded": _share(c["state_founded"], int(c["registered"])),
    }
