"""The scenario inputs are data, not fits: input checks hold, sources never quote targets.

A figure of the article that the scenario inputs fix by construction (Kazakhstan's state
prizes and grant growth, the years donors and state money appear) is an input check
(``calibration/input_checks.yaml``), not a calibration target; a passage of the article
is an input or a target, never both; donors' money is a shared path, not yearly knots.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from calibration.compare import acceptable_band, statistic
from calibration.regional_patterns import load_patterns
from calibration.targets import load_targets
from model import ScenarioError, load_scenario

REPO = Path(__file__).resolve().parents[1]
INPUT_CHECKS = REPO / "calibration" / "input_checks.yaml"
SHARED_WORDS = 6


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9%]+", text.lower().replace(",", ""))


def _phrases(text: str) -> set[str]:
    """Return every run of ``SHARED_WORDS`` words, each part between "..." on its own."""
    phrases = set()
    for part in re.split(r"\.\.\.|…", text):
        w = _words(part)
        phrases |= {" ".join(w[i : i + SHARED_WORDS]) for i in range(len(w) - SHARED_WORDS + 1)}
    return phrases


def _sources(node, where: str = ""):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("source", "years_source") and isinstance(value, str):
                yield f"{where}.{key}", value
            else:
                yield from _sources(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _sources(value, f"{where}[{i}]")


def test_input_checks_hold_in_every_baseline(baseline_runs):
    checks = load_targets(INPUT_CHECKS)
    assert len(checks) >= 7
    for check in checks:
        value = float(statistic(baseline_runs[check.country].frame, check).iloc[0])
        low, high = acceptable_band(check)
        assert low <= value <= high, (check.id, value)


def test_input_checks_are_not_calibration_targets():
    calibrated = {t.id for t in load_targets()}
    assert not calibrated & {t.id for t in load_targets(INPUT_CHECKS)}


def _quoting_sources(quotes: dict[str, str]) -> list[tuple[str, str, str]]:
    """Return ``(file, source field, quote id)`` for every scenario source sharing a phrase."""
    phrases = {}
    for name, quote in quotes.items():
        for phrase in _phrases(quote):
            phrases.setdefault(phrase, name)
    return [
        (str(path.relative_to(REPO)), where, phrases[p])
        for path in sorted((REPO / "scenarios").rglob("*.yaml"))
        for where, text in _sources(yaml.safe_load(path.read_text()))
        for p in _phrases(text)
        if p in phrases
    ]


def test_no_scenario_source_quotes_a_target():
    assert _quoting_sources({t.id: t.quote or "" for t in load_targets()}) == []


def test_no_scenario_source_quotes_a_fitted_regional_pattern():
    fitted = {p.id: p.quote for p in load_patterns() if p.fitted}
    assert fitted and _quoting_sources(fitted) == []
    # The patterns not fitted are those whose passages date inputs: the check finds them.
    others = {p.id: p.quote for p in load_patterns() if not p.fitted}
    assert others
    assert {name for _, _, name in _quoting_sources(others)} == set(others)


def _bare_assumptions() -> list[tuple[str, str]]:
    """Return ``(file, source field)`` for every scenario source that is "assumption" alone."""
    return [
        (str(path.relative_to(REPO)), where)
        for path in sorted((REPO / "scenarios").rglob("*.yaml"))
        for where, text in _sources(yaml.safe_load(path.read_text()))
        if text.strip().rstrip(".").lower() == "assumption"
    ]


def test_every_assumption_gives_its_reason(monkeypatch, tmp_path):
    # docs/ODD.md: an input is data with its source, or an assumption with a reason.
    assert _bare_assumptions() == []
    bare = tmp_path / "scenarios" / "bare.yaml"
    bare.parent.mkdir()
    bare.write_text('donors: [{mean_grant_usd: {value: 1, source: "Assumption."}}]\n')
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert _bare_assumptions() == [("scenarios/bare.yaml", ".donors[0].mean_grant_usd.source")]


def test_the_overlap_check_finds_a_quoted_target():
    quote = next(t.quote for t in load_targets() if t.quote)
    source = {"state": {"x": {"source": f"assumption: '{quote}' (article)"}}}
    found = [p for _, text in _sources(source) for p in _phrases(text)]
    assert set(found) & _phrases(quote)


def test_donors_have_no_yearly_budget_knots(scenario_file, write_yaml):
    for country in ("kazakhstan", "kyrgyzstan", "uzbekistan"):
        text = scenario_file(country).read_text()
        assert "budget_usd" not in text
    knots = write_yaml(
        "knots.yaml",
        f"extends: {scenario_file('kyrgyzstan')}\n"
        "donors:\n  - name: UNDP\n    budget_usd: {points: {2000: 1}, source: test}\n",
    )
    with pytest.raises(ScenarioError, match="budget_usd"):
        load_scenario(knots)
