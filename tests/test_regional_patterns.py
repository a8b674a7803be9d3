"""The article's regional story as patterns of the regional model (``model.regional``).

The story's patterns (``calibration.regional_patterns``) are checked on a posterior
predictive run of the report's size: draws of the committed regional posterior, new seeds,
the median over runs.
Counterfactual patterns are paired on the same seeds. Source: Jaysanov (2023) on regional
cooperation; each test quotes the passage it checks.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
from test_regional import REGIONAL, SEED, country_params

from calibration.regional_patterns import median_pattern_values, pattern_inputs
from experiments.regional_calibration import PREDICTIVE_DRAWS
from experiments.regional_runs import regional_replicate_params, run_region_replicates
from experiments.runner import replicate_seeds
from model.regional import simulate_region
from model.regional_files import load_region

# Three times the report's own posterior predictive size. The fitted pattern (the fields
# of today's ties) held in about half of single runs (21 and 22 of 40 under the regional
# posteriors of sessions 45 and 46), so a median of 5 runs missed it for about one set of
# seeds in seven to ten. Under the posterior of session 50 the growth of the 2000s holds
# in about 70% of single runs, and the medians of 40 runs put 2009 and 2001 within 5 ties
# of each other for this test's seeds (254 against 259), where other seeds give 366 and
# 390 against about 310; 120 runs give 374 against 317. Under session 74's it holds in 63%
# of this test's 120 runs (medians 473 against 390), and the report's 40 runs (other
# seeds) put 2009 below 2001. A median over too few runs decides by its noise, whichever way.
STORY_RUNS = 3 * PREDICTIVE_DRAWS


def test_uzbekistan_staying_closed_costs_the_region_ties_after_2016():
    """Paired on the same seeds: a closed Uzbekistan sends few participants, and the open
    countries' participants do not make up for them with more ties to each other."""
    closed = REGIONAL.parent / "counterfactuals" / "regional" / "ca_uzbekistan_stays_closed.yaml"
    params = [dict(country_params())] * 3

    def ties_2023(path: Path) -> pd.DataFrame:
        tables, _ = run_region_replicates(load_region(path), SEED, 3, params)
        frame = tables.timeseries
        return frame[frame.year == 2023].set_index(["replicate", "country"]).cross_border_ties

    base, other = ties_2023(REGIONAL), ties_2023(closed)
    difference = (base - other).groupby("country").median()
    assert (difference > 0).all()
    region = (base - other).groupby("replicate").sum() / base.groupby("replicate").sum()
    # Each tie is counted in both its countries; a fifth of the region's ties is "clearly".
    assert region.median() > 0.2


def test_the_obstacles_after_osh_cost_the_region_ties_while_they_hold():
    """Paired on the same seeds: without the closures of 2010-2016 more ties form in those
    years. The story's fall after 2010 (below) is checked on the baseline alone, where the
    regional programmes' end in 2010 could produce it by itself."""
    open_ = REGIONAL.parent / "counterfactuals" / "regional" / "ca_no_closures_after_2010.yaml"
    params = [dict(country_params())] * 3

    def formed_2011_2016(path: Path) -> pd.Series:
        tables, _ = run_region_replicates(load_region(path), SEED, 3, params)
        frame = tables.timeseries
        return frame[frame.year.between(2011, 2016)].groupby("replicate").ties_formed.sum()

    base, other = formed_2011_2016(REGIONAL), formed_2011_2016(open_)
    assert (other > base).all(), (base.tolist(), other.tolist())


# The article's regional story, on a posterior predictive run of the report's size ------


@cache
def story_inputs() -> tuple:
    """Tie totals and sector concentration of runs of the regional posterior (new seeds)."""
    params, _ = regional_replicate_params("posterior", STORY_RUNS, SEED)
    region = load_region(REGIONAL)
    seeds = replicate_seeds(SEED, STORY_RUNS)
    return tuple(
        pattern_inputs(simulate_region(region.with_params(p), seed=s))
        for p, s in zip(params, seeds, strict=True)
    )


def story() -> dict[str, bool]:
    """Whether each pattern holds in the median of the posterior predictive run."""
    return median_pattern_values(list(story_inputs()))


def test_the_story_runs_on_the_committed_regional_posterior():
    _, source = regional_replicate_params("posterior", 1, SEED)
    assert "regional posterior" in source


def test_ties_grow_through_the_2000s():
    # 'the Confederation of NGOs ... the Environmental Form of NGOs were formed and began to
    # contribute to regional cooperation' (Kazakhstan, third stage, from 2000)
    assert story()["ties_grow_2000s"]


def test_ties_fall_or_stall_after_2010():
    # 'the precautionary measures of the governments have created certain obstacles for the
    # regional cooperation of NGOs' (Kyrgyzstan, second stage)
    assert story()["ties_fall_after_2010"]


def test_ties_revive_after_2016():
    # 'the activities of NGOs contributing to the strengthening of regional cooperation were
    # revived ... the policy of openness in neighboring Uzbekistan' (Kyrgyzstan, third stage)
    assert story()["ties_revive_after_2016"]


def test_recent_ties_concentrate_in_ecology_education_and_agriculture():
    # 'In recent years, they have been effectively cooperating in various fields, especially
    # in the fields of ecology, education, and agriculture' (Kyrgyzstan, conclusion); the
    # model's 'other' holds agriculture
    assert story()["ecology_education_lead"]
