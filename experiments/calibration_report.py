"""The calibration report: posterior predictive checks, identification, held-back forecasts.

Writes ``calibration/report/``: ``report.md`` (the coverage table of every target,
prior-versus-posterior widths, the held-back check's prediction errors), the comparison
figures with posterior predictive bands (``predictive_<country>.png``) and a pair plot of
the posterior (``pairs.png``, pyabc's KDE matrix). Runs draw parameter sets from the
committed posterior and use the same comparison as ``ngo-abm compare``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from calibration.abc import HOLDOUT_LAST_YEAR
from calibration.atomic import remove_output, write_atomic, write_text_atomic
from calibration.baselines import CURVES, baseline_forecasts, load_anchors
from calibration.compare import (
    compare,
    relative_error,
    signed_percent,
    table_notes,
    undefined_notes,
    verdicts,
)
from calibration.pair_plot import pair_plot
from calibration.plotting import comparison_figure, save_figure
from calibration.posterior import (
    DEFAULT_POSTERIOR,
    draw_posterior,
    effective_sample_size,
    has_posterior,
    load_posterior,
    parameter_names,
    posterior_summary,
)
from calibration.priors import PRIORS, load_priors
from calibration.scenario_inputs import KEY as INPUTS_KEY
from calibration.simulator import SCENARIO_FILES
from calibration.targets import DEFAULT_TARGETS, load_target_file, load_unfitted
from model import OUTPUT_COLUMNS, load_scenario
from model.yaml_files import read_yaml_mapping

from .forecast_drivers import drivers_section
from .identification import RIDGE_R2, load_screen, unidentified_table
from .markdown import cell, markdown_table
from .runner import RunTask, map_runs, run_task

REPORT_DIR = DEFAULT_POSTERIOR.parent / "report"
HOLDOUT_POSTERIOR = DEFAULT_POSTERIOR.with_name("holdout_posterior.parquet")
# Fewer effective particles than this cannot estimate a 90% interval.
MIN_ESS = 20
# Effective particles per parameter below which their correlation matrix is mostly noise.
DEPENDENCE_ESS_PER_PARAMETER = 10


def predictive_runs(
    posterior: pd.DataFrame,
    draws: int,
    seed: int,
    workers: int = 1,
    countries: tuple[str, ...] | None = None,
    param_sets: list[dict[str, float]] | None = None,
) -> dict[str, pd.DataFrame]:
    """Run each country once per posterior draw; return ``{country: stacked table}``.

    Draw ``i`` runs every country (or those in ``countries``) with the same parameter set
    and seed ``seed + i``. ``param_sets``: the draws, if already drawn
    (``draw_posterior(draws, seed, posterior)``).
    """
    if param_sets is None:
        param_sets = draw_posterior(draws, seed, posterior)
    chosen = countries or tuple(SCENARIO_FILES)
    scenarios = {c: load_scenario(SCENARIO_FILES[c]) for c in chosen}
    tasks = [
        RunTask(s, seed + i, params, {"replicate": i, "country": c})
        for c, s in scenarios.items()
        for i, params in enumerate(param_sets)
    ]
    frames = pd.concat(map_runs(run_task, tasks, workers=workers, progress=True), ignore_index=True)
    return {
        c: part[["replicate", *OUTPUT_COLUMNS]].reset_index(drop=True)
        for c, part in frames.groupby("country")
    }


def identification_table(posterior: pd.DataFrame, priors_path: Path = PRIORS) -> pd.DataFrame:
    """Return prior and posterior 90% widths per parameter and their ratio.

    With fewer than ``MIN_ESS`` effective particles the widths measure the collapse of the
    importance weights, not what the figures identify, so no parameter is called
    identified.
    """
    priors = load_priors(priors_path)
    summary = posterior_summary(posterior).set_index("parameter")
    ess = effective_sample_size(posterior)
    rows = []
    for name in parameter_names(posterior):
        lo, hi = priors[name].quantiles(np.array([0.05, 0.95]))
        post = summary.loc[name]
        ratio = (post.q95 - post.q05) / (hi - lo)
        rows.append(
            {
                "parameter": name,
                "prior 90%": f"{lo:.3g} - {hi:.3g}",
                "posterior median": f"{post['median']:.3g}",
                "posterior 90%": f"{post.q05:.3g} - {post.q95:.3g}",
                "width ratio": round(float(ratio), 2),
                "identified": _identified(ratio, ess),
            }
        )
    return pd.DataFrame(rows)


def unidentified_section(ident: pd.DataFrame, posterior: pd.DataFrame) -> list[str]:
    """Return the table of why each parameter not called identified stays wide.

    A correlation matrix of the parameters needs several effective particles per
    parameter; with fewer the section says so instead.
    """
    names = parameter_names(posterior)
    ess = effective_sample_size(posterior)
    if ess < max(MIN_ESS, DEPENDENCE_ESS_PER_PARAMETER * len(names)):
        return [
            f"Why the others stay wide is not measured: an effective sample of {ess:.0f} "
            f"is too small for the dependence between {len(names)} parameters."
        ]
    table = unidentified_table(ident, posterior, load_screen())
    if table.empty:
        return []
    intro = (
        "Why the others stay wide (`experiments/identification.py`, where the readings "
        "of *why* are defined): the figure each moves most in the committed Morris screen "
        "(`screen.csv`: mu*, in tolerance units, over the prior; docs/calibration.md says "
        "on which model and targets it ran), the share of its posterior normal score that "
        "a linear combination of the others explains (R²; a *ridge* from "
        f"{RIDGE_R2}) and its strongest partner (rank correlation)."
    )
    return [intro, markdown_table(table)]


def _identified(ratio: float, ess: float) -> str:
    if ess < MIN_ESS:
        return f"unknown (ESS {ess:.1f})"
    return "yes" if ratio < 0.5 else ("partly" if ratio < 0.8 else "no")


def _ess_warning(posterior: pd.DataFrame) -> str:
    ess = effective_sample_size(posterior)
    if ess >= MIN_ESS:
        return f"Effective sample size of the posterior: {ess:.1f} of {len(posterior)} particles."
    return (
        f"**Warning: the posterior's effective sample size is {ess:.1f} of {len(posterior)} "
        "particles.** Its importance weights have collapsed onto a few particles "
        "(docs/calibration.md), so the posterior intervals and the predictive intervals "
        "understate the parameters' uncertainty, and the posterior's widths say nothing about "
        "identification."
    )


def coverage_table(table: pd.DataFrame) -> pd.DataFrame:
    """Return the report's per-target view of a comparison table."""
    return pd.DataFrame(
        {
            "target": table["id"],
            "group": table["group"],
            "reported": table["reported"],
            "tol": table["tolerance"].map("{:.0%}".format),
            "median": table["model_median"],
            "median's 90% CI": _median_intervals(table),
            "90% predictive": _intervals(table.model_q05, table.model_q95),
            "rel. error": table["rel_error"].map(signed_percent),
            "within tol.": verdicts(table),
            "covered": table["covered"].map({True: "yes", False: "NO"}),
            "runs within tol.": table["share_within"].map("{:.0%}".format),
        }
    )


