"""The comparison figure a paper would take: axis units, one legend, the periods named once.

``calibration/plotting.py``: each panel's y-axis says its unit, a legend below the panels
names the model's median and bands and each kind of reported figure shown, and the
article's periods are numbered on the panels and named in the title.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from calibration.plotting import (
    axis_label,
    column_unit,
    comparison_figure,
    grid_columns,
    period_key,
    quantity_title,
    roman,
)
from calibration.targets import DEFAULT_TARGETS, Period, load_target_file


@pytest.mark.parametrize(
    ("number", "text"), [(1, "I"), (3, "III"), (4, "IV"), (9, "IX"), (14, "XIV"), (39, "XXXIX")]
)
def test_periods_are_numbered_in_roman_numerals(number, text):
    assert roman(number) == text


@pytest.mark.parametrize(
    ("column", "denominator", "label"),
    [
        ("registered", None, "NGOs"),
        ("reporting", "registered", "share of registered"),
        ("income_state_usd", "income_foreign_usd", "ratio (see the title)"),
        ("share_income_foreign", None, "share (0-1)"),
        ("foreign_restriction", None, "restriction (0-1)"),
        ("income_foreign_usd", None, "constant US$ (the scenario's base year)"),
        ("state_grants_local", None, "local currency (nominal)"),
        ("donors_active", None, "donors"),
    ],
)
def test_each_axis_says_its_unit(column, denominator, label):
    assert axis_label(column, denominator) == label


@pytest.mark.parametrize(
    ("column", "denominator", "title"),
    [
        ("registered", None, "Registered NGOs"),
        ("reporting", "registered", "NGOs filing annual reports, share of the register"),
        (
            "income_state_usd",
            "income_foreign_usd",
            "NGO income from state grants and prizes over NGO income from foreign donors",
        ),
        (
            "funded",
            "donors_active",
            "Funded NGOs (a year of programmes) over foreign donors active",
        ),
    ],
)
def test_a_quantity_is_titled_in_words(column, denominator, title):
    assert quantity_title(column, denominator) == title


@pytest.mark.parametrize(
    ("column", "unit"),
    [
        ("income_domestic_usd", "constant 2023 US$"),
        ("state_prizes_local", "KZT (nominal)"),
        ("funded", "NGOs"),
        ("share_cross_border", "share (0-1)"),
        ("ties_formed", "cross-border ties"),
    ],
)
def test_a_unit_names_the_scenarios_price_base_and_currency(column, unit):
    assert column_unit(column, 2023, "KZT") == unit


def test_the_key_names_each_numbered_period_once():
    periods = [
        Period(name="first", start=1991, end=2000, quote="q"),
        Period(name="second", start=2000, end=2010, quote="q"),
    ]
    key = period_key({"kyrgyzstan": periods})
    assert key == "Shaded: the article's periods.\nI first (1991-2000), II second (2000-2010)"
    both = period_key({"kyrgyzstan": periods, "kazakhstan": periods}).splitlines()
    named = "I first (1991-2000), II second (2000-2010)"
    assert both[1:] == [f"kyrgyzstan: {named}", f"kazakhstan: {named}"]


def test_a_period_named_by_its_years_is_not_dated_twice():
    periods = [
        Period(name="independence to 2000", start=1991, end=2000, quote="q"),
        Period(name="2000-2010", start=2000, end=2010, quote="q"),
        Period(name="2010 to now", start=2010, end=2023, quote="q"),
    ]
    assert period_key({"uzbekistan": periods}).splitlines()[1] == (
        "I independence to 2000 (1991-2000), II 2000-2010, III 2010 to now (2010-2023)"
    )


def test_the_comparison_figure_has_units_a_legend_and_the_periods_in_its_title(baseline_runs):
    target_file = load_target_file(DEFAULT_TARGETS)
    frame = baseline_runs["kyrgyzstan"].frame
    fig = comparison_figure({"kyrgyzstan": frame}, target_file.targets, target_file.periods, "t")
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert all(ax.get_ylabel() for ax in panels)
    labels = [text.get_text() for legend in fig.legends for text in legend.get_texts()]
    assert {"model median", "model 50% band", "model 90% band", "reported figure"} <= set(labels)
    assert "reported lower bound" in labels  # the article's "more than" figures
    assert "I first stage" in fig._suptitle.get_text()


def test_a_regional_comparisons_heading_is_no_wider_than_its_panels(baseline_runs):
    # The three countries' periods in one line made the figure 4,200 px wide, the panels
    # filling the middle half, and ran into the first row's titles.
    target_file = load_target_file(DEFAULT_TARGETS)
    runs = {c: run.frame for c, run in baseline_runs.items()}
    fig = comparison_figure(runs, target_file.targets, target_file.periods, "a regional run")
    fig.canvas.draw()
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    assert box.width <= fig.get_figwidth() * 1.02
    heading = fig._suptitle.get_window_extent()
    titles = [ax.title.get_window_extent() for ax in fig.axes if ax.get_visible() and ax.axison]
    assert heading.y0 >= max(t.y1 for t in titles)
    plt.close(fig)


def test_comparison_panels_are_titled_by_what_they_show_and_mark_other_sources(baseline_runs):
    target_file = load_target_file(DEFAULT_TARGETS)
    frame = baseline_runs["kazakhstan"].frame
    fig = comparison_figure({"kazakhstan": frame}, target_file.targets, target_file.periods, "t")
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.axison]
    assert "Kazakhstan: Registered NGOs" in titles
    assert not [t for t in titles if "_" in t]  # no column names
    labels = [text.get_text() for legend in fig.legends for text in legend.get_texts()]
    assert "red: official figures, not the article's" in labels  # the ministry's counts
    # The article's only 1990s Kazakh figures are ratios of two years: said, not dropped.
    heading = fig._suptitle.get_text().replace("\n", " ")
    assert heading.startswith("t ")  # the figure's own title first
    assert "Ratios of two years, in the table only:" in heading
    assert "kz_registered_growth_1991_1999" in heading
    plt.close(fig)


@pytest.mark.parametrize(
    ("panels", "columns"), [(1, 3), (3, 3), (4, 4), (5, 3), (6, 3), (7, 4), (9, 3), (10, 4)]
)
def test_the_comparison_grid_leaves_as_few_cells_empty_as_it_can(panels, columns):
    # Kazakhstan's five panels sat in a row of four and one of one, three cells empty.
    assert grid_columns(panels) == columns


def test_kazakhstans_comparison_is_two_rows_of_three_panels(baseline_runs):
    target_file = load_target_file(DEFAULT_TARGETS)
    frame = baseline_runs["kazakhstan"].frame
    fig = comparison_figure({"kazakhstan": frame}, target_file.targets, target_file.periods, "t")
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert len(panels) == 5 and len(fig.axes) == 6
    plt.close(fig)


def test_a_legend_too_wide_for_one_row_takes_two_below_the_panels(baseline_runs):
    # Kyrgyzstan's nine entries in one row were wider than its three columns of panels.
    target_file = load_target_file(DEFAULT_TARGETS)
    frame = baseline_runs["kyrgyzstan"].frame
    fig = comparison_figure({"kyrgyzstan": frame}, target_file.targets, target_file.periods, "t")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    [legend] = fig.legends
    box = legend.get_window_extent(renderer)
    assert len(legend.get_texts()) == 9 and legend._ncols == 5
    assert box.width <= fig.bbox.width
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert box.y1 <= min(ax.get_tightbbox(renderer).y0 for ax in panels)
    plt.close(fig)
