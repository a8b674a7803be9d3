"""Interactive dashboard of the NGO-sector model (Mesa SolaraViz): ``solara run app.py``.

Also started by ``ngo-abm dashboard``. Three views, one tab each. *Home* steps through one
run: pick a scenario (a country of Jaysanov 2023, CAJOTAS 4(6), or a counterfactual), set
the policy levers of ``model.levers`` and a seed, press Reset to build the model, then Step
or play it year by year. *counterfactual* runs a baseline and a counterfactual over
posterior draws on common random numbers, with bands (``dashboard.counterfactual``).
*regional* runs the Central Asian regional model and shows its cross-border ties over time
and its network in a chosen year (``dashboard.regional``).
The single-run plots are in ``dashboard.single_run``, the controls read in
``dashboard.controls``, the scenario files offered in ``dashboard.scenarios``. Calibrated
parameters (the posterior median) are used when ``calibration/posterior.parquet`` exists.
How to use it: ``docs/dashboard.md``.
"""

from __future__ import annotations

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from dashboard.controls import (
    AS_IN_SCENARIO,
    DEFAULT_CUT_YEAR,
    DEFAULT_SEED,
    LEVER_DEFAULTS,
    lever_phrases,
    lever_values,
    parse_seed,
)
from dashboard.counterfactual import NO_SWITCH, CounterfactualView
from dashboard.regional import RegionalView
from dashboard.scenarios import SCENARIO_DIR, calibrated, discover_scenarios
from dashboard.single_run import FundingMix, IncomeDistribution, NGOCounts
from experiments.changes import differs_in_run
from model import COUNTRIES, NGOModel, Scenario
from model.levers import apply_levers
from model.mechanisms import MECHANISMS, switch_off_params

DEFAULT_SCENARIO = "kyrgyzstan"
# Mesa's sliders show their value only while dragged; show it always, above the thumb. A
# slider's label takes a line of its own, above the value: beside the track, a long one
# ("Foreign-funding restriction: level (0 = none)") squeezed the track to no width.
SLIDER_VALUES_CSS = """
.v-input__slider .v-slider__thumb-label-container { display: block !important; }
.v-input__slider .v-input__slot { flex-wrap: wrap; }
.v-input__slider .v-input__slot > .v-label { flex: 0 0 100%; max-width: 100%;
  white-space: normal; margin-bottom: 36px; }
"""
# Mesa's SolaraViz heads its components with a bar of their pages' tabs ("Page 0"), even
# for one page, which is all the single-run page has: a bar of one tab is not shown.
ONE_PAGE_CSS = ".v-tabs:not(:has(.v-tab + .v-tab)) { display: none; }"


def same_run_as_country(key: str) -> str | None:
    """Return a note when counterfactual ``key`` runs exactly as its country's scenario.

    A projection's change (the 2024 law) falls after a run that ends in 2023: the file
    loads and runs, but its run is the country's, as the counterfactual tab and the
    experiments refuse to compare it.
    """
    scenario = SCENARIOS[key]
    country = SCENARIOS.get(scenario.country)
    if not key.startswith("counterfactuals/") or country is None:
        return None
    if differs_in_run(country, scenario):
        return None
    return (
        f"this file changes nothing in the years it runs ({scenario.start_year}-"
        f"{scenario.end_year}): the run is the same as {scenario.country}'s"
    )


SCENARIOS, SKIPPED = discover_scenarios()
FIRST_YEAR = min(s.start_year for s in SCENARIOS.values())
LAST_YEAR = max(s.end_year for s in SCENARIOS.values())


