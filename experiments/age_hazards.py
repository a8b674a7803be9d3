"""The liability of newness in the model's runs: yearly hazards of losing programmes, by age.

Organisational ecology finds young organisations failing more often than old ones, the
liability of newness (Stinchcombe 1965; Freeman, Carroll and Hannan 1983), often after a
first period in which their founding endowment carries them, the liability of
adolescence (Bruederl and Schuessler 1990; Fichman and Levinthal 1991), and old ones
whose capabilities have run down failing more again, the liability of obsolescence
(Barron, West and Hannan 1994). No rule of the model reads an NGO's age beyond its first
year (a new NGO applies for money and counts as active in the year it registers;
``docs/ODD.md``); what an NGO carries from year to year does. Five channels of it are
studied here (``CHANNELS``): capacity, learnt in years with a grant or prize and lost in
dormant ones, which funders weigh; reserves saved from income; and whether it is a
one-project NGO that stops after its project. Others stay open: the reporting habit
(state grants go to NGOs that filed last year) and the traits drawn at founding (sector,
fundraising level, the State's own NGOs). This study measures the hazards by age in runs
of the committed posterior; again on the same draws and seeds with the five shut (what
is left is what age does through the rest); and with one open at a time, which says
what each does alone.

Per simulated year ``t``, of the NGOs registered at the end of ``t - 1``:

- programmes: of those running programmes (funded) in ``t - 1``, the share not running
  them in ``t`` (dormant, or struck off);
- activity: of those with any activity in ``t - 1``, the share with none in ``t``.

An NGO's age is ``t - 1`` less the year it was founded (0: founded in ``t - 1``). A draw's
hazard in an age band pools the band's NGO-years over the run. Age and period go
together in a run (the oldest NGOs exist only in the later years, when donors' money
falls), so each band also has its hazard relative to its years' (indirect
standardisation): its losses over those expected at each year's hazard for all ages,
1 where age makes no difference in any year. The table gives, per band, the median over
the draws and its 5-95% range.

Run: ``python -m experiments.age_hazards [--scenario scenarios/kyrgyzstan.yaml]
[--draws 40] [--seed 1] [--workers 2] [--out FILE.csv]``: ``FILE.csv`` with its manifest,
``FILE.manifest.json``, beside it (``experiments.options.run_study``).
"""

from __future__ import annotations

import sys
from itertools import product

import numpy as np
import pandas as pd

from calibration.posterior import draw_posterior
from model.model import NGOModel
from model.population import OPERATING
from model.scenario import Scenario, load_scenario

from .markdown import markdown_table
from .options import draw_seeds, run_study
from .runner import map_runs

# The channels through which what an NGO carries from year to year can make its age
# matter, each with the values that shut it.
CHANNELS = {
    "capacity learning": {"capacity_learning": 0.0},
    "funders' weight on capacity": {"track_record_weight": 0.0},
    "capacity decay": {"capacity_decay": 0.0},
    "reserves": {"savings_rate": 0.0},
    "one-project NGOs": {"one_day_share": 0.0},
}
CALIBRATED, SHUT = "calibrated", "all five shut"
# Upper ends of the age bands (inclusive); the last band is open.
BAND_ENDS = (0, 1, 2, 4, 7, 12)
MAX_AGE = 200
COUNTS = ("funded", "lost_programmes", "active", "lost_activity")
STATISTICS = ("hazard", "relative")
MEASURES = {"programmes": ("lost_programmes", "funded"), "activity": ("lost_activity", "active")}


def variants() -> dict[str, dict[str, float]]:
    """Return each variant's parameter overrides: as calibrated, all shut, one open."""
    shut = {k: v for off in CHANNELS.values() for k, v in off.items()}
    alone = {
        f"only {name}": {k: v for k, v in shut.items() if k not in off}
        for name, off in CHANNELS.items()
    }
    return {CALIBRATED: {}, SHUT: shut, **alone}


def band_labels() -> list[str]:
    """Return the age bands' labels: ``0``, ``1``, ``2``, ``3-4``, ..., ``13+``."""
    labels, low = [], 0
    for end in BAND_ENDS:
        labels.append(str(end) if end == low else f"{low}-{end}")
        low = end + 1
    return [*labels, f"{low}+"]


def age_counts(scenario: Scenario, seed: int) -> np.ndarray:
    """Return one run's NGO-years at risk and losses (years x ``COUNTS`` x ``MAX_AGE``)."""
    model = NGOModel(scenario, rng=seed, agents=False)
    counts = np.zeros((len(scenario.years) - 1, len(COUNTS), MAX_AGE), dtype=np.int64)
    model.step()
    funded, active, age = year_end_state(model)
    for year in range(len(counts)):
        model.step()
        now_funded, now_active, now_age = year_end_state(model)
        k = len(age)  # the rows founded this year are not at risk yet
        at_risk_and_lost = (
            funded,
            funded & ~now_funded[:k],
            active,
            active & ~now_active[:k],
        )
        for row, mask in enumerate(at_risk_and_lost):
            counts[year, row] = np.bincount(age[mask], minlength=MAX_AGE)
        funded, active, age = now_funded, now_active, now_age
    return counts


