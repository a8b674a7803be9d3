"""The regional network figure: cross-border ties at chosen years, and the ties over time.

Each panel of the top row draws the first replicate's ties in one year: an NGO is a point
in its country's disc (countries at the corners of a triangle), in its sector's wedge and
coloured by sector; a tie is a line. The bottom panel shows each country's
``cross_border_ties`` over time (median and 10-90% band over replicates); a run that keeps
no year's network (``network_years: []``) gets that panel alone. A regional
experiment's counterfactual is drawn as its paired differences over time
(``difference_figure``). The dashboard's regional view (``dashboard.regional``) draws with
the same pieces: ``draw_network`` (there also coloured by country), ``draw_ties_over_time``
and ``difference_figure``.
"""

from __future__ import annotations

from textwrap import fill
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection

# Imported first for its side effect: the Agg backend, as every figure of the project uses.
from calibration.plotting import axis_label, in_millions, panel_title
from model.scenario import COUNTRIES, SECTORS

if TYPE_CHECKING:
    from model.regional_scenario import Region

    from .regional_runs import RegionalTables

# Roughly as on a map: Kazakhstan north, Uzbekistan south-west, Kyrgyzstan south-east.
ANGLES = {"kazakhstan": np.pi / 2, "uzbekistan": 7 * np.pi / 6, "kyrgyzstan": 11 * np.pi / 6}
CENTRES = {c: np.array([np.cos(ANGLES[c]), np.sin(ANGLES[c])]) for c in COUNTRIES}
SECTOR_COLOURS = dict(zip(SECTORS, plt.get_cmap("tab10").colors, strict=False))
COUNTRY_COLOURS = dict(zip(COUNTRIES, ("tab:blue", "tab:red", "tab:green"), strict=True))
# Two countries' equal differences (no tie formed in either) would hide one line under the
# other: each country its own dashes too.
COUNTRY_LINES = dict(zip(COUNTRIES, ("-", "--", ":"), strict=True))
COLOURS = {"sector": SECTOR_COLOURS, "country": COUNTRY_COLOURS}
# The R2 low-discrepancy sequence (Roberts 2018) spreads a country's NGOs over its disc
# without random draws.
_R2 = (0.7548776662466927, 0.5698402909980532)


def node_positions(country: pd.Series, sector: pd.Series, row: pd.Series) -> np.ndarray:
    """Return each NGO's (x, y): its country's disc, its sector's wedge, spread by its row."""
    wedge = 2 * np.pi / len(SECTORS)
    index = sector.map(SECTORS.index).to_numpy()
    rows = row.to_numpy(dtype=float)
    angle = wedge * (index + 0.1 + 0.8 * ((rows * _R2[0]) % 1.0))
    radius = 0.15 + 0.4 * np.sqrt((rows * _R2[1]) % 1.0)
    centre = np.stack(country.map(CENTRES).to_numpy())
    return centre + np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])


def draw_network(ax, edges: pd.DataFrame, year: int, colour_by: str = "sector") -> None:
    """Draw one year's ties on ``ax``, nodes coloured by ``"sector"`` or ``"country"``."""
    ax.set_title(f"{year}: {len(edges):,} ties", fontsize=9)
    ax.set_xlim(-2.2, 2.2)
    ax.set_ylim(-2.0, 2.2)
    ax.set_aspect("equal")
    ax.axis("off")
    for country, centre in CENTRES.items():
        # Straight above (Kazakhstan) or below its disc, clear of the NGOs beside it.
        label = centre + np.array([0.0, 0.8 if centre[1] > 0 else -0.8])
        ax.text(*label, country.capitalize(), ha="center", va="center", fontsize=8)
    if edges.empty:
        return
    a = node_positions(edges.country_a, edges.sector_a, edges.row_a)
    b = node_positions(edges.country_b, edges.sector_b, edges.row_b)
    ax.add_collection(LineCollection(np.stack([a, b], axis=1), colors="0.4", lw=0.3, alpha=0.3))
    palette = COLOURS[colour_by]
    for positions, end in ((a, "a"), (b, "b")):
        colours = [palette[k] for k in edges[f"{colour_by}_{end}"]]
        ax.scatter(positions[:, 0], positions[:, 1], s=4, c=colours, zorder=2)


def legend_handles(colour_by: str = "sector") -> list:
    """Return the legend entries of the nodes' colours (by ``"sector"`` or ``"country"``)."""
    return [
        plt.Line2D([], [], marker="o", ls="", color=colour, label=key.replace("_", " "))
        for key, colour in COLOURS[colour_by].items()
    ]


def draw_ties_over_time(
    ax,
    timeseries: pd.DataFrame,
    column: str = "cross_border_ties",
    ylabel: str = "cross-border ties of the country's NGOs",
) -> None:
    """Draw each country's ``column`` over time: median and 10-90% band over replicates."""
    for country, frame in timeseries.groupby("country", sort=False):
        by_year = frame.groupby("year")[column]
        q = by_year.quantile([0.1, 0.5, 0.9]).unstack()
        colour = COUNTRY_COLOURS[country]
        ax.plot(q.index, q[0.5], color=colour, label=country.capitalize())
        ax.fill_between(q.index, q[0.1], q[0.9], color=colour, alpha=0.2, lw=0)
    ax.set_xlabel("year")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)


