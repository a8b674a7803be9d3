"""The density study (experiments/density_hazards.py).

No rule of survival reads density; NGOs that compete for the same grants must still lose
their programmes more often when more of them are founded, and less often when fewer
are, in the Kyrgyz runs. The standardisation must compare hazards on the same NGO-years,
so that a younger population alone does not read as competition.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration.posterior import draw_posterior
from experiments.age_hazards import COUNTS, band_labels
from experiments.density_hazards import (
    FOUNDING_RATES,
    QUANTITIES,
    comparison,
    density_hazards,
    founding_scaled,
    main,
    run_bands,
    standardised_ratio,
)
from experiments.storage import run_seed
from model.scenario import load_scenario

KYRGYZSTAN = "scenarios/kyrgyzstan.yaml"


def bands_of(factor: float, seed: int = 1) -> np.ndarray:
    behaviour = load_scenario(KYRGYZSTAN).behaviour.values()
    return run_bands((KYRGYZSTAN, founding_scaled({}, behaviour, factor), seed))


def test_more_ngos_founded_lose_their_programmes_more_often():
    # At the scenario's values (seed 1): density 1.55 and 0.52 of the calibrated run's,
    # hazard ratios 1.21 and 0.76. The bounds lie about halfway from no change (1).
    base = bands_of(1.0)
    crowded, sparse = comparison(bands_of(2.0), base), comparison(bands_of(0.5), base)
    assert crowded["density"] > 1.25 and sparse["density"] < 0.75
    assert crowded["programmes_hazard"] > 1.1
    assert sparse["programmes_hazard"] < 0.9


def test_a_run_against_itself_is_a_ratio_of_one():
    base = bands_of(1.0, seed=2)
    same = comparison(base, base)
    assert same["density"] == 1.0 and same["programmes_hazard"] == pytest.approx(1.0)
    assert np.isnan(same["programmes_elasticity"])


def test_each_draw_is_compared_with_its_own_calibrated_run():
    # Two draws: the table's medians are the means of the two draws' own comparisons.
    table = density_hazards(KYRGYZSTAN, 2, 3, 1, factors=(2.0,)).set_index("quantity")
    behaviour = load_scenario(KYRGYZSTAN).behaviour.values()
    rows = []
    for d, params in enumerate(draw_posterior(2, 3)):
        task = (KYRGYZSTAN, founding_scaled(params, behaviour, 1.0), run_seed(3, d, 0))
        other = (KYRGYZSTAN, founding_scaled(params, behaviour, 2.0), run_seed(3, d, 0))
        rows.append(comparison(run_bands(other), run_bands(task)))
    for quantity in QUANTITIES:
        expected = np.mean([row[quantity] for row in rows])
        assert table.loc[quantity, "median"] == pytest.approx(expected)


def test_founding_scaled_multiplies_only_the_founding_rates():
    behaviour = {"civic_rate": 30.0, "funding_rate": 60.0, "legitimation": 0.3}
    scaled = founding_scaled({"funding_rate": 10.0, "legitimation": 0.5}, behaviour, 2.0)
    assert scaled == {"civic_rate": 60.0, "funding_rate": 20.0, "legitimation": 0.5}
    assert FOUNDING_RATES == ("civic_rate", "funding_rate")


def counts_with(rates: dict[int, float], risk: dict[int, int]) -> np.ndarray:
    """One year's banded counts: ``risk[b]`` funded in band ``b``, losing ``rates[b]``."""
    counts = np.zeros((1, len(COUNTS), len(band_labels())))
    for band, n in risk.items():
        counts[0, COUNTS.index("funded"), band] = n
        counts[0, COUNTS.index("lost_programmes"), band] = rates[band] * n
    return counts


def test_the_same_hazards_on_a_younger_population_are_a_ratio_of_one():
    rates = {0: 0.5, 6: 0.1}
    base = counts_with(rates, {0: 100, 6: 900})
    younger = counts_with(rates, {0: 900, 6: 100})
    # Pooled, the younger population loses 0.46 a year against 0.14: composition alone.
    assert standardised_ratio(younger, base, "programmes") == pytest.approx(1.0)


def test_doubled_hazards_are_a_ratio_of_two_whatever_the_age_mix():
    base = counts_with({0: 0.2, 6: 0.1}, {0: 100, 6: 900})
    other = counts_with({0: 0.4, 6: 0.2}, {0: 500, 6: 50})
    assert standardised_ratio(other, base, "programmes") == pytest.approx(2.0)


def test_a_band_empty_in_either_run_is_left_out():
    base = counts_with({0: 0.2, 6: 0.1}, {0: 100, 6: 900})
    other = counts_with({0: 0.9, 6: 0.3}, {6: 50})
    assert standardised_ratio(other, base, "programmes") == pytest.approx(3.0)


def test_the_same_draws_and_seed_give_the_same_table_on_one_or_two_workers():
    one = density_hazards(KYRGYZSTAN, 1, 3, 1)
    two = density_hazards(KYRGYZSTAN, 1, 3, 2)
    pd.testing.assert_frame_equal(one, two)
    assert list(one["quantity"].unique()) == list(QUANTITIES)


def test_the_command_prints_its_table_and_writes_the_csv(tmp_path, capsys):
    out = tmp_path / "new" / "density.csv"
    assert main(["--draws", "1", "--workers", "1", "--out", str(out)]) == 0
    assert "| 2 |" in capsys.readouterr().out
    table = pd.read_csv(out)
    assert len(table) == 2 * len(QUANTITIES)
    assert table["median"].notna().all()
