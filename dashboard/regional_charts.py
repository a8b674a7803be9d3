"""The regional view's tables and charts: ties over time, by pair and sector, the network.

What the dashboard's regional view (``dashboard.regional``) shows of a regional run's
tables (``experiments.regional_runs.RegionalTables``): each country's cross-border ties and
share of operational NGOs with a tie over time, the ties by country pair and by sector, and
the network in one year, with the regional scenario's dated events (programmes,
restrictions) on the time axis. The network and the curves per country are drawn by
``experiments.regional_figures``, as in the figure of ``ngo-abm run
scenarios/central_asia.yaml``; this module adds the events, the breakdowns and the
page's layout. Source: Jaysanov (2023) on regional cooperation; docs/dashboard.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd

from experiments.regional_figures import (
    SECTOR_COLOURS,
    draw_network,
    draw_ties_over_time,
    legend_handles,
)
from experiments.regional_runs import RegionalTables
from model.regional_scenario import Region
from model.tie_arrays import MIXED

PROGRAMME_COLOUR = "tab:olive"
RESTRICTION_COLOUR = "tab:red"
# A span this long holds its event's name inside its bar.
INSIDE_BAR_YEARS = 8
SHARE_LABEL = "share of operational NGOs with a cross-border tie"


@dataclass(frozen=True)
class Event:
    """A dated regional event: a programme or a restriction, its countries and its years."""

    name: str
    kind: str
    countries: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]

    def runs_in(self, year: int) -> bool:
        """Return whether the event runs (or is in force) in ``year``."""
        return any(first <= year <= last for first, last in self.spans)


def year_spans(years: list[int]) -> tuple[tuple[int, int], ...]:
    """Return sorted years as runs of consecutive years, ``(first, last)`` each."""
    spans: list[list[int]] = []
    for year in sorted(set(years)):
        if spans and year == spans[-1][1] + 1:
            spans[-1][1] = year
        else:
            spans.append([year, year])
    return tuple((first, last) for first, last in spans)


def regional_events(region: Region) -> list[Event]:
    """Return the region's programmes and restrictions with their years within the run."""
    years = range(region.start_year, region.end_year + 1)
    events = [
        Event(
            p.name, "programme", tuple(p.countries), year_spans([y for y in years if p.runs_in(y)])
        )
        for p in region.spec.programmes
    ]
    events += [
        Event(
            r.name,
            "restriction",
            tuple(r.countries),
            year_spans([y for y in years if r.first_year <= y <= r.last_year]),
        )
        for r in region.spec.restrictions
    ]
    return [e for e in events if e.spans]


def every_year(region: Region) -> Region:
    """Return the region recording its network every year, so any year can be shown.

    Only what the run records changes (``network_years``); the runs themselves do not.
    """
    years = list(range(region.start_year, region.end_year + 1))
    spec = region.spec.model_copy(update={"network_years": years})
    copy = Region(region.path, spec, region.countries)
    copy.params = region.params
    return copy


def median_ties_by(ties: pd.DataFrame, key: str) -> pd.DataFrame:
    """Return the median over replicates of the ties per year and ``key`` (pair or sector).

    One row per year, one column per value of ``key``; a replicate's ties are summed over
    the other key first.
    """
    per_replicate = ties.groupby(["replicate", "year", key]).ties.sum()
    return per_replicate.groupby(["year", key]).median().unstack(key)


def network_at(network: pd.DataFrame, year: int, replicate: int) -> pd.DataFrame:
    """Return the ties of one replicate in one year (an empty table if none were recorded)."""
    return network[(network.year == year) & (network.replicate == replicate)]


def _shade_restrictions(ax, events: list[Event], countries: int) -> None:
    """Shade the years of the restrictions on every country (one country's: timeline only)."""
    for event in events:
        if event.kind == "restriction" and len(event.countries) == countries:
            for first, last in event.spans:
                ax.axvspan(first - 0.5, last + 0.5, color=RESTRICTION_COLOUR, alpha=0.06, lw=0)