def _median_intervals(table: pd.DataFrame) -> list[str]:
    """Return each median's interval; under 5 runs with a value give none (``median_interval``)."""
    return [
        "too few runs" if np.isfinite(m) and not np.isfinite(a) else f"{cell(a)} - {cell(b)}"
        for m, a, b in zip(table.model_median, table.median_low, table.median_high, strict=True)
    ]


def _intervals(lows: pd.Series, highs: pd.Series) -> list[str]:
    return [f"{cell(a)} - {cell(b)}" for a, b in zip(lows, highs, strict=True)]


# A held-back forecast spans a factor of six by today (`docs/calibration.md`), so the median
# of 200 draws moves by tens of percent with the draw; 1,000 draws are what the check needs.
HOLDOUT_DRAWS = 1000


def write_report(
    draws: int = 1000,
    seed: int = 1,
    workers: int = 2,
    out: Path = REPORT_DIR,
    holdout_draws: int = HOLDOUT_DRAWS,
) -> Path:
    """Write the calibration report; return the path of ``report.md``.

    ``report.md`` is removed before the first of its files is rewritten and written last:
    an interrupted report leaves no report over files it did not write.
    """
    target_file = load_target_file(DEFAULT_TARGETS)
    # The curves' anchors are read at the end: a bad file is named before the runs.
    load_anchors(targets=target_file.targets)
    out.mkdir(parents=True, exist_ok=True)
    posterior = load_posterior()
    runs = predictive_runs(posterior, draws, seed, workers)
    table = compare(runs, target_file.targets)
    unfitted = compare(runs, load_unfitted())
    remove_output(out / "report.md")
    write_text_atomic(out / "coverage.csv", table.to_csv(index=False))
    write_text_atomic(out / "unfitted.csv", unfitted.to_csv(index=False))
    for country, frame in runs.items():
        fig = comparison_figure(
            {country: frame},
            target_file.targets,
            target_file.periods,
            f"{country.capitalize()}: posterior predictive ({draws} draws) against the reported "
            "figures",
        )
        save_figure(fig, out / f"predictive_{country}.png")
    pair_plot(posterior, out / "pairs.png")
    ident = identification_table(posterior)
    sections = [
        "# Calibration report",
        _meta_section(),
        f"## Posterior predictive check ({draws} posterior draws, one run per country each)",
        _ess_warning(posterior),
        f"Covered: {int(table.covered.sum())}/{len(table)} targets (the reported value, within "
        "tolerance, lies in the 90% predictive interval). Median within tolerance: "
        f"{int(table.within_tolerance.sum())}/{len(table)}.",
        *verdict_table(table),
        *unfitted_section(unfitted),
        "## Which parameters the figures identify (90% widths, posterior / prior)",
        _ess_warning(posterior),
        markdown_table(ident),
        *unidentified_section(ident, posterior),
        "![pairs](pairs.png)",
        *[f"![{c}](predictive_{c}.png)" for c in runs],
        holdout_section(holdout_draws, seed, workers, target_file, out),
    ]
    return write_text_atomic(out / "report.md", "\n\n".join(sections) + "\n")


