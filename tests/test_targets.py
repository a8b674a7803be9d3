"""The committed targets file (the article's figures) and the targets loader's errors."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from calibration.run_checks import check_targets_fit_runs
from calibration.targets import (
    DEFAULT_TARGETS,
    Target,
    load_target_file,
    load_targets,
    load_unfitted,
)
from model import COUNTRIES, OUTPUT_COLUMNS, ScenarioError

ARTICLE = "../shared/source/000_4dc34825bbeab1ab.txt"  # relative to the repository root
INPUT_CHECKS = DEFAULT_TARGETS.with_name("input_checks.yaml")

ENTRY = {
    "id": "kg_example",
    "country": "kyrgyzstan",
    "column": "registered",
    "year": 2000,
    "kind": "point",
    "value": 4966,
    "tolerance": 0.05,
    "quote": "For example, in 2000, the number of NGOs was 4,966",
    "section": "Kyrgyzstan",
    "reading": "registered at the end of 2000",
}


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def target_file():
    return load_target_file(DEFAULT_TARGETS)


@pytest.fixture(scope="module")
def targets(target_file):
    """The article's figures: calibration targets and input checks."""
    return {t.id: t for t in [*target_file.targets, *load_targets(INPUT_CHECKS)]}


# The committed file ---------------------------------------------------------------------


def test_committed_targets_validate_and_cover_every_country(target_file):
    assert len(target_file.targets) >= 20
    assert {t.country for t in target_file.targets} == set(COUNTRIES)
    for t in target_file.targets:
        assert t.column in OUTPUT_COLUMNS
        assert t.denominator is None or t.denominator in OUTPUT_COLUMNS


def test_committed_targets_lie_within_the_committed_scenarios_years(target_file, scenarios):
    spans = {c: (s.start_year, s.end_year) for c, s in scenarios.items()}
    check_targets_fit_runs(target_file.targets, spans, str(DEFAULT_TARGETS))


def test_every_quote_occurs_verbatim_in_the_article(target_file, repo):
    article = repo / ARTICLE
    if not article.exists():
        pytest.skip(f"the source article is not beside this checkout ({article})")
    text = normalised(article.read_text(encoding="utf-8"))
    article_figures = [t for t in [*target_file.targets, *load_targets(INPUT_CHECKS)] if t.quote]
    assert len(article_figures) >= 30
    missing = [t.id for t in article_figures if normalised(t.quote) not in text]
    assert missing == []
    periods = [p for ps in target_file.periods.values() for p in ps]
    assert periods
    assert [p.name for p in periods if normalised(p.quote) not in text] == []


def find(targets, **fields) -> list[Target]:
    return [t for t in targets.values() if all(getattr(t, k) == v for k, v in fields.items())]


@pytest.mark.parametrize(
    ("fields", "reported", "in_quote"),
    [
        ({"country": "kyrgyzstan", "column": "registered", "year": 2000}, 4966, "4,966"),
        ({"country": "kyrgyzstan", "column": "registered", "year": 2006}, 13018, "13,018"),
        ({"country": "kyrgyzstan", "column": "registered", "year": 2010}, 18341, "18,341"),
        (
            {"country": "kazakhstan", "column": "state_prizes_local", "year": 2017},
            68.7e6,
            "68.7 million",
        ),
        (
            {"country": "kazakhstan", "column": "state_prizes_local", "year": 2021},
            81.7e6,
            "81.7 million",
        ),
        (
            {"country": "kazakhstan", "column": "state_grants_local", "base_year": 2011},
            7.2,
            "7.2 times",
        ),
        ({"country": "uzbekistan", "column": "registered", "year": 1991}, 95, "95 NGOs"),
        (
            {"country": "uzbekistan", "column": "registered", "year": 2010, "kind": "at_least"},
            5100,
            "over 5,100",
        ),
        ({"country": "kyrgyzstan", "column": "share_income_le_5k"}, 0.52, "52%"),
        ({"country": "kyrgyzstan", "column": "share_income_gt_50k"}, 0.10, "10%"),
        ({"country": "kyrgyzstan", "column": "share_ecology", "kind": "point"}, 0.144, "14.4%"),
        (
            {"country": "kyrgyzstan", "column": "share_foreign_funded", "kind": "at_least"},
            0.9,
            "more than 90%",
        ),
        (
            {"country": "kyrgyzstan", "column": "new_registrations", "kind": "at_least"},
            200,
            "more than 200",
        ),
    ],
    ids=[
        "kg-2000",
        "kg-2006",
        "kg-2010",
        "kz-prizes-2017",
        "kz-prizes-2021",
        "kz-grants-x7.2",
        "uz-95",
        "uz-5100",
        "kg-52pct-le-5k",
        "kg-10pct-gt-50k",
        "kg-ecology",
        "kg-90pct-foreign",
        "kg-200-per-year",
    ],
)
def test_committed_targets_hold_the_articles_figures(targets, fields, reported, in_quote):
    matches = find(targets, **fields)
    assert len(matches) == 1, [t.id for t in matches]
    t = matches[0]
    assert t.value == pytest.approx(reported)
    assert in_quote in t.quote


