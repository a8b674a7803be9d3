"""What a held-back forecast rests on: the parameters that move it across the posterior.

The held-back calibration (``calibration/holdout_posterior.parquet``) forecasts the
register after 2010 from the figures up to 2010. Its forecast spreads because its
posterior draws differ, and because each run has its own noise. This module measures both
on the report's own runs (one run per draw), on rank-based normal scores: a linear fit of
the figure's score on the scores of the parameters that apply to its country (the shared
ones and the country's own) gives each parameter's partial rank correlation with the
figure, its effect with the others held where they are (the posterior's parameters are
correlated among themselves, so a plain correlation would also credit a parameter for its
partners' effects), and the adjusted R² of the fit, how much of the figure's variance the
parameters explain linearly (the rest is each run's noise and effects no linear fit sees).
Beside each driver, the width of its held-back posterior's 90% interval against the
prior's (``calibration_report.identification_table``): a forecast that rests on parameters
the earlier figures leave at their priors is a forecast of those priors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from calibration.atomic import write_atomic
from calibration.baselines import is_register_count
from calibration.compare import statistic
from calibration.posterior import applies_to

from .identification import normal_scores
from .markdown import markdown_table

# Drivers shown per forecast figure.
TOP = 3
# Fewer draws than this many per fitted coefficient leave the fit's R² and partial
# correlations to chance (an exact fit of noise reads as fully explained).
DRAWS_PER_COEFFICIENT = 2
DRIVERS_NOTE = (
    "What the register forecasts rest on (`experiments/forecast_drivers.py`, "
    "`heldback_drivers.csv`): for each held-back register figure, on the same runs, the "
    "adjusted R² of a linear fit of its normal score on those of the parameters that apply "
    "to its country (the share of its variance they explain together; it can be negative, "
    "and the rest is each run's own noise and effects no linear fit sees) and of the same "
    f"fit on its {TOP} main drivers alone: the parameters with the largest partial rank "
    "correlation with it (each one's effect with the others held where they are), each "
    "with its plain rank correlation, the partial correlation's standard error about zero "
    "(the largest of many exceed it by chance) and the width of its held-back posterior's "
    "90% interval against its prior's (1: the figures up to 2010 leave it where the prior "
    "put it)."
)


def normal_fit(params: pd.DataFrame, figure: pd.Series) -> tuple[float, pd.Series]:
    """Return the adjusted R² and the partial correlations of a fit on normal scores.

    The figure's normal score is fitted by least squares on the parameters' and an
    intercept. The R² is adjusted for the number of parameters (Ezekiel's), and each
    partial correlation is ``t / sqrt(t**2 + df)`` from its coefficient's t statistic.
    Both are NaN with fewer than ``DRAWS_PER_COEFFICIENT`` draws per coefficient.
    """
    n, k = params.shape
    df = n - k - 1
    if n < DRAWS_PER_COEFFICIENT * (k + 1):
        return np.nan, pd.Series(np.nan, index=params.columns)
    x = np.column_stack([np.ones(n), normal_scores(params)])
    y = normal_scores(figure.to_frame())[:, 0]
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ coef
    r2 = 1.0 - residual.var() / y.var()
    scale = residual @ residual / df
    t = coef[1:] / np.sqrt(scale * np.diag(np.linalg.pinv(x.T @ x))[1:])
    partial = pd.Series(t / np.sqrt(t**2 + df), index=params.columns)
    return float(1.0 - (1.0 - r2) * (n - 1) / df), partial


def drivers_of(params: pd.DataFrame, figure: pd.Series) -> pd.DataFrame:
    """Return the ``TOP`` parameters with the largest partial rank correlation with a figure.

    ``params`` (draws x parameters) and ``figure`` (one value per draw) share their index.
    Parameters that never vary are left out of the fit; the table is empty where there
    is no fit (``normal_fit``). Columns: both R², the parameter, its partial and its plain
    rank correlation, and the partial correlation's standard error about zero,
    ``1 / sqrt(draws - parameters - 1)`` (the three largest of many exceed it by chance:
    ``docs/experiments.md``).
    """
    params = params.loc[:, params.nunique() > 1].reset_index(drop=True)
    figure = figure.reset_index(drop=True)
    share, partial = normal_fit(params, figure)
    if partial.isna().all():
        return pd.DataFrame()
    top = list(partial.abs().sort_values(ascending=False).index[:TOP])
    rho = params[top].rank().corrwith(figure.rank())
    return pd.DataFrame(
        {
            "adjusted R² (all parameters)": round(share, 2),
            f"adjusted R² (these {TOP})": round(normal_fit(params[top], figure)[0], 2),
            "parameter": top,
            "partial rank correlation": partial[top].round(2).to_numpy(),
            "rank correlation": rho.round(2).to_numpy(),
            "standard error": round(1.0 / np.sqrt(len(figure) - params.shape[1] - 1), 2),
        }
    )


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
    missing year) are left out of its rows, and parameters that never vary (or belong to
    another country) out of its fit.
    """
    params = pd.DataFrame(draws)
    tables = []
    for target in held:
        if not is_register_count(target) or target.country not in runs:
            continue
        figure = statistic(runs[target.country], target).reindex(range(len(params)))
        kept = figure.notna().to_numpy()
        names = [c for c in params.columns if applies_to(c, target.country)]
        table = drivers_of(params.loc[kept, names], figure[kept])
        if not table.empty:
            table.insert(0, "target", target.id)
            table["held-back width ratio"] = [widths.get(n, np.nan) for n in table.parameter]
            tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def drivers_section(
    param_sets: list[dict[str, float]],
    runs: dict[str, pd.DataFrame],
    held: list,
    widths: pd.Series,
    out: Path,
) -> list[str]:
    """Return the report's lines on what the register forecasts rest on.

    Writes ``out/heldback_drivers.csv`` (``forecast_drivers``'s arguments); without a row to
    show, an earlier one is removed rather than left beside the new report.
    """
    table = forecast_drivers(param_sets, runs, held, widths)
    if table.empty:
        (out / "heldback_drivers.csv").unlink(missing_ok=True)
        return []
    write_atomic(out / "heldback_drivers.csv", lambda tmp: table.to_csv(tmp, index=False))
    return [DRIVERS_NOTE, markdown_table(table)]
