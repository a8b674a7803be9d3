"""Plots shared by runs, comparisons, the calibration report and experiments (matplotlib).

Fan charts (median with 50% and 90% bands across replicates or posterior draws), the
article's reported figures drawn as points with their tolerance as error bars, and the
article's periods shaded, with a panel per compared quantity in three or four columns.
Figures are written atomically (temporary file, then rename). The posterior's pair plot
is ``calibration.pair_plot``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from textwrap import fill

import matplotlib

matplotlib.use("Agg")
# Titles carry names from the users' files: a "$" there is a dollar, not mathtext (a name
# such as "A $\\x$" ended a run in a traceback after its simulations). No figure uses
# mathtext; every module that draws imports this one.
matplotlib.rcParams["text.parse_math"] = False
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from .atomic import write_atomic  # noqa: E402
from .compare import REPLICATE, acceptable_band  # noqa: E402
from .targets import Period, Target  # noqa: E402

PERIOD_COLORS = ("#f2f2f2", "#e4e9f2")
ROMAN_DIGITS = ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
MARKERS = {"point": "o", "at_least": "^", "at_most": "v", "range": "s"}
MARKER_LABELS = {
    "point": "reported figure",
    "at_least": "reported lower bound",
    "at_most": "reported upper bound",
    "range": "reported range (midpoint)",
}


def roman(number: int) -> str:
    """Return ``number`` (1 to 39) in Roman numerals: the periods' numbers on a panel."""
    text = ""
    for value, digits in ROMAN_DIGITS:
        count, number = divmod(number, value)
        text += digits * count
    return text


def column_unit(column: str, base_year: int | None = None, currency: str | None = None) -> str:
    """Return the unit of an output column (``model.COLUMN_DOCS``, the regional tie columns).

    The one definition of the units that axes, tables and summaries print. With a
    scenario's price base year and currency, amounts name them.
    """
    if column.startswith("share_"):
        return "share (0-1)"
    if column == "foreign_restriction":
        return "restriction (0-1)"
    if column.endswith("_usd"):
        if base_year is None:
            return "constant US$ (the scenario's base year)"
        return f"constant {base_year} US$"
    if column.endswith("_local"):
        return f"{currency or 'local currency'} (nominal)"
    if "ties" in column:
        return "cross-border ties"
    return "donors" if column.startswith("donors") else "NGOs"


# Short titles of the output columns for a figure's panels (their definitions:
# ``model.COLUMN_DOCS`` and the regional ``model.regional.TIE_COLUMNS``); any other column
# is titled by its name.
PANEL_TITLES = {
    "registered": "Registered NGOs",
    "new_registrations": "New registrations",
    "deregistered": "NGOs struck off the register",
    "operational": "Operational NGOs (any activity)",
    "funded": "Funded NGOs (a year of programmes)",
    "reporting": "NGOs filing annual reports",
    "long_active": "NGOs funded five years running",
    "income_foreign_usd": "NGO income from foreign donors",
    "income_state_usd": "NGO income from state grants and prizes",
    "income_domestic_usd": "NGO income from domestic sources",
    "share_income_foreign": "Foreign share of NGO income",
    "share_foreign_funded": "Share of funded NGOs financed by donors",
    "share_foreign_dependent": "Share of funded NGOs over half foreign-financed",
    "share_income_le_5k": "Share of funded NGOs with income up to $5,000",
    "share_income_gt_50k": "Share of funded NGOs with income over $50,000",
    "state_grants_local": "State grants disbursed",
    "state_prizes_local": "State NGO prizes paid",
    "donors_active": "Foreign donors active",
    "donor_budget_usd": "Donors' budgets after their decisions",
    "foreign_restriction": "State restriction on foreign funding",
    "share_ecology": "Share of NGOs working on ecology",
    "share_state_founded": "Share of NGOs founded by the State",
    "cross_border_ties": "Working cross-border ties",
    "share_cross_border": "Share of operational NGOs with a cross-border tie",
    "ties_formed": "Cross-border ties formed",
}


