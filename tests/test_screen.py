"""The Morris screen of the calibrated parameters on the targets' errors."""

from __future__ import annotations

from calibration.targets import load_targets
from experiments.screen import ERROR_CAP, target_errors


def test_target_errors_are_one_capped_error_per_target():
    errors = target_errors({})
    assert len(errors) == len(load_targets())
    assert all(0.0 <= e <= ERROR_CAP for e in errors)
    assert any(e > 0 for e in errors)


def test_a_runaway_register_scores_the_cap_on_every_target():
    runaway = {
        "civic_rate": 1e4,
        "funding_rate": 1e4,
        "legitimation": 1.0,
        "competition_density": 1e6,
    }
    assert set(target_errors(runaway)) == {ERROR_CAP}
