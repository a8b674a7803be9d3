"""The regional story's patterns are data (``calibration/regional_patterns.yaml``), read strictly.

The rules are checked on hand-made tie totals and sector concentrations at their edges; a
bad patterns file is one line naming the file and the field, and `ngo-abm calibrate
regional` refuses it before any run, with exit status 2 and nothing written.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pandas as pd
import pytest
import yaml

import calibration.regional_patterns as patterns_module

# Imported before any test patches ``PATTERNS_FILE``, which it binds by name (its record of
# the inputs' SHA-256 must name the committed file in every later test of this process).
import experiments.regional_calibration  # noqa: F401
from calibration.regional_patterns import (
    PATTERNS_FILE,
    check_years,
    fitted_ids,
    holds,
    load_patterns,
)
from cli.main import main
from model import ScenarioError
from model.scenario import SECTORS

REPO = Path(__file__).resolve().parents[1]
ARTICLE = REPO / ".." / "shared" / "source" / "000_4dc34825bbeab1ab.txt"


def committed() -> dict:
    return yaml.safe_load(PATTERNS_FILE.read_text(encoding="utf-8"))


def written(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "patterns.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_the_committed_patterns_and_which_are_fitted():
    found = {p.id: p for p in load_patterns()}
    assert list(found) == [
        "ties_grow_2000s",
        "ties_fall_after_2010",
        "ties_revive_after_2016",
        "ecology_education_lead",
    ]
    assert fitted_ids(load_patterns()) == ("ecology_education_lead",)
    assert found["ties_fall_after_2010"].description == "working ties in 2015 at most those of 2010"
    assert found["ties_grow_2000s"].description == "working ties in 2009 above 2001"
    assert found["ecology_education_lead"].description.startswith(
        "ecology, education and other are the 3 sectors most over-represented"
    )
    assert "agriculture NGOs are in 'other'" in found["ecology_education_lead"].passage


def test_every_quote_is_the_article_s_own_words():
    if not ARTICLE.exists():
        pytest.skip(f"the source article is not beside this checkout ({ARTICLE})")
    text = " ".join(ARTICLE.read_text(encoding="utf-8").split())
    for pattern in load_patterns():
        # An ellipsis joins two pieces of one passage.
        for piece in pattern.quote.split(" ... "):
            assert " ".join(piece.split()) in text, (pattern.id, piece)


def _totals(**by_year: float) -> pd.Series:
    years = range(1991, 2024)
    return pd.Series([by_year.get(f"y{y}", 5.0) for y in years], index=years, dtype=float)


def _concentration(top: tuple[str, ...]) -> pd.Series:
    values = {s: (3.0 if s in top else 0.5) for s in SECTORS}
    return pd.Series(values)


LEAD = ("ecology", "education", "other")


@pytest.mark.parametrize(
    ("totals", "expected"),
    [
        (_totals(), {"ties_grow_2000s": False, "ties_fall_after_2010": True}),
        (_totals(y2009=6), {"ties_grow_2000s": True, "ties_fall_after_2010": True}),
        (_totals(y2015=5.5), {"ties_fall_after_2010": False, "ties_revive_after_2016": False}),
        (_totals(y2023=5.5), {"ties_revive_after_2016": True}),
    ],
)
def test_the_ties_rules_at_their_edges(totals, expected):
    # Equal ties: "above" does not hold, "at most" does.
    result = holds(totals, _concentration(LEAD))
    assert {k: result[k] for k in expected} == expected


def test_the_sector_rule_asks_for_exactly_the_listed_sectors():
    assert holds(_totals(), _concentration(LEAD))["ecology_education_lead"]
    others = tuple(s for s in SECTORS if s not in LEAD)[:3]
    assert not holds(_totals(), _concentration(others))["ecology_education_lead"]
    # Two of the three on top with a fourth is not the pattern either.
    assert not holds(_totals(), _concentration((*LEAD[:2], others[0])))["ecology_education_lead"]


def _bad(mutate) -> dict:
    data = committed()
    mutate(data)
    return data


BAD = {
    "unknown rule": (lambda d: d["patterns"][0].update(rule="ties_below"), "patterns.0"),
    "unknown sector": (
        lambda d: d["patterns"][3].update(sectors=["ecology", "farming"]),
        "patterns.3.top_sectors.sectors.1",
    ),
    "sector twice": (
        lambda d: d["patterns"][3].update(sectors=["ecology", "ecology"]),
        "listed twice",
    ),
    "years swapped": (
        lambda d: d["patterns"][1].update(earlier=2015, later=2010),
        "must come after",
    ),
    "id twice": (lambda d: d["patterns"][1].update(id="ties_grow_2000s"), "given twice"),
    "quoted year": (lambda d: d["patterns"][0].update(later="2009"), "later"),
    "no quote": (lambda d: d["patterns"][2].pop("quote"), "quote"),
    "unknown key": (lambda d: d["patterns"][0].update(weight=2), "weight"),
    "no patterns": (lambda d: d.update(patterns=[]), "patterns"),
    "id with a space": (lambda d: d["patterns"][0].update(id="ties grow"), "id"),
    "short reason": (lambda d: d["patterns"][0].update(not_fitted="no"), "not_fitted"),
    "none fitted": (
        lambda d: d["patterns"][3].update(not_fitted="a test's reason for it"),
        "fits none",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_patterns_file_is_one_line_naming_the_file_and_field(tmp_path, case):
    mutate, fragment = BAD[case]
    path = written(tmp_path, _bad(mutate))
    with pytest.raises(ScenarioError) as err:
        load_patterns(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and fragment in message, message
    assert "\n" not in message


def test_a_year_outside_the_regional_run_is_refused(tmp_path):
    path = written(tmp_path, _bad(lambda d: d["patterns"][2].update(later=2030)))
    with pytest.raises(ScenarioError, match=r"patterns\.2\.later: 2030 is outside"):
        check_years(1989, 2023, path)
    check_years(1989, 2023)  # the committed file reads only years of the run


def test_calibrate_regional_refuses_a_bad_patterns_file_before_any_run(tmp_path, monkeypatch):
    bad = written(tmp_path, _bad(lambda d: d["patterns"][0].update(earlier=1950)))
    monkeypatch.setattr(patterns_module, "PATTERNS_FILE", bad)
    report = REPO / "calibration" / "report"
    before = {p: p.stat().st_mtime_ns for p in report.iterdir()}
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        argv = ["calibrate", "regional", "--draws", "2", "--workers", "1"]
        status = main([*argv, "--out", str(tmp_path / "trial")])
    assert status == 2 and len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
    assert f"{bad}: patterns.0.earlier: 1950 is outside the regional run" in err.getvalue()
    assert {p: p.stat().st_mtime_ns for p in report.iterdir()} == before
    assert not (tmp_path / "trial").exists()
