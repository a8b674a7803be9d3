"""The dashboard's regional view without a browser: its run, events, tables and charts.

The view runs the regional model as ``ngo-abm run scenarios/central_asia.yaml`` does (same
seeds, parameters and tables), recording the network every year; its helpers turn the
scenario's programmes and restrictions into dated events and the tie table into medians
by pair and sector; its counterfactual gives the paired differences of ``ngo-abm
regional-experiment``. The page itself is driven in ``tests/test_dashboard_browser.py``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import yaml

from dashboard.regional import PARAMS, events_text, run_regional, seed_problem
from dashboard.regional_charts import (
    Event,
    breakdown_figure,
    median_ties_by,
    network_at,
    network_year_figure,
    regional_events,
    ties_figure,
    year_spans,
)
from dashboard.regional_counterfactual import (
    EXPERIMENT_FILE,
    NONE,
    counterfactual_choices,
    regional_experiment,
)
from experiments.regional_experiment import difference_table, run_regional_experiment
from experiments.regional_figures import (
    COUNTRY_COLOURS,
    SECTOR_COLOURS,
    difference_figure,
    network_figure,
)
from experiments.regional_runs import regional_replicate_params, run_region_replicates
from model.limits import MAX_SEED
from model.regional_files import load_region

REGIONAL = Path(__file__).resolve().parents[1] / "scenarios" / "central_asia.yaml"
SEED = 5
REPLICATES = 2


@cache
def page_run():
    calls = []
    run = run_regional(load_region(REGIONAL), SEED, REPLICATES, lambda *a: calls.append(a))
    return run, calls


def test_the_page_runs_the_region_as_ngo_abm_run_does_with_the_network_every_year():
    run, calls = page_run()
    region = load_region(REGIONAL)
    params, source = regional_replicate_params(PARAMS, REPLICATES, SEED)
    cli, seeds = run_region_replicates(region, SEED, REPLICATES, params)
    assert run.seeds == seeds == [SEED, SEED + 1]
    assert run.params_source == source
    assert calls == [(1, REPLICATES), (2, REPLICATES)]
    pd.testing.assert_frame_equal(run.tables.timeseries, cli.timeseries)
    pd.testing.assert_frame_equal(run.tables.ties, cli.ties)
    # The file's network years hold the same ties; the page has every other year too (its
    # tieless early years stack as empty tables, so text columns may come out as objects).
    # Only the first replicate's network is kept: the one the page draws.
    chosen = run.tables.network[run.tables.network.year.isin(region.spec.network_years)]
    first = cli.network[cli.network.replicate == 0]
    pd.testing.assert_frame_equal(chosen.reset_index(drop=True), first, check_dtype=False)
    # The network kept is the first replicate's, so its tied years are the ones to compare.
    first_run = run.tables.timeseries.query("replicate == 0")
    tied_years = set(first_run.query("cross_border_ties > 0").year)
    assert tied_years - set(region.spec.network_years)
    assert tied_years <= set(run.tables.network.year)
    assert set(run.charts) == {"ties", "breakdown"}
    assert all(png.startswith(b"\x89PNG") for png in run.charts.values())


def test_consecutive_years_make_one_span():
    assert year_spans([2010, 2003, 2005, 2004, 2010]) == ((2003, 2005), (2010, 2010))
    assert year_spans([]) == ()


def test_the_events_are_the_scenarios_programmes_and_restrictions_with_their_years():
    region = load_region(REGIONAL)
    events = {e.name: e for e in regional_events(region)}
    assert len(events) == len(region.spec.programmes) + len(region.spec.restrictions)
    forums = events["Kazakh NGO forums"]
    assert forums.kind == "programme"
    assert forums.spans == ((2003, 2003), (2005, 2005), (2007, 2007), (2010, 2010))
    assert forums.runs_in(2005) and not forums.runs_in(2004)
    osh = events["Obstacles after the 2010 events in Osh"]
    assert (osh.kind, osh.spans) == ("restriction", ((2010, 2016),))
    text = events_text(list(events.values()), 2010)
    assert "Kazakh NGO forums" in text and "Obstacles after the 2010 events in Osh" in text
    assert "CASDIN bulletin" not in text
    assert osh.countries == ("kazakhstan", "kyrgyzstan", "uzbekistan")
    quiet = [Event("a", "programme", ("kazakhstan",), ((2000, 2001),))]
    assert events_text(quiet, 2005) == "In 2005: programmes: none; restrictions: none."


def test_ties_by_key_are_summed_per_replicate_then_the_median_taken():
    ties = pd.DataFrame(
        {
            "replicate": [0, 0, 0, 1, 1, 1, 2, 2, 2],
            "year": [2000] * 9,
            "pair": ["a-b", "a-b", "a-c"] * 3,
            "sector": ["ecology", "youth", "ecology"] * 3,
            "ties": [1, 2, 10, 3, 4, 20, 5, 6, 0],
        }
    )
    by_pair = median_ties_by(ties, "pair")
    assert by_pair.loc[2000, "a-b"] == 7  # sums 3, 7, 11
    assert by_pair.loc[2000, "a-c"] == 10
    by_sector = median_ties_by(ties, "sector")
    assert by_sector.loc[2000, "ecology"] == 11  # sums 11, 23, 5
    assert by_sector.loc[2000, "youth"] == 4


def test_the_network_of_one_replicate_and_year():
    run, _ = page_run()
    edges = network_at(run.tables.network, 2010, 0)
    assert not edges.empty
    assert set(edges.year) == {2010} and set(edges.replicate) == {0}
    assert network_at(run.tables.network, 1900, 0).empty


@pytest.mark.parametrize(
    ("colour_by", "palette"), [("country", COUNTRY_COLOURS), ("sector", SECTOR_COLOURS)]
)
def test_the_network_figure_colours_nodes_by_the_choice(colour_by, palette):
    run, _ = page_run()
    edges = network_at(run.tables.network, 2023, 0)
    fig = network_year_figure(edges, 2023, colour_by)
    [ax] = fig.axes
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [k.replace("_", " ") for k in palette]
    assert ax.get_title() == f"2023: {len(edges):,} ties"
    plt.close(fig)


def test_a_run_folders_figure_without_network_years_is_the_time_panel_alone():
    run, _ = page_run()
    fig = network_figure(run.tables, [], "Quiet")
    [ax] = fig.axes
    assert len(ax.get_lines()) == len(run.region.countries)
    assert "Top:" not in fig._suptitle.get_text()
    assert "no network_years" in fig._suptitle.get_text()
    plt.close(fig)
    fig = network_figure(run.tables, [2010, 2023], "Two years")
    assert [ax.get_title() for ax in fig.axes[:2]] == [
        f"{year}: {len(network_at(run.tables.network, year, 0)):,} ties" for year in (2010, 2023)
    ]
    assert "Top: the ties of replicate 0" in fig._suptitle.get_text()
    plt.close(fig)


def test_the_time_charts_mark_the_events():
    run, _ = page_run()
    fig = ties_figure(run.tables, run.events)
    ties, share, timeline = fig.axes
    labels = [t.get_text() for t in timeline.texts]
    assert [label.split(" (")[0] for label in labels] == [e.name for e in run.events]
    assert "Uzbekistan before its opening (Uzbekistan)" in labels
    # Only the region-wide restriction is shaded on the curves: the years after Osh.
    [shaded] = ties.patches
    assert shaded.get_x() == 2010 - 0.5
    assert len(ties.get_lines()) == len(run.region.countries)
    assert share.get_ylabel().startswith("share of operational NGOs")
    plt.close(fig)
    fig = breakdown_figure(run.tables, run.events)
    pairs, sectors = fig.axes
    assert len(pairs.get_lines()) == run.tables.ties.pair.nunique()
    assert "across sectors" in [t.get_text() for t in sectors.get_legend().get_texts()]
    plt.close(fig)


@pytest.mark.parametrize(
    ("typed", "replicates", "ok"),
    [
        ("0", 1, True),
        (f" {MAX_SEED} ", 1, True),
        (str(MAX_SEED - 4), 5, True),
        (str(MAX_SEED - 3), 5, False),
        ("-1", 1, False),
        ("12abc", 1, False),
        ("1_0", 1, False),
        ("", 1, False),
    ],
)
def test_a_seed_that_is_no_number_or_outside_the_range_is_refused(typed, replicates, ok):
    assert (seed_problem(typed, replicates) is None) == ok


@pytest.mark.parametrize("typed", ["-1", str(10**23), "12abc"])
def test_a_seed_outside_the_range_is_told_the_range_whatever_the_replicates(typed):
    assert f"a whole number from 0 to {MAX_SEED}" in seed_problem(typed, 5)


def test_the_counterfactuals_offered_are_the_regional_experiments_on_the_same_baseline():
    spec, regions = regional_experiment()
    assert counterfactual_choices() == [NONE, *(c.name for c in spec.counterfactuals)]
    assert regions["baseline"].path.resolve() == REGIONAL.resolve()


def test_a_counterfactual_gives_the_paired_differences_of_the_regional_experiment(tmp_path):
    spec, _ = regional_experiment()
    name = "no-closures-after-2010"
    [item] = [c for c in spec.counterfactuals if c.name == name]
    calls = []
    run = run_regional(
        load_region(REGIONAL), spec.seed, REPLICATES, lambda *a: calls.append(a), name
    )
    assert calls == [(k, 2 * REPLICATES) for k in range(1, 2 * REPLICATES + 1)]
    comparison = run.comparison
    assert (comparison.name, comparison.question) == (name, item.question)
    summary = comparison.summary
    # The same counterfactual as an experiment file of its own, run by ngo-abm's function.
    data = {
        **spec.model_dump(exclude={"counterfactuals", "notes", "description"}),
        "baseline": str(REGIONAL.resolve()),
        "counterfactuals": [
            {
                **item.model_dump(),
                "scenario": str((EXPERIMENT_FILE.parent / item.scenario).resolve()),
            }
        ],
        "replicates": REPLICATES,
    }
    experiment = tmp_path / "one.yaml"
    experiment.write_text(yaml.safe_dump(data))
    cli = run_regional_experiment(experiment, tmp_path / "out")
    page = summary[summary.year.isin(spec.key_years)].reset_index(drop=True)
    pd.testing.assert_frame_equal(page, cli, check_like=True)
    # Common random numbers: nothing differs before the obstacles after Osh would start.
    before = summary[summary.year < 2010]
    assert (before[["difference_q10", "difference_q90"]] == 0).all().all()
    after = summary[(summary.output == "cross_border_ties") & (summary.year == 2010)]
    assert (after.difference_q50 > 0).all()
    assert comparison.chart.startswith(b"\x89PNG")


def test_the_difference_table_shows_median_and_band_per_output_and_country():
    summary = pd.DataFrame(
        {
            "counterfactual": "c",
            "country": ["kazakhstan", "kazakhstan", "uzbekistan", "uzbekistan"],
            "output": ["operational", "operational", "operational", "donor_budget_usd"],
            "year": [2010, 2016, 2010, 2010],
            "baseline_median": [1.0, 2.0, 3.0, 5e6],
            "counterfactual_median": [1.0, 2.0, 3.0, 4e6],
            "difference_q10": [-1.0, 0.0, 0.0, -2e6],
            "difference_q50": [2.0, 0.0, 0.5, -1e6],
            "difference_q90": [4.0, 0.0, 1.25, 0.0],
        }
    )
    table = difference_table(summary, [2010])
    assert list(table.columns) == [2010]
    assert table.loc[("operational (NGOs)", "kazakhstan"), 2010] == "+2 [-1, +4]"
    assert table.loc[("operational (NGOs)", "uzbekistan"), 2010] == "+0.5 [0, +1.25]"
    money = "donor_budget_usd (constant US$ (the scenario's base year))"
    assert table.loc[(money, "uzbekistan"), 2010] == "-1.00M [-2.00M, 0]"
    # The outputs in the summary's (the file's) order, not sorted by name.
    assert list(table.index) == [
        ("operational (NGOs)", "kazakhstan"),
        ("operational (NGOs)", "uzbekistan"),
        (money, "uzbekistan"),
    ]
    # The chart's panels say what unit each difference is in.
    fig = difference_figure(summary, [], "a counterfactual")
    labels = [ax.get_ylabel() for ax in fig.axes]
    money_label = "difference, million constant US$ (the\nscenario's base year)"
    assert labels == ["difference, NGOs", money_label]
    # With the countries' own units (``with_units``), the money names its base year; and
    # two countries' lines differ in dashes, so that equal ones do not hide each other.
    units = ["NGOs", "NGOs", "NGOs", "constant 2023 US$"]
    fig = difference_figure(summary.assign(unit=units), [], "a counterfactual")
    assert fig.axes[1].get_ylabel() == "difference, million constant 2023 US$"
    styles = [line.get_linestyle() for line in fig.axes[0].lines if line.get_label()[0] != "_"]
    assert len(styles) == len(set(styles)) == 2


def test_local_currency_differences_get_a_panel_and_rows_per_country():
    # Tenge, som and sum were drawn on one axis under "local currency", and the table put
    # the som and sum rows after every other output.
    countries = ["kazakhstan", "kyrgyzstan"]
    summary = pd.DataFrame(
        {
            "counterfactual": "c",
            "country": [c for c in countries for _ in range(2)],
            "output": ["state_grants_local", "operational"] * 2,
            "unit": ["KZT (nominal)", "NGOs", "KGS (nominal)", "NGOs"],
            "year": 2016,
            "baseline_median": [9e9, 10.0, 1e6, 20.0],
            "counterfactual_median": [2e9, 12.0, 1e6, 20.0],
            "difference_q10": [-8e9, 1.0, 0.0, 0.0],
            "difference_q50": [-7e9, 2.0, 0.0, 0.0],
            "difference_q90": [-6e9, 3.0, 0.0, 0.0],
        }
    )
    fig = difference_figure(summary, [], "a counterfactual")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "State grants disbursed: Kazakhstan",
        "State grants disbursed: Kyrgyzstan",
        "Operational NGOs (any activity)",
    ]
    assert fig.axes[0].get_ylabel() == "difference, million KZT (nominal)"
    assert fig.axes[1].get_ylabel() == "difference, million KGS (nominal)"
    # In millions, as the country experiments draw amounts.
    assert fig.axes[0].lines[0].get_ydata().tolist() == [-7000.0]
    # The legend on a panel with both countries' lines.
    assert fig.axes[2].get_legend() is not None and fig.axes[0].get_legend() is None
    plt.close(fig)
    table = difference_table(summary, [2016])
    assert [label for label, _ in table.index] == [
        "state_grants_local (KZT (nominal))",
        "state_grants_local (KGS (nominal))",
        "operational (NGOs)",
        "operational (NGOs)",
    ]


def test_the_ties_table_reads_as_the_command_prints_it():
    # The page printed 618.0 where `ngo-abm run` prints 618.
    from experiments.regional_runs import ties_text

    frame = pd.DataFrame(
        {
            "country": ["kazakhstan"] * 2 + ["kyrgyzstan"] * 2,
            "year": [2010, 2010, 2010, 2010],
            "replicate": [0, 1, 0, 1],
            "cross_border_ties": [618, 618, 2, 3],
        }
    )
    lines = ties_text(frame, [2010]).splitlines()
    assert lines[-2].split() == ["kazakhstan", "618"]
    assert lines[-1].split() == ["kyrgyzstan", "2.5"]
