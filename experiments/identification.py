"""Why a calibrated parameter is not identified: its screen effect and its trade-offs.

The identification table (``calibration_report.identification_table``) says which
parameters the figures narrow; this module says why the others stay wide, from two
measurements the project already makes:

- the Morris screen (``experiments.screen``, ``calibration/report/screen.csv``): the
  largest mean absolute effect (mu*, in tolerance units) of the parameter on any figure
  over its prior. Below one tolerance the parameter moves no figure by as much as the
  figure is known (the screen's own rule for fixing a parameter);
- the posterior's dependence: the share of the variance of the parameter's normal score
  that a linear combination of the other parameters' normal scores explains (R², from the
  rank-based normal scores' correlation matrix, ``1 - 1 / (C^-1)_ii``) and its strongest
  partner (largest rank correlation). A high R² is a ridge: the figures fix a combination
  of parameters, not each one (Gutenkunst et al. 2007, "sloppy" models).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtri

from calibration.posterior import WEIGHT, parameter_names

from .screen import MOVES_A_FIGURE
from .screen import OUT as SCREEN

# At or above this R² the parameter's width is mostly a trade-off with the others.
RIDGE_R2 = 0.5


def equally_weighted(posterior: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Return the posterior's draws, resampled by weight if the weights differ."""
    weights = posterior[WEIGHT].to_numpy(dtype=float)
    if np.allclose(weights, weights[0], rtol=1e-9, atol=0.0):
        return posterior
    return posterior.sample(len(posterior), replace=True, weights=WEIGHT, random_state=seed)


def normal_scores(values: pd.DataFrame) -> np.ndarray:
    """Return the columns' rank-based normal scores (ties share their mean rank)."""
    ranks = values.rank().to_numpy()
    return ndtri((ranks - 0.5) / len(values))


def dependence(posterior: pd.DataFrame) -> pd.DataFrame:
    """Return each parameter's R² from the others and its strongest partner in the posterior."""
    draws = equally_weighted(posterior)
    names = parameter_names(draws)
    scores = normal_scores(draws[names])
    corr = np.corrcoef(scores, rowvar=False)
    # A pseudo-inverse would read an exact trade-off (a singular matrix) as none; the tiny
    # ridge keeps it invertible, so an exact trade-off reads R² 1.
    r2 = 1.0 - 1.0 / np.diag(np.linalg.inv(corr + 1e-12 * np.eye(len(names))))
    rho = draws[names].rank().corr().to_numpy().copy()
    np.fill_diagonal(rho, 0.0)
    partner = np.abs(rho).argmax(axis=1)
    return pd.DataFrame(
        {
            "parameter": names,
            "r2": np.clip(r2, 0.0, 1.0),
            "partner": [names[j] for j in partner],
            "rho": rho[np.arange(len(names)), partner],
        }
    )


def load_screen(path: Path = SCREEN) -> pd.DataFrame:
    """Return the committed screen (mu* per parameter and target), empty if there is none."""
    if not path.exists():
        return pd.DataFrame(columns=["max"])
    return pd.read_csv(path, index_col="parameter")


def largest_effect(screen: pd.DataFrame, name: str) -> tuple[str, float] | None:
    """Return the figure the parameter moves most in the screen and its mu*, if screened."""
    if name not in screen.index:
        return None
    effects = screen.loc[name].drop("max").astype(float)
    return str(effects.idxmax()), float(effects.max())


def reason(effect: tuple[str, float] | None, r2: float) -> str:
    """Return why a parameter is not identified.

    ``no effect``: it moves no figure by one tolerance over its prior (the screen). ``ridge``:
    the others explain at least ``RIDGE_R2`` of it, so the figures fix a combination.
    ``free where met``: it moves a figure over its prior, yet no linear trade-off explains
    its width, so where the figures are met its effect is within their tolerances (or is
    traded off non-linearly). ``not screened``: neither a ridge nor measured by the screen.
    """
    if effect is not None and effect[1] < MOVES_A_FIGURE:
        return "no effect"
    if r2 >= RIDGE_R2:
        return "ridge"
    return "not screened" if effect is None else "free where met"


def unidentified_table(
    ident: pd.DataFrame, posterior: pd.DataFrame, screen: pd.DataFrame
) -> pd.DataFrame:
    """Return, for every parameter the identification table does not call identified, why."""
    dep = dependence(posterior).set_index("parameter")
    rows = []
    for _, row in ident[ident["identified"] != "yes"].iterrows():
        name = row["parameter"]
        effect = largest_effect(screen, name)
        d = dep.loc[name]
        rows.append(
            {
                "parameter": name,
                "width ratio": row["width ratio"],
                "largest screen effect": "not screened"
                if effect is None
                else f"{effect[0]} {effect[1]:.3g}",
                "R² from the others": round(float(d.r2), 2),
                "strongest partner": f"{d.partner} ({d.rho:+.2f})",
                "why": reason(effect, float(d.r2)),
            }
        )
    return pd.DataFrame(rows)
