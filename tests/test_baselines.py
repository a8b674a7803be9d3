"""Curve baselines of the held-back check (logistic, Gompertz, linear)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calibration.baselines import baseline_forecasts, fit_curves, load_anchors
from calibration.targets import load_targets
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
