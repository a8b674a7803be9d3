"""Files that ``extends:`` another: the chain, the merge by name, and their errors.

Each case is a small file in ``tmp_path`` that extends a committed scenario by absolute
path (``model.extends``; the rule is in ``docs/experiments.md``).
"""

from __future__ import annotations

import pytest
import yaml

from cli.main import main
from model import ScenarioError, load_scenario
from model.regional_files import load_region


def extending(scenario_file, country="kyrgyzstan"):
    return f"extends: {scenario_file(country)}\n"


def test_a_missing_parent_is_named_in_the_file_that_extends_it(write_yaml, tmp_path, clean_error):
    bad = write_yaml("child.yaml", "extends: parent-that-is-not-there.yaml\n")
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    parent = tmp_path / "parent-that-is-not-there.yaml"
    line = clean_error(status, out, parent, "file not found")
    # The mistake is the child's ``extends:`` line, not a field of the missing file.
    assert line.startswith(f"ngo-abm: error: {bad}: extends: {parent}: "), line


@pytest.mark.parametrize(
    ("child", "parent", "expected"),
    [
        ("country: kyrgyzstan\n", "experiments/kyrgyzstan_counterfactuals.yaml", "an experiment"),
        ("end_year: 2000\n", "calibration/targets.yaml", "a targets file, not a country's"),
    ],
    ids=["experiment", "targets"],
)
def test_a_parent_of_another_kind_is_named_in_extends(
    child, parent, expected, repo, write_yaml, tmp_path, clean_error
):
    # Merged, its keys were blamed on the child (``baseline: an experiment file``).
    bad = write_yaml("child.yaml", f"extends: {repo / parent}\n{child}")
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    name = parent.rsplit("/", 1)[1]
    clean_error(status, out, f"{bad}: extends: {name}: {expected}")


def test_a_regional_file_extending_a_country_s_scenario_is_named_in_extends(
    scenario_file, write_yaml
):
    bad = write_yaml("region.yaml", f"extends: {scenario_file('kyrgyzstan')}\ncountries: {{}}\n")
    with pytest.raises(ScenarioError) as err:
        load_region(bad)
    assert str(err.value).startswith(f"{bad}: extends: kyrgyzstan.yaml: a country's scenario")


def test_extends_loop(write_yaml, tmp_path, clean_error):
    first = write_yaml("a.yaml", "extends: b.yaml\nname: a\n")
    write_yaml("b.yaml", "extends: c.yaml\n")
    write_yaml("c.yaml", "extends: a.yaml\n")
    out = tmp_path / "out"
    status = main(["run", str(first), "--out", str(out)])
    line = clean_error(status, out, first, "extends", "loop")
    assert "a.yaml -> b.yaml -> c.yaml -> a.yaml" in line


def test_extending_itself_is_a_loop(write_yaml, tmp_path, clean_error):
    selfish = write_yaml("self.yaml", "extends: self.yaml\n")
    out = tmp_path / "out"
    status = main(["run", str(selfish), "--out", str(out)])
    clean_error(status, out, selfish, "extends", "loop")


def test_a_chain_longer_than_the_nesting_bound_is_named_as_a_chain(
    scenario_file, write_yaml, tmp_path, clean_error
):
    # It was reported as a file "nested more than 32 levels deep", a one-line file.
    write_yaml("c0.yaml", extending(scenario_file))
    for i in range(1, 41):
        last = write_yaml(f"c{i}.yaml", f"extends: c{i - 1}.yaml\n")
    out = tmp_path / "out"
    status = main(["run", str(last), "--out", str(out)])
    clean_error(status, out, last, "extends: a chain of more than 32 files")
    shorter = load_scenario(tmp_path / "c25.yaml")  # 28 files with kyrgyzstan and base
    assert shorter == load_scenario(scenario_file("kyrgyzstan"))


def test_an_empty_extends_is_no_file_name(write_yaml, tmp_path, clean_error):
    # It named the folder as a file that could not be read.
    empty = write_yaml("e.yaml", 'extends: ""\n')
    out = tmp_path / "out"
    status = main(["run", str(empty), "--out", str(out)])
    clean_error(status, out, empty, "extends: must be a file name")


