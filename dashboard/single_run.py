"""The single-run view's plots: NGOs by year, the funding mix and this year's incomes.

Each plot is built once per model and updated every year (rebuilding a figure each step
cost about as much as drawing it). The plots read the model's yearly reporters
(``model.metrics``, collected by ``NGOModel.datacollector``) and, for the income
histogram, the population arrays; the article's reported figures (Jaysanov 2023, CAJOTAS
4(6)) come from ``calibration/targets.yaml``. Used by ``app.py``; docs: docs/dashboard.md.
"""

from __future__ import annotations

import numpy as np
import solara
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator
from mesa.visualization.utils import update_counter

from calibration.plotting import reported_point, shade_periods
from calibration.targets import Target, load_target_file
from experiments.figures import INCOME_HATCHES, INCOME_SOURCES
from model import NGOModel
from model.population import OPERATING

COUNT_COLORS = {"registered": "tab:blue", "operational": "tab:orange", "reporting": "tab:green"}
INCOME_BINS = np.logspace(1, 7, 25)  # 10 to 10 million nominal US$, four bins a decade
INCOME_TICKS = [10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000]
INCOME_TICK_LABELS = ["$10", "$100", "$1k", "$10k", "$100k", "$1M", "$10M"]
INCOME_THRESHOLDS = {"share_income_le_5k": ("<=", 5_000), "share_income_gt_50k": (">", 50_000)}
FIGSIZE = (6.4, 3.6)
MARGINS = {"left": 0.11, "right": 0.96, "bottom": 0.14, "top": 0.87}
TARGET_FILE = load_target_file()


def _country_targets(model: NGOModel, columns) -> list[Target]:
    return [
        t
        for t in TARGET_FILE.targets
        if t.country == model.config.country and t.column in columns and t.denominator is None
    ]


def _as_share(target: Target) -> str:
    """Return a reported share as a percentage with its kind (>=, <=, range)."""
    if target.kind == "range":
        return f"{target.low:.0%}-{target.high:.0%}"
    sign = {"point": "", "at_least": ">=", "at_most": "<="}[target.kind]
    return f"{sign}{target.value:.0%}"


def _figure() -> tuple[Figure, Axes]:
    """Return a figure and its axes with fixed margins.

    Fixed margins instead of a layout engine: the constrained layout took over half of
    each step's rendering time (measured with pyinstrument).
    """
    fig = Figure(figsize=FIGSIZE)
    fig.subplots_adjust(**MARGINS)
    return fig, fig.subplots()


def _year_axis(ax: Axes, model: NGOModel) -> None:
    ax.set_xlim(model.config.start_year - 0.5, model.config.end_year + 0.5)
    ax.set_xlabel("year")
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=8)


def _top(value: float) -> float:
    """Return the upper y limit for data up to ``value`` (1 when there is none yet)."""
    return 1.08 * value if value > 0 else 1.0


class CountsPlot:
    """Registered, operational and reporting NGOs by year, with the article's figures.

    Built once per model and updated each year: rebuilding the figure every step cost
    about as much as drawing it.
    """

    def __init__(self, model: NGOModel):
        self.fig, self.ax = _figure()
        ax = self.ax
        shade_periods(ax, TARGET_FILE.periods.get(model.config.country, []))
        for target in _country_targets(model, COUNT_COLORS):
            reported_point(ax, target, color=COUNT_COLORS[target.column])
        self.reported_top = ax.dataLim.y1 if ax.dataLim.height > 0 else 0.0
        self.lines = {
            column: ax.plot(
                [],
                [],
                color=color,
                lw=1.8,
                marker="o",
                ms=3,
                markevery=[-1],
                label=f"{column} (model)",
            )[0]
            for column, color in COUNT_COLORS.items()
        }
        ax.plot([], [], "o", color="0.3", label="article's figure ± tolerance")
        _year_axis(ax, model)
        ax.set_ylabel("NGOs")
        ax.set_title(f"NGOs - {model.config.name}", fontsize=9, pad=12)
        ax.legend(fontsize=7, loc="upper left")

    def update(self, model: NGOModel) -> Figure:
        """Draw the years simulated so far."""
        frame = model.datacollector.get_model_vars_dataframe()
        for column, line in self.lines.items():
            line.set_data(frame["year"], frame[column])
        top = frame[list(COUNT_COLORS)].to_numpy().max() if len(frame) else 0.0
        self.ax.set_ylim(0, _top(max(top, self.reported_top)))
        return self.fig