def unfitted_section(unfitted: pd.DataFrame) -> list[str]:
    """Return the section on the official figures the calibration never saw."""
    return [
        "## Official figures the calibration never saw",
        "Figures from official sources that no calibration step reads "
        "(`calibration/external_unfitted.yaml`, `docs/targets.md`), from the same runs: "
        f"{int(unfitted.within_tolerance.sum())}/{len(unfitted)} medians within tolerance, "
        f"{int(unfitted.covered.sum())}/{len(unfitted)} covered by the 90% predictive "
        "interval.",
        *verdict_table(unfitted),
    ]


def verdict_table(table: pd.DataFrame) -> list[str]:
    """Return the per-target table, and the note on its ``?`` marks where there are any."""
    return [markdown_table(coverage_table(table))] + table_notes(table)


def _meta_section() -> str:
    summary = DEFAULT_POSTERIOR.with_name("calibrated.yaml")
    meta = read_yaml_mapping(summary) if summary.exists() else {}
    # Everything the summary says about how the posterior was made (its parameters'
    # medians and intervals are in the identification table below).
    # The scenario inputs' fingerprints are for the checks (calibration.scenario_inputs).
    shown = {k: v for k, v in meta.items() if k not in ("parameters", "targets", INPUTS_KEY)}
    return "\n".join(f"- {k}: {v}" for k, v in shown.items())


def holdout_section(draws: int, seed: int, workers: int, target_file, out: Path) -> str:
    """Run the held-back posterior's forecasts; write ``heldback.csv``; return the section."""
    title = (
        f"## Held-back check: calibrated on figures up to {HOLDOUT_LAST_YEAR}, forecasting "
        "the later ones, beside curves fitted to the same earlier figures"
    )
    if not has_posterior(HOLDOUT_POSTERIOR):
        return f"{title}\n\nNo held-back posterior (`ngo-abm calibrate npe --holdout`)."
    posterior = load_posterior(HOLDOUT_POSTERIOR)
    held = [t for t in target_file.targets if t.last_year > HOLDOUT_LAST_YEAR]
    unseen = [t for t in load_unfitted() if t.last_year > HOLDOUT_LAST_YEAR]
    countries = tuple(c for c in SCENARIO_FILES if any(t.country == c for t in held + unseen))
    param_sets = draw_posterior(draws, seed, posterior)
    runs = predictive_runs(posterior, draws, seed, workers, countries, param_sets)
    table = heldback_table(compare(runs, held), target_file.targets, held)
    write_atomic(out / "heldback.csv", lambda tmp: table.to_csv(tmp, index=False))
    note = (
        f"Forecasts from {draws:,} draws of the held-back posterior, one run per country each. "
        "The curves (`calibration/baselines.py`) are fitted by least squares to the "
        f"register counts among the targets up to {HOLDOUT_LAST_YEAR} and the anchors of "
        "`calibration/baselines.yaml`; they forecast register counts and register growth "
        "only, and only where a country has at least three earlier register counts "
        "(Kyrgyzstan: the article gives Kazakhstan and Uzbekistan fewer). Errors are relative "
        "to the reported figure and 0 inside a bound or range."
    )
    shown = [_ess_warning(posterior), note, markdown_table(heldback_view(table))]
    shown += undefined_notes(table.model_median)
    shown += unseen_forecasts(runs, target_file.targets, unseen, out)
    widths = identification_table(posterior).set_index("parameter")["width ratio"]
    shown += drivers_section(param_sets, runs, held, widths, out)
    return "\n\n".join([title, *shown])


