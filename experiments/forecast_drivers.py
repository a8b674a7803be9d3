"""What a held-back forecast rests on: the parameters that move it across the posterior.

The held-back calibration (``calibration/holdout_posterior.parquet``) forecasts the
register after 2010 from the figures up to 2010. Its forecast spreads because its
posterior draws differ, and because each run has its own noise. This module measures both
on the report's own runs (one run per draw): the rank correlation of each parameter's
value with the forecast figure across the draws (Spearman), and the share of the
forecast's spread that the parameters explain together (R² of a linear fit of the
figure's normal scores on theirs; the rest is the runs' noise and non-linear effects).
Beside each driver, the width ratio of its 90% interval in the held-back posterior
against the prior (``calibration_report.identification_table``): a forecast that rests on
parameters the earlier figures leave at their priors is a forecast of those priors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtri

from calibration.baselines import is_register_count
from calibration.compare import statistic

# Drivers shown per forecast figure.
TOP = 3
DRIVERS_NOTE = (
    "What the register forecasts rest on (`experiments/forecast_drivers.py`, "
    "`heldback_drivers.csv`): for each held-back register figure, the share of its spread "
    "over the same runs that the parameters explain together (adjusted R² of a linear fit "
    "on their normal scores; the rest is each run's own noise and effects no linear fit "
    f"sees), and the {TOP} parameters whose values move it most (rank correlation across "
    "the draws), each with the width of its held-back posterior's 90% interval against its "
    "prior's (1: the figures up to 2010 leave it where the prior put it)."
)


def normal_scores(values: pd.DataFrame) -> np.ndarray:
    """Return the columns' rank-based normal scores (ties share their mean rank)."""
    ranks = values.rank().to_numpy()
    return ndtri((ranks - 0.5) / len(values))


def explained_share(params: pd.DataFrame, figure: pd.Series) -> float:
    """Return the share of the figure's normal score a linear fit on the parameters' explains.

    Adjusted for the number of parameters (Ezekiel's R²): with 38 parameters and 1,000
    draws, noise alone would otherwise read as about 0.04 explained.
    """
    n, k = params.shape
    x = np.column_stack([np.ones(n), normal_scores(params)])
    y = normal_scores(figure.to_frame())[:, 0]
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ coef
    r2 = 1.0 - residual.var() / y.var()
    return float(1.0 - (1.0 - r2) * (n - 1) / max(n - k - 1, 1))


def forecast_drivers(
    draws: list[dict[str, float]],
    runs: dict[str, pd.DataFrame],
    held: list,
    widths: pd.Series,
) -> pd.DataFrame:
    """Return the ``TOP`` parameters that move each held-back register figure most.

    ``draws[i]`` is the parameter set of replicate ``i`` of ``runs`` (``{country: stacked
    table}``, as ``calibration_report.predictive_runs`` returns them); ``widths`` the
    held-back posterior's width ratio per parameter. Runs with no value of a figure (a
    missing year) are left out of its row.
    """
    params = pd.DataFrame(draws)
    rows = []
    for target in held:
        if not is_register_count(target) or target.country not in runs:
            continue
        figure = statistic(runs[target.country], target).reindex(range(len(params)))
        kept = figure.notna().to_numpy()
        if kept.sum() < 3:
            continue
        p, f = params[kept].reset_index(drop=True), figure[kept].reset_index(drop=True)
        rho = p.rank().corrwith(f.rank()).dropna()
        share = explained_share(p[rho.index], f)
        for name in rho.abs().sort_values(ascending=False).index[:TOP]:
            rows.append(
                {
                    "target": target.id,
                    "linear R² (all parameters)": round(share, 2),
                    "parameter": name,
                    "rank correlation": round(float(rho[name]), 2),
                    "held-back width ratio": widths.get(name, np.nan),
                }
            )
    return pd.DataFrame(rows)