def year_end_state(model: NGOModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return each NGO's programmes, any activity and age at the end of the model's year."""
    pop = model.population
    n = pop.size
    age = np.clip(model.year - pop.founded[:n], 0, MAX_AGE - 1)
    return pop.status[:n] == OPERATING, pop.active[:n].copy(), age


def run_counts(task: tuple[str, dict[str, float], int]) -> np.ndarray:
    """Return ``age_counts`` of one task: (scenario file, parameters, seed)."""
    path, params, seed = task
    return age_counts(load_scenario(path).with_params(params), seed)


def by_band(counts: np.ndarray) -> np.ndarray:
    """Return ``age_counts`` summed within the age bands (years x ``COUNTS`` x bands)."""
    return np.add.reduceat(counts, [0, *(end + 1 for end in BAND_ENDS)], axis=2)


def band_hazards(counts: np.ndarray) -> pd.DataFrame:
    """Return a run's hazards by age band (rows): pooled and relative to their years'.

    Columns: the NGO-years at risk and lost (``COUNTS``, summed over the years), and per
    measure its pooled hazard (``programmes_hazard``) and its relative hazard
    (``programmes_relative``: losses over the losses at each year's all-age hazard).
    """
    banded = by_band(counts)
    frame = pd.DataFrame(banded.sum(axis=0).T, columns=list(COUNTS), index=band_labels())
    for measure, (lost, at_risk) in MEASURES.items():
        i, j = COUNTS.index(lost), COUNTS.index(at_risk)
        risk = banded[:, j, :].astype(float)
        total = risk.sum(axis=1, keepdims=True)
        yearly = np.divide(
            banded[:, i, :].sum(axis=1, keepdims=True),
            total,
            where=total > 0,
            out=np.zeros_like(total),
        )
        expected = (risk * yearly).sum(axis=0)
        frame[f"{measure}_hazard"] = frame[lost] / frame[at_risk].where(frame[at_risk] > 0)
        frame[f"{measure}_relative"] = frame[lost] / pd.Series(expected, index=frame.index).where(
            expected > 0
        )
    return frame


def age_hazards(path: str, draws: int, seed: int, workers: int) -> pd.DataFrame:
    """Return the hazards by age band over posterior draws, in every variant (``variants``).

    Each draw runs once per variant on the same seed (common random numbers). Rows: one
    per variant, measure, statistic and band: the median over the draws, its 5-95% range
    and the NGO-years at risk summed over the draws.
    """
    params = draw_posterior(draws, seed)
    seeds = draw_seeds(seed, draws)
    cases = variants()
    tasks = [
        (path, {**p, **off}, s)
        for off in cases.values()
        for p, s in zip(params, seeds, strict=True)
    ]
    runs = map_runs(run_counts, tasks, workers, progress=True, desc="runs")
    rows = []
    for v, variant in enumerate(cases):
        tables = [band_hazards(c) for c in runs[v * draws : (v + 1) * draws]]
        for (measure, (_, at_risk)), statistic in product(MEASURES.items(), STATISTICS):
            values = np.array([t[f"{measure}_{statistic}"].to_numpy() for t in tables])
            years = sum(t[at_risk].to_numpy() for t in tables)
            for b, band in enumerate(band_labels()):
                q05, median, q95 = np.nanquantile(values[:, b], [0.05, 0.5, 0.95])
                rows.append((variant, measure, statistic, band, median, q05, q95, int(years[b])))
    columns = ["variant", "measure", "statistic", "age", "median", "q05", "q95", "ngo_years"]
    return pd.DataFrame(rows, columns=columns)


def summary_table(table: pd.DataFrame, measure: str, statistic: str) -> str:
    """Return one measure's statistic, median over the draws, as a markdown table.

    One row per age band, one column per variant; the ranges are in the CSV.
    """
    table = table[(table["measure"] == measure) & (table["statistic"] == statistic)]
    wide = table.assign(cell=[f"{m:.2f}" for m in table["median"]]).pivot(
        index="age", columns="variant", values="cell"
    )
    return markdown_table(wide.loc[band_labels(), list(variants())].reset_index())


def main(argv: list[str] | None = None) -> int:
    """Run the study, print its table and write its CSV; exit 2 with one line on bad input."""
    table = run_study("python -m experiments.age_hazards", argv, age_hazards)
    if table is None:
        return 2
    printed = (
        ("programmes", "relative", "Programmes, relative to the year's hazard"),
        ("activity", "relative", "Any activity, relative to the year's hazard"),
        ("programmes", "hazard", "Programmes, pooled hazard"),
    )
    for measure, statistic, title in printed:
        print(f"{title} (median over the draws):\n")
        print(f"{summary_table(table, measure, statistic)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
