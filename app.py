"""Interactive dashboard of the NGO-sector model (Mesa SolaraViz): ``solara run app.py``.

Also started by ``ngo-abm dashboard``. Two views, one tab each. *Home* steps through one
run: pick a scenario (a country of Jaysanov 2023, CAJOTAS 4(6), or a counterfactual), set
the policy levers of ``model.levers`` and a seed, press Reset to build the model, then Step
or play it year by year. *counterfactual* runs a baseline and a counterfactual over
posterior draws on common random numbers, with bands (``dashboard.counterfactual``).
The single-run plots read the model's yearly reporters (``model.metrics``, collected by
``NGOModel.datacollector``) and, for the income histogram, the population arrays; the
article's reported figures come from ``calibration/targets.yaml``. Calibrated parameters
(the posterior median) are used when ``calibration/posterior.parquet`` exists. How to use
it: ``docs/dashboard.md``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import solara
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from calibration.plotting import reported_point, shade_periods
from calibration.posterior import has_posterior, posterior_median
from calibration.targets import Target, load_target_file
from dashboard.counterfactual import CounterfactualView
from model import COUNTRIES, NGOModel, Scenario, ScenarioError, load_scenario
from model.levers import apply_levers
from model.population import OPERATING

ROOT = Path(__file__).resolve().parent
SCENARIO_DIR = ROOT / "scenarios"
NOT_SCENARIOS = frozenset({"base.yaml", "behaviour.yaml"})
AS_IN_SCENARIO = "as in scenario"
DEFAULT_SCENARIO = "kyrgyzstan"
DEFAULT_SEED = 1
DEFAULT_CUT_YEAR = 2016
COUNT_COLORS = {"registered": "tab:blue", "operational": "tab:orange", "reporting": "tab:green"}
FUNDING_SOURCES = {
    "income_foreign_usd": ("foreign donors", "tab:red"),
    "income_state_usd": ("state grants and prizes", "tab:blue"),
    "income_domestic_usd": ("domestic (fees, donations, earned)", "tab:olive"),
}
INCOME_BINS = np.logspace(1, 7, 25)  # 10 to 10 million nominal US$, four bins a decade
INCOME_TICKS = [10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000]
INCOME_TICK_LABELS = ["$10", "$100", "$1k", "$10k", "$100k", "$1M", "$10M"]
INCOME_THRESHOLDS = {"share_income_le_5k": ("<=", 5_000), "share_income_gt_50k": (">", 50_000)}
FIGSIZE = (6.4, 3.6)
MARGINS = {"left": 0.11, "right": 0.96, "bottom": 0.14, "top": 0.87}
# Mesa's sliders show their value only while dragged; show it always, above the thumb.
SLIDER_VALUES_CSS = """
.v-input__slider .v-slider__thumb-label-container { display: block !important; }
.v-input__slider { margin-top: 28px; }
"""


def discover_scenarios(folder: Path = SCENARIO_DIR) -> tuple[dict[str, Scenario], dict[str, str]]:
    """Load every scenario YAML in ``folder`` and ``folder/counterfactuals``.

    Args:
        folder: The scenarios folder.

    Returns:
        ``({key: scenario}, {key: reason})``: the scenarios offered, keyed by their path
        under ``folder`` without ``.yaml`` (countries first), and the files that did not
        load as a country scenario with the one-line reason.
    """
    found: dict[str, Scenario] = {}
    skipped: dict[str, str] = {}
    paths = sorted(folder.glob("*.yaml")) + sorted((folder / "counterfactuals").glob("*.yaml"))
    for path in paths:
        if path.name in NOT_SCENARIOS:
            continue
        key = path.relative_to(folder).with_suffix("").as_posix()
        try:
            found[key] = load_scenario(path)
        except ScenarioError as exc:
            skipped[key] = str(exc)
    countries = [k for k in found if k in COUNTRIES]
    return {k: found[k] for k in countries + [k for k in found if k not in countries]}, skipped


def calibrated(scenario: Scenario) -> tuple[Scenario, str]:
    """Return the scenario with the posterior median applied (when there is one) and a note."""
    if not has_posterior():
        return scenario, "uncalibrated: no calibration/posterior.parquet yet (values as written)"
    try:
        return scenario.with_params(posterior_median()), "calibrated: posterior median"
    except ScenarioError as exc:
        return scenario, f"uncalibrated: the posterior could not be used ({exc})"


def parse_seed(text: object) -> tuple[int, str | None]:
    """Return the seed typed in the seed box, or the default seed and why it was not used."""
    try:
        seed = int(str(text).strip())
    except ValueError:
        return DEFAULT_SEED, f"seed {text!r} is not a whole number: seed {DEFAULT_SEED} used"
    if seed < 0:
        return DEFAULT_SEED, f"seed {seed} is negative: seed {DEFAULT_SEED} used"
    return seed, None


def _optional(value: object, kind: type) -> int | float | None:
    """Return ``None`` for the 'as in scenario' choice, else the choice as a number."""
    return None if value in (None, AS_IN_SCENARIO) else kind(value)


def lever_values(
    state_grant_scale: float = 1.0,
    state_funding_start: str | int = AS_IN_SCENARIO,
    donor_budget_scale: float = 1.0,
    foreign_cut_year: int = DEFAULT_CUT_YEAR,
    foreign_cut_depth: float = 0.0,
    registration_burden: str | float = AS_IN_SCENARIO,
) -> dict[str, int | float | None]:
    """Return the keywords of ``model.levers.apply_levers`` from the levers' controls.

    ``"as in scenario"`` stands for ``None``; the defaults change nothing.
    """
    return {
        "state_grant_scale": float(state_grant_scale),
        "state_funding_start": _optional(state_funding_start, int),
        "donor_budget_scale": float(donor_budget_scale),
        "foreign_cut_year": int(foreign_cut_year),
        "foreign_cut_depth": float(foreign_cut_depth),
        "registration_burden": _optional(registration_burden, float),
    }


SCENARIOS, SKIPPED = discover_scenarios()
TARGET_FILE = load_target_file()
FIRST_YEAR = min(s.start_year for s in SCENARIOS.values())
LAST_YEAR = max(s.end_year for s in SCENARIOS.values())


class DashboardModel(NGOModel):
    """``NGOModel`` built from the dashboard's controls (SolaraViz passes them as keywords).

    Args:
        scenario_name: Key of a discovered scenario (``kyrgyzstan``,
            ``counterfactuals/<name>``). Not called ``scenario``: Mesa's ``Model`` and
            SolaraViz reserve that name.
        seed: The run's seed, as typed (a whole number >= 0).
        **levers: The levers' controls, as ``lever_values`` takes them.
    """

    def __init__(
        self, scenario_name: str = DEFAULT_SCENARIO, seed: str | int = DEFAULT_SEED, **levers
    ):
        base, self.calibration = calibrated(SCENARIOS[scenario_name])
        self.levers = lever_values(**levers)
        run_seed, seed_note = parse_seed(seed)
        self.scenario_name = scenario_name
        self.notes = [seed_note] if seed_note else []
        self.notes += self._lever_notes(base)
        super().__init__(apply_levers(base, **self.levers), rng=run_seed)

    def _lever_notes(self, base: Scenario) -> list[str]:
        """Return warnings about levers that cannot act on this scenario."""
        notes = []
        budget = base.state.grant_budget_local
        funded = any(budget.at(y) > 0 for y in base.years)
        if self.levers["state_funding_start"] is not None and not funded:
            notes.append("this scenario's state never funds NGOs: the start year changes nothing")
        if self.levers["state_grant_scale"] != 1.0 and not funded:
            notes.append("this scenario's state never funds NGOs: the grant scale changes nothing")
        return notes

    def active_levers(self) -> list[str]:
        """Return the levers that differ from the scenario, as short phrases."""
        lv = self.levers
        phrases = []
        if lv["state_grant_scale"] != 1.0:
            phrases.append(f"state grant budget x{lv['state_grant_scale']:g}")
        if lv["state_funding_start"] is not None:
            phrases.append(f"state grants start in {lv['state_funding_start']}")
        if lv["donor_budget_scale"] != 1.0:
            phrases.append(f"donor budgets x{lv['donor_budget_scale']:g}")
        if lv["foreign_cut_depth"] > 0:
            phrases.append(
                f"foreign funding restricted to at least {lv['foreign_cut_depth']:g} "
                f"from {lv['foreign_cut_year']}"
            )
        if lv["registration_burden"] is not None:
            phrases.append(f"registration burden held at {lv['registration_burden']:g}")
        return phrases


def _country_targets(model: DashboardModel, columns) -> list[Target]:
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


def _year_axis(ax: Axes, model: DashboardModel) -> None:
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

    def __init__(self, model: DashboardModel):
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

    def update(self, model: DashboardModel) -> Figure:
        """Draw the years simulated so far."""
        frame = model.datacollector.get_model_vars_dataframe()
        for column, line in self.lines.items():
            line.set_data(frame["year"], frame[column])
        top = frame[list(COUNT_COLORS)].to_numpy().max() if len(frame) else 0.0
        self.ax.set_ylim(0, _top(max(top, self.reported_top)))
        return self.fig


class FundingPlot:
    """All NGOs' income by source, by year (constant US dollars), stacked."""

    def __init__(self, model: DashboardModel):
        self.fig, self.ax = _figure()
        self.stack: list = []
        _year_axis(self.ax, model)
        self.ax.set_ylabel(f"million US$ of {model.config.cpi_base_year}")
        self.ax.legend(
            handles=[Patch(color=color, alpha=0.8) for _, color in FUNDING_SOURCES.values()],
            labels=[label for label, _ in FUNDING_SOURCES.values()],
            fontsize=7,
            loc="upper left",
        )

    def update(self, model: DashboardModel) -> Figure:
        """Draw the years simulated so far."""
        frame = model.datacollector.get_model_vars_dataframe()
        for artist in self.stack:
            artist.remove()
        millions = [frame[c].to_numpy() / 1e6 for c in FUNDING_SOURCES]
        self.stack = self.ax.stackplot(
            frame["year"],
            *millions,
            colors=[color for _, color in FUNDING_SOURCES.values()],
            alpha=0.8,
        )
        self.ax.set_ylim(0, _top(float(np.sum(millions, axis=0).max()) if len(frame) else 0.0))
        share = (
            f", foreign share {frame['share_income_foreign'].iloc[-1]:.0%}" if len(frame) else ""
        )
        self.ax.set_title(f"Funding mix of all NGOs{share}", fontsize=9)
        return self.fig


