"""What a counterfactual's effect rests on: the parameters its paired difference moves with.

An experiment run on posterior draws (``params: posterior``) gives each counterfactual's
paired difference from the baseline for every draw (its replicates averaged). Where the
difference spreads because the draws differ, the parameters it moves with are those the
effect rests on; a parameter the figures leave near its prior (a width ratio near 1 in the
calibration report's identification table) then makes the effect as uncertain as that
prior. The measure is the one of the held-back forecasts (``experiments.forecast_drivers``):
partial rank correlations and adjusted R² of a linear fit on normal scores, over the
parameters that apply to the baseline's country.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from calibration.posterior import applies_to

from .forecast_drivers import drivers_of
from .paired import paired_differences
from .spec import Experiment


def draw_effects(results: pd.DataFrame, experiment: Experiment, name: str) -> pd.DataFrame:
    """Return a counterfactual's paired difference per draw (mean over its replicates).

    Rows are draws; columns are (output, key year).
    """
    crn, _ = paired_differences(results, experiment, name)
    years = crn.index.get_level_values("year").isin(experiment.spec.key_years)
    means = crn[years].groupby(level=["draw", "year"]).mean()
    return means.unstack("year").sort_index(axis=1)


def effect_drivers(
    results: pd.DataFrame,
    experiment: Experiment,
    param_sets: list[dict[str, float]],
    widths: pd.Series,
) -> pd.DataFrame:
    """Return, per counterfactual, output and key year, the ``TOP`` drivers of its effect.

    ``param_sets[d]`` is draw ``d``'s parameter set (``experiments.paired.parameter_sets``);
    ``widths`` the posterior's width ratio per parameter. An effect that does not vary
    across the draws (none at all, say), or too few draws for the parameters
    (``forecast_drivers.normal_fit``), has no row.
    """
    params = pd.DataFrame(param_sets)
    country = experiment.baseline.country
    params = params[[c for c in params.columns if applies_to(c, country)]]
    tables = []
    for name in experiment.counterfactuals:
        for (output, year), effect in draw_effects(results, experiment, name).items():
            if effect.nunique() < 2:
                continue
            table = drivers_of(params.loc[effect.index], effect)
            if not table.empty:
                table.insert(0, "year", int(year))
                table.insert(0, "output", output)
                table.insert(0, "counterfactual", name)
                table["posterior width ratio"] = [widths.get(n, np.nan) for n in table.parameter]
                tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
