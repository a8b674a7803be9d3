"""Calibration of the regional layer's parameters against the article's regional patterns.

The article gives the regional story as dated events and qualitative patterns, no count
of ties (``calibration.regional_patterns``). Its parameters are therefore calibrated by
pattern-oriented rejection (Grimm et al. 2005, Science 310, which fit several patterns at
once; rejection ABC with an indicator distance, Pritchard et al. 1999): draw ``n``
parameter sets, each the regional parameters from their priors
(``calibration/priors_regional.yaml``) and the country parameters from the committed
country posterior (the countries' own calibration is not redone), run the regional model
once per set with its own seed, and keep the sets in which every fitted pattern holds and
the countries keep their figures. Only a pattern that some prior draws miss can inform
the parameters, and only one whose passage is no input's source may: the growth of
the 2000s, the fall after 2010 and the revival after 2016 quote the passages that date the
programmes and restrictions they follow from, so they are consistency checks of the
mechanism (reported, not fitted); and a pattern the model reaches only by chance would fit
noise (today's fields were such a pattern until ``transboundary_weight`` gave the model
a way to reach them; docs/calibration.md, "The regional layer").

The countries' reported figures are the second pattern, at the regional scale: each set
also runs each country alone with the same parameters and seed (common random numbers, so
that a region that changes no figure changes no statistic), and ``countries_as_alone``
holds iff every target of the region's countries that the run alone meets (within its
tolerance: ``calibration.compare.within_tolerance``, as ``ngo-abm compare`` reads it) is
met by the regional run too; the targets lost in the region are recorded per
set. The country parameters still come from the country posterior: the regional module is
"cut" from the country module (Plummer 2015, "Cuts in Bayesian graphical models",
Statistics and Computing 25), so the countries' figures constrain the regional parameters
only through this criterion, and the country parameters only by which of their draws it
keeps. The kept sets, equally weighted, are the regional posterior
(``calibration/regional_posterior.parquet``): joint draws of country and regional
parameters, read by ``ngo-abm run scenarios/central_asia.yaml --params posterior``.

Each set's ``log_weight`` is kept as a diagnostic: the log-likelihood ratio
L_region / L_alone of the countries' figures under the calibration's observation model
(``calibration.observation.log_likelihood``), read off the same two runs. Weighting the
kept sets by it would be the importance-sampling correction of the country posterior to
the regional model's own (Robert & Casella 2004, ch. 3.3), but it is not usable: the
country posterior misses some Kyrgyz register figures by several tolerances, where the
normal likelihood is steep, so small regional shifts swing the log-weights by +-15, and a
40-draw check gave an effective sample size of 1.2 of 27 kept draws (one draw took 89% of
the weight). The report gives the effective sample size these weights would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from model.metrics import OUTPUT_COLUMNS
from model.model import simulate
from model.regional import RegionalModel, simulate_region
from model.regional_scenario import REGIONAL_RANGES, Region

from .atomic import write_atomic
from .compare import statistic, within_tolerance
from .observation import log_likelihood
from .posterior import WEIGHT, draw_posterior, effective_sample_size, has_posterior
from .priors import load_priors, model_values, sampled_name
from .regional_patterns import fitted_ids, load_patterns, pattern_values
from .targets import Target, load_targets

REGIONAL_PRIORS = Path(__file__).with_name("priors_regional.yaml")
REGIONAL_POSTERIOR = Path(__file__).with_name("regional_posterior.parquet")
COUNTRIES_AS_ALONE = "countries_as_alone"
LOST_TARGETS = "lost_targets"
LOG_WEIGHT = "log_weight"
_OUTCOMES = (COUNTRIES_AS_ALONE, LOST_TARGETS, LOG_WEIGHT)
_PRIOR_STREAM, _SEED_STREAM = 0x5EC1, 0x5EC2


@dataclass(frozen=True)
class RegionalDraw:
    """One parameter set of the regional calibration and the seed of its run."""

    index: int
    params: dict[str, float]
    seed: int


def prior_draw(seed: int, index: int) -> dict[str, float]:
    """Return draw ``index`` of the regional parameters from their priors (keyed by it)."""
    priors = load_priors(REGIONAL_PRIORS, REGIONAL_RANGES)
    z = np.random.default_rng([seed, _PRIOR_STREAM, index]).standard_normal(len(priors))
    return model_values({sampled_name(n): z[k] for k, n in enumerate(priors)}, priors)


def regional_draws(n: int, seed: int) -> list[RegionalDraw]:
    """Return ``n`` joint draws: regional priors with country posterior draws, and seeds."""
    country = draw_posterior(n, seed) if has_posterior() else [{} for _ in range(n)]
    draws = []
    for i in range(n):
        run_seed = int(np.random.default_rng([seed, _SEED_STREAM, i]).integers(0, 2**31 - 1))
        draws.append(RegionalDraw(i, {**country[i], **prior_draw(seed, i)}, run_seed))
    return draws


def simulate_draw(task: tuple[Region, RegionalDraw]) -> dict[str, bool | float | str]:
    """Run one draw in the region and each country alone; return its patterns and checks.

    Returns:
        Whether each pattern holds, whether every figure met alone is met in the region
        (``countries_as_alone``), the targets lost in the region (joined by ``;``) and the
        log-likelihood ratio of the figures in the region over alone (a diagnostic).
    """
    region, draw = task
    model, inside, alone = inside_and_alone(region.with_params(draw.params), draw.seed)
    targets = [t for t in load_targets() if t.country in inside]
    stats_in, stats_alone = run_statistics(inside, targets), run_statistics(alone, targets)
    lost = lost_targets(targets, stats_in[0], stats_alone[0])
    return {
        **pattern_values(model),
        COUNTRIES_AS_ALONE: not lost,
        LOST_TARGETS: ";".join(lost),
        LOG_WEIGHT: statistics_ratio(targets, stats_in, stats_alone),
    }


def inside_and_alone(
    region: Region, seed: int
) -> tuple[RegionalModel, dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Run a region and, with the same parameters and seed, each of its countries alone.

    Returns:
        The finished regional model, each country's yearly table inside it and alone.
    """
    model = simulate_region(region, seed=seed)
    results = model.results()
    inside = {
        c: results[results.country == c][list(OUTPUT_COLUMNS)].reset_index(drop=True)
        for c in region.countries
    }
    alone = {c: simulate(s, seed=seed, agents=False) for c, s in region.countries.items()}
    return model, inside, alone


