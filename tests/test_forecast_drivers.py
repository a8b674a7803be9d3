"""What a held-back forecast rests on (experiments.forecast_drivers), on synthetic runs."""

import numpy as np
import pandas as pd
import pytest

from calibration.targets import load_targets
from experiments.forecast_drivers import TOP, forecast_drivers, normal_fit

YEARS = np.arange(2015, 2024)


def by_id(*ids):
    targets = {t.id: t for t in load_targets()}
    return [targets[i] for i in ids]


def runs_from(register: np.ndarray) -> dict[str, pd.DataFrame]:
    """One Kyrgyz run per draw whose register is ``register[i]`` in every year."""
    frames = [
        pd.DataFrame({"replicate": i, "year": YEARS, "registered": value, "reporting": 1.0})
        for i, value in enumerate(register)
    ]
    return {"kyrgyzstan": pd.concat(frames, ignore_index=True)}


def draws_of(n: int, seed: int) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    return [
        {"decline": rng.random(), "rate": rng.random(), "burden": rng.random(), "flat": 1.0}
        for _ in range(n)
    ]


WIDTHS = pd.Series({"decline": 0.98, "rate": 0.4, "burden": 0.7, "flat": 0.0})


def test_the_parameter_that_moves_the_forecast_comes_first_with_its_width():
    draws = draws_of(400, 1)
    noise = np.random.default_rng(2).normal(0, 50, len(draws))
    register = np.array([20_000 - 8_000 * d["decline"] + 500 * d["rate"] for d in draws])
    table = forecast_drivers(
        draws, runs_from(register + noise), by_id("kg_registered_2017"), WIDTHS
    )
    assert list(table["target"]) == ["kg_registered_2017"] * TOP
    first = table.iloc[0]
    assert first["parameter"] == "decline"
    assert first["partial rank correlation"] < -0.95 and first["rank correlation"] < -0.9
    assert first["held-back width ratio"] == 0.98
    assert table.iloc[1]["parameter"] == "rate" and table.iloc[1]["partial rank correlation"] > 0
    # Almost all of the variance comes from the parameters, little from the runs' noise.
    assert first["adjusted R² (all parameters)"] > 0.9
    assert first[f"adjusted R² (these {TOP})"] > 0.9
    # 400 draws and three parameters that vary ("flat" does not): 1 / sqrt(400 - 3 - 1).
    assert (table["standard error"] == 0.05).all()
    # A parameter that never varies has no correlation to show.
    assert "flat" not in set(table["parameter"])


def test_a_forecast_made_of_noise_is_explained_by_nothing():
    draws = draws_of(1000, 3)
    register = 20_000 + np.random.default_rng(4).normal(0, 2_000, len(draws))
    table = forecast_drivers(draws, runs_from(register), by_id("kg_registered_2017"), WIDTHS)
    assert abs(table["adjusted R² (all parameters)"].iloc[0]) < 0.02
    assert table["partial rank correlation"].abs().max() < 0.15


def test_only_register_counts_of_the_runs_countries_are_read():
    draws = draws_of(50, 5)
    register = np.array([10_000 * d["rate"] for d in draws])
    held = by_id("kg_reporting_today", "kz_registered_2020", "kg_registered_today")
    table = forecast_drivers(draws, runs_from(register), held, WIDTHS)
    assert set(table["target"]) == {"kg_registered_today"}


def test_runs_without_the_figure_are_left_out():
    draws = draws_of(60, 6)
    runs = runs_from(np.array([10_000 * d["rate"] for d in draws]))
    frame = runs["kyrgyzstan"]
    # The first ten draws stop before 2017: no value of the 2017 figure.
    runs["kyrgyzstan"] = frame[~((frame.replicate < 10) & (frame.year >= 2017))]
    table = forecast_drivers(draws, runs, by_id("kg_registered_2017"), WIDTHS)
    assert table.iloc[0]["parameter"] == "rate"
    assert table.iloc[0]["rank correlation"] == pytest.approx(1.0)


