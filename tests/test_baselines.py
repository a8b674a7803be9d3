"""Curve baselines of the held-back check (logistic, Gompertz, linear)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from calibration.baselines import baseline_forecasts, fit_curves, forecast, load_anchors
from calibration.targets import HOLDOUT_LAST_YEAR, load_targets
from experiments.calibration_report import heldback_table
from model import ScenarioError


def test_a_logistic_is_recovered_from_points_on_it():
    def curve(t):
        return 20_000 / (1 + math.exp(-0.35 * (t - 2002)))

    fitted = fit_curves({y: curve(y) for y in (1991, 1996, 2000, 2004, 2010)})
    for year in (2017, 2023):
        assert fitted["logistic"](year) == pytest.approx(curve(year), rel=1e-4)
    assert fitted["linear"](2023) > fitted["logistic"](2023)


def test_the_kyrgyz_register_curves_are_fitted_to_the_figures_up_to_2010():
    targets = load_targets()
    held = [t for t in targets if t.id in ("kg_registered_2017", "kg_long_active_2017")]
    curves = baseline_forecasts(targets, held, 2010)
    # The logistic through 50 (1991), 4,966, 13,018 and 18,341 forecasts about 22,000 in 2017.
    assert curves["kg_registered_2017"]["logistic"] == pytest.approx(22_058, rel=0.01)
    assert 18_341 < curves["kg_registered_2017"]["gompertz"] < 30_000
    assert all(np.isnan(v) for v in curves["kg_long_active_2017"].values())


def test_bad_anchors_are_one_line_naming_the_file(write_yaml):
    path = write_yaml("anchors.yaml", {"version": 1, "anchors": {"tajikistan": []}})
    with pytest.raises(ScenarioError, match="anchors.tajikistan"):
        load_anchors(path)


def test_a_curve_reads_a_growth_or_a_range_of_years_as_a_run_does():
    targets = {t.id: t for t in load_targets()}

    def curve(t):
        return 100.0 * (t - 1990)

    # 2017 over 2010: 2,700 / 2,000; today: the mean of 2022 and 2023.
    assert forecast(curve, targets["kg_registered_growth_2010_2017"]) == pytest.approx(1.35)
    assert forecast(curve, targets["kg_registered_today"]) == pytest.approx(3_250.0)
    assert forecast(curve, targets["kg_registered_2017"]) == pytest.approx(2_700.0)


def test_the_held_back_table_gives_each_forecasts_error_against_the_figure():
    targets = load_targets()
    by_id = {t.id: t for t in targets}
    held = [by_id[i] for i in ("kg_registered_2017", "kg_registered_growth_2010_2017")]
    compared = pd.DataFrame(
        {
            "id": [t.id for t in held],
            "reported": ["20000", ">=1"],
            "model_median": [22_000.0, 0.9],
            "model_q05": [18_000.0, 0.8],
            "model_q95": [26_000.0, 1.1],
        }
    )
    table = heldback_table(compared, targets, held).set_index("target")
    curves = baseline_forecasts(targets, held, HOLDOUT_LAST_YEAR)
    row = table.loc["kg_registered_2017"]
    assert row.model_median_error == pytest.approx(0.10)
    for name in ("logistic", "gompertz", "linear"):
        forecast_2017 = curves["kg_registered_2017"][name]
        assert row[name] == forecast_2017
        assert row[f"{name}_error"] == pytest.approx(forecast_2017 / 20_000 - 1)
    # A growth below its floor of 1 misses by 10%; the curves, all growing, meet it.
    growth = table.loc["kg_registered_growth_2010_2017"]
    assert growth.model_median_error == pytest.approx(-0.10)
    assert growth.logistic > 1 and growth.logistic_error == 0


def test_the_held_back_posterior_forecasts_the_unfitted_counts_beside_the_curves(tmp_path):
    from calibration.posterior import load_posterior
    from calibration.targets import load_unfitted
    from experiments.calibration_report import (
        HOLDOUT_POSTERIOR,
        predictive_runs,
        unseen_forecasts,
    )

    targets = load_targets()
    runs = predictive_runs(load_posterior(HOLDOUT_POSTERIOR), draws=3, seed=1)
    later = [t for t in load_unfitted() if t.last_year > HOLDOUT_LAST_YEAR]
    shown = unseen_forecasts(runs, targets, later, tmp_path)
    table = pd.read_csv(tmp_path / "heldback_unfitted.csv").set_index("target")
    # Every figure ending after 2010 that no calibration read, and none before.
    assert sorted(table.index) == sorted(t.id for t in later)
    assert "kg_registered_2023_icnl" in table.index
    assert "uz_registered_2009_cabar" not in table.index
    # The Kyrgyz register counts get the curves of the held-back table; the Uzbek ones none
    # (too few earlier counts), nor does a share.
    kg = [t for t in later if t.id == "kg_registered_2023_icnl"]
    curves = baseline_forecasts(targets, kg, HOLDOUT_LAST_YEAR)["kg_registered_2023_icnl"]
    assert table.loc["kg_registered_2023_icnl", "logistic"] == pytest.approx(curves["logistic"])
    assert np.isnan(table.loc["uz_registered_2019_cabar", "logistic"])
    assert np.isnan(table.loc["kg_operational_share_2018", "logistic"])
    assert shown[1].startswith("| target | year | reported | model_median |")