def test_growth_target_reads_2016_against_2011(targets):
    (t,) = find(targets, country="kazakhstan", column="state_grants_local", base_year=2011)
    assert (t.year, t.kind) == (2016, "point")


# Validation of single targets -----------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"years": (2000, 2001), "aggregate": "mean"}, "exactly one of year and years"),
        ({"year": None}, "exactly one of year and years"),
        ({"year": None, "years": (2000, 2001)}, "years needs an aggregate"),
        ({"year": None, "years": (2005, 2001), "aggregate": "mean"}, "[first, last]"),
        ({"kind": "range", "low": 5.0, "high": 1.0}, "low <= high"),
        ({"kind": "range"}, "low <= high"),
        ({"value": None}, "needs a value"),
        ({"tolerance": 1.5}, "less than or equal to 1"),
        ({"id": "Bad Id"}, "pattern"),
        ({"column": "ngo_count"}, "Input should be"),
    ],
)
def test_inconsistent_targets_are_rejected(changes, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        Target.model_validate(ENTRY | changes)


EXTERNAL = {
    "source": "a statistics office, its yearly bulletin",
    "date": "May 2016",
    "definition": "NGOs on the register at the date",
}


def test_a_target_is_an_article_figure_or_an_external_one_not_both():
    article_only = {k: v for k, v in ENTRY.items() if k not in ("quote", "section")}
    assert Target.model_validate(article_only | EXTERNAL).external
    assert not Target.model_validate(ENTRY).external
    for bad in (ENTRY | EXTERNAL, article_only, article_only | {"source": EXTERNAL["source"]}):
        with pytest.raises(ValidationError, match="not both"):
            Target.model_validate(bad)


def test_committed_external_targets_name_their_source_and_definition(target_file):
    external = [t for t in target_file.targets if t.external]
    assert {t.country for t in external} == {"kazakhstan", "kyrgyzstan", "uzbekistan"}
    assert len(external) >= 8
    assert all(t.quote is None and t.definition and t.date for t in external)


def test_an_external_file_adds_its_targets_and_its_errors_name_it(write_yaml, tmp_path):
    article_only = {k: v for k, v in ENTRY.items() if k not in ("quote", "section")}
    extra = article_only | EXTERNAL | {"id": "kg_external"}
    write_yaml("extra.yaml", {"version": 1, "targets": [extra]})
    main = write_targets(write_yaml, ENTRY, external="extra.yaml")
    assert [t.id for t in load_targets(main)] == ["kg_example", "kg_external"]
    write_yaml("extra.yaml", {"version": 1, "targets": [extra | {"tolerance": 3}]})
    with pytest.raises(ScenarioError) as err:
        load_targets(main)
    assert err.value.file == str(tmp_path / "extra.yaml")
    write_yaml("extra.yaml", {"version": 1, "targets": [ENTRY]})
    with pytest.raises(ScenarioError, match="duplicate target ids"):
        load_targets(main)


def test_committed_unfitted_counts_are_external_and_no_target(target_file, scenarios):
    unfitted = load_unfitted()
    assert {t.country for t in unfitted} == set(COUNTRIES)
    assert all(t.external and t.group == "unfitted" and t.definition for t in unfitted)
    assert not {t.id for t in unfitted} & {t.id for t in target_file.targets}
    years = {s.country: (s.start_year, s.end_year) for s in scenarios.values()}
    check_targets_fit_runs(unfitted, years, "external_unfitted.yaml")


def test_an_unfitted_figure_may_not_sit_among_the_targets(write_yaml, tmp_path):
    article_only = {k: v for k, v in ENTRY.items() if k not in ("quote", "section")}
    unfitted = article_only | EXTERNAL | {"id": "kg_external", "group": "unfitted"}
    main = write_targets(write_yaml, ENTRY, unfitted)
    with pytest.raises(ScenarioError, match="belongs in external_unfitted.yaml") as err:
        load_targets(main)
    assert err.value.field == "targets.kg_external.group"
    write_yaml("extra.yaml", {"version": 1, "targets": [unfitted]})
    with pytest.raises(ScenarioError, match="belongs in external_unfitted.yaml"):
        load_targets(write_targets(write_yaml, ENTRY, external="extra.yaml"))
    # and the unfitted file holds nothing else
    for entry in (ENTRY | {"group": "unfitted"}, unfitted | {"group": "fit"}):
        path = write_yaml("unfitted.yaml", {"version": 1, "targets": [entry]})
        with pytest.raises(ScenarioError, match="external, of group 'unfitted'"):
            load_unfitted(path)


def test_first_and_last_year_include_the_base_year():
    growth = Target.model_validate(ENTRY | {"year": 2016, "base_year": 2011})
    assert (growth.first_year, growth.last_year) == (2011, 2016)
    span = Target.model_validate(ENTRY | {"year": None, "years": (1992, 1995), "aggregate": "max"})
    assert (span.first_year, span.last_year) == (1992, 1995)


# Loader errors --------------------------------------------------------------------------


def write_targets(write_yaml, *entries, **top):
    return write_yaml("targets.yaml", {"version": 1, "targets": list(entries)} | top)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"column": "ngo_count"}, "targets.kg_example.column"),
        ({"denominator": "people"}, "targets.kg_example.denominator"),
        ({"country": "tajikistan"}, "targets.kg_example.country"),
        ({"colour": "red"}, "targets.kg_example.colour"),
        ({"kind": "about"}, "targets.kg_example.kind"),
    ],
    ids=["column", "denominator", "country", "unknown-key", "kind"],
)
def test_bad_entry_is_named_by_id_and_field(write_yaml, changes, field):
    path = write_targets(write_yaml, ENTRY | changes)
    with pytest.raises(ScenarioError) as err:
        load_targets(path)
    assert err.value.file == str(path)
    assert err.value.field == field
    assert str(path) in str(err.value) and field in str(err.value)