def log_likelihood_ratio(
    inside: dict[str, pd.DataFrame], alone: dict[str, pd.DataFrame], targets: list[Target]
) -> float:
    """Return log L(x | region's run) - log L(x | runs alone), summed over the targets.

    Targets of countries outside the region are left out (they weigh the same either way).
    """
    targets = [t for t in targets if t.country in inside]
    return statistics_ratio(
        targets, run_statistics(inside, targets), run_statistics(alone, targets)
    )


def statistics_ratio(targets: list[Target], inside: np.ndarray, alone: np.ndarray) -> float:
    """Return the log-likelihood ratio of two runs' statistics (``run_statistics`` rows)."""
    return float((log_likelihood(targets, inside) - log_likelihood(targets, alone)).sum())


def lost_targets(targets: list[Target], inside: np.ndarray, alone: np.ndarray) -> list[str]:
    """Return the targets met alone and missed in the region, given each run's statistics.

    A target is met when its statistic lies within its tolerance
    (``calibration.compare.within_tolerance``); an undefined statistic misses.
    """
    return [
        t.id
        for t, x_in, x_alone in zip(targets, inside, alone, strict=True)
        if within_tolerance(t, x_alone) and not within_tolerance(t, x_in)
    ]


def run_statistics(tables: dict[str, pd.DataFrame], targets: list[Target]) -> np.ndarray:
    """Return the targets' statistics of one run per country (one row; NaN where undefined)."""
    return np.array([[statistic(tables[t.country], t).iloc[0] for t in targets]], dtype=float)


def draws_table(
    draws: list[RegionalDraw], results: list[dict[str, bool | float | str]]
) -> pd.DataFrame:
    """Return one row per draw: parameters, seed, patterns, country checks and whether kept.

    A draw is kept iff every fitted pattern holds and ``countries_as_alone``.
    """
    frame = pd.DataFrame([{"draw": d.index, "seed": d.seed, **d.params} for d in draws])
    outcomes = pd.DataFrame(results, columns=[*(p.id for p in load_patterns()), *_OUTCOMES])
    frame = pd.concat([frame, outcomes], axis=1)
    fitted = frame[list(fitted_ids(load_patterns()))].all(axis=1)
    frame["kept"] = fitted & frame[COUNTRIES_AS_ALONE].eq(True)
    return frame


def parameter_columns(draws: pd.DataFrame) -> list[str]:
    """Return the parameter columns of a table of draws (neither index nor outcome)."""
    outcomes = {"draw", "seed", "kept", *_OUTCOMES, *(p.id for p in load_patterns())}
    return [c for c in draws.columns if c not in outcomes]


class NoDrawKept(ValueError):
    """No draw meets the calibration's criterion: there is no regional posterior to write."""


def kept_draws(draws: pd.DataFrame) -> pd.DataFrame:
    """Return the kept draws' parameters, equally weighted, in the posterior format.

    Raises:
        NoDrawKept: if no draw is kept.
    """
    kept = draws.loc[draws.kept, parameter_columns(draws)].reset_index(drop=True)
    if kept.empty:
        raise NoDrawKept(
            "no draw reproduces every fitted pattern with every figure met alone met in "
            "the region: nothing to write"
        )
    kept[WEIGHT] = 1.0 / len(kept)
    return kept


def likelihood_ratio_ess(draws: pd.DataFrame) -> float:
    """Return the effective sample size the kept draws would have if weighted by exp(log_weight).

    A diagnostic, not the posterior's weights (module docstring); computed from the
    largest log-weight down so that none overflows.
    """
    log_w = draws.loc[draws.kept, LOG_WEIGHT].to_numpy(dtype=float)
    return effective_sample_size(pd.DataFrame({WEIGHT: np.exp(log_w - log_w.max())}))


def write_posterior(kept: pd.DataFrame, path: Path = REGIONAL_POSTERIOR) -> Path:
    """Write the kept draws (``kept_draws``) as the regional posterior, atomically."""
    return write_atomic(path, lambda tmp: kept.to_parquet(tmp, index=False))
