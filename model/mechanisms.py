"""The model's mechanisms switched off: for each, the parameter values that neutralise it.

What a mechanism does is the difference between runs with and without it, on the same
draws and seeds (``ngo-abm experiment`` with ``switch_off:``, ``docs/experiments.md``). A
mechanism is switched off by setting its shared behavioural parameters to the values at
which the rule of ``docs/ODD.md`` (section 7) reduces to the rule without it; every other
rule, input and draw is unchanged. Where the neutral value lies outside a parameter's
meaningful range (``model.parameters.BEHAVIOUR_RANGES``: an infinite competition density,
a free dollar of crowding), the switch takes the end of the range, and its description says
how close to neutral that is. Sources of the mechanisms: as cited in ``docs/ODD.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Mechanism:
    """A mechanism: the parameter values that switch it off, what it does, what is left.

    ``does`` says what the mechanism does (with its source), ``neutral`` what the switch
    leaves of it.
    """

    off: dict[str, float]
    does: str
    neutral: str


MECHANISMS: dict[str, Mechanism] = {
    "legitimation": Mechanism(
        {"legitimation": 0.0},
        "founding rises with the density of active NGOs as the form gains legitimacy "
        "(Hannan and Carroll 1992)",
        "the factor ((1 + d) / 101) ** legitimation is 1",
    ),
    "competition": Mechanism(
        {"competition_density": 1e6},
        "founding falls as active NGOs crowd the space (Hannan and Carroll 1992)",
        "competition_density at the top of its range, 1e6 per million people, so that "
        "exp(-(d / 1e6) ** 2) is above 0.9999 at any density below 10,000 per million",
    ),
    "ngo_scramble": Mechanism(
        {"crowding_usd": 1.0},
        "founding for money pays less the more active NGOs share each dollar on offer "
        "(Cooley and Ron 2002)",
        "crowding_usd at the bottom of its range, $1, so that m / (m + 1) is 1 to within "
        "1 / m for m dollars on offer per active NGO",
    ),
    "founding_lag": Mechanism(
        {"founding_lag_years": 0.0},
        "founders go by the money of recent years",
        "founders see this year's money",
    ),
    "domestic_pool": Mechanism(
        {"domestic_pool_gdp": 0.1},
        "the domestic money raised in a year is bounded by a share of GDP",
        "the bound at the top of its range, a tenth of GDP, which binds in none of the 20 "
        "committed posterior draws tested a country",
    ),
    "giving_growth": Mechanism(
        {"domestic_raise_elasticity": 0.0},
        "the chance of raising domestic money grows with GDP per person (among people: Wiepking "
        "and Bekkers 2012; across NGOs, the model's assumption)",
        "the chance is domestic_raise_prob in every year",
    ),
    "strike_offs": Mechanism(
        {"strike_off_rate": 0.0},
        "the State's dated procedures strike inactive NGOs off the register",
        "no strike-offs under them (voluntary closure and the shocks' purges remain)",
    ),
    "voluntary_closure": Mechanism(
        {"deregistration_rate": 0.0},
        "inactive NGOs close of their own accord",
        "none does",
    ),
    "volunteer_activity": Mechanism(
        {"volunteer_persistence": 0.0},
        "an NGO active last year keeps going on unpaid effort",
        "activity needs income, reserves or a founding this year",
    ),
    "reporting_habit": Mechanism(
        {"report_habit": 0.0},
        "an NGO that filed its report last year is likelier to file again",
        "no habit",
    ),
    "unfunded_filing": Mechanism(
        {"report_unfunded": 0.0},
        "an NGO active without programmes also files its report, less readily",
        "only NGOs running programmes file",
    ),
    "state_reaction": Mechanism(
        {"state_restriction_reaction": 0.0},
        "the State restricts foreign money when threatened, the more the more of the sector "
        "foreign money pays for (Dupuy, Ron and Prakash 2016)",
        "the restriction in force is the documented laws",
    ),
    "donor_cuts": Mechanism(
        {"donor_restriction_cut": 0.0, "donor_instability_cut": 0.0},
        "donors withdraw money under restriction and instability (Carothers and "
        "Brechenmacher 2014)",
        "each donor's budget before absorption is its planned money",
    ),
    "donor_shift": Mechanism(
        {"donor_restriction_shift": 0.0},
        "under restriction donors move towards the fields the State funds",
        "donors keep their own priorities",
    ),
    "absorption": Mechanism(
        {"donor_absorption": 0.0},
        "donors place only as many grants as funded NGOs can absorb (Cooley and Ron 2002)",
        "the donors' budgets after their cuts are not scaled down to what funded NGOs can absorb",
    ),
    "state_founding": Mechanism(
        {"state_founding_rate": 0.0},
        "where its policy is in force, the State founds NGOs of its own, in proportion to the "
        "country's people, and keeps them on the register (Naim 2007; Hasmath, Hildebrandt "
        "and Hsu 2019)",
        "the State founds none",
    ),
}


class SwitchParams(dict):
    """Parameter values that switch mechanisms off, with what set each (``set_by``).

    ``Scenario.with_params`` given them records ``set_by``, so that parameters applied to
    the switched-off scenario later (the posterior's) are refused rather than switching
    the mechanism back on unseen. Merged into another mapping they are plain values.
    """

    def __init__(self, values: dict[str, float], set_by: dict[str, str]):
        super().__init__(values)
        self.set_by = set_by


def switch_off_params(names: Iterable[str]) -> SwitchParams:
    """Return the parameter values that switch off the named mechanisms.

    Raises:
        ValueError: for a name not in ``MECHANISMS`` (the message lists them).
    """
    params: dict[str, float] = {}
    set_by: dict[str, str] = {}
    for name in names:
        if name not in MECHANISMS:
            known = ", ".join(MECHANISMS)
            raise ValueError(f"unknown mechanism {name!r} (mechanisms: {known})")
        params.update(MECHANISMS[name].off)
        set_by.update(dict.fromkeys(MECHANISMS[name].off, f"switching off {name}"))
    return SwitchParams(params, set_by)
