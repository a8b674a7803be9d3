"""The dashboard's regional view: Central Asia in one model, its network and ties over time.

Pick a seed and a number of replicates and press Run: the regional model of
``scenarios/central_asia.yaml`` runs as ``ngo-abm run scenarios/central_asia.yaml --params
posterior --seed S --replicates N`` runs it (the same functions of ``experiments.regional_runs``:
``regional_replicate_params`` with posterior draws, ``run_region_replicates``), except that the
network is recorded every year, so that a slider can show it in any year. The page then
shows each country's cross-border ties and share of operational NGOs with a tie over time
(median and 10-90% band over replicates), the ties by country pair and by sector, the
network in the year chosen (nodes coloured by sector or by country) and the regional
programmes and restrictions on the time axis (``dashboard.regional_charts``). A regional
counterfactual of ``experiments/regional/central_asia_counterfactuals.yaml`` may be run
along, paired with the baseline (``dashboard.regional_counterfactual``). Source:
Jaysanov (2023) on regional cooperation. Docs: docs/dashboard.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import solara
from solara.lab import task

from cli.arguments import whole_number_text
from experiments.regional_experiment import difference_table
from experiments.regional_runs import (
    RegionalTables,
    regional_replicate_params,
    run_region_replicates,
    ties_text,
)
from experiments.runner import replicate_seeds
from model import ScenarioError
from model.limits import MAX_SEED
from model.regional_files import load_region
from model.regional_scenario import Region

from .images import figure_png
from .regional_charts import (
    Event,
    breakdown_figure,
    every_year,
    network_at,
    network_year_figure,
    regional_events,
    ties_figure,
)
from .regional_counterfactual import (
    NONE,
    RegionalComparison,
    compare_counterfactual,
    counterfactual_choices,
)
from .tasks import reporter, task_result

REGION_FILE = Path(__file__).resolve().parent.parent / "scenarios" / "central_asia.yaml"
# As ``ngo-abm regional-experiment``: a draw of the committed posterior per replicate, so
# that the bands carry the parameters' uncertainty, not the runs' noise alone.
PARAMS = "posterior"
DEFAULT_SEED = 1
DEFAULT_REPLICATES = 5
# One to two seconds per replicate: 20 replicates keep a run under a minute.
MAX_PAGE_REPLICATES = 20
# The replicate whose network is drawn (the first, as in ``ngo-abm run``'s figure).
SHOWN_REPLICATE = 0
COLOUR_BY = ("sector", "country")


@dataclass(frozen=True)
class RegionalRun:
    """A finished regional run: its tables, seeds, parameters' source and charts."""

    region: Region
    tables: RegionalTables
    seeds: list[int]
    params_source: str
    seconds: float
    events: list[Event]
    charts: dict[str, bytes]
    comparison: RegionalComparison | None


def run_regional(
    region: Region,
    seed: int,
    replicates: int,
    on_progress: Callable[[int, int], None] | None = None,
    counterfactual: str = NONE,
) -> RegionalRun:
    """Run the region's replicates as ``ngo-abm run`` does and draw the page's time charts.

    With a ``counterfactual`` of the regional experiment, it then runs on the same seeds
    and parameters and its paired differences are added; ``on_progress`` counts the
    replicates of both.
    """
    started = time.perf_counter()
    total = replicates * (1 if counterfactual == NONE else 2)
    params, source = regional_replicate_params(PARAMS, replicates, seed)
    tables, seeds = run_region_replicates(
        every_year(region), seed, replicates, params, on_progress=_part(on_progress, 0, total)
    )
    # The page draws the first replicate's network, as ``ngo-abm run``'s figure does; the
    # others' (about 2 MB a replicate with every year) are not kept.
    network = tables.network
    tables = replace(tables, network=network[network.replicate == SHOWN_REPLICATE])
    events = regional_events(region)
    charts = {
        "ties": figure_png(ties_figure(tables, events)),
        "breakdown": figure_png(breakdown_figure(tables, events)),
    }
    comparison = None
    if counterfactual != NONE:
        report = _part(on_progress, replicates, total)
        comparison = compare_counterfactual(counterfactual, tables.timeseries, seed, params, report)
    seconds = time.perf_counter() - started
    return RegionalRun(region, tables, seeds, source, seconds, events, charts, comparison)


def _part(
    on_progress: Callable[[int, int], None] | None, before: int, total: int
) -> Callable[[int, int], None] | None:
    """Return a progress callback for one part of a run: ``before`` done, ``total`` in all."""
    if on_progress is None:
        return None
    return lambda done, _: on_progress(before + done, total)


def seed_problem(typed: str, replicates: int) -> str | None:
    """Return why the seed typed in the page cannot be used, or ``None``.

    The text as typed, so that text that is no number disables Run rather than leaving the
    last good seed in force; the seeds themselves are checked as the command checks them
    (``experiments.runner.replicate_seeds``: the last replicate's too).
    """
    seed = whole_number_text(typed.strip())
    if seed is None:
        return f"seed {typed!r}: the seed must be a whole number from 0 to {MAX_SEED}"
    try:
        replicate_seeds(seed, replicates)
    except ScenarioError as exc:
        return f"seed {seed}: {exc.message}"
    return None