def network_figure(tables: RegionalTables, years: list[int], title: str):
    """Return the figure: the network at ``years`` (first replicate) and ties over time.

    Without ``years`` (a file's ``network_years: []``) the figure is the time panel alone.
    """
    if not years:
        return _ties_figure(tables, title)
    shown = [y for y in years if not tables.network.empty and y in set(tables.network.year)]
    columns = len(years)
    fig = plt.figure(figsize=(max(3.2 * columns, 6.4), 7.0))
    # The sectors' legend has a row of its own, between the networks and the time panel:
    # one line of eight where four networks or more give it the width, else two of four.
    per_line = len(SECTORS) if columns >= 4 else len(SECTORS) // 2
    grid = fig.add_gridspec(3, columns, height_ratios=[1.1, 0.16 if columns >= 4 else 0.3, 1.0])
    replicate = tables.network.replicate.min() if not tables.network.empty else 0
    first = tables.network[tables.network.replicate == replicate]
    for k, year in enumerate(years):
        ax = fig.add_subplot(grid[0, k])
        edges = first[first.year == year] if year in shown else first.iloc[:0]
        draw_network(ax, edges, year)
    key = fig.add_subplot(grid[1, :])
    key.axis("off")
    key.legend(handles=legend_handles(), loc="center", ncol=per_line, fontsize=7, title="sector")
    draw_ties_over_time(fig.add_subplot(grid[2, :]), tables.timeseries)
    runs = tables.timeseries.replicate.nunique()
    fig.suptitle(
        f"{title}\nTop: the ties of replicate {replicate} in each year; bottom: median and "
        f"10-90% band over {runs} replicate(s)",
        fontsize=10,
    )
    return fig


def _ties_figure(tables: RegionalTables, title: str):
    """Return the ties over time alone, for a run that keeps no year's network."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    draw_ties_over_time(ax, tables.timeseries)
    runs = tables.timeseries.replicate.nunique()
    fig.suptitle(
        f"{title}\nMedian and 10-90% band over {runs} replicate(s); no network_years, so no "
        "year's network is drawn",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def restriction_spans(region: Region) -> list[tuple[int, int]]:
    """Return the years of the restrictions that hold in every country of ``region``."""
    every = set(region.countries)
    return [
        (max(r.first_year, region.start_year), min(r.last_year, region.end_year))
        for r in region.spec.restrictions
        if set(r.countries) >= every and r.first_year <= region.end_year
    ]


def difference_figure(summary: pd.DataFrame, restrictions: list[tuple[int, int]], title: str):
    """Return a counterfactual's paired differences over time, one panel per output.

    ``summary`` is ``experiments.regional_experiment.paired_summary`` over every year: per
    country, the median difference (counterfactual minus baseline) and its 10-90% band;
    the years of ``restrictions`` (``restriction_spans``) are shaded. An output whose unit
    differs between the countries (an amount in local currency) gets a panel per country:
    tenge, som and sum on one axis would compare nothing. Amounts are drawn in millions.
    """
    panels = _panels(summary)
    rows = (len(panels) + 1) // 2
    fig, axes = plt.subplots(rows, 2, figsize=(10, 3.2 * rows), squeeze=False)
    for ax, (output, countries) in zip(axes.flat, panels, strict=False):
        unit, scale = _unit(summary, output, countries)
        for country in countries:
            frame = summary[(summary.output == output) & (summary.country == country)]
            colour = COUNTRY_COLOURS[country]
            ax.plot(
                frame.year,
                frame.difference_q50 * scale,
                color=colour,
                ls=COUNTRY_LINES[country],
                label=country.capitalize(),
            )
            ax.fill_between(
                frame.year,
                frame.difference_q10 * scale,
                frame.difference_q90 * scale,
                color=colour,
                alpha=0.2,
            )
        ax.axhline(0, color="0.3", lw=0.8)
        for first, last in restrictions:
            ax.axvspan(first - 0.5, last + 0.5, color="tab:red", alpha=0.06, lw=0)
        alone = f": {countries[0].capitalize()}" if len(countries) == 1 else ""
        ax.set_title(fill(panel_title(output) + alone, 50), fontsize=10)
        ax.set_xlabel("year")
        ax.set_ylabel(fill(f"difference, {unit}", 40), fontsize=8)
    for ax in axes.flat[len(panels) :]:
        ax.remove()
    # On a panel with every country: a country's own panel would name it alone.
    widest = max(range(len(panels)), key=lambda k: len(panels[k][1]))
    axes.flat[widest].legend(fontsize=8)
    heading = (
        f"{title}: counterfactual minus baseline, paired (median, 10-90% over replicates; "
        "shaded: restrictions in every country)"
    )
    fig.suptitle(fill(heading, 100), fontsize=10)
    fig.tight_layout()
    return fig


def _panels(summary: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """Return the panels: (output, its countries), one per country where units differ."""
    panels = []
    for output in dict.fromkeys(summary.output):
        rows = summary[summary.output == output]
        countries = list(dict.fromkeys(rows.country))
        if "unit" in rows and rows["unit"].nunique() > 1:
            panels += [(output, [country]) for country in countries]
        else:
            panels.append((output, countries))
    return panels


def _unit(summary: pd.DataFrame, output: str, countries: list[str]) -> tuple[str, float]:
    """Return a panel's unit and scale (amounts in millions, as the country figures draw them).

    The unit is the summary's own (``with_units``: the base year and currency named).
    """
    rows = summary[(summary.output == output) & summary.country.isin(countries)]
    units = rows["unit"].unique() if "unit" in rows else []
    return in_millions(output, units[0] if len(units) == 1 else axis_label(output))
