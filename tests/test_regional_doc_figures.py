"""The docs' figures of the committed regional calibration are the committed report's.

docs/ODD.md and docs/calibration.md ("The regional layer") state, in prose, how often the
regional patterns hold and how wide the kept regional parameters stay; these tests read
them back from ``calibration/report/``, so a new regional calibration fails here until
the prose follows (as the README's figures do, ``test_readme_figures``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "calibration" / "report"
ODD = " ".join((REPO / "docs" / "ODD.md").read_text(encoding="utf-8").split())
CALIBRATION = " ".join((REPO / "docs" / "calibration.md").read_text(encoding="utf-8").split())
REGIONAL = (REPORT / "regional.md").read_text(encoding="utf-8")
DRAWS = pd.read_csv(REPORT / "regional_draws.csv")
# The ODD's "without the pull of shared problems" (``transboundary_weight`` below 1.5).
WEAK_PULL = 1.5
PATTERNS_AFTER_2010 = ("ties_fall_after_2010", "ties_revive_after_2016")


def _percent(share: float) -> str:
    return f"{share:.0%}"


def test_the_odd_states_the_reports_effective_sample_size():
    found = re.search(r"effective sample size ([\d.]+) of (\d+) kept", REGIONAL)
    assert found, "regional.md no longer states the effective sample size"
    ess, kept = found.groups()
    assert f"an effective sample size of {ess} of {kept} kept draws" in ODD


def test_the_odd_states_how_often_the_fitted_pattern_holds():
    weak = DRAWS[DRAWS.transboundary_weight < WEAK_PULL]
    holds = int(weak.ecology_education_lead.sum())
    assert f"({holds} of {len(weak)} in `calibration/report/regional_draws.csv`)" in ODD
    assert f"about {_percent(holds / len(weak))} of those prior draws" in ODD
    overall = _percent(DRAWS.ecology_education_lead.mean())
    assert f"With the pull it holds in {overall} of all prior draws" in ODD


def test_the_odd_states_how_often_the_growth_of_the_2000s_holds():
    prior = _percent(DRAWS.ties_grow_2000s.mean())
    kept = _percent(DRAWS[DRAWS.kept.astype(bool)].ties_grow_2000s.mean())
    assert f"it holds in {prior} of the prior draws" in ODD
    assert f"and in {kept} of the kept ones" in ODD


def test_the_odd_states_the_kept_regional_parameters_width_ratios():
    section = REGIONAL.split("## Regional parameters", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]  # no header
    ratios = [float(row.rsplit("|", 2)[1]) for row in rows]
    assert ratios, "regional.md lists no regional parameter"
    assert f"kept 90% ranges {min(ratios):.2f}-{max(ratios):.2f} of the prior's" in ODD


def test_the_calibration_doc_states_how_often_the_unfitted_patterns_hold():
    kept = DRAWS[DRAWS.kept.astype(bool)]
    grow, grow_kept = (_percent(d.ties_grow_2000s.mean()) for d in (DRAWS, kept))
    assert f"({grow_kept} of the kept draws hold it, {grow} of the prior's" in CALIBRATION
    assert f"ties grow through the 2000s in {grow} of the prior draws" in CALIBRATION
    fall, revival = (f"{100 * DRAWS[p].mean():g}%" for p in PATTERNS_AFTER_2010)
    assert f"hold at nearly every prior draw ({fall} and {revival}," in CALIBRATION