class IncomePlot:
    """Histogram of this year's income of operating NGOs (nominal US$, log bins)."""

    def __init__(self, model: DashboardModel):
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
        ax.set_ylabel("operating NGOs")
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)

    def update(self, model: DashboardModel) -> Figure:
        """Draw the income distribution of the year just simulated."""
        pop = model.population
        income = pop.total_income()[pop.view("status") == OPERATING]
        income = income * model.constant_to_nominal_usd(model.year)
        positive = income[income > 0]
        counts, _ = np.histogram(np.clip(positive, INCOME_BINS[0], INCOME_BINS[-1]), INCOME_BINS)
        for bar, count in zip(self.bars, counts, strict=True):
            bar.set_height(count)
        self.ax.set_ylim(0, _top(float(counts.max())))
        if model.row:
            title = (
                f"Income of the {income.size:,} operating NGOs in {model.year}\n"
                f"({income.size - positive.size:,} with no income, living on reserves, not drawn)"
            )
        else:
            title = "Income of operating NGOs (no year simulated yet: press Step)"
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


def _show(plot_class: type, model: DashboardModel) -> None:
    """Render a plot of ``model`` (built once per model, updated on every render)."""
    plot = solara.use_memo(lambda: plot_class(model), dependencies=[model])
    # The figure object stays the same, so the image is redrawn when these change.
    solara.FigureMatplotlib(
        plot.update(model), dependencies=[model, model.steps], format="png", dpi=100
    )


