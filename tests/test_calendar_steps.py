"""Mesa's clock on a model of calendar years (``model.steps``).

Mesa's ``run_for`` and ``run_until`` run over continuous time and count a step before the
model runs it. A fraction of a year, a calendar year given as Mesa's time, or a year past
the inputs' end is refused before any year is simulated, and leaves the model as it was.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from model import NGOModel, load_scenario
from model.regional import RegionalModel
from model.regional_files import load_region

REPO = Path(__file__).resolve().parents[1]
KAZAKHSTAN = load_scenario(REPO / "scenarios" / "kazakhstan.yaml")
YEARS = KAZAKHSTAN.end_year - KAZAKHSTAN.start_year + 1


def fresh() -> NGOModel:
    return NGOModel(KAZAKHSTAN, rng=5, agents=False)


def clock(model) -> tuple:
    rows = len(model.datacollector.get_model_vars_dataframe())
    return model.steps, model.time, model.year, rows


@pytest.mark.parametrize("duration", [2.5, -1, True, "3", float("nan")])
def test_a_duration_that_is_no_whole_number_of_years_is_refused(duration):
    model = fresh()
    model.run_for(2)
    before = clock(model)
    with pytest.raises(ValueError, match="duration: a whole number of years"):
        model.run_for(duration)
    assert clock(model) == before


def test_a_duration_past_the_last_year_is_refused_before_any_year_runs():
    model = fresh()
    model.run_for(3)
    before = clock(model)
    left = YEARS - 3
    refusal = f"duration: {left + 1} years from .* {left} years left"
    with pytest.raises(ValueError, match=refusal):
        model.run_for(left + 1)
    assert clock(model) == before
    model.run_for(left)
    assert model.year == KAZAKHSTAN.end_year and not model.running


def test_a_calendar_year_given_as_mesas_time_is_refused_with_the_time_that_reaches_it():
    model = fresh()
    with pytest.raises(ValueError, match=rf"end_time: time 2010 .* run_until\({YEARS}\)"):
        model.run_until(2010)
    assert clock(model) == (0, 0, KAZAKHSTAN.start_year - 1, 0)


def test_whole_years_as_floats_and_run_until_give_the_same_table_as_one_run_for():
    model = fresh()
    model.run_for(4.0)
    model.run_until(model.time + 3)
    model.run_until(YEARS)
    reference = fresh()
    reference.run_for(YEARS)
    pd.testing.assert_frame_equal(model.results(), reference.results())
    assert clock(model) == clock(reference)


def test_a_step_past_the_last_year_is_refused_and_leaves_mesas_clock_with_the_rows():
    model = fresh()
    model.run_for(YEARS)
    before = clock(model)
    assert before[0] == before[3] == YEARS
    with pytest.raises(ValueError, match="no year after it to step"):
        model.step()
    assert clock(model) == before


def test_a_currency_factor_takes_a_year_as_a_whole_float_too():
    assert fresh().local_to_constant_usd(2000.0) == fresh().local_to_constant_usd(2000)


@pytest.mark.parametrize("year", [KAZAKHSTAN.start_year - 1, 1980, 2050, 2000.5])
def test_a_currency_factor_of_a_year_outside_the_scenario_is_refused(year):
    with pytest.raises(ValueError, match="year: one of the scenario's years"):
        fresh().local_to_constant_usd(year)
    with pytest.raises(ValueError, match="year: one of the scenario's years"):
        fresh().constant_to_nominal_usd(year)


def test_the_regional_model_refuses_the_same_before_stepping():
    region = load_region(REPO / "scenarios" / "central_asia.yaml")
    model = RegionalModel(region, rng=1, agents=False)
    years = region.end_year - region.start_year + 1
    with pytest.raises(ValueError, match="duration: a whole number of years"):
        model.run_for(1.5)
    with pytest.raises(ValueError, match="where the region ends"):
        model.run_for(years + 1)
    assert (model.steps, model.year) == (0, region.start_year - 1)
    model.run_for(2)
    assert (model.steps, model.year) == (2, region.start_year + 1)
