"""The dashboard's controls read as a run's inputs: the seed box and the policy levers.

The levers are those of ``model.levers.apply_levers``; their defaults change nothing, and
a seed is accepted only where ``ngo-abm run`` accepts it (ASCII digits,
``cli.arguments.whole_number_text``, up to ``model.limits.MAX_SEED``), so that a dashboard
run is one the command can repeat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cli.arguments import whole_number_text
from model.limits import MAX_SEED

AS_IN_SCENARIO = "as in scenario"
DEFAULT_SEED = 1
DEFAULT_CUT_YEAR = 2016
# The levers' controls at values that change nothing (``model.levers.apply_levers``).
LEVER_DEFAULTS = {
    "state_grant_scale": 1.0,
    "state_funding_start": AS_IN_SCENARIO,
    "donor_budget_scale": 1.0,
    "foreign_cut_year": DEFAULT_CUT_YEAR,
    "foreign_cut_depth": 0.0,
    "registration_burden": AS_IN_SCENARIO,
}


def parse_seed(text: object) -> tuple[int, str | None]:
    """Return the seed typed in the seed box, or the default seed and why it was not used."""
    seed = whole_number_text(str(text).strip())
    if seed is None:
        return DEFAULT_SEED, f"seed {text!r} is not a whole number: seed {DEFAULT_SEED} used"
    if seed < 0:
        return DEFAULT_SEED, f"seed {seed} is negative: seed {DEFAULT_SEED} used"
    if seed > MAX_SEED:
        # As `ngo-abm run` refuses it: a dashboard run must be one the command can repeat.
        return DEFAULT_SEED, f"seed {seed} is above {MAX_SEED:,}: seed {DEFAULT_SEED} used"
    return seed, None


def _optional(value: object, kind: type) -> int | float | None:
    """Return ``None`` for the 'as in scenario' choice, else the choice as a number."""
    return None if value in (None, AS_IN_SCENARIO) else kind(value)


def lever_values(controls: dict[str, object]) -> dict[str, int | float | None]:
    """Return the keywords of ``model.levers.apply_levers`` from the levers' controls.

    ``"as in scenario"`` stands for ``None``; a control left out keeps its default, which
    changes nothing.
    """
    get = {**LEVER_DEFAULTS, **controls}.get
    return {
        "state_grant_scale": float(get("state_grant_scale")),
        "state_funding_start": _optional(get("state_funding_start"), int),
        "donor_budget_scale": float(get("donor_budget_scale")),
        "foreign_cut_year": int(get("foreign_cut_year")),
        "foreign_cut_depth": float(get("foreign_cut_depth")),
        "registration_burden": _optional(get("registration_burden"), float),
    }


def lever_phrases(levers: Mapping[str, Any]) -> list[str]:
    """Return the levers that change something, as short phrases for the page.

    ``levers``: keywords of ``model.levers.apply_levers``; one left out, or at the value
    that changes nothing, is not named. A lever the page has no phrase for is named as its
    keyword and value, rather than dropped.
    """
    lv = dict(levers)
    phrases = []
    if lv.pop("state_grant_scale", 1.0) != 1.0:
        phrases.append(f"state grant budget x{levers['state_grant_scale']:g}")
    if lv.pop("state_funding_start", None) is not None:
        phrases.append(f"state grants start in {levers['state_funding_start']}")
    if lv.pop("donor_budget_scale", 1.0) != 1.0:
        phrases.append(f"donor budgets x{levers['donor_budget_scale']:g}")
    cut_year = lv.pop("foreign_cut_year", None)
    if lv.pop("foreign_cut_depth", 0.0) > 0:
        phrases.append(
            f"foreign funding restricted to at least {levers['foreign_cut_depth']:g} "
            f"from {cut_year}"
        )
    if lv.pop("registration_burden", None) is not None:
        phrases.append(f"registration burden held at {levers['registration_burden']:g}")
    return phrases + [f"{key} {value}" for key, value in lv.items()]
