"""Citation and provenance: CITATION.cff against the CFF 1.2.0 schema, the version named in
CITATION.cff and CHANGELOG.md, and docs/sources.md generated from the current files.

The CFF schema is the file that the ``cffconvert`` package ships (``make setup`` installs
it without its dependencies, only for that file); the test is skipped, with the reason,
where it is not installed.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml

from calibration.sources import PAGE, check_page, render_sources, scenario_sources
from cli.main import main

ROOT = Path(__file__).resolve().parent.parent
ARTICLE_TITLE = (
    "The Dynamics of Non-Governmental Organizations and Their Development in Central Asia "
    "(In the Case of Kazakhstan and Kyrgyzstan)"
)


def _version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _citation() -> dict:
    # Dates stay strings: the schema wants the text of the date.
    return json.loads(json.dumps(yaml.safe_load((ROOT / "CITATION.cff").read_text())))


@pytest.fixture(scope="module")
def cff_validator():
    jsonschema = pytest.importorskip("jsonschema")
    spec = importlib.util.find_spec("cffconvert")
    if spec is None:
        pytest.skip("cffconvert (which ships the CFF 1.2.0 schema) is not installed: make setup")
    schema_path = Path(spec.submodule_search_locations[0]) / "schemas" / "1.2.0" / "schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def test_citation_validates_against_the_cff_schema(cff_validator):
    errors = [f"{list(e.path)}: {e.message}" for e in cff_validator.iter_errors(_citation())]
    assert errors == []


def test_the_schema_check_catches_a_broken_citation(cff_validator):
    broken = copy.deepcopy(_citation())
    del broken["authors"]
    broken["date-released"] = "29 November 2026"
    errors = [(list(e.path), e.message) for e in cff_validator.iter_errors(broken)]
    assert ([], "'authors' is a required property") in errors
    assert any(path == ["date-released"] and "does not match" in m for path, m in errors)


def test_citation_names_this_version_and_the_article():
    citation = _citation()
    assert citation["version"] == _version()
    [article] = [r for r in citation["references"] if r["type"] == "article"]
    assert " ".join(article["title"].split()) == ARTICLE_TITLE
    assert article["authors"][0]["family-names"] == "Jaysanov"
    assert article["journal"] == "Central Asian Journal of Theoretical and Applied Sciences"
    assert (article["year"], article["volume"], article["issue"]) == (2023, 4, "6")


def test_the_changelog_has_this_version():
    assert (
        f"## [{_version()}] - {_citation()['date-released']}" in (ROOT / "CHANGELOG.md").read_text()
    )


def test_the_committed_sources_page_is_current(capsys):
    assert check_page(), "docs/sources.md is not current: run `ngo-abm sources`"
    assert main(["sources", "--check"]) == 0
    assert "is current" in capsys.readouterr().out


def test_the_sources_page_lists_every_scenario_source_with_its_input():
    page = render_sources()
    kyrgyz = list(scenario_sources(ROOT / "scenarios" / "kyrgyzstan.yaml"))
    assert len(kyrgyz) == (ROOT / "scenarios" / "kyrgyzstan.yaml").read_text().count("source:")
    where = dict((w, s) for w, _, s in kyrgyz)
    assert where["state.grant_budget_local"].startswith("assumption on the level")
    assert "state.shocks[Second revolution and Osh conflict]" in where
    assert "| state.shocks[Second revolution and Osh conflict] |" in page
    assert "kz_registered_2020" in page and "16news.kz" in page
    # The figures the inputs fix and the regional patterns are the article's figures too.
    assert "| kz_state_prizes_2017 |" in page and "| ties_fall_after_2010 |" in page


def test_a_changed_source_makes_the_page_stale(tmp_path):
    for folder in ("scenarios", "calibration"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / PAGE).parent.mkdir()
    (tmp_path / PAGE).write_text(render_sources(tmp_path), encoding="utf-8")
    assert check_page(tmp_path)
    path = tmp_path / "scenarios" / "kyrgyzstan.yaml"
    path.write_text(path.read_text().replace("the article gives no amount", "a new reading"))
    assert not check_page(tmp_path)
    assert "a new reading" in render_sources(tmp_path)


def test_a_scenario_file_with_values_no_run_would_take_is_listed_as_written(tmp_path):
    # The page lists what the files say; `run` is what refuses them (formatting a text as
    # a number ended `ngo-abm sources` in a traceback).
    for folder in ("scenarios", "calibration"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    odd = "foo: {points: {2000: x}, source: a text}\nbar: {weights: {a: null}, source: none}\n"
    (tmp_path / "scenarios" / "zz.yaml").write_text(odd, encoding="utf-8")
    page = render_sources(tmp_path)
    assert "| foo | 2000: 'x' | a text |" in page and "| bar | a None | none |" in page


def test_the_sources_of_ones_own_file_are_printed_with_what_it_extends(
    tmp_path, capsys, clean_error
):
    # A researcher's own scenario was in no page: `sources` read scenarios/ only.
    kyrgyz = Path(__file__).parents[1] / "scenarios" / "kyrgyzstan.yaml"
    shock = "Second revolution and Osh conflict"
    own = tmp_path / "harsher.yaml"
    own.write_text(
        f"extends: {kyrgyz}\nname: Harsher\nstate:\n  shocks:\n"
        f"    - {{name: {shock}, instability: 1.0, duration_years: 6,\n"
        "       source: 'a test: harsher'}\n",
        encoding="utf-8",
    )
    page = Path(__file__).parents[1] / PAGE
    before = page.stat().st_mtime_ns
    assert main(["sources", str(own)]) == 0
    printed = capsys.readouterr().out
    assert f"| state.shocks[{shock}] | year 2010, duration_years 6, instability 1 |" in printed
    assert "a test: harsher" in printed
    # What the file inherits is listed with its own source.
    assert "| population_millions | 1991: 4.45" in printed
    assert page.stat().st_mtime_ns == before
    # A bad file is refused as `run` refuses it: one line, nothing printed.
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {kyrgyz}\nstate:\n  shocks:\n    - {{name: {shock}, year: 2011}}\n")
    clean_error(main(["sources", str(own), str(bad)]), tmp_path / "none", "bad.yaml", ".source")
    assert main(["sources", "--check", str(own)]) == 2
