"""The README's held-back figures are the committed report's (``calibration/report``).

The README states them in prose; these tests read them back from the files they come
from, so a new calibration that changes the files fails here until the prose follows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from calibration.compare import within_tolerance
from calibration.targets import load_targets

REPO = Path(__file__).resolve().parents[1]
README = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
HELDBACK = pd.read_csv(REPO / "calibration" / "report" / "heldback.csv").set_index("target")


def _percent(value: float) -> str:
    return f"{value:+.1%}"


def test_the_held_back_register_forecasts_and_the_logistics_are_the_reports():
    model = HELDBACK.model_median_error
    logistic = HELDBACK.logistic_error
    stated = (
        f"the model forecasts the Kyrgyz register at {_percent(model['kg_registered_2017'])} "
        f"in 2017 and {_percent(model['kg_registered_today'])} today"
    )
    assert stated in README
    in_2017, today = (_percent(logistic[t]) for t in ("kg_registered_2017", "kg_registered_today"))
    curve = f"a logistic curve fitted to the same figures says {in_2017} and {today}"
    assert curve in README


def test_the_count_of_held_back_medians_within_tolerance_is_the_reports():
    targets = {t.id: t for t in load_targets()}
    within = sum(within_tolerance(targets[i], v) for i, v in HELDBACK.model_median.items())
    found = re.search(r"Of all (\d+) figures after 2010, that held-back forecast has (\d+)", README)
    assert found, "the README no longer states the count"
    assert (int(found.group(1)), int(found.group(2))) == (len(HELDBACK), within)