def panel_title(column: str) -> str:
    """Return a panel's title (``PANEL_TITLES``; a column not listed by its name)."""
    return PANEL_TITLES.get(column, column.replace("_", " "))


def quantity_title(column: str, denominator: str | None = None) -> str:
    """Return the title of a quantity: a column, or a column over another."""
    if denominator is None:
        return panel_title(column)
    if denominator == "registered":
        return f"{panel_title(column)}, share of the register"
    over = panel_title(denominator)
    # "NGO income ..." keeps its capitals; "Foreign donors ..." reads on in lower case.
    if not over.split()[0].isupper():
        over = over[0].lower() + over[1:]
    return f"{panel_title(column)} over {over}"


# The article's figures in black; figures of other sources (``targets_external.yaml``) apart.
EXTERNAL_COLOR = "tab:red"


def in_millions(column: str, unit: str) -> tuple[str, float]:
    """Return the axis unit and scale of an output drawn over time: amounts in millions."""
    if column.endswith(("_usd", "_local")):
        return f"million {unit}", 1e-6
    return unit, 1.0


def axis_label(column: str, denominator: str | None = None) -> str:
    """Return the y-axis label (with its unit) of an output column or a ratio of two."""
    if denominator == "registered":
        return "share of registered"
    if denominator is not None:
        return "ratio (see the title)"
    return column_unit(column)


def period_label(period: Period) -> str:
    """Return a period's name with its years, unless the name already gives both."""
    if str(period.start) in period.name and str(period.end) in period.name:
        return period.name
    return f"{period.name} ({period.start}-{period.end})"


def period_key(periods: Mapping[str, list[Period]]) -> str:
    """Return the line that says what each numbered period stands for, per country."""
    keys = []
    for country, items in periods.items():
        named = ", ".join(f"{roman(i + 1)} {period_label(p)}" for i, p in enumerate(items))
        if named:
            keys.append(f"{country}: {named}" if len(periods) > 1 else named)
    # A line per country: the three countries' periods in one line ran a regional
    # figure's title far wider than its panels.
    return "Shaded: the article's periods.\n" + "\n".join(keys) if keys else ""


