"""What a counterfactual's effect rests on (experiments.effect_drivers, drivers.csv)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_experiment import write_experiment, write_posterior

from cli.main import main
from experiments.effect_drivers import effect_drivers
from experiments.forecast_drivers import TOP
from experiments.spec import BASELINE, load_experiment

KYRGYZ = {"civic_rate", "funding_rate", "kyrgyzstan.donor_budget_scale"}


@pytest.fixture
def posterior(tmp_path):
    return write_posterior(tmp_path / "posterior.parquet")


def test_an_experiment_on_posterior_draws_writes_what_each_effect_rests_on(
    tmp_path, posterior, capsys
):
    file = write_experiment(tmp_path / "tiny.yaml", draws=10)
    out = tmp_path / "out"
    assert main(["experiment", str(file), "--posterior", str(posterior), "--out", str(out)]) == 0
    assert f"{out / 'drivers.csv'}" in capsys.readouterr().out
    drivers = pd.read_csv(out / "drivers.csv")
    assert set(drivers.counterfactual) == {"no-2010-shock"}
    assert set(drivers.year) <= {2010, 2012}
    # Only the parameters a Kyrgyz run reads: never the Kazakh donor budget.
    assert set(drivers.parameter) <= KYRGYZ
    assert drivers.groupby(["output", "year"]).size().max() == TOP
    assert drivers["posterior width ratio"].notna().all()


def test_without_draws_there_is_no_table_and_no_stale_one(tmp_path, posterior):
    out = tmp_path / "out"
    file = write_experiment(tmp_path / "tiny.yaml", draws=10)
    assert main(["experiment", str(file), "--posterior", str(posterior), "--out", str(out)]) == 0
    assert (out / "drivers.csv").exists()
    own = write_experiment(tmp_path / "own.yaml", draws=10, params="scenario")
    assert main(["experiment", str(own), "--out", str(out)]) == 0
    assert not (out / "drivers.csv").exists()


def test_too_few_draws_for_the_drivers_are_said_not_skipped_silently(tmp_path, posterior, capsys):
    file = write_experiment(tmp_path / "tiny.yaml", draws=6)
    out = tmp_path / "out"
    assert main(["experiment", str(file), "--posterior", str(posterior), "--out", str(out)]) == 0
    assert not (out / "drivers.csv").exists()
    said = capsys.readouterr().out
    assert "no drivers.csv: what the effects rest on takes at least 8 draws" in said
    assert "the 3 parameters that apply to kyrgyzstan and a constant), and 6 ran" in said


def _results(experiment, effect: np.ndarray) -> pd.DataFrame:
    """Runs whose counterfactual differs from the baseline by ``effect[draw]`` in 2012."""
    rows = []
    for draw, value in enumerate(effect):
        for year in (2010, 2012):
            for scenario, shift in ((BASELINE, 0.0), ("no-2010-shock", value)):
                row = {"scenario": scenario, "draw": draw, "replicate": 0, "year": year}
                row |= {
                    o: 100.0 + (shift if year == 2012 else 0.0) for o in experiment.spec.outputs
                }
                rows.append(row)
    return pd.DataFrame(rows)


def test_the_parameter_the_effect_follows_comes_first(tmp_path):
    experiment = load_experiment(write_experiment(tmp_path / "tiny.yaml", draws=60))
    rng = np.random.default_rng(3)
    sets = [
        {"civic_rate": rng.normal(), "funding_rate": rng.normal(), "kazakhstan.x": 1.0}
        for _ in range(60)
    ]
    effect = np.array([-50 * s["funding_rate"] + rng.normal(0, 5) for s in sets])
    table = effect_drivers(_results(experiment, effect), experiment, sets, pd.Series(dtype=float))
    # No effect in 2010 (every difference 0), so only 2012 is read.
    assert set(table.year) == {2012}
    first = table.groupby("output").head(1)
    assert set(first.parameter) == {"funding_rate"}
    assert (first["partial rank correlation"] < -0.9).all()
    assert "kazakhstan.x" not in set(table.parameter)


def test_a_parameter_without_a_prior_has_no_width_and_stops_nothing(tmp_path):
    frame = pd.read_parquet(write_posterior(tmp_path / "posterior.parquet"))
    # domestic_persistence is a behaviour value the screen fixed: it has no prior.
    frame["domestic_persistence"] = np.linspace(0.2, 0.8, len(frame))
    posterior = tmp_path / "with_fixed.parquet"
    frame.to_parquet(posterior)
    file = write_experiment(tmp_path / "tiny.yaml", draws=12)
    out = tmp_path / "out"
    assert main(["experiment", str(file), "--posterior", str(posterior), "--out", str(out)]) == 0
    drivers = pd.read_csv(out / "drivers.csv").set_index("parameter")
    # Among the drivers (it varies and applies to Kyrgyzstan), with no width of its own.
    assert drivers.loc[["domestic_persistence"], "posterior width ratio"].isna().all()
    assert drivers.drop("domestic_persistence")["posterior width ratio"].notna().all()
