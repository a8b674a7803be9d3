"""Scenario values that used to pass and change a run silently (the probes of session 32).

Each is refused with one line naming the file and the field, exit status 2, nothing
written: a base year of the CPI outside its series (read at the series' first or last
point), a population above the limit named by its field, and a CPI whose years differ by
more than a price index can.
"""

from __future__ import annotations

import pytest
from cli_helpers import run_cli

from model import load_scenario
from model.timeline import local_to_constant_usd


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cpi_base_year: 1900\n", "cpi_base_year 1900 is outside the usd_cpi series"),
        ("cpi_base_year: 2060\n", "cpi_base_year 2060 is outside the usd_cpi series"),
        (
            "population_millions:\n  points: {2099: 7000}\n  source: a test\n",
            "population_millions: above 2,000 million",
        ),
        # Gave a domestic income of 2e306 dollars in 1991, with no word.
        (
            "usd_cpi:\n  points: {1991: 1.0e-300, 2023: 304.7}\n  source: a test\n",
            "usd_cpi.points: the highest value (304.7) is more than 1,000 times the lowest",
        ),
    ],
)
def test_a_scenario_value_that_would_change_a_run_silently_is_refused(
    scenario_file, write_yaml, tmp_path, text, expected
):
    path = write_yaml("s.yaml", f"extends: {scenario_file('kyrgyzstan')}\n{text}")
    out = tmp_path / "out"
    status, _, err = run_cli(["run", str(path), "--params", "scenario", "--out", str(out)])
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{path}: {expected}" in err and "Traceback" not in err
    assert not out.exists()


def test_a_base_year_inside_the_cpi_series_is_taken(scenario_file, write_yaml, tmp_path):
    path = write_yaml("s.yaml", f"extends: {scenario_file('kyrgyzstan')}\ncpi_base_year: 2000\n")
    status, _, err = run_cli(
        ["run", str(path), "--params", "scenario", "--out", str(tmp_path / "o")]
    )
    assert status == 0, err
    # Its dollars are 2000's: every year's local money is fewer of them, by 2000's CPI/2023's.
    moved, own = load_scenario(path), load_scenario(scenario_file("kyrgyzstan"))
    ratio = own.usd_cpi.at(2023) / own.usd_cpi.at(2000)
    assert ratio > 1.5
    for year in (1995, 2000, 2023):
        factor = local_to_constant_usd(moved, year) / local_to_constant_usd(own, year)
        assert factor == pytest.approx(1 / ratio, rel=1e-12)
