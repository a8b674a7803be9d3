"""The figures of experiments and runs (``experiments/figures.py``, ``experiments/runs.py``).

Each output's difference in its own unit for every key year (``effects_figure``), the
years past the baseline file's own end year marked as a no-change projection, and run
figures whose titles say which parameters their bands are over.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from test_experiment import ROOT, SCENARIOS, write_experiment

from experiments.figures import effects_figure, income_figure, mark_projection
from experiments.runs import runs_described
from experiments.spec import load_experiment


def test_the_effects_figure_plots_each_difference_in_its_unit_for_every_key_year(tmp_path):
    cf = {
        "name": "more",
        "scenario": str(SCENARIOS / "kyrgyzstan.yaml"),
        "question": "What if donors doubled?",
    }
    extra = {**cf, "levers": {"donor_budget_scale": 2.0}}
    outputs = ["registered", "income_state_usd", "share_income_foreign"]
    file = write_experiment(
        tmp_path / "e.yaml", counterfactuals=[extra], key_years=[2005, 2010], outputs=outputs
    )
    experiment = load_experiment(file)
    table = pd.DataFrame(
        {
            "counterfactual": ["more"] * 6,
            "output": outputs * 2,
            "year": [2005] * 3 + [2010] * 3,
            # A baseline of no state money: its difference is shown all the same.
            "baseline_median": [2_000.0, 0.0, 0.6] * 2,
            "diff_median": [10.0, 1e5, 0.01, 100.0, 5e5, 0.05],
            "diff_q05": [1.0, 0.0, 0.0, 20.0, 2e5, 0.01],
            "diff_q95": [30.0, 3e5, 0.02, 300.0, 8e5, 0.09],
        }
    )
    fig = effects_figure(table, experiment)
    panels = fig.axes[:3]
    points = [c.lines[0].get_xdata()[0] for ax in panels for c in ax.containers]
    assert points == pytest.approx([10.0, 100.0, 0.1, 0.5, 0.01, 0.05])
    low, high = panels[0].containers[1].lines[2][0].get_segments()[0][:, 0]
    assert (low, high) == pytest.approx((20.0, 300.0))
    labels = [ax.get_xlabel() for ax in panels]
    assert labels == [
        "difference\n(NGOs)",
        "difference\n(million constant 2023 US$)",
        "difference\n(share (0-1))",
    ]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["2005", "2010"]
    assert " in 20" not in fig.get_suptitle()
    plt.close(fig)


def test_an_effects_figure_of_one_key_year_names_it_in_its_title(tmp_path):
    file = write_experiment(tmp_path / "e.yaml", key_years=[2012], outputs=["registered"])
    experiment = load_experiment(file)
    table = pd.DataFrame(
        {"counterfactual": experiment.counterfactuals, "output": "registered", "year": 2012}
    ).assign(baseline_median=2_000.0, diff_median=10.0, diff_q05=1.0, diff_q95=30.0)
    fig = effects_figure(table, experiment)
    assert not fig.legends
    assert "minus the baseline in 2012, run by run" in fig.get_suptitle()
    plt.close(fig)


@pytest.mark.parametrize(
    "names, years",
    [
        # many markers a panel: four columns
        (("more", "much-more"), [1995, 1997, 1999, 2001, 2003, 2005, 2007]),
        # few: three columns (kyrgyzstan_2035.yaml's layout, where they ran together too;
        # its long counterfactual name narrows the panels)
        (("foreign-representatives-law",), [1995, 2000, 2005, 2010]),
    ],
)
def test_the_effects_figures_long_titles_keep_to_their_panels(tmp_path, names, years):
    # "NGOs funded five years running" ran into "Foreign share of NGO income" beside it.
    outputs = ["long_active", "share_income_foreign", "share_foreign_funded", "registered"]
    outputs += ["income_foreign_usd", "donors_active"]
    cfs = [
        {
            "name": name,
            "scenario": str(SCENARIOS / "kyrgyzstan.yaml"),
            "question": "What if donors gave more?",
            "levers": {"donor_budget_scale": scale},
        }
        for name, scale in zip(names, (2.0, 3.0), strict=False)
    ]
    file = write_experiment(
        tmp_path / "e.yaml", counterfactuals=cfs, key_years=years, outputs=outputs
    )
    cells = [(c["name"], o, y) for c in cfs for o in outputs for y in years]
    table = pd.DataFrame(cells, columns=["counterfactual", "output", "year"]).assign(
        baseline_median=1.0, diff_median=0.1, diff_q05=0.0, diff_q95=0.2
    )
    fig = effects_figure(table, load_experiment(file))
    fig.canvas.draw()
    boxes = [ax.title.get_window_extent() for ax in fig.axes[: len(outputs)]]
    overlaps = [
        (i, j) for i, a in enumerate(boxes) for j, b in enumerate(boxes) if i < j and a.overlaps(b)
    ]
    assert overlaps == []
    plt.close(fig)


def test_a_counts_differences_are_ticked_in_whole_numbers_even_when_all_zero(tmp_path):
    # A lever that changes no donor's presence drew ticks at -0.03, 0.00 and 0.03 donors.
    outputs = ["donors_active", "registered", "share_income_foreign"]
    file = write_experiment(tmp_path / "e.yaml", key_years=[2005, 2010], outputs=outputs)
    experiment = load_experiment(file)
    cells = [(c, o, y) for c in experiment.counterfactuals for o in outputs for y in (2005, 2010)]
    table = pd.DataFrame(cells, columns=["counterfactual", "output", "year"]).assign(
        baseline_median=1.0, diff_median=0.0, diff_q05=0.0, diff_q95=0.0
    )
    fig = effects_figure(table, experiment)
    fig.canvas.draw()
    donors, registered, share = fig.axes[:3]
    for ax in (donors, registered):
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks
    # a share's axis keeps its fractions
    assert not all(float(t).is_integer() for t in share.get_xticks())
    plt.close(fig)


def test_a_projection_past_the_baseline_files_years_is_marked():
    projected = load_experiment(ROOT / "experiments" / "kyrgyzstan_2035.yaml")
    assert projected.filed_end_year == 2023 and projected.projection_start == 2024
    fig, ax = plt.subplots()
    mark_projection(ax, projected)
    [span] = ax.patches
    assert span.get_x() == 2023 and span.get_x() + span.get_width() == 2035
    assert [t.get_text().strip() for t in ax.texts] == ["projection"]
    within = load_experiment(ROOT / "experiments" / "kazakhstan_state_support.yaml")
    assert within.projection_start is None
    fig, ax = plt.subplots()
    mark_projection(ax, within)
    assert not ax.patches and not ax.texts


def test_a_run_figures_title_says_which_parameters_its_bands_are_over():
    manifest = {"replicates": 8, "params_source": "posterior draws (posterior.parquet)"}
    assert runs_described(manifest) == "8 replicate(s), posterior draws (posterior.parquet)"
    # A folder written before manifests named their parameters claims no source.
    assert runs_described({"replicates": 8}) == "8 replicate(s)"


def test_a_levers_counterfactual_is_titled_by_its_name_and_marked_where_its_inputs_differ(
    tmp_path,
):
    # Titled by the scenario's name, it read "Kyrgyzstan baseline, cut against the
    # baseline"; a 2005 policy's difference seemed to leave zero in 2004.
    from experiments.figures import _title, difference_figure

    cf = {
        "name": "half-donors",
        "scenario": str(SCENARIOS / "kyrgyzstan.yaml"),
        "question": "What if donors had halved their money from 2005?",
        "levers": {"donor_cut_year": 2005, "donor_cut_share": 0.5},
    }
    file = write_experiment(tmp_path / "e.yaml", counterfactuals=[cf], outputs=["registered"])
    experiment = load_experiment(file)
    assert _title(experiment, "half-donors") == "half-donors"
    years = list(experiment.baseline.years)
    runs = pd.DataFrame(
        [
            {
                "scenario": s,
                "draw": 0,
                "replicate": r,
                "year": y,
                # The counterfactual's runs differ from 2005 on.
                "registered": 100.0 + r + (s != "baseline" and y >= 2005),
            }
            for s in ("baseline", "half-donors")
            for r in (0, 1)
            for y in years
        ]
    )
    fig = difference_figure(runs, experiment, "half-donors")
    marks = [line for line in fig.axes[0].lines if line.get_label() == "runs first differ in 2005"]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [2005, 2005]
    assert fig.axes[0].get_title() == "Registered NGOs"
    assert "differ from their first year" not in fig.get_suptitle()
    plt.close(fig)
    # Differing from the first year, the line would lie on the axis: the title says it.
    first = years[0]
    runs["registered"] += (runs.scenario != "baseline") & (runs.year < 2005)
    fig = difference_figure(runs, experiment, "half-donors")
    assert not [line for line in fig.axes[0].lines if "first differ" in line.get_label()]
    assert f"the runs differ from their first year ({first})" in fig.get_suptitle().replace(
        "\n", " "
    )
    plt.close(fig)


def test_a_file_with_levers_on_top_is_titled_by_the_file_and_them(tmp_path):
    # Titled by the file's name alone, halving the donors' money read as the effect of
    # state funding from 2005, the file's policy.
    from experiments.figures import _title, difference_figure

    file = SCENARIOS / "counterfactuals" / "kg_state_funding_2005.yaml"
    question = "What if state funding started in 2005?"
    counterfactuals = [
        {"name": "state-2005", "scenario": str(file), "question": question},
        {
            "name": "state-2005-less",
            "scenario": str(file),
            "question": question,
            "levers": {"donor_budget_scale": 0.5},
            "switch_off": ["legitimation"],
        },
    ]
    experiment = load_experiment(
        write_experiment(
            tmp_path / "e.yaml",
            counterfactuals=counterfactuals,
            outputs=["registered", "operational"],
        )
    )
    name = experiment.scenarios["state-2005"].name
    assert _title(experiment, "state-2005") == name
    changed = _title(experiment, "state-2005-less")
    assert changed == f"{name} (with donor_budget_scale 0.5, legitimation off)"
    runs = pd.DataFrame(
        [
            {"scenario": s, "draw": 0, "replicate": r, "year": y, "registered": 1.0, **more}
            for s in ("baseline", "state-2005-less")
            for r in (0, 1)
            for y in experiment.baseline.years
            for more in [{"operational": 1.0}]
        ]
    )
    fig = difference_figure(runs, experiment, "state-2005-less")
    title = fig._suptitle.get_text()
    assert changed in title.replace("\n", " ")
    # Wrapped to the figure's width: a line of 110 characters ran past a figure of two
    # panels, over the second panel's axis label.
    assert max(len(line) for line in title.splitlines()) <= 11 * fig.get_figwidth()
    plt.close(fig)


def test_the_income_sources_are_told_apart_without_colour(tmp_path):
    file = write_experiment(tmp_path / "e.yaml", key_years=[2005, 2010])
    experiment = load_experiment(file)
    name = experiment.counterfactuals[0]
    years = list(range(2000, 2006))
    rows = [
        {"scenario": s, "year": y, "income_foreign_usd": 3e6, "income_state_usd": 1e6,
         "income_domestic_usd": 2e6}
        for s in ("baseline", name) for y in years
    ]  # fmt: skip
    fig = income_figure(pd.DataFrame(rows), experiment, name)
    # In a greyscale print the three colours are about one grey: each has its own hatching.
    hatches = [band.get_hatch() or "" for band in fig.axes[0].collections]
    assert len(set(hatches)) == 3, hatches
    legend = [patch.get_hatch() or "" for patch in fig.legends[0].get_patches()]
    assert legend == hatches
    plt.close(fig)


def test_key_years_have_their_own_markers_and_a_panel_of_zeros_says_so(tmp_path):
    cf = {
        "name": "more",
        "scenario": str(SCENARIOS / "kyrgyzstan.yaml"),
        "question": "What if donors doubled?",
        "levers": {"donor_budget_scale": 2.0},
    }
    outputs = ["registered", "foreign_restriction"]
    file = write_experiment(
        tmp_path / "e.yaml", counterfactuals=[cf], key_years=[2005, 2010], outputs=outputs
    )
    experiment = load_experiment(file)
    table = pd.DataFrame(
        {
            "counterfactual": ["more"] * 4,
            "output": outputs * 2,
            "year": [2005] * 2 + [2010] * 2,
            "baseline_median": [2_000.0, 0.0] * 2,
            "diff_median": [10.0, 0.0, 100.0, 0.0],
            "diff_q05": [1.0, 0.0, 20.0, 0.0],
            "diff_q95": [30.0, 0.0, 300.0, 0.0],
        }
    )
    fig = effects_figure(table, experiment)
    markers = [c.lines[0].get_marker() for c in fig.axes[0].containers]
    assert len(set(markers)) == 2, markers
    assert fig.axes[0].get_title() == "Registered NGOs"
    assert fig.axes[1].get_title().replace("\n", " ").endswith("(no run differs)")
    plt.close(fig)