class DashboardModel(NGOModel):
    """``NGOModel`` built from the dashboard's controls (SolaraViz passes them as keywords).

    Args:
        scenario_name: Key of a discovered scenario (``kyrgyzstan``,
            ``counterfactuals/<name>``). Not called ``scenario``: Mesa's ``Model`` and
            SolaraViz reserve that name.
        seed: The run's seed, as typed (a whole number >= 0).
        state_grant_scale, state_funding_start, donor_budget_scale, foreign_cut_year,
        foreign_cut_depth, registration_burden: The levers' controls (``lever_values``).
            Named one by one: Mesa passes its own ``scenario`` to a model that takes
            ``**kwargs``.
        switch_off: A mechanism of ``model.mechanisms`` switched off after the
            calibrated parameters (before the levers), or ``"none"``.
    """

    def __init__(
        self,
        scenario_name: str = DEFAULT_SCENARIO,
        seed: str | int = DEFAULT_SEED,
        state_grant_scale: float = 1.0,
        state_funding_start: str | int = AS_IN_SCENARIO,
        donor_budget_scale: float = 1.0,
        foreign_cut_year: int = DEFAULT_CUT_YEAR,
        foreign_cut_depth: float = 0.0,
        registration_burden: str | float = AS_IN_SCENARIO,
        switch_off: str = NO_SWITCH,
    ):
        base, self.calibration = calibrated(SCENARIOS[scenario_name])
        controls = dict(locals())
        # As set, so that the page shows them again when it is opened anew.
        self.controls = {k: controls[k] for k in MODEL_PARAMS}
        self.switched_off = None if switch_off == NO_SWITCH else switch_off
        if self.switched_off:
            base = base.with_params(switch_off_params([self.switched_off]))
        self.levers = lever_values({k: controls[k] for k in LEVER_DEFAULTS})
        run_seed, seed_note = parse_seed(seed)
        self.scenario_name = scenario_name
        self.notes = [seed_note] if seed_note else []
        self.notes += self._lever_notes(base)
        same = same_run_as_country(scenario_name)
        self.notes += [same] if same else []
        # The menus run to the latest end year of any scenario; this one may end earlier,
        # so a lever year after it is dropped (noted above) rather than refused by
        # ``apply_levers``.
        if self.levers["foreign_cut_year"] > base.end_year:
            self.levers["foreign_cut_depth"] = 0.0
        start = self.levers["state_funding_start"]
        if start is not None and start > base.end_year:
            self.levers["state_funding_start"] = None
        super().__init__(apply_levers(base, **self.levers), rng=run_seed)

    def step_past_end(self) -> None:
        """Do nothing: a step after the scenario's last year is a click past the end.

        Mesa's controller steps *Render Interval* years a click without looking at
        ``running``, and ``NGOModel`` refuses a year after its scenario's last: a click
        that would pass the end stops there instead of breaking the page.
        """

    def _lever_notes(self, base: Scenario) -> list[str]:
        """Return warnings about levers that cannot act on this scenario."""
        notes = []
        budget = base.state.grant_budget_local
        funded = any(budget.at(y) > 0 for y in base.years)
        if self.levers["state_funding_start"] is not None and not funded:
            notes.append("this scenario's state never funds NGOs: the start year changes nothing")
        if self.levers["state_grant_scale"] != 1.0 and not funded:
            notes.append("this scenario's state never funds NGOs: the grant scale changes nothing")
        cut_year = self.levers["foreign_cut_year"]
        if self.levers["foreign_cut_depth"] > 0 and cut_year > base.end_year:
            notes.append(
                f"this scenario ends in {base.end_year}: a cut from {cut_year} changes nothing"
            )
        start = self.levers["state_funding_start"]
        if start is not None and funded and start > base.end_year:
            notes.append(
                f"this scenario ends in {base.end_year}: state grants from {start} change nothing"
            )
        return notes

    def active_levers(self) -> list[str]:
        """Return the levers that differ from the scenario, as short phrases."""
        return lever_phrases(self.levers)


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
        ("Mechanism switched off:", _switched_off_text(model.switched_off)),
        ("Changed a control?", "Press Reset to rebuild the model with it."),
    ]
    lines += [("Note:", note) for note in model.notes]
    lines += [("Not offered:", f"{key}: {why}") for key, why in SKIPPED.items()]
    with solara.Column(gap="0.2em", classes=["run-info"]):
        for label, text in lines:
            solara.v.Html(
                tag="div", children=[solara.v.Html(tag="b", children=[label]), " " + text]
            )


def _switched_off_text(name: str | None) -> str:
    """Return what the run's switched-off mechanism leaves, or that none is off."""
    if name is None:
        return "none (every mechanism acts)"
    return f"{name} ({MECHANISMS[name].neutral})"


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
        "label": "Foreign-funding restriction: from year",
    },
    "foreign_cut_depth": {
        "type": "SliderFloat",
        "value": 0.0,
        "min": 0.0,
        "max": 1.0,
        "step": 0.05,
        "label": "Foreign-funding restriction: level (0 = none)",
    },
    "registration_burden": {
        "type": "Select",
        "value": AS_IN_SCENARIO,
        "values": [AS_IN_SCENARIO] + [f"{b / 100:.2f}" for b in range(0, 100, 5)],
        "label": "Registration burden (constant)",
    },
    "switch_off": {
        "type": "Select",
        "value": NO_SWITCH,
        "values": [NO_SWITCH, *MECHANISMS],
        "label": "Mechanism switched off",
    },
}
COMPONENTS = [(NGOCounts, 0), (FundingMix, 0), (IncomeDistribution, 0), (RunInfo, 0)]

# The single-run page's model, one per browser session, kept while the user visits the
# other pages (SolaraViz's own state is the page's, and goes when it is left).
home_model = solara.reactive(None)


def controls_of(model: DashboardModel) -> dict[str, dict]:
    """Return the page's controls set as they were for ``model`` (Mesa ``UserInputs``)."""
    shown = {k: model.controls[k] for k in MODEL_PARAMS}
    shown["seed"] = str(shown["seed"])  # a text box
    return {k: {**o, "value": shown[k]} for k, o in MODEL_PARAMS.items()}


# The counterfactual view offers the switch in its own card (``dashboard.counterfactual``).
LEVER_CONTROLS = {
    k: v for k, v in MODEL_PARAMS.items() if k not in ("scenario_name", "seed", "switch_off")
}


def counterfactual_levers(**controls) -> dict[str, int | float | None]:
    """Return the levers of the counterfactual view (a cut year only with a cut)."""
    levers = lever_values(controls)
    if levers["foreign_cut_depth"] == 0:
        levers["foreign_cut_year"] = None
    return levers


@solara.component
def Page():
    """The single-run page; each browser session gets its own model."""
    if home_model.value is None:
        home_model.set(DashboardModel())
    solara.Style(SLIDER_VALUES_CSS + ONE_PAGE_CSS)
    SolaraViz(
        home_model,
        components=COMPONENTS,
        model_params=controls_of(home_model.value),
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


@solara.component
def RegionalPage():
    """The regional page: Central Asia in one model, its network and ties over time."""
    solara.Style(SLIDER_VALUES_CSS)
    solara.AppBarTitle("NGOs in Central Asia: regional cooperation")
    RegionalView()


routes = [
    solara.Route(path="/", component=Page, label="Step through a run"),
    solara.Route(path="counterfactual", component=CounterfactualPage, label="Counterfactual"),
    solara.Route(path="regional", component=RegionalPage, label="Regional"),
]