def test_error_two_files_up_is_reported_in_the_file_that_wrote_it(
    scenario_file, write_yaml, tmp_path, clean_error
):
    parent = write_yaml("parent.yaml", extending(scenario_file) + "start_year: [1991]\n")
    child = write_yaml("child.yaml", "extends: parent.yaml\nname: child\n")
    out = tmp_path / "out"
    status = main(["run", str(child), "--out", str(out)])
    clean_error(status, out, f"{parent}: start_year")


MERGE_CASES = {
    "an empty list of donors": ("donors: []\n", "donors", "an empty list keeps every item"),
    # It changed nothing, without a word; the user may have meant to clear the mapping.
    "an empty mapping": ("state: {}\n", "state", "an empty mapping keeps every key"),
    "removing a donor that is not there": (
        "donors:\n  - {name: No such donor, remove: true}\n",
        "donors",
        "no item named 'No such donor' to remove",
    ),
    "removing a shock that is not there": (
        "state:\n  shocks:\n    - {name: No such shock, remove: true}\n",
        "state.shocks",
        "to remove",
    ),
    "two shocks of one name": (
        "state:\n  shocks:\n"
        "    - {name: x, year: 2000, instability: 0.1, source: test}\n"
        "    - {name: x, year: 2001, instability: 0.1, source: test}\n",
        "state.shocks",
        "'x' is named twice",
    ),
    # Two changes of one inherited item: the later one silently won.
    "a donor changed twice": (
        "donors:\n  - {name: Soros Foundation, exit_year: 2010}\n"
        "  - {name: Soros Foundation, exit_year: 2012}\n",
        "donors",
        "'Soros Foundation' is named twice: give each item once",
    ),
    "a shock changed, then removed": (
        "state:\n  shocks:\n    - {name: Tulip revolution, year: 2006}\n"
        "    - {name: Tulip revolution, remove: true}\n",
        "state.shocks",
        "'Tulip revolution' is named twice",
    ),
    "remove given as text": (
        'donors:\n  - {name: Soros Foundation, remove: "true"}\n',
        "donors[Soros Foundation].remove",
        "must be true (unquoted) to remove the item",
    ),
    "remove false": (
        "donors:\n  - {name: Soros Foundation, remove: false}\n",
        "donors[Soros Foundation].remove",
        "must be true",
    ),
    # The exit year would have been dropped with the donor without a word.
    "fields beside remove": (
        "donors:\n  - {name: Soros Foundation, remove: true, exit_year: 2010}\n",
        "donors[Soros Foundation]",
        "an item removed takes only a source besides its name (exit_year given)",
    ),
}


@pytest.mark.parametrize("case", MERGE_CASES, ids=list(MERGE_CASES))
def test_an_extending_file_that_would_change_nothing_silently_is_one_line(
    case, scenario_file, write_yaml, tmp_path, clean_error
):
    text, *expected = MERGE_CASES[case]
    bad = write_yaml("bad.yaml", extending(scenario_file) + text)
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    clean_error(status, out, bad, *expected)


NAMED_CASES = {
    # Soros is the second donor of the merged list and the first of this file: its
    # position said ``donors.1`` before, which points at neither.
    "an inherited item": (
        "donors:\n  - {name: Soros Foundation, exit_year: soon}\n",
        "donors[Soros Foundation].exit_year: Input should be",
    ),
    # Quoted, so that the path stays one unambiguous line.
    "a name with brackets and dots": (
        "donors:\n  - {name: 'Odd].name.x', entry_year: soon}\n",
        "donors['Odd].name.x'].entry_year: Input should be",
    ),
}


@pytest.mark.parametrize("case", NAMED_CASES, ids=list(NAMED_CASES))
def test_an_item_with_a_bad_value_is_named_by_its_name(
    case, scenario_file, write_yaml, tmp_path, clean_error
):
    text, expected = NAMED_CASES[case]
    bad = write_yaml("bad.yaml", extending(scenario_file) + text)
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    clean_error(status, out, bad, expected)


def test_an_item_removed_alone_is_dropped(scenario_file, write_yaml):
    base = load_scenario(scenario_file("kyrgyzstan"))
    text = "donors:\n  - {name: Soros Foundation, remove: true}\n"
    child = load_scenario(write_yaml("child.yaml", extending(scenario_file) + text))
    names = [d.name for d in base.donors]
    assert "Soros Foundation" in names
    assert [d.name for d in child.donors] == [n for n in names if n != "Soros Foundation"]


