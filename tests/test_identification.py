"""Why a parameter is not identified (experiments/identification.py)."""

import numpy as np
import pandas as pd

from experiments.calibration_report import unidentified_section
from experiments.identification import (
    dependence,
    equally_weighted,
    largest_effect,
    reason,
    unidentified_table,
)


def _posterior(n: int = 2000, weights: np.ndarray | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    a = rng.standard_normal(n)
    frame = pd.DataFrame(
        {
            "a": a,
            # b is a plus a little noise: a ridge; c is independent of both.
            "b": np.exp(a + 0.1 * rng.standard_normal(n)),
            "c": rng.uniform(size=n),
        }
    )
    return frame.assign(weight=np.full(n, 1.0 / n) if weights is None else weights)


def _screen() -> pd.DataFrame:
    return pd.DataFrame(
        {"max": [0.4, 3.0], "x_2000": [0.4, 1.0], "y_2010": [0.1, 3.0]},
        index=pd.Index(["a", "c"], name="parameter"),
    )


def test_a_ridge_is_explained_by_the_others_and_an_independent_parameter_is_not():
    dep = dependence(_posterior()).set_index("parameter")
    assert dep.loc["b", "r2"] > 0.95 and dep.loc["a", "r2"] > 0.95
    assert dep.loc["c", "r2"] < 0.02
    assert dep.loc["a", "partner"] == "b" and dep.loc["a", "rho"] > 0.95


def test_the_reasons_follow_the_screen_first_then_the_ridge():
    assert reason(("x_2000", 0.4), 0.9) == "no effect"
    assert reason(("x_2000", 3.0), 0.9) == "ridge"
    assert reason(("x_2000", 3.0), 0.2) == "free where met"
    assert reason(None, 0.2) == "not screened"
    assert reason(None, 0.8) == "ridge"


def test_an_exact_trade_off_reads_as_a_full_ridge():
    posterior = _posterior()
    posterior["b"] = 2.0 * posterior["a"]
    dep = dependence(posterior).set_index("parameter")
    assert dep.loc["a", "r2"] > 0.999 and dep.loc["b", "r2"] > 0.999


def test_the_largest_effect_names_its_figure_and_unscreened_parameters_have_none():
    assert largest_effect(_screen(), "c") == ("y_2010", 3.0)
    assert largest_effect(_screen(), "b") is None


def test_only_parameters_not_called_identified_get_a_reason():
    ident = pd.DataFrame(
        {
            "parameter": ["a", "b", "c"],
            "width ratio": [0.9, 0.2, 0.95],
            "identified": ["no", "yes", "no"],
        }
    )
    table = unidentified_table(ident, _posterior(), _screen()).set_index("parameter")
    assert list(table.index) == ["a", "c"]
    assert table.loc["a", "why"] == "no effect"
    assert table.loc["c", "why"] == "free where met"
    assert table.loc["c", "largest screen effect"] == "y_2010 3"


def test_the_section_says_so_when_too_few_particles_measure_the_dependence():
    weights = np.r_[1000.0, np.ones(1999)]
    posterior = _posterior(weights=weights / weights.sum())
    ident = pd.DataFrame({"parameter": ["a"], "width ratio": [0.9], "identified": ["no"]})
    (line,) = unidentified_section(ident, posterior)
    assert line.startswith("Why the others stay wide is not measured")
    assert len(unidentified_section(ident, _posterior())) == 2


def test_a_weighted_posterior_is_resampled_by_its_weights_before_its_dependence():
    weights = np.r_[np.full(1000, 1e-6), np.ones(1000)]
    posterior = _posterior(weights=weights / weights.sum())
    drawn = equally_weighted(posterior)
    assert drawn.index.min() >= 1000
    even = _posterior()
    assert equally_weighted(even) is even


def test_the_ridges_of_a_weighted_posterior_are_those_of_its_weight():
    from experiments.validation_report import ridges

    rng = np.random.default_rng(4)
    a = rng.standard_normal(2000)
    # The weighted half has a and b traded off; the half of no weight has them independent.
    b = np.r_[a[:1000] + 0.1 * rng.standard_normal(1000), rng.standard_normal(1000)]
    weights = np.r_[np.ones(1000), np.full(1000, 1e-9)]
    posterior = pd.DataFrame({"a": a, "b": b, "weight": weights / weights.sum()})
    assert ridges(posterior)["rank correlation"].iloc[0] > 0.95
    assert ridges(posterior.assign(weight=0.5e-3))["rank correlation"].iloc[0] < 0.8
