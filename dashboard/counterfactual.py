"""The dashboard's counterfactual view: a scenario against a counterfactual, with bands.

Pick a baseline scenario and a counterfactual (a shipped file under
``scenarios/counterfactuals/``, the policy levers of ``model.levers``, a mechanism of
``model.mechanisms`` switched off, or several of these), and a number of posterior draws;
both scenarios then run on common random numbers (run ``i`` of each uses posterior draw
``i`` and the same seed), and the page shows the fan charts of both with the reported
figures, the paired differences and the funding mix. Nothing is
computed here: the page builds an experiment as an experiment file would describe it
(``experiments.spec.experiment_from_mapping``) and hands it to the functions of
``ngo-abm experiment`` (``experiments.paired``, ``experiments.figures``), so the page and
the command line give the same numbers and charts. The posterior is the one committed
at run time (``calibration/posterior.parquet``); without one, the scenarios' own values are
used and the page says so. Source: Jaysanov (2023), CAJOTAS 4(6). Docs: docs/dashboard.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solara
from mesa.visualization.solara_viz import UserInputs
from solara.lab import task

from calibration.posterior import has_posterior
from calibration.targets import load_target_file
from experiments.changes import dated_experiment_changes, differs_in_run
from experiments.figures import difference_figure, fan_figure, income_figure
from experiments.paired import collect_runs, format_summary, summary_table
from experiments.spec import Experiment, Levers, experiment_from_mapping
from model import Scenario, ScenarioError
from model.mechanisms import MECHANISMS

from .controls import lever_phrases
from .images import figure_png
from .tasks import reporter, task_result

WHERE = Path("dashboard counterfactual view")
NAME = "counterfactual"
LEVERS_ONLY = "none (the baseline with the levers below)"
NOTHING_TO_COMPARE = (
    "Nothing to compare: with no counterfactual scenario, set a lever below or switch a "
    "mechanism off."
)
NO_SWITCH = "none"
OUTPUTS = (
    "registered",
    "operational",
    "reporting",
    "share_income_foreign",
    "income_foreign_usd",
    "income_state_usd",
    "income_domestic_usd",
)
DEFAULT_DRAWS = 10
MAX_DRAWS = 100
SEED = 1


@dataclass(frozen=True)
class Choice:
    """What the page asks for: a baseline, a counterfactual file (or none), levers, draws.

    ``switch_off`` is a mechanism of ``model.mechanisms`` switched off on the
    counterfactual, or ``NO_SWITCH``.
    """

    baseline: str
    counterfactual: str
    levers: Mapping[str, Any]
    draws: int
    switch_off: str = NO_SWITCH


@dataclass(frozen=True)
class PairedView:
    """The finished comparison: the experiment run, its charts as PNG and its summary."""

    experiment: Experiment
    charts: dict[str, bytes]
    summary: str
    seconds: float


def counterfactual_choices(scenarios: Mapping[str, Scenario], baseline: str) -> list[str]:
    """Return the counterfactuals offered with a baseline: its country's files, then none.

    Only files that change something in the baseline's years: a projection's law (from
    2024) changes nothing in a run to 2023, and an experiment refuses it.
    """
    base = scenarios[baseline]
    files = [
        key
        for key, s in scenarios.items()
        if key.startswith("counterfactuals/")
        and s.country == base.country
        and s.start_year == base.start_year
        and s.end_year == base.end_year
        and differs_in_run(base, s)
    ]
    return [*files, LEVERS_ONLY]


def refusal(exc: ScenarioError) -> str:
    """Return a refusal as the page says it.

    The page's own refusals are sentences, with the levers (or the one lever) as their
    subject where they are what is refused: the field ``counterfactuals[...].levers``
    names nothing on the page. A scenario file's name its file.
    """
    if exc.file != str(WHERE):
        return str(exc)
    _, levers, lever = exc.field.partition(".levers")
    if not levers:
        return exc.message
    return f"{lever[1:]}: {exc.message}" if lever else f"The levers {exc.message}"


def build_comparison(choice: Choice, scenarios: Mapping[str, Scenario], folder: Path) -> Experiment:
    """Return the experiment the page runs: the choice, as an experiment file would say it.

    Raises:
        ScenarioError: one line naming the view (or a scenario file) and the field, e.g. a
            counterfactual that changes nothing.
    """
    counterfactual = (
        choice.baseline if choice.counterfactual == LEVERS_ONLY else choice.counterfactual
    )
    active = Levers.model_validate(dict(choice.levers)).active()
    switched = [] if choice.switch_off == NO_SWITCH else [choice.switch_off]
    if choice.counterfactual == LEVERS_ONLY and not active and not switched:
        raise ScenarioError(WHERE, "", NOTHING_TO_COMPARE)
    data = {
        "name": f"{choice.baseline} against {choice.counterfactual}",
        "baseline": str(folder / f"{choice.baseline}.yaml"),
        "counterfactuals": [
            {
                "name": NAME,
                "scenario": str(folder / f"{counterfactual}.yaml"),
                "question": _question(choice, active),
                "levers": active,
                "switch_off": switched,
            }
        ],
        "outputs": list(OUTPUTS),
        "key_years": _key_years(scenarios[choice.baseline]),
        "draws": choice.draws,
        "replicates": 1,
        "seed": SEED,
        "params": "posterior" if has_posterior() else "scenario",
        "chunk_draws": 1,
    }
    return experiment_from_mapping(WHERE, data)


def _question(choice: Choice, active: Mapping[str, Any]) -> str:
    """Return the comparison's question in words: the file or the baseline, and its changes."""
    changes = lever_phrases(active)
    if choice.switch_off != NO_SWITCH:
        changes.append(f"without {choice.switch_off}")
    if choice.counterfactual == LEVERS_ONLY:
        return f"What if {choice.baseline} ran with {'; '.join(changes)}?"
    return (
        f"What if {choice.counterfactual}"
        + (f", with {'; '.join(changes)}" if changes else "")
        + "?"
    )