class FundingPlot:
    """All NGOs' income by source, by year (constant US dollars), stacked."""

    def __init__(self, model: NGOModel):
        self.fig, self.ax = _figure()
        self.stack: list = []
        _year_axis(self.ax, model)
        self.ax.set_ylabel(f"million US$ of {model.config.cpi_base_year}")
        self.ax.legend(
            handles=[
                Patch(facecolor=color, edgecolor="white", hatch=hatch, alpha=0.8)
                for (_, color), hatch in zip(INCOME_SOURCES.values(), INCOME_HATCHES, strict=True)
            ],
            labels=[label for label, _ in INCOME_SOURCES.values()],
            fontsize=7,
            loc="upper left",
        )

    def update(self, model: NGOModel) -> Figure:
        """Draw the years simulated so far."""
        frame = model.datacollector.get_model_vars_dataframe()
        for artist in self.stack:
            artist.remove()
        millions = [frame[c].to_numpy() / 1e6 for c in INCOME_SOURCES]
        self.stack = self.ax.stackplot(
            frame["year"],
            *millions,
            colors=[color for _, color in INCOME_SOURCES.values()],
            hatch=list(INCOME_HATCHES),
            edgecolor="white",
            linewidth=0,
            alpha=0.8,
        )
        self.ax.set_ylim(0, _top(float(np.sum(millions, axis=0).max()) if len(frame) else 0.0))
        share = (
            f", foreign share {frame['share_income_foreign'].iloc[-1]:.0%}" if len(frame) else ""
        )
        self.ax.set_title(f"Funding mix of all NGOs{share}", fontsize=9)
        return self.fig


class IncomePlot:
    """Histogram of this year's income of funded NGOs (nominal US$, log bins).

    Funded: running programmes on this year's income or reserves (the output ``funded``),
    the NGOs whose income the article's shares describe; fewer than ``operational``,
    which counts any activity.
    """

    def __init__(self, model: NGOModel):
        self.fig, self.ax = _figure()
        ax = self.ax
        _, _, self.bars = ax.hist([], bins=INCOME_BINS, color="0.6")
        self.targets = _country_targets(model, INCOME_THRESHOLDS)
        for target in self.targets:
            side, dollars = INCOME_THRESHOLDS[target.column]
            ax.axvline(dollars, color="black", ls="--" if side == "<=" else ":", lw=1, label=" ")
        self.legend = ax.legend(fontsize=7, loc="upper right") if self.targets else None
        ax.set_xscale("log")
        ax.set_xlim(INCOME_BINS[0], INCOME_BINS[-1])
        # Plain dollar labels: the default log-axis labels are mathtext, whose parsing took
        # a third of each step's rendering time, and minor ticks another sixth.
        ax.xaxis.set_major_locator(FixedLocator(INCOME_TICKS))
        ax.xaxis.set_major_formatter(FixedFormatter(INCOME_TICK_LABELS))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("income this year (nominal US$; below $10 and above $10M at the ends)")
        ax.set_ylabel("funded NGOs")
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)

    def update(self, model: NGOModel) -> Figure:
        """Draw the income distribution of the year just simulated."""
        pop = model.population
        income = pop.total_income()[pop.view("status") == OPERATING]
        if model.row:  # before the first year there is no income, nor a year to convert it in
            income = income * model.constant_to_nominal_usd(model.year)
        positive = income[income > 0]
        counts, _ = np.histogram(np.clip(positive, INCOME_BINS[0], INCOME_BINS[-1]), INCOME_BINS)
        for bar, count in zip(self.bars, counts, strict=True):
            bar.set_height(count)
        self.ax.set_ylim(0, _top(float(counts.max())))
        if model.row:
            title = (
                f"Income of the {income.size:,} funded NGOs (running programmes) in {model.year}\n"
                f"({income.size - positive.size:,} with no income, living on reserves, not drawn)"
            )
        else:
            title = "Income of funded NGOs (no year simulated yet: press Step)"
        self.ax.set_title(title, fontsize=9)
        if self.legend is not None:
            for text, target in zip(self.legend.get_texts(), self.targets, strict=True):
                side, dollars = INCOME_THRESHOLDS[target.column]
                share = model.row.get(target.column)
                text.set_text(
                    f"{side} ${dollars:,}: model {'-' if share is None else f'{share:.0%}'}, "
                    f"article {_as_share(target)} ({target.label.split(' ', 1)[1]})"
                )
        return self.fig


def _show(plot_class: type, model: NGOModel) -> None:
    """Render a plot of ``model`` (built once per model, updated on every render)."""
    plot = solara.use_memo(lambda: plot_class(model), dependencies=[model])
    # The figure object stays the same, so the image is redrawn when these change.
    solara.FigureMatplotlib(
        plot.update(model), dependencies=[model, model.steps], format="png", dpi=100
    )


@solara.component
def NGOCounts(model: NGOModel):
    """Registered, operational and reporting NGOs by year, with the article's figures."""
    update_counter.get()
    _show(CountsPlot, model)


@solara.component
def FundingMix(model: NGOModel):
    """All NGOs' income by source, by year (constant US dollars)."""
    update_counter.get()
    _show(FundingPlot, model)


@solara.component
def IncomeDistribution(model: NGOModel):
    """Histogram of this year's income of funded NGOs (nominal US$, log bins).

    Funded: running programmes on this year's income or reserves (the output ``funded``),
    the NGOs whose income the article's shares describe; fewer than ``operational``,
    which counts any activity.
    """
    update_counter.get()
    _show(IncomePlot, model)