@solara.component
def NGOCounts(model: DashboardModel):
    """Registered, operational and reporting NGOs by year, with the article's figures."""
    update_counter.get()
    _show(CountsPlot, model)


@solara.component
def FundingMix(model: DashboardModel):
    """All NGOs' income by source, by year (constant US dollars)."""
    update_counter.get()
    _show(FundingPlot, model)


@solara.component
def IncomeDistribution(model: DashboardModel):
    """Histogram of this year's income of operating NGOs (nominal US$, log bins)."""
    update_counter.get()
    _show(IncomePlot, model)


@solara.component
def RunInfo(model: DashboardModel):
    """What is being simulated: scenario, year, parameters, levers and notes."""
    update_counter.get()
    cfg = model.config
    years = cfg.end_year - cfg.start_year + 1
    if model.row:
        done = model.year - cfg.start_year + 1
        year = f"{model.year} (year {done} of {years})"
    else:
        year = f"not started ({cfg.start_year}-{cfg.end_year}): press Step or ▶"
    levers = model.active_levers()
    lines = [
        ("Scenario:", f"{cfg.name} ({model.scenario_name})"),
        ("Simulated year:", year),
        ("Seed:", str(model.seed)),
        ("Parameters:", model.calibration),
        ("Levers:", "; ".join(levers) if levers else "none (the scenario as written)"),
        ("Changed a control?", "Press Reset to rebuild the model with it."),
    ]
    lines += [("Note:", note) for note in model.notes]
    lines += [("Not offered:", f"{key}: {why}") for key, why in SKIPPED.items()]
    with solara.Column(gap="0.2em", classes=["run-info"]):
        for label, text in lines:
            solara.v.Html(
                tag="div", children=[solara.v.Html(tag="b", children=[label]), " " + text]
            )


