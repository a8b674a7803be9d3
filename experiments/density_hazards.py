"""Density dependence of mortality in the model's runs: more NGOs founded, more lose programmes.

Organisational ecology finds founding and mortality both depending on the density of
organisations: at low density each new one lends the form legitimacy, at high density
they compete for the same resources, so that mortality first falls and then rises with
density, mirroring founding (Hannan and Freeman 1989; Hannan and Carroll 1992). The
model's founding has both terms (``docs/ODD.md``, "Founding"). No rule of survival reads
density, but NGOs compete for the same grants, the "NGO scramble" of Cooley and Ron
(2002), whose case is Kyrgyzstan. This study moves founding alone, on common random
numbers: the founding rates for civic reasons and for money (``civic_rate``,
``funding_rate``; the State's own founding unchanged, so the share of the State's NGOs
changes with the factor) multiplied by each factor, on the same posterior draws and
seeds as the calibrated run. Per draw and factor it gives:

- the density ratio: NGOs with any activity, averaged over the years at risk, against
  the calibrated run's;
- the hazard ratio, for losing programmes (of NGOs running them the year before) and
  for losing any activity: the losses the calibrated run's NGOs would have at the
  other run's hazards, year by year and age band by age band, over their own losses
  (direct standardisation). A more crowded run has more young NGOs, who lose their
  programmes more often (``experiments.age_hazards``); standardising keeps that from
  passing for competition;
- the elasticity: the log of the hazard ratio over the log of the density ratio.

The table gives the median over the draws and its 5-95% range.

Run: ``python -m experiments.density_hazards [--scenario scenarios/kyrgyzstan.yaml]
[--draws 40] [--seed 1] [--workers 2] [--out FILE.csv]``: ``FILE.csv`` with its manifest,
``FILE.manifest.json``, beside it (``experiments.options.run_study``).
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from calibration.posterior import draw_posterior
from model.scenario import load_scenario

from .age_hazards import COUNTS, MEASURES, by_band, run_counts
from .markdown import markdown_table
from .options import draw_seeds, run_study
from .runner import map_runs

FACTORS = (0.5, 2.0)
FOUNDING_RATES = ("civic_rate", "funding_rate")
QUANTITIES = ("density", *(f"{m}_hazard" for m in MEASURES), *(f"{m}_elasticity" for m in MEASURES))


def founding_scaled(
    params: dict[str, float], behaviour: dict[str, float], factor: float
) -> dict[str, float]:
    """Return ``params`` with the founding rates multiplied by ``factor``.

    A rate the draw does not hold is taken from the scenario's ``behaviour``.
    """
    return {
        **params,
        **{name: factor * params.get(name, behaviour[name]) for name in FOUNDING_RATES},
    }


def run_bands(task: tuple[str, dict[str, float], int]) -> np.ndarray:
    """Return one run's NGO-years at risk and losses by year and age band."""
    return by_band(run_counts(task))


def standardised_ratio(other: np.ndarray, base: np.ndarray, measure: str) -> float:
    """Return ``measure``'s hazard ratio of ``other`` to ``base``, on ``base``'s NGO-years.

    Both are ``run_bands`` counts. Cells (year, band) with nobody at risk in either run
    are left out of both sums.
    """
    lost, at_risk = (COUNTS.index(name) for name in MEASURES[measure])
    risk_base, risk_other = base[:, at_risk].astype(float), other[:, at_risk].astype(float)
    cells = (risk_base > 0) & (risk_other > 0)
    rate_other = np.divide(other[:, lost], risk_other, where=cells, out=np.zeros_like(risk_other))
    expected = (rate_other * risk_base)[cells].sum()
    observed = base[:, lost][cells].sum()
    return expected / observed if observed > 0 else np.nan


def density(bands: np.ndarray) -> float:
    """Return the NGOs with any activity a year, averaged over the years at risk."""
    return bands[:, COUNTS.index("active")].sum(axis=1).mean()


def comparison(other: np.ndarray, base: np.ndarray) -> dict[str, float]:
    """Return one draw's density ratio, hazard ratios and elasticities (``QUANTITIES``)."""
    ratio = density(other) / density(base)
    row = {"density": ratio}
    for measure in MEASURES:
        hazard = standardised_ratio(other, base, measure)
        row[f"{measure}_hazard"] = hazard
        row[f"{measure}_elasticity"] = np.log(hazard) / np.log(ratio) if ratio != 1 else np.nan
    return row


def density_hazards(
    path: str, draws: int, seed: int, workers: int, factors=FACTORS
) -> pd.DataFrame:
    """Return, per factor and quantity, the median over the draws and its 5-95% range."""
    params = draw_posterior(draws, seed)
    seeds = draw_seeds(seed, draws)
    cases = (1.0, *factors)
    behaviour = load_scenario(path).behaviour.values()
    tasks = [
        (path, founding_scaled(p, behaviour, factor), s)
        for factor in cases
        for p, s in zip(params, seeds, strict=True)
    ]
    runs = map_runs(run_bands, tasks, workers, progress=True, desc="runs")
    base = runs[:draws]
    rows = []
    for f, factor in enumerate(factors, start=1):
        draws_rows = [comparison(runs[f * draws + d], base[d]) for d in range(draws)]
        frame = pd.DataFrame(draws_rows, columns=list(QUANTITIES))
        for quantity in QUANTITIES:
            q05, median, q95 = np.nanquantile(frame[quantity], [0.05, 0.5, 0.95])
            rows.append((factor, quantity, median, q05, q95))
    return pd.DataFrame(rows, columns=["factor", "quantity", "median", "q05", "q95"])


def summary_table(table: pd.DataFrame) -> str:
    """Return the table in markdown: a row per factor, a column per quantity."""
    cells = table.assign(
        cell=[
            f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
            for m, lo, hi in zip(table["median"], table["q05"], table["q95"], strict=True)
        ]
    )
    wide = cells.pivot(index="factor", columns="quantity", values="cell")
    return markdown_table(wide[list(QUANTITIES)].reset_index())


def main(argv: list[str] | None = None) -> int:
    """Run the study, print its table and write its CSV; exit 2 with one line on bad input."""
    table = run_study("python -m experiments.density_hazards", argv, density_hazards)
    if table is None:
        return 2
    print("Founding rates times each factor, against the calibrated run (median over the")
    print(f"draws [5%, 95%]):\n\n{summary_table(table)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
