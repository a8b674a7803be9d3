"""Grant allocation shared by donors and the state: applicants scored, winners drawn, money split.

Every funder (a foreign donor, the state's grant programme) allocates the same way, so the
rule is written once: an applicant's chance of a grant is proportional to its score
(track record, i.e. capacity, raised to a weight, times its sector's fit with the funder's
priorities), scaled so that the expected number of grants is the budget divided by the mean
grant; winners share the budget in proportion to their capacity-based size, each grant
capped at a multiple of the mean. Money that finds no capable applicant is not spent.
Source: ``docs/ODD.md`` (grant allocation; an assumption of the model, its weights
calibrated), the article's donors and state grant programmes as the funders.
"""

from __future__ import annotations

import numpy as np


def win_probabilities(scores: np.ndarray, expected_grants: float) -> np.ndarray:
    """Return each applicant's probability of a grant.

    Args:
        scores: Non-negative scores of the applicants.
        expected_grants: Budget divided by the mean grant.

    Returns:
        Probabilities proportional to the scores, summing to at most ``expected_grants``,
        each at most 1.
    """
    total = scores.sum()
    if total <= 0 or expected_grants <= 0:
        return np.zeros_like(scores)
    return np.minimum(1.0, scores * (expected_grants / total))


def split_budget(budget: float, sizes: np.ndarray, cap: float) -> np.ndarray:
    """Split ``budget`` among winners in proportion to ``sizes``, each share at most ``cap``.

    Args:
        budget: Money to split.
        sizes: Positive relative sizes of the winners' grants.
        cap: Largest grant any winner may get.

    Returns:
        The amounts; they sum to at most ``budget``.
    """
    total = sizes.sum()
    if total <= 0 or budget <= 0:
        return np.zeros_like(sizes)
    return np.minimum(budget * sizes / total, cap)


def allocate(
    budget: float,
    mean_grant: float,
    scores: np.ndarray,
    sizes: np.ndarray,
    uniforms: np.ndarray,
    cap_multiple: float,
) -> np.ndarray:
    """Award grants from ``budget`` among applicants.

    Args:
        budget: The funder's money for the year.
        mean_grant: Its typical grant.
        scores: Applicants' scores (capacity ** track_record_weight * sector fit).
        sizes: Applicants' relative grant sizes.
        uniforms: One keyed uniform per applicant for this funder and year.
        cap_multiple: Largest grant as a multiple of ``mean_grant``.

    Returns:
        Amount awarded to each applicant (0 for those who did not win).
    """
    amounts = np.zeros_like(scores)
    if budget <= 0 or scores.size == 0:
        return amounts
    won = uniforms < win_probabilities(scores, budget / mean_grant)
    amounts[won] = split_budget(budget, sizes[won], cap_multiple * mean_grant)
    return amounts