def test_a_mistyped_name_of_an_item_to_change_is_named_with_the_likely_one(
    scenario_file, write_yaml, tmp_path, clean_error
):
    # A new name adds an item: a misspelt donor read "entry_year: required field is missing".
    typo = "donors:\n  - {name: USAID bilateral, exit_year: 2014, source: a test}\n"
    bad = write_yaml("typo.yaml", extending(scenario_file) + typo)
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    expected = (
        "donors: no item named 'USAID bilateral' to change (did you mean 'USAID-type bilateral'?)"
    )
    clean_error(status, out, bad, expected)
    # A new item that gives every field of the similarly named one is a new item.
    raw = yaml.safe_load(scenario_file("kyrgyzstan").read_text(encoding="utf-8"))
    usaid = next(d for d in raw["donors"] if d["name"] == "USAID-type bilateral")
    data = {
        "extends": str(scenario_file("kyrgyzstan")),
        "donors": [{**usaid, "name": "USAID bilateral"}],
    }
    added = load_scenario(write_yaml("added.yaml", data))
    assert [d.name for d in added.donors][-1] == "USAID bilateral"
    # A field some items lack (an exit year) is not needed of a new one.
    uzbek = yaml.safe_load(scenario_file("uzbekistan").read_text(encoding="utf-8"))
    soros = next(d for d in uzbek["donors"] if d["name"] == "Soros Foundation")
    assert "exit_year" in soros
    new = {k: v for k, v in soros.items() if k != "exit_year"} | {"name": "Soros Foundations"}
    data = {"extends": str(scenario_file("uzbekistan")), "donors": [new]}
    assert load_scenario(write_yaml("new.yaml", data)).donors[-1].name == "Soros Foundations"


@pytest.mark.parametrize("name", [None, 5])
def test_an_item_without_a_name_in_a_list_merged_by_name_is_named_by_its_place(
    name, scenario_file, write_yaml, tmp_path, clean_error
):
    # The list replaced the parent's whole list, and the message blamed a named item:
    # "donors[USAID-type bilateral].entry_year: required field is missing".
    second = {"exit_year": 2010, "source": "a test"} | ({} if name is None else {"name": name})
    donors = [{"name": "USAID-type bilateral", "exit_year": 2010, "source": "a test"}, second]
    bad = write_yaml("child.yaml", {"extends": str(scenario_file("kyrgyzstan")), "donors": donors})
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    found = "missing" if name is None else "must be text, not int"
    clean_error(status, out, f"{bad}: donors.1.name: {found}: items merge by name")


def test_an_item_removed_from_a_parents_empty_list_is_named_as_absent(
    scenario_file, write_yaml, tmp_path, clean_error
):
    # The Kazakh file has no shocks: a removal there is a name the list does not hold.
    text = extending(scenario_file, "kazakhstan")
    text += "state:\n  shocks:\n    - {name: Some shock, remove: true}\n"
    bad = write_yaml("child.yaml", text)
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    clean_error(status, out, f"{bad}: state.shocks: no item named 'Some shock' to remove")


def test_a_parent_name_too_long_for_the_system_is_one_line(write_yaml, tmp_path, clean_error):
    bad = write_yaml("child.yaml", f"extends: {'b' * 300}.yaml\n")
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    clean_error(status, out, f"{bad}: extends: ", "cannot be checked: File name too long")


def test_new_values_need_their_own_source_but_a_bad_value_is_named_first(
    scenario_file, write_yaml, tmp_path, clean_error
):
    # Merged key by key, new values kept the source of the values they replaced.
    unsourced = write_yaml("u.yaml", extending(scenario_file) + "donor_budget_scale: {value: 40}\n")
    out = tmp_path / "out"
    status = main(["run", str(unsourced), "--out", str(out)])
    clean_error(status, out, unsourced, "donor_budget_scale.source: required with new values")
    negative = "state:\n  grant_budget_local: {points: {2016: -3}}\n"
    bad = write_yaml("b.yaml", extending(scenario_file) + negative)
    status = main(["run", str(bad), "--out", str(out)])
    clean_error(status, out, bad, "state.grant_budget_local.points", "negative")
    # A new source alone, or a change that keeps the numbers, needs nothing more.
    reworded = write_yaml(
        "r.yaml", extending(scenario_file) + "donor_budget_scale: {source: new}\n"
    )
    assert load_scenario(reworded).donor_budget_scale.source == "new"