def comparison_legend(fig, kinds: Iterable[str], external: bool = False) -> float:
    """Add one legend below the panels: the model's median and bands, the reported kinds.

    With ``external``, also the colour of the figures from other sources than the article.
    One row, or two where one is wider than the figure. Returns its height in inches.
    """
    handles = [
        Line2D([], [], color="tab:blue", lw=1.8, label="model median"),
        Patch(color="tab:blue", alpha=0.3, lw=0, label="model 50% band"),
        Patch(color="tab:blue", alpha=0.15, lw=0, label="model 90% band"),
        *reported_handles(kinds),
    ]
    if external:
        handles.append(
            Patch(color=EXTERNAL_COLOR, lw=0, label="red: official figures, not the article's")
        )
    renderer = fig.canvas.get_renderer()
    legend = _foot_legend(fig, handles, len(handles))
    if legend.get_window_extent(renderer).width > fig.bbox.width:
        legend.remove()
        legend = _foot_legend(fig, handles, -(-len(handles) // 2))
    return legend.get_window_extent(renderer).height / fig.dpi


def _foot_legend(fig, handles: list, ncols: int):
    return fig.legend(handles=handles, loc="lower center", ncols=ncols, fontsize=7, frameon=False)


def reported_handles(kinds: Iterable[str], color: str = "black") -> list[Line2D]:
    """Return the legend entries of the reported figures' kinds drawn (``reported_point``)."""
    kinds = set(kinds)
    handles = [
        Line2D([], [], color=color, marker=MARKERS[kind], ls="", label=MARKER_LABELS[kind])
        for kind in MARKERS
        if kind in kinds
    ]
    if handles:
        handles.append(Line2D([], [], color=color, lw=1, label="bars: tolerance; line: years read"))
    return handles


def quantity(frame: pd.DataFrame, column: str, denominator: str | None = None) -> pd.DataFrame:
    """Return a years x replicates table of a column (or a ratio of two columns)."""
    frame = frame if REPLICATE in frame.columns else frame.assign(**{REPLICATE: 0})
    values = frame[column].astype(float)
    if denominator is not None:
        den = frame[denominator].astype(float)
        values = values / den.where(den > 0, np.nan)
    table = pd.DataFrame({"year": frame["year"], REPLICATE: frame[REPLICATE], "v": values})
    return table.pivot(index="year", columns=REPLICATE, values="v")


def fan(ax, table: pd.DataFrame, color: str, label: str) -> None:
    """Draw the median and the 50% and 90% bands of a years x draws table."""
    years = table.index.to_numpy()
    with warnings.catch_warnings():
        # Years where a ratio is undefined in every draw (e.g. no NGOs yet) stay blank.
        warnings.simplefilter("ignore", RuntimeWarning)
        q = np.nanquantile(table.to_numpy(dtype=float), [0.05, 0.25, 0.5, 0.75, 0.95], axis=1)
    if table.shape[1] > 1:
        ax.fill_between(years, q[0], q[4], color=color, alpha=0.15, lw=0, label=f"{label} 90%")
        ax.fill_between(years, q[1], q[3], color=color, alpha=0.3, lw=0, label=f"{label} 50%")
        # Edges in the band's own colour: where two bands overlap, their blend matches
        # neither legend entry, and the edges still tell whose band is whose.
        for edge in (q[0], q[4]):
            ax.plot(years, edge, color=color, lw=0.6, alpha=0.8)
    ax.plot(years, q[2], color=color, lw=1.8, label=f"{label} median")


def shade_periods(ax, periods: Iterable[Period], numbered: bool = False) -> None:
    """Shade the article's periods and name them (or number them) at the top of the axes.

    Numbered (I, II, ...) where panels are small: the names would run into each other,
    and the figure says once what the numbers stand for (``period_key``).
    """
    for i, p in enumerate(periods):
        ax.axvspan(p.start, p.end, color=PERIOD_COLORS[i % 2], zorder=0, lw=0)
        ax.text(
            (p.start + p.end) / 2,
            1.0,
            roman(i + 1) if numbered else p.name,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=6,
            color="0.35",
        )


def reported_point(ax, target: Target, color: str = "black", hollow: bool = False) -> None:
    """Draw a reported figure at its year (or across its years) with its tolerance.

    ``hollow`` draws the marker open (a figure of another source, where the colour is
    the series').
    """
    if target.base_year is not None:
        return
    lo, hi = acceptable_band(target)
    ref = target.reference
    x = target.year if target.years is None else 0.5 * (target.years[0] + target.years[1])
    lower = ref - lo if np.isfinite(lo) else 0.0
    upper = hi - ref if np.isfinite(hi) else 0.0
    marker = MARKERS[target.kind]
    face = "white" if hollow else color
    ax.errorbar(
        [x],
        [ref],
        yerr=[[lower], [upper]],
        fmt=marker,
        color=color,
        mfc=face,
        ms=5,
        capsize=3,
        zorder=5,
    )
    if target.years is not None:
        ax.hlines(ref, target.years[0], target.years[1], color=color, lw=1, zorder=5)


def panels_for(targets: Iterable[Target]) -> list[tuple[str, str | None]]:
    """Return the distinct (column, denominator) quantities the targets speak about."""
    seen: list[tuple[str, str | None]] = []
    for t in targets:
        key = (t.column, t.denominator)
        if key not in seen:
            seen.append(key)
    return seen


def save_figure(fig, path: str | Path, dpi: int = 150) -> Path:
    """Write a figure to ``path`` through a temporary file, so no half-written PNG remains."""
    try:
        return write_atomic(
            path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
        )
    finally:
        plt.close(fig)


def comparison_figure(
    runs: Mapping[str, pd.DataFrame],
    targets: Iterable[Target],
    periods: Mapping[str, list[Period]],
    title: str = "",
):
    """Return a figure with a panel per compared quantity and country.

    Each panel shows the model's median and 50%/90% bands over time, the reported
    figures with their tolerance, and the article's periods.
    """
    targets = [t for t in targets if t.country in runs]
    layout = [(c, q) for c in runs for q in panels_for(t for t in targets if t.country == c)]
    ncols = grid_columns(len(layout))
    nrows = max(1, -(-len(layout) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 2.9 * nrows), squeeze=False)
    for ax, (country, (column, denominator)) in zip(axes.flat, layout, strict=False):
        shade_periods(ax, periods.get(country, []), numbered=True)
        fan(ax, quantity(runs[country], column, denominator), "tab:blue", "model")
        for t in targets:
            if t.country == country and (t.column, t.denominator) == (column, denominator):
                reported_point(ax, t, color=EXTERNAL_COLOR if t.external else "black")
        panel = f"{country.capitalize()}: {quantity_title(column, denominator)}"
        ax.set_title(fill(panel, 60), fontsize=8, pad=12)
        ax.set_ylabel(axis_label(column, denominator), fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(layout) :]:
        ax.axis("off")
    key = period_key({c: periods.get(c, []) for c in runs})
    width = int(12 * fig.get_figwidth())  # characters of 9 pt text across the panels
    lines = [fill(line, width) for line in (title, *key.splitlines(), _undrawn(targets)) if line]
    heading = "\n".join(lines)
    if heading:
        fig.suptitle(heading, fontsize=9)
    drawn = [t for t in targets if t.base_year is None]
    legend = comparison_legend(fig, {t.kind for t in drawn}, any(t.external for t in drawn))
    # Room at the foot for the legend; tight_layout leaves the heading its lines, and a
    # quarter inch more keeps it off the first row's titles and period numerals.
    top = 1 - 0.25 / fig.get_figheight() if heading else 1
    fig.tight_layout(rect=(0, (legend + 0.1) / fig.get_figheight(), 1, top))
    return fig


def grid_columns(panels: int) -> int:
    """Return 3 or 4 columns for ``panels``, whichever leaves fewer empty (4 on a tie)."""
    return 3 if -panels % 3 < -panels % 4 else 4


def _undrawn(targets: Iterable[Target]) -> str:
    """Return the line naming the figures a time axis cannot show: ratios of two years."""
    ratios = [t.id for t in targets if t.base_year is not None]
    return f"Ratios of two years, in the table only: {', '.join(ratios)}." if ratios else ""


def timeseries_figure(frame: pd.DataFrame, country: str, targets: Iterable[Target], title: str):
    """Return the run figure: registered, operational and reporting NGOs over time."""
    fig, ax = plt.subplots(figsize=(7, 4.6), layout="constrained")
    colors = {"registered": "tab:blue", "operational": "tab:orange", "reporting": "tab:green"}
    kinds, external = set(), False
    for column, color in colors.items():
        fan(ax, quantity(frame, column), color, column)
        for t in targets:
            if t.country == country and t.column == column and t.denominator is None:
                reported_point(ax, t, color=color, hollow=t.external)
                # A ratio of two years is not drawn (``reported_point``): no legend entry.
                if t.base_year is None:
                    kinds.add(t.kind)
                    external |= t.external
    ax.set_xlabel("year")
    ax.set_ylabel("NGOs")
    ax.set_title(title, fontsize=10)
    handles, _ = ax.get_legend_handles_labels()
    # The reported figures take their series' colour; their markers say what kind they
    # are, and an open marker that it is not the article's (as compare.png's red).
    handles += reported_handles(kinds, color="0.3")
    if external:
        handles.append(
            Line2D(
                [],
                [],
                color="0.3",
                marker="o",
                mfc="white",
                ls="",
                label="open: official figures, not the article's",
            )
        )
    # Below the axes: inside, it covered the curves where they are highest.
    fig.legend(handles=handles, fontsize=7, ncols=3, loc="outside lower center", frameon=False)
    ax.grid(alpha=0.3)
    return fig
