"""Figures of a paired experiment: fan charts, paired differences and the funding mix.

Each figure reads the runs' table (``experiments.storage.load_results`` or
``experiments.paired.collect_runs``) and the statistics of ``experiments.paired``; the
bands and reported points are drawn by ``calibration.plotting``, so the command line
(``ngo-abm experiment``), the dashboard and the tutorial show the same charts. The
reported figures are Jaysanov (2023), CAJOTAS 4(6), as held in ``calibration/targets.yaml``.
"""

from __future__ import annotations

from textwrap import fill

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from calibration.plotting import (
    column_unit,
    fan,
    in_millions,
    panel_title,
    period_key,
    quantity,
    reported_handles,
    reported_point,
    shade_periods,
)
from model import Scenario
from model.year_loop import COUNT_COLUMNS

from .paired import paired_differences
from .spec import BASELINE, Experiment

FAN_PANELS = (
    "registered",
    "operational",
    "reporting",
    "share_income_foreign",
    "share_foreign_funded",
    "share_foreign_dependent",
)
INCOME_SOURCES = {
    "income_foreign_usd": ("foreign donors", "tab:blue"),
    "income_state_usd": ("state grants and prizes", "tab:red"),
    "income_domestic_usd": ("domestic (fees, local giving)", "tab:green"),
}
# Each source's hatching: the three colours are nearly one grey in a greyscale print.
INCOME_HATCHES = ("", "////", "..")


def _unit(column: str, scenario: Scenario) -> tuple[str, float]:
    """Return the axis label and the scale of an output column (amounts in millions)."""
    return in_millions(column, column_unit(column, scenario.cpi_base_year, scenario.currency))


def _title(experiment: Experiment, name: str) -> str:
    """Return a counterfactual's title: its scenario's name and the levers and switches on top.

    A counterfactual of levers or switched-off mechanisms alone runs the baseline's scenario,
    whose name ("Kazakhstan baseline") would title it as the baseline: its own name titles
    it. One that adds levers or switches to a scenario file of its own names them after the
    file's name, or its effect would read as the file's alone.
    """
    scenario = experiment.scenarios[name].name
    if scenario == experiment.baseline.name:
        return name
    switched = experiment.counterfactual(name).switch_off
    changes = [f"{lever} {value:g}" for lever, value in experiment.levers(name).items()]
    changes += [f"{mechanism} off" for mechanism in switched]
    return f"{scenario} (with {', '.join(changes)})" if changes else scenario


def first_differing_year(crn: pd.DataFrame) -> int | None:
    """Return the first year in which any run's output differs from its paired baseline run.

    Read from the runs, not the inputs: an input may differ years before it acts (a mean
    grant before there is a grant budget), and a removed shock or an exit year has no
    yearly path to date.
    """
    differs = (crn.fillna(0) != 0).any(axis=1)
    years = differs[differs].index.get_level_values("year")
    return int(years.min()) if len(years) else None


def mark_change(ax, year: int | None, first_year: int) -> None:
    """Draw a dotted line at the first year the paired runs differ, after the run's first.

    In the run's first year the line would lie on the axis, unseen beside its legend
    entry; the figure's title says so instead (``difference_figure``).
    """
    if year is not None and year > first_year:
        ax.axvline(year, color="0.25", ls=":", lw=1, label=f"runs first differ in {year}")


def _runs_table(results: pd.DataFrame, name: str, column: str, scale: float) -> pd.DataFrame:
    """Return a years x runs table of one scenario's column (scaled)."""
    part = results[results.scenario == name]
    runs = part.assign(replicate=part["draw"] * (part["replicate"].max() + 1) + part["replicate"])
    return quantity(runs, column) * scale


def fan_figure(results: pd.DataFrame, experiment: Experiment, name: str, target_file):
    """Return the fan charts of the baseline and one counterfactual, with reported points."""
    base = experiment.baseline
    targets = [
        t
        for t in target_file.targets
        if t.country == base.country
        and t.denominator is None
        and t.base_year is None
        and base.start_year <= t.first_year <= t.last_year <= base.end_year
    ]
    periods = _periods_within(target_file.periods.get(base.country, []), base)
    fig, axes = _subplots(3, 2, (9, 9.5))
    for ax, column in zip(axes.flat, FAN_PANELS, strict=True):
        unit, scale = _unit(column, base)
        shade_periods(ax, periods, numbered=True)
        fan(ax, _runs_table(results, BASELINE, column, scale), "tab:blue", "baseline")
        fan(ax, _runs_table(results, name, column, scale), "tab:orange", name)
        for t in targets:
            if t.column == column:
                reported_point(ax, t)
        mark_projection(ax, experiment)
        _label(ax, column, unit, base.years)
    _figure_legend(fig, axes.flat[0], {t.kind for t in targets if t.column in FAN_PANELS})
    heading = (
        f"{_title(experiment, name)} against the baseline: median, 50% and 90% bands "
        f"over {_runs_text(experiment)}. {experiment.question(name)}"
    )
    key = period_key({base.country: periods})
    fig.suptitle(f"{fill(heading, 100)}\n{fill(key, 110)}", fontsize=10)
    return fig