MODEL_PARAMS = {
    "scenario_name": {
        "type": "Select",
        "value": DEFAULT_SCENARIO,
        "values": list(SCENARIOS),
        "label": "Scenario",
    },
    "seed": {"type": "InputText", "value": str(DEFAULT_SEED), "label": "Seed"},
    "state_grant_scale": {
        "type": "SliderFloat",
        "value": 1.0,
        "min": 0.0,
        "max": 5.0,
        "step": 0.1,
        "label": "State grant budget (x scenario)",
    },
    "state_funding_start": {
        "type": "Select",
        "value": AS_IN_SCENARIO,
        "values": [AS_IN_SCENARIO] + [str(y) for y in range(FIRST_YEAR, LAST_YEAR + 1)],
        "label": "Year state grants start",
    },
    "donor_budget_scale": {
        "type": "SliderFloat",
        "value": 1.0,
        "min": 0.0,
        "max": 3.0,
        "step": 0.1,
        "label": "Donor budgets (x scenario)",
    },
    "foreign_cut_year": {
        "type": "SliderInt",
        "value": DEFAULT_CUT_YEAR,
        "min": FIRST_YEAR,
        "max": LAST_YEAR,
        "step": 1,
        "label": "Foreign-funding cut: from year",
    },
    "foreign_cut_depth": {
        "type": "SliderFloat",
        "value": 0.0,
        "min": 0.0,
        "max": 1.0,
        "step": 0.05,
        "label": "Foreign-funding cut: depth (0 = none)",
    },
    "registration_burden": {
        "type": "Select",
        "value": AS_IN_SCENARIO,
        "values": [AS_IN_SCENARIO] + [f"{b / 100:.2f}" for b in range(0, 100, 5)],
        "label": "Registration burden (constant)",
    },
}
COMPONENTS = [(NGOCounts, 0), (FundingMix, 0), (IncomeDistribution, 0), (RunInfo, 0)]


LEVER_CONTROLS = {k: v for k, v in MODEL_PARAMS.items() if k not in ("scenario_name", "seed")}


def counterfactual_levers(**controls) -> dict[str, int | float | None]:
    """Return the levers of the counterfactual view (a cut year only with a cut)."""
    levers = lever_values(**controls)
    if levers["foreign_cut_depth"] == 0:
        levers["foreign_cut_year"] = None
    return levers


@solara.component
def Page():
    """The single-run page; each browser session gets its own model."""
    model = solara.use_memo(DashboardModel, dependencies=[])
    solara.Style(SLIDER_VALUES_CSS)
    SolaraViz(
        model,
        components=COMPONENTS,
        model_params=MODEL_PARAMS,
        name="NGOs in Central Asia: what if?",
    )


@solara.component
def CounterfactualPage():
    """The counterfactual page: a baseline against a counterfactual over posterior draws."""
    solara.Style(SLIDER_VALUES_CSS)
    solara.AppBarTitle("NGOs in Central Asia: a counterfactual, with bands")
    CounterfactualView(
        SCENARIOS,
        SCENARIO_DIR,
        LEVER_CONTROLS,
        counterfactual_levers,
        [k for k in SCENARIOS if k in COUNTRIES],
        DEFAULT_SCENARIO,
    )


routes = [
    solara.Route(path="/", component=Page, label="Step through a run"),
    solara.Route(path="counterfactual", component=CounterfactualPage, label="Counterfactual"),
]