def _draw_timeline(ax, events: list[Event]) -> None:
    """Draw one row per event: its years as bars, its name beside them (inside the axes)."""
    middle = sum(ax.get_xlim()) / 2
    for row, event in enumerate(events):
        colour = PROGRAMME_COLOUR if event.kind == "programme" else RESTRICTION_COLOUR
        bars = [(first - 0.4, last - first + 0.8) for first, last in event.spans]
        ax.broken_barh(bars, (row - 0.35, 0.7), color=colour, alpha=0.8)
        first, last = event.spans[0][0], event.spans[-1][1]
        label = event.name if event.kind == "programme" else f"{event.name} ({_who(event)})"
        if max(b - a for a, b in event.spans) >= INSIDE_BAR_YEARS:
            ax.text(first + 0.2, row, label, va="center", fontsize=7, color="white")
        elif last < middle:
            ax.text(last + 0.8, row, label, va="center", fontsize=7)
        else:
            ax.text(first - 0.8, row, label, va="center", ha="right", fontsize=7)
    ax.set_yticks([])
    ax.set_ylim(len(events) - 0.5, -0.5)
    ax.set_xlabel("year")
    ax.set_title(
        "Regional programmes (olive) and restrictions (red; shaded above if region-wide)",
        fontsize=9,
    )


def _who(event: Event) -> str:
    return ", ".join(c.capitalize() for c in event.countries)


def ties_figure(tables: RegionalTables, events: list[Event]):
    """Return the ties over time: per country, the share of NGOs tied, and the events."""
    fig, (ties, share, timeline) = plt.subplots(
        3, 1, figsize=(10, 10), sharex=True, height_ratios=[1, 1, 0.9]
    )
    draw_ties_over_time(ties, tables.timeseries)
    draw_ties_over_time(share, tables.timeseries, "share_cross_border", SHARE_LABEL)
    countries = tables.timeseries.country.nunique()
    for ax in (ties, share):
        _shade_restrictions(ax, events, countries)
        ax.tick_params(labelbottom=True)
    ties.set_title("Cross-border ties per country (median, 10-90% over replicates)", fontsize=10)
    share.set_title("Share of operational NGOs with a cross-border tie", fontsize=10)
    _draw_timeline(timeline, events)
    fig.tight_layout()
    return fig


def breakdown_figure(tables: RegionalTables, events: list[Event]):
    """Return the ties by country pair (lines) and by sector (stacked), medians over replicates."""
    fig, (pairs, sectors) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    by_pair = median_ties_by(tables.ties, "pair")
    for pair in by_pair.columns:
        pairs.plot(by_pair.index, by_pair[pair], label=pair.replace("-", " - "))
    pairs.set_title("Ties by country pair (median over replicates)", fontsize=10)
    pairs.set_ylabel("ties")
    pairs.legend(fontsize=8)
    by_sector = median_ties_by(tables.ties, "sector")
    order = [s for s in (*SECTOR_COLOURS, MIXED) if s in by_sector.columns]
    colours = [SECTOR_COLOURS.get(s, "0.75") for s in order]
    labels = [s.replace("_", " ") if s != MIXED else "across sectors" for s in order]
    sectors.stackplot(by_sector.index, by_sector[order].T, labels=labels, colors=colours)
    sectors.set_title("Ties by sector (both NGOs in it; median over replicates)", fontsize=10)
    sectors.set_ylabel("ties")
    sectors.set_xlabel("year")
    sectors.legend(fontsize=7, loc="upper left", ncol=3)
    for ax in (pairs, sectors):
        _shade_restrictions(ax, events, tables.timeseries.country.nunique())
    fig.tight_layout()
    return fig


def network_year_figure(edges: pd.DataFrame, year: int, colour_by: str):
    """Return the network in one year, nodes coloured by ``"sector"`` or ``"country"``."""
    fig, ax = plt.subplots(figsize=(6, 5.5))
    draw_network(ax, edges, year, colour_by)
    ax.legend(handles=legend_handles(colour_by), loc="lower center", ncol=5, fontsize=7)
    fig.tight_layout()
    return fig