def unseen_forecasts(
    runs: dict[str, pd.DataFrame], targets: list, unseen: list, out: Path
) -> list[str]:
    """Return the held-back forecasts of the official figures no calibration read.

    ``unseen``: the figures of ``calibration/external_unfitted.yaml`` whose last year is
    after ``HOLDOUT_LAST_YEAR`` (the full calibration never read them either), each of a
    country in ``runs``. The same runs and curves as the held-back table; writes
    ``heldback_unfitted.csv`` in ``heldback.csv``'s columns.
    """
    if not unseen:
        return []
    table = heldback_table(compare(runs, unseen), targets, unseen)
    write_atomic(out / "heldback_unfitted.csv", lambda tmp: table.to_csv(tmp, index=False))
    note = (
        f"The same forecasts of the official figures whose last year is after "
        f"{HOLDOUT_LAST_YEAR} and that neither calibration read "
        "(`calibration/external_unfitted.yaml`, `heldback_unfitted.csv`): figures from other "
        "sources than the article. The curves forecast the Kyrgyz register counts among them, "
        'as above. Most are floors ("over 23,700"), whose error is 0 when met, so they favour '
        "high forecasts."
    )
    return [note, markdown_table(heldback_view(table)), *undefined_notes(table.model_median)]


def heldback_table(compared: pd.DataFrame, targets: list, held: list) -> pd.DataFrame:
    """Return the held-back forecasts beside the curve baselines (``heldback.csv``).

    Columns: ``target, year, reported, model_median, model_q05, model_q95``, one per curve
    of ``calibration.baselines.CURVES``, and each forecast's error relative to the reported
    figure (``<name>_error``, ``calibration.compare.relative_error``: 0 inside a bound or
    range, so a floor that is met scores 0).
    """
    curves = baseline_forecasts(targets, held, HOLDOUT_LAST_YEAR)
    by_id = {t.id: t for t in held}
    frame = pd.DataFrame(
        {
            "target": compared["id"],
            "year": [_years(by_id[i]) for i in compared["id"]],
            "reported": compared["reported"],
            "model_median": compared["model_median"],
            "model_q05": compared["model_q05"],
            "model_q95": compared["model_q95"],
        }
    )
    for name in CURVES:
        frame[name] = [curves[i][name] for i in compared["id"]]
    for name in ("model_median", *CURVES):
        frame[f"{name}_error"] = [
            relative_error(by_id[i], v) if np.isfinite(v) else np.nan
            for i, v in zip(frame["target"], frame[name], strict=True)
        ]
    return frame


def _years(target) -> str:
    if target.years is not None:
        return f"{target.years[0]}-{target.years[1]}"
    return str(target.year) if target.base_year is None else f"{target.year}/{target.base_year}"


def heldback_view(table: pd.DataFrame) -> pd.DataFrame:
    """Return the held-back table as the reports show it: errors as signed percentages."""
    view = table[["target", "year", "reported", "model_median"]].copy()
    view["90% predictive"] = [
        f"{cell(a)} - {cell(b)}" for a, b in zip(table.model_q05, table.model_q95, strict=True)
    ]
    view["model_median error"] = table["model_median_error"].map(signed_percent)
    # A curve has no forecast of a ratio or a share: its cell stays empty.
    for name in CURVES:
        view[f"{name} error"] = [
            f"{e:+.1%}" if np.isfinite(e) else "" for e in table[f"{name}_error"]
        ]
    return view