def test_the_explained_share_is_adjusted_for_the_number_of_parameters():
    rng = np.random.default_rng(7)
    params = pd.DataFrame(rng.random((100, 40)))
    figure = pd.Series(rng.random(100))
    # Unadjusted, 40 columns of noise would explain about 0.4 of 100 draws.
    assert normal_fit(params, figure)[0] < 0.2


def test_too_few_draws_for_the_parameters_give_no_fit():
    rng = np.random.default_rng(8)
    params = pd.DataFrame(rng.random((40, 38)))
    figure = pd.Series(rng.random(40))
    # 40 draws and 38 parameters: an almost exact fit of noise, so no reading at all.
    share, partial = normal_fit(params, figure)
    assert np.isnan(share) and partial.isna().all()
    draws = params.rename(columns=str).to_dict("records")
    runs = runs_from(20_000 + 1_000 * rng.random(40))
    assert forecast_drivers(draws, runs, by_id("kg_registered_2017"), WIDTHS).empty


def test_a_partner_of_the_driver_or_another_country_s_parameter_is_not_credited():
    rng = np.random.default_rng(9)
    n = 800
    # Normal draws, so that the normal scores the fit reads are linear in them.
    decline = rng.normal(0, 1, n)
    # Partners of the driver in the posterior that do nothing themselves: a shared
    # parameter and another country's, both following the driver closely.
    partner = decline + rng.normal(0, 0.2, n)
    draws = pd.DataFrame(
        {
            "decline": decline,
            "partner": partner,
            "kazakhstan.donor_budget_scale": partner,
            "kyrgyzstan.donor_budget_scale": rng.random(n),
        }
    ).to_dict("records")
    register = 20_000 - 2_000 * decline + rng.normal(0, 300, n)
    table = forecast_drivers(draws, runs_from(register), by_id("kg_registered_2017"), WIDTHS)
    assert "kazakhstan.donor_budget_scale" not in set(table.parameter)
    shown = table.set_index("parameter")
    assert shown.index[0] == "decline"
    # A plain rank correlation credits the partner almost as much; the partial does not.
    assert shown.loc["partner", "rank correlation"] < -0.9
    assert abs(shown.loc["partner", "partial rank correlation"]) < 0.15


def test_the_report_reads_each_draw_beside_the_run_it_made(tmp_path):
    from calibration.posterior import draw_posterior, load_posterior
    from calibration.simulator import SCENARIO_FILES
    from experiments.calibration_report import HOLDOUT_POSTERIOR, predictive_runs
    from experiments.forecast_drivers import drivers_section
    from model import load_scenario, simulate

    posterior = load_posterior(HOLDOUT_POSTERIOR)
    sets = draw_posterior(100, 3, posterior)
    runs = predictive_runs(posterior, 100, 3, countries=("kyrgyzstan",), param_sets=sets)
    # Replicate i ran draw i on seed 3 + i (predictive_runs), so the drivers pair them so.
    scenario = load_scenario(SCENARIO_FILES["kyrgyzstan"]).with_params(sets[4])
    alone = simulate(scenario, seed=3 + 4, agents=False)
    ran = runs["kyrgyzstan"][runs["kyrgyzstan"].replicate == 4]
    assert list(ran.registered) == list(alone.registered)
    held = by_id("kg_registered_2017", "kg_registered_today", "kg_reporting_today")
    widths = pd.Series(0.5, index=list(sets[0]))
    lines = drivers_section(sets, runs, held, widths, tmp_path)
    table = pd.read_csv(tmp_path / "heldback_drivers.csv")
    assert set(table.target) == {"kg_registered_2017", "kg_registered_today"}
    assert len(table) == 2 * TOP and lines[1].startswith("| target | adjusted R²")
    assert not table.parameter.str.startswith(("kazakhstan.", "uzbekistan.")).any()
    # With no register figure to read, no table, and no file left from before.
    assert drivers_section(sets, runs, by_id("kg_reporting_today"), widths, tmp_path) == []
    assert not (tmp_path / "heldback_drivers.csv").exists()
