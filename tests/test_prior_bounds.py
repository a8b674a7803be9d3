"""A priors file's bounds are read strictly: a bound that is no number, or leaves the range.

``calibration.priors.load_priors`` refuses each in one line naming the file and the
parameter's field, before any calibration reads it; the regional layer's parameters are
checked against their own ranges (``model.regional_scenario.REGIONAL_RANGES``).
"""

from __future__ import annotations

import re

import pytest

from calibration.priors import load_priors
from model import ScenarioError
from model.regional_scenario import REGIONAL_RANGES


@pytest.mark.parametrize(
    "bounds, message",
    [
        ("low: true\n    high: 1", "parameters.legitimation.low: Input should be a valid number"),
        ("low: '0.1'\n    high: 1", "parameters.legitimation.low: Input should be a valid number"),
        ("low: 0.1\n    high: .inf", "parameters.legitimation.high: Input should be a finite"),
        (
            "low: -5\n    high: 1",
            "parameters.legitimation: -5 to 1 leaves the parameter's range [0, 5]",
        ),
        ("low: 2\n    high: 1", "low 2 must be below high 1"),
    ],
)
def test_a_prior_bound_that_is_no_number_or_leaves_the_range_is_refused(tmp_path, bounds, message):
    # all but the last were accepted (the last read "Value error, low 2 ...")
    path = tmp_path / "priors.yaml"
    path.write_text(
        "version: 1\nparameters:\n  legitimation:\n    distribution: uniform\n"
        f"    {bounds}\n    unit: exponent\n    reason: a test of the bounds\n"
    )
    with pytest.raises(ScenarioError) as err:
        load_priors(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    assert "Value error" not in str(err.value)


@pytest.mark.parametrize(
    "name, bounds, message",
    [
        ("kyrgyzstan.donor_budget_scale", "low: -1\n    high: 5", "range [0, inf]"),
        ("tie_decay", "low: 0.1\n    high: 2", "0.1 to 2 leaves the parameter's range [0, 1]"),
    ],
)
def test_a_country_or_regional_prior_outside_its_range_is_refused(tmp_path, name, bounds, message):
    path = tmp_path / "priors.yaml"
    path.write_text(
        f"version: 1\nparameters:\n  {name}:\n    distribution: uniform\n"
        f"    {bounds}\n    unit: a unit\n    reason: a test of the bounds\n"
    )
    ranges = REGIONAL_RANGES if name in REGIONAL_RANGES else None
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_priors(path, ranges)
