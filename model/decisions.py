"""What the State and the Donors decide each year: pure functions of what they see.

The State keeps its documented instruments (grants, prizes, the laws of the scenario with
their dates); on top of them its restriction on foreign funding answers to what it sees.
Closing civic space (Carothers and Brechenmacher 2014, "Closing Space", Carnegie) and
the foreign-funding laws of "Hands off my regime!" (Dupuy, Ron and Prakash 2016, World
Development 84) are governments' answers to foreign money for NGOs when they feel
threatened: by unrest at home, or by a neighbour's regime falling to protests that
foreign-funded NGOs are taken to have backed. Resource dependence (Pfeffer and Salancik
1978) is the lever they see: the more of the sector's income is foreign, the more a
restriction cuts.

Donors answer to restrictions and instability by cutting their money and by moving it to
fields the State itself funds (Carothers and Brechenmacher 2014), and they can place only
as many grants as there are organisations able to spend them (absorptive capacity; the
"NGO scramble" of Cooley and Ron 2002, whose case is Kyrgyzstan). The equations and
parameters are in ``docs/ODD.md``; the parameters in ``scenarios/behaviour.yaml``.
"""

from __future__ import annotations

import numpy as np


def perceived_threat(
    instability: float, neighbour_revolution: bool, previous: float, neighbour: float, memory: float
) -> float:
    """Return the threat the State feels this year (0-1).

    The strongest of this year's instability at home (the shocks in force), a neighbour's
    revolution this year (weighing ``neighbour`` on the same scale) and last year's threat
    remembered at ``memory``: a regime does not forget an upheaval the year after.
    """
    return max(instability, neighbour * float(neighbour_revolution), memory * previous)


def reactive_restriction(foreign_share: float, threat: float, reaction: float) -> float:
    """Return the restriction on foreign funding the State's reaction calls for (0-1).

    ``reaction * foreign_share * threat``: foreign money worries a State in proportion to
    how much of the sector it pays for, and only when the State feels threatened; with no
    foreign money or no threat it restricts nothing beyond its documented laws.
    """
    return min(1.0, reaction * foreign_share * threat)


def restriction_in_force(documented: float, reactive: float) -> float:
    """Return the restriction in force: the documented laws are a floor the reaction can top.

    The scenario's dated laws hold whatever the reaction; the reaction adds the informal
    pressure (inspections, approvals withheld, warnings to donors) that a law need not
    spell out, so the stricter of the two applies.
    """
    return max(documented, reactive)


def donor_political_factor(
    restriction: float, instability: float, restriction_cut: float, instability_cut: float
) -> float:
    """Return the share of its planned money a donor still gives under restriction and unrest."""
    return max(0.0, 1.0 - restriction_cut * restriction) * max(
        0.0, 1.0 - instability_cut * instability
    )


def absorption_factor(planned_grants: float, capable_ngos: int, absorption: float) -> float:
    """Return the share of the donors' money the sector can absorb this year.

    ``1 / (1 + absorption * planned_grants / max(1, capable_ngos))``: with many capable
    NGOs per planned grant donors place their money; with few they place at most about
    ``1 / absorption`` grants per capable NGO and the rest stays unspent. ``absorption``
    0 is a sector that can absorb any amount.
    """
    return 1.0 / (1.0 + absorption * planned_grants / max(1, capable_ngos))


def absorbed_budgets(
    budgets: list[float], mean_grants: list[float], capable_ngos: int, absorption: float
) -> list[float]:
    """Return the donors' budgets scaled to what the sector absorbs (``absorption_factor``).

    The grants planned are each budget over its donor's mean grant, summed over donors.
    """
    planned = sum(b / m for b, m in zip(budgets, mean_grants, strict=True))
    factor = absorption_factor(planned, capable_ngos, absorption)
    return [b * factor for b in budgets]


def shifted_priorities(own: np.ndarray, state: np.ndarray, weight: float) -> np.ndarray:
    """Return sector priorities moved towards the State's by ``weight`` (0-1).

    With no weight the donor's own priorities stand as given; otherwise the result is
    normalised to sum to 1 (funders' scores use priorities relative to their mean).
    """
    if weight <= 0:
        return own
    weight = min(1.0, weight)
    return (1.0 - weight) * own / own.sum() + weight * state / state.sum()