def difference_figure(results: pd.DataFrame, experiment: Experiment, name: str):
    """Return the paired differences (counterfactual minus baseline) of the reported outputs."""
    crn, independent = paired_differences(results, experiment, name)
    outputs = experiment.spec.outputs
    changed = first_differing_year(crn[outputs])
    ncols = min(3, len(outputs))
    nrows = -(-len(outputs) // ncols)
    fig, axes = _subplots(nrows, ncols, (3.6 * ncols, 3.0 * nrows))
    for ax, column in zip(axes.flat, outputs, strict=False):
        unit, scale = _unit(column, experiment.baseline)
        fan(ax, _by_year(crn[column]) * scale, "tab:purple", "paired (CRN)")
        table = _by_year(independent[column]) * scale
        if table.notna().all().all():
            q = np.quantile(table.to_numpy(), [0.05, 0.95], axis=1)
            for k, row in enumerate(q):
                label = "90% with independent seeds" if k == 0 else None
                ax.plot(table.index, row, color="0.3", ls="--", lw=1, label=label)
        ax.axhline(0, color="black", lw=0.8)
        mark_change(ax, changed, experiment.baseline.start_year)
        mark_projection(ax, experiment)
        _label(ax, column, f"difference, {unit}", experiment.baseline.years)
    for ax in list(axes.flat)[len(outputs) :]:
        ax.axis("off")
    _figure_legend(fig, axes.flat[0])
    heading = (
        f"{_title(experiment, name)} minus baseline, run by run (same parameters and "
        f"seeds): median, 50% and 90% bands over {_runs_text(experiment)}"
    )
    if changed == experiment.baseline.start_year:
        heading += f"; the runs differ from their first year ({changed})"
    # About eleven characters an inch at this size: a longer line ran past the figure.
    fig.suptitle(fill(heading, int(11 * fig.get_figwidth())), fontsize=11)
    return fig


def income_figure(results: pd.DataFrame, experiment: Experiment, name: str):
    """Return stacked areas of NGO income by source (medians), baseline and counterfactual."""
    unit, scale = _unit("income_foreign_usd", experiment.baseline)
    fig, axes = _subplots(1, 2, (9, 3.8), sharey=True)
    for ax, key in zip(axes.flat, (BASELINE, name), strict=True):
        medians = results[results.scenario == key].groupby("year")[list(INCOME_SOURCES)].median()
        ax.stackplot(
            medians.index,
            *(medians[c] * scale for c in INCOME_SOURCES),
            labels=[label for label, _ in INCOME_SOURCES.values()],
            colors=[color for _, color in INCOME_SOURCES.values()],
            hatch=list(INCOME_HATCHES),
            edgecolor="white",
            linewidth=0,
            alpha=0.8,
        )
        # A counterfactual of levers runs the baseline's scenario: its own name tells it.
        title = experiment.baseline.name if key == BASELINE else _title(experiment, key)
        ax.set_title(fill(title, 55), fontsize=10)
        mark_projection(ax, experiment)
        ax.set_xlabel("year")
        ax.grid(alpha=0.3)
    axes.flat[0].set_ylabel(f"NGO income, {unit}")
    # Below the panels: inside, it covered the baseline's peak.
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, fontsize=8, loc="outside lower center", ncols=len(labels), frameon=False
    )
    fig.suptitle(
        f"NGO income by source (median of each source over {_runs_text(experiment)}, stacked)",
        fontsize=11,
    )
    return fig