def events_text(events: list[Event], year: int) -> str:
    """Return the programmes running and the restrictions in force in ``year``, in words."""
    parts = []
    for kind, label in (("programme", "programmes"), ("restriction", "restrictions")):
        names = [e.name for e in events if e.kind == kind and e.runs_in(year)]
        parts.append(f"{label}: {', '.join(names) if names else 'none'}")
    return f"In {year}: " + "; ".join(parts) + "."


progress_text = solara.reactive("")
# The sidebar's and the network's choices, one set per browser session, kept while the
# user visits the other pages (a component's own state goes when its page is left).
typed_seed = solara.reactive(str(DEFAULT_SEED))
chosen_replicates = solara.reactive(DEFAULT_REPLICATES)
chosen_counterfactual = solara.reactive(NONE)
network_year = solara.reactive(None)
network_colour = solara.reactive(COLOUR_BY[0])


@task
def regional_task(seed: int, replicates: int, counterfactual: str) -> RegionalRun:
    """Run the region in a thread, reporting progress (one task per browser session)."""
    report = reporter(regional_task, progress_text, "replicates")
    report(0, replicates * (1 if counterfactual == NONE else 2))
    return run_regional(load_region(REGION_FILE), seed, replicates, report, counterfactual)


@solara.component
def RegionalView():
    """The page: seed and replicates in the sidebar, progress, then the charts."""
    typed, set_typed = typed_seed.value, typed_seed.set
    replicates, set_replicates = chosen_replicates.value, chosen_replicates.set
    counterfactual, set_counterfactual = chosen_counterfactual.value, chosen_counterfactual.set
    problem = seed_problem(typed, replicates)

    def start() -> None:
        progress_text.value = ""
        network_year.set(None)  # a new run opens on its last year
        regional_task(int(typed.strip()), replicates, counterfactual)

    with solara.Sidebar(), solara.Column():
        with solara.Card("Run the regional model"):
            solara.Markdown(f"`{REGION_FILE.parent.name}/{REGION_FILE.name}`, as `ngo-abm run`")
            solara.InputText("Seed", value=typed, on_value=set_typed, continuous_update=True)
            solara.SliderInt(
                "Replicates",
                value=replicates,
                min=1,
                max=MAX_PAGE_REPLICATES,
                on_value=set_replicates,
            )
            solara.Select(
                "Regional counterfactual (paired)",
                value=counterfactual,
                values=counterfactual_choices(),
                on_value=set_counterfactual,
            )
            solara.Button("Run", on_click=start, color="primary", disabled=problem is not None)
            if problem:
                solara.Error(problem)
    _Results()


@solara.component
def _Results():
    """Progress while running, then the charts of the last run."""
    hint = (
        "Choose a seed and a number of replicates, then press **Run** "
        "(one to two seconds per replicate; twice that with a counterfactual)."
    )
    run = task_result(regional_task, progress_text, "regional run", hint)
    if run is None:
        return
    first, last = run.seeds[0], run.seeds[-1]
    solara.Markdown(
        f"**{run.region.name}**, {run.region.start_year}-{run.region.end_year}: "
        f"{len(run.seeds)} replicate(s), seeds {first}-{last}, {run.params_source}, "
        f"{run.seconds:.0f} s."
    )
    with solara.Column(classes=["chart-ties"]):
        solara.Markdown("### Cross-border ties over time")
        solara.Image(run.charts["ties"], width="100%")
    years = run.region.spec.report_years or run.region.spec.network_years
    solara.Markdown("Median cross-border ties per country (as `ngo-abm run` prints them):")
    solara.Preformatted(ties_text(run.tables.timeseries, years))
    with solara.Column(classes=["chart-breakdown"]):
        solara.Markdown("### Ties by country pair and by sector")
        solara.Image(run.charts["breakdown"], width="100%")
    _Network(run)
    if run.comparison:
        _Comparison(run.comparison)


@solara.component
def _Comparison(comparison: RegionalComparison):
    """The counterfactual's paired differences: the chart over time and the key years."""
    with solara.Column(classes=["chart-difference"]):
        solara.Markdown(
            f"### Counterfactual: {comparison.scenario}\n\n{comparison.question} "
            "Same seeds and behaviour parameters as the baseline (common random numbers)."
        )
        solara.Image(comparison.chart, width="100%")
    solara.Markdown("Paired difference, median [10%, 90%] over replicates, in the key years:")
    solara.Preformatted(difference_table(comparison.summary, comparison.key_years).to_string())


@solara.component
def _Network(run: RegionalRun):
    """The network in the year of the slider, coloured by sector or country."""
    year = run.region.end_year if network_year.value is None else network_year.value
    set_year = network_year.set
    colour_by, set_colour_by = network_colour.value, network_colour.set
    replicate = SHOWN_REPLICATE
    image = solara.use_memo(
        lambda: figure_png(
            network_year_figure(network_at(run.tables.network, year, replicate), year, colour_by)
        ),
        dependencies=[id(run), year, colour_by],
    )
    with solara.Column(classes=["chart-network"]):
        solara.Markdown(
            f"### The network in {year} (replicate {replicate}, seed {run.seeds[replicate]})"
        )
        solara.SliderInt(
            "Year",
            value=year,
            min=run.region.start_year,
            max=run.region.end_year,
            on_value=set_year,
            thumb_label="always",
        )
        solara.ToggleButtonsSingle(value=colour_by, values=list(COLOUR_BY), on_value=set_colour_by)
        solara.Text(events_text(run.events, year))
        solara.Image(image, width="70%")