def test_entry_without_id_is_named_by_position(write_yaml):
    entry = {k: v for k, v in ENTRY.items() if k != "id"}
    path = write_targets(write_yaml, ENTRY, entry)
    with pytest.raises(ScenarioError) as err:
        load_targets(path)
    assert err.value.field == "targets.1.id"


def test_duplicate_ids_are_named(write_yaml):
    path = write_targets(write_yaml, ENTRY, ENTRY | {"year": 2006}, ENTRY | {"id": "other"})
    with pytest.raises(ScenarioError) as err:
        load_targets(path)
    assert "duplicate" in str(err.value) and "kg_example" in str(err.value)
    assert "other" not in str(err.value).split("duplicate", 1)[1]


@pytest.mark.parametrize(
    "text",
    ["version: 1\ntargets:\n  - id: [unclosed\n", "version: 1\ntargets: {a: b: c}\n"],
    ids=["unclosed", "nested-colon"],
)
def test_malformed_targets_file(write_yaml, text):
    path = write_yaml("targets.yaml", text)
    with pytest.raises(ScenarioError, match="malformed YAML") as err:
        load_targets(path)
    assert err.value.file == str(path)


def test_missing_targets_file(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        load_targets(tmp_path / "none.yaml")


def test_empty_target_list_and_bad_period_are_rejected(write_yaml):
    with pytest.raises(ScenarioError) as err:
        load_targets(write_targets(write_yaml))
    assert err.value.field == "targets"
    bad_period = {"kyrgyzstan": [{"name": "p", "start": 1991, "quote": "q"}]}
    with pytest.raises(ScenarioError) as err:
        load_targets(write_targets(write_yaml, ENTRY, periods=bad_period))
    assert err.value.field == "periods.kyrgyzstan.0.end"
