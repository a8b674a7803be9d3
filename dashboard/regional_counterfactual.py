"""The regional view's counterfactual: one regional counterfactual against the baseline, paired.

The counterfactuals offered are those of the regional experiment file
(``experiments/regional/central_asia_counterfactuals.yaml``: no closures after 2010,
Uzbekistan stays closed, no regional programmes, prizes without the regional criterion,
donors that keep their money in each country; their scenarios are
``scenarios/counterfactuals/regional/*.yaml``). The chosen one runs with the baseline's
seeds and behaviour parameters (common random numbers), and its paired differences are
those of ``ngo-abm regional-experiment``
(``experiments.regional_experiment.paired_summary``), here for every year. Source:
Jaysanov (2023) on regional cooperation. Docs: docs/dashboard.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from experiments.regional_experiment import (
    BASELINE,
    RegionalExperimentSpec,
    load_regional_experiment,
    paired_summary,
    with_units,
)
from experiments.regional_figures import difference_figure, restriction_spans
from experiments.regional_runs import run_region_replicates
from model.regional_scenario import Region

from .images import figure_png

EXPERIMENT_FILE = (
    Path(__file__).resolve().parent.parent
    / "experiments"
    / "regional"
    / "central_asia_counterfactuals.yaml"
)
NONE = "none"


@dataclass(frozen=True)
class RegionalComparison:
    """A counterfactual's paired differences from the baseline, every year, and its chart."""

    name: str
    question: str
    scenario: str
    summary: pd.DataFrame
    key_years: list[int]
    chart: bytes


@cache
def regional_experiment() -> tuple[RegionalExperimentSpec, dict[str, Region]]:
    """Return the regional experiment file's spec and regions (loaded once)."""
    return load_regional_experiment(EXPERIMENT_FILE)


def counterfactual_choices() -> list[str]:
    """Return the choices of the page: no counterfactual, then the experiment's."""
    spec, _ = regional_experiment()
    return [NONE, *(c.name for c in spec.counterfactuals)]


def compare_counterfactual(
    name: str,
    baseline: pd.DataFrame,
    seed: int,
    params: list[dict[str, float]],
    on_progress: Callable[[int, int], None] | None = None,
) -> RegionalComparison:
    """Run a counterfactual of the experiment as the baseline ran; return its differences.

    Args:
        name: The counterfactual's name in the experiment file.
        baseline: The baseline's ``timeseries`` (replicate ``r`` ran with seed
            ``seed + r`` and ``params[r]``).
        seed: The baseline's seed.
        params: The baseline's behaviour parameters, one set per replicate.
        on_progress: Called with ``(replicates done, replicates)``.
    """
    spec, regions = regional_experiment()
    [item] = [c for c in spec.counterfactuals if c.name == name]
    tables, _ = run_region_replicates(
        regions[name], seed, len(params), params, on_progress=on_progress
    )
    years = sorted(baseline.year.unique())
    runs = {BASELINE: baseline, name: tables.timeseries}
    summary = with_units(paired_summary(runs, list(spec.outputs), years), regions[BASELINE])
    spans = restriction_spans(regions[BASELINE])
    chart = figure_png(difference_figure(summary, spans, regions[name].name))
    return RegionalComparison(
        name, item.question, regions[name].name, summary, list(spec.key_years), chart
    )