def effects_figure(table: pd.DataFrame, experiment: Experiment):
    """Return every counterfactual's paired difference in each key year, output by output.

    ``table`` is the experiment's summary (``experiments.paired.summary_table``). Each
    panel is one output on its own axis, in the output's unit (amounts in millions), so
    a difference from a baseline of zero (no state money before a policy) shows like any
    other, and a count's difference never reads as a percentage beyond -100%.
    """
    years = experiment.spec.key_years
    outputs = experiment.spec.outputs
    names = experiment.counterfactuals
    markers = len(names) * len(years)
    # Many markers a panel (the mechanisms files: 15 switches x 5 years) sit closer and in
    # four columns, so that the figure stays about a page tall.
    many = markers > 12
    ncols = min(4 if many else 3, len(outputs))
    nrows = -(-len(outputs) // ncols)
    height = 1.3 + (0.08 if many else 0.22) * markers
    fig, axes = _subplots(nrows, ncols, (2.6 * ncols, height * nrows), sharey=True)
    rows = np.arange(len(names))[::-1]
    offsets = np.linspace(0.25, -0.25, len(years)) if len(years) > 1 else [0.0]
    for ax, output in zip(axes.flat, outputs, strict=False):
        unit, scale = _unit(output, experiment.baseline)
        markers = [_YEAR_MARKERS[k % len(_YEAR_MARKERS)] for k in range(len(years))]
        styles = zip(years, offsets, _year_colors(len(years)), markers, strict=True)
        for year, offset, color, marker in styles:
            cells = table[(table.output == output) & (table.year == year)]
            cells = cells.set_index("counterfactual").loc[names]
            mid, low, high = (cells[c] * scale for c in ("diff_median", "diff_q05", "diff_q95"))
            bars = [mid - low, high - mid]
            ax.errorbar(mid, rows + offset, xerr=bars, fmt=marker, ms=3.5, color=color, label=year)
        ax.axvline(0, color="black", lw=0.8)
        # A panel is 2.6 inches wide, its axes about 2.2: 30 characters of 9 pt text ran
        # into the next panel's title ("NGOs funded five years runnin|Foreign share").
        shown = table[table.output == output][["diff_median", "diff_q05", "diff_q95"]]
        # A panel of zeros alone reads as a drawing error; it is a finding.
        same = "" if shown.to_numpy().any() else " (no run differs)"
        ax.set_title(fill(panel_title(output) + same, 25), fontsize=9)
        ax.set_xlabel(f"difference\n({unit})", fontsize=8)
        ax.tick_params(labelsize=8)
        # Differences of shares have long tick labels: fewer of them, or they run together;
        # a count's ticks are whole numbers (no -0.03 donors).
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=output in COUNT_COLUMNS))
        low_x, high_x = ax.get_xlim()
        if output in COUNT_COLUMNS and high_x - low_x < 2:
            # Differences all 0: matplotlib's margin of +-0.05 holds no whole number but 0.
            ax.set_xlim(min(low_x, -1), max(high_x, 1))
        ax.grid(alpha=0.3, axis="x")
    for ax in axes[:, 0]:
        ax.set_yticks(rows, names, fontsize=8)
    for ax in list(axes.flat)[len(outputs) :]:
        ax.axis("off")
    if len(years) > 1:
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, title="key year", loc="outside right center", fontsize=8)
    # One key year has no legend to name it: the title does.
    when = f" in {years[0]}" if len(years) == 1 else ""
    fig.suptitle(
        f"{experiment.spec.name}: each counterfactual minus the baseline{when}, run by run\n"
        f"(median and 90% interval over {_runs_text(experiment)})",
        fontsize=10,
    )
    return fig


# A marker per key year as well as a colour: in grey, or where they overlap, the colours
# alone do not tell the years apart.
_YEAR_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _year_colors(n: int) -> list:
    """Return ``n`` colours from light to dark, one per key year (later years darker)."""
    return (
        [plt.get_cmap("viridis")(x) for x in np.linspace(0.75, 0.05, n)]
        if n > 1
        else ["tab:purple"]
    )


def _periods_within(periods: list, scenario: Scenario) -> list:
    """Return the article's periods clipped to the simulated years."""
    return [
        p.model_copy(
            update={
                "start": max(p.start, scenario.start_year),
                "end": min(p.end, scenario.end_year),
            }
        )
        for p in periods
        if p.start < scenario.end_year and p.end > scenario.start_year
    ]


def _subplots(nrows: int, ncols: int, size: tuple[float, float], sharey: bool = False):
    return plt.subplots(
        nrows, ncols, figsize=size, squeeze=False, sharey=sharey, layout="constrained"
    )


def _by_year(series: pd.Series) -> pd.DataFrame:
    """Return a years x runs table from a series indexed by (draw, replicate, year)."""
    return series.unstack(["draw", "replicate"])


def mark_projection(ax, experiment: Experiment) -> None:
    """Mark the years past the baseline file's own end year: a no-change projection."""
    start = experiment.projection_start
    if start is None:
        return
    ax.axvspan(start - 1, experiment.baseline.end_year, color="0.5", alpha=0.12, lw=0)
    top = ax.get_xaxis_transform()
    ax.text(start, 0.98, " projection", transform=top, fontsize=7, va="top", color="0.3")


def _label(ax, column: str, unit: str, years: range) -> None:
    ax.set_xlim(years.start, years.stop - 1)
    # Two lines where long: "NGO income from state grants and prizes" ran off a third column.
    ax.set_title(fill(panel_title(column), 34), fontsize=10, pad=12)
    ax.set_xlabel("year", fontsize=9)
    # Two lines where long: one ran past a short panel into the title above it.
    ax.set_ylabel(fill(unit, 28), fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)


def _figure_legend(fig, ax, reported_kinds: set[str] = frozenset()) -> None:
    """Add the panels' legend below them, with the kinds of reported figures drawn.

    Reported figures are the article's (``calibration/targets.yaml``) or official counts
    (``targets_external.yaml``).
    """
    handles, _ = ax.get_legend_handles_labels()
    handles += reported_handles(reported_kinds)
    fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=8, frameon=False)


def _runs_text(experiment: Experiment) -> str:
    spec = experiment.spec
    if spec.params == "posterior":
        return f"{spec.draws} posterior draws x {spec.replicates} replicate(s)"
    return f"{spec.draws * spec.replicates} seeds of the scenarios' own parameter values"