def _key_years(scenario: Scenario) -> list[int]:
    """Return the years the summary reports: the last year and every tenth before it."""
    return list(range(scenario.end_year, scenario.start_year, -10))[:3]


def run_comparison(
    experiment: Experiment, on_progress: Callable[[int, int], None] | None = None
) -> PairedView:
    """Run both scenarios over the draws and draw the charts (the experiment's own)."""
    started = time.perf_counter()
    results = collect_runs(experiment, on_progress=on_progress)
    charts = {
        "fan": figure_png(fan_figure(results, experiment, NAME, load_target_file())),
        "difference": figure_png(difference_figure(results, experiment, NAME)),
        "funding": figure_png(income_figure(results, experiment, NAME)),
    }
    summary = format_summary(summary_table(results, experiment), experiment)
    return PairedView(experiment, charts, summary, time.perf_counter() - started)


progress_text = solara.reactive("")
# The sidebar's choices, one set per browser session, kept while the user visits the other
# pages (a component's own state goes when its page is left); None until first shown.
chosen_baseline = solara.reactive(None)
chosen_counterfactual = solara.reactive(None)
chosen_controls = solara.reactive(None)
chosen_draws = solara.reactive(DEFAULT_DRAWS)
chosen_switch = solara.reactive(NO_SWITCH)
last_error = solara.reactive("")


@task
def compare_task(experiment: Experiment) -> PairedView:
    """Run a comparison in a thread, reporting progress (one task per browser session)."""
    return run_comparison(experiment, reporter(compare_task, progress_text, "runs"))


@solara.component
def CounterfactualView(
    scenarios: Mapping[str, Scenario],
    folder: Path,
    lever_controls: Mapping[str, dict[str, Any]],
    to_levers: Callable[..., dict[str, Any]],
    baselines: list[str],
    initial: str,
):
    """The page: choices in the sidebar, progress, then the charts and the summary.

    Args:
        scenarios: The scenarios offered, keyed by their path under ``folder``.
        folder: The scenarios folder.
        lever_controls: The levers' controls (Mesa ``UserInputs`` options, as in the
            single-run view).
        to_levers: Turns the controls' values into ``model.levers.apply_levers`` keywords.
        baselines: The keys offered as baselines.
        initial: The baseline chosen when the page opens.
    """
    if chosen_baseline.value is None:
        chosen_baseline.set(initial)
        chosen_controls.set({name: options["value"] for name, options in lever_controls.items()})
    baseline, set_baseline = chosen_baseline.value, chosen_baseline.set
    offered = counterfactual_choices(scenarios, baseline)
    counterfactual, set_counterfactual = chosen_counterfactual.value, chosen_counterfactual.set
    if counterfactual not in offered:
        counterfactual = offered[0]
    controls, set_controls = chosen_controls.value, chosen_controls.set
    draws, set_draws = chosen_draws.value, chosen_draws.set
    switch_off, set_switch_off = chosen_switch.value, chosen_switch.set
    error, set_error = last_error.value, last_error.set

    def start() -> None:
        choice = Choice(baseline, counterfactual, to_levers(**controls), draws, switch_off)
        try:
            experiment = build_comparison(choice, scenarios, folder)
        except ScenarioError as exc:
            set_error(refusal(exc))
            return
        set_error("")
        progress_text.value = ""
        compare_task(experiment)

    with solara.Sidebar(), solara.Column():
        with solara.Card("Compare"):
            solara.Select(
                "Baseline scenario", value=baseline, values=baselines, on_value=set_baseline
            )
            solara.Select(
                "Counterfactual", value=counterfactual, values=offered, on_value=set_counterfactual
            )
            solara.Select(
                "Mechanism switched off (docs/experiments.md)",
                value=switch_off,
                values=[NO_SWITCH, *MECHANISMS],
                on_value=set_switch_off,
            )
            solara.SliderInt(
                "Posterior draws", value=draws, min=2, max=MAX_DRAWS, on_value=set_draws
            )
            solara.Button("Run comparison", on_click=start, color="primary")
        with solara.Card("Levers (on the counterfactual, after calibration)"):
            UserInputs(
                {k: {**o, "value": controls[k]} for k, o in lever_controls.items()},
                on_change=lambda name, value: set_controls({**controls, name: value}),
            )
    _Results(error)


@solara.component
def _Results(error: str):
    """Progress while running, then the charts and the summary of the last comparison."""
    if error:
        solara.Error(error)
        return
    hint = "Choose a baseline, a counterfactual and levers, then press **Run comparison**."
    view = task_result(compare_task, progress_text, "comparison", hint)
    if view is None:
        return
    spec = view.experiment.spec
    params = "posterior draws" if spec.params == "posterior" else "seeds (no posterior)"
    solara.Markdown(
        f"**{view.experiment.spec.counterfactuals[0].question}** Against "
        f"**{view.experiment.baseline.name}**: {spec.draws} {params}, common random numbers, "
        f"{view.seconds:.0f} s. Changes: "
        f"{'; '.join(dated_experiment_changes(view.experiment, NAME))}."
    )
    for key, title in (
        ("fan", "Both scenarios, with the reported figures"),
        ("difference", "Paired difference: counterfactual minus baseline"),
        ("funding", "Funding mix"),
    ):
        with solara.Column(classes=[f"chart-{key}"]):
            solara.Markdown(f"### {title}")
            solara.Image(view.charts[key], width="100%")
    solara.Preformatted(view.summary)
