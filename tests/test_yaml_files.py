"""YAML that is no config, through ``ngo-abm run`` and ``read_yaml_mapping``: one line.

Malformed text, several documents, control characters, tags that would build objects,
a top level that is not a mapping, alias bombs; and what YAML 1.2 reads that PyYAML's
1.1 would not (exponents, merged keys).
"""

from __future__ import annotations

import codecs

import pytest
import yaml
from test_config_errors import extending

from cli.main import main
from model import load_scenario
from model.yaml_files import read_yaml_mapping


@pytest.mark.parametrize(
    "text",
    ["state: [unclosed\nname: x\n", "a: b: c\n", "name: 'open\n", "\t- tab\n"],
    ids=["unclosed-list", "nested-colon", "open-quote", "tab"],
)
def test_malformed_yaml(text, scenario_file, write_yaml, tmp_path, clean_error):
    bad = write_yaml("broken.yaml", extending(scenario_file) + text)
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    clean_error(status, out, bad, "malformed YAML")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("name: x\n---\nname: y\n", "line 3: more than one YAML document"),
        ("name: \x00\n", "line 2: the character U+0000, which YAML does not allow"),
        # An unclosed construct: where it began, with the parser's reason.
        ('name: "KG: x\ndescription: y\n', "line 2: malformed YAML (while scanning a quoted"),
        ("description: y\nname: [KG\n", "line 3: malformed YAML (while parsing a flow sequence"),
    ],
    ids=["two-documents", "nul", "open-quote", "open-bracket"],
)
def test_yaml_that_no_config_is_says_why(
    text, said, scenario_file, write_yaml, tmp_path, clean_error
):
    bad = write_yaml("broken.yaml", extending(scenario_file) + text)
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    clean_error(status, out, bad, said)


def test_a_table_given_as_a_scenario_is_named_binary(tmp_path, clean_error):
    table = tmp_path / "posterior.parquet"
    table.write_bytes(b"PAR1\x00\x01\x02" * 200_000)  # larger than a config may be
    out = tmp_path / "out"
    status = main(["run", str(table), "--out", str(out)])
    clean_error(status, out, table, "binary data, not a YAML config")


@pytest.mark.parametrize(
    ("suffix", "encoding", "named"),
    [(".yaml", "utf-16", "UTF-16"), (".txt", "utf-16", "UTF-16"), (".yaml", "utf-32", "UTF-32")],
)
def test_a_config_saved_as_utf16_or_utf32_is_named_so(
    suffix, encoding, named, scenario_file, tmp_path, clean_error
):
    # a UTF-16 .txt was called binary data, a UTF-16 .yaml "not UTF-8 text"
    wide = tmp_path / f"notepad{suffix}"
    wide.write_bytes((extending(scenario_file) + "name: Kyrgyz\n").encode(encoding))
    out = tmp_path / "out"
    status = main(["run", str(wide), "--out", str(out)])
    clean_error(status, out, wide, f"encoded as {named}, not UTF-8: save it as UTF-8")


def test_a_utf8_config_with_a_byte_order_mark_is_read(scenario_file, tmp_path):
    marked = tmp_path / "marked.yaml"
    text = extending(scenario_file) + "name: Kyrgyz marked\nend_year: 1993\n"
    marked.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    out = tmp_path / "out"
    assert main(["run", str(marked), "--out", str(out)]) == 0
    assert (out / "timeseries.csv").exists()


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ('name: !!python/object/apply:os.system ["echo hi"]\n', "!!python/object/apply:os.system"),
        ("name: !custom x\n", "!custom"),
    ],
)
def test_a_tag_that_would_build_an_object_is_refused_by_name(
    text, tag, scenario_file, write_yaml, tmp_path, clean_error
):
    bad = write_yaml("tagged.yaml", extending(scenario_file) + text)
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    clean_error(status, out, bad, f"the tag {tag} is not allowed")


@pytest.mark.parametrize("text", ["- just\n- a list\n", "42\n", ""], ids=["list", "int", "empty"])
def test_top_level_must_be_a_mapping(text, write_yaml, tmp_path, clean_error):
    bad = write_yaml("odd.yaml", text)
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    clean_error(status, out, bad, "mapping")


def _aliases_nine_wide(levels: int) -> str:
    """A few hundred bytes of YAML whose aliases stand for 9**levels strings."""
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


YAML_CASES = {
    "aliases that expand to billions": (_aliases_nine_wide(9), "line", "through aliases"),
    "an alias inside its own anchor": ("a: &a [*a]\n", "line 1", "its own anchor"),
    "a key given twice": ("end_year: 2000\nend_year: 2010\n", "end_year", "lines 1 and 2"),
    # A nested key is named by its whole path, so that the user finds the one of many.
    "a key given twice in a flow mapping": ("state: {a: 1, a: 2}\n", "state.a: given twice"),
    "a year key given twice, spelled two ways": (
        "population_millions:\n  points:\n    2010: 5\n    +2010: 6\n",
        "population_millions.points.+2010: given twice (lines 3 and 4)",
    ),
    # Named where it is written, not where an alias repeats it.
    "a key given twice under an anchor": ("b: {c: &x {k: 1, k: 2}}\nd: *x\n", "b.c.k: given"),
    "a key given twice in a list's item": (
        "donors:\n  - name: A\n  - {name: B, weight: 1, weight: 2}\n",
        "donors.1.weight: given twice (lines 3 and 3)",
    ),
    "a lone surrogate": ('name: "\\ud800 surrogate"\n', "line 1", "not text"),
    "a date that is no date": ("state:\n  2010-13-45: 1\n", "YAML", "cannot be read"),
}


@pytest.mark.parametrize("case", YAML_CASES, ids=list(YAML_CASES))
def test_yaml_that_is_no_config_is_one_line(case, write_yaml, tmp_path, clean_error):
    text, *expected = YAML_CASES[case]
    bad = write_yaml("bad.yaml", text)
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    clean_error(status, out, bad, *expected)


def test_a_merged_key_may_be_overridden_and_shared_aliases_load(write_yaml):
    # YAML's merge rule lets a mapping override what ``<<`` brings in; an alias used many
    # times within the bound is ordinary data.
    text = "base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  x: 3\n" + _aliases_nine_wide(4)
    # A mapping that merges and overrides, itself merged again further down.
    text += "outer: {inner: &i {<<: {x: 1}, x: 2}}\nagain: {<<: *i}\n"
    text += "=: the value key\n"  # YAML's "value" key, read as the text "="
    data = read_yaml_mapping(write_yaml("ok.yaml", text))
    assert data == yaml.safe_load(text)
    assert data["child"] == {"x": 3, "y": 2}
    assert len(data["a4"]) == 9 and data["a4"][0][0][0][0] == ["lol"]


@pytest.mark.parametrize(
    ("written", "number"),
    [("1e3", 1000.0), ("5E+06", 5e6), ("-2.5e-3", -0.0025), (".5e2", 50.0), ("1_000e3", 1e6)],
)
def test_an_exponent_without_a_dot_or_sign_is_a_number_as_in_yaml_1_2(
    written, number, scenario_file, write_yaml
):
    # YAML 1.1 (PyYAML) read these as text, refused as "not a valid number"
    assert read_yaml_mapping(write_yaml("n.yaml", f"x: {written}\n")) == {"x": number}
    scale = "donor_budget_scale: {value: 1e1, source: a test}\n"
    text = f"extends: {scenario_file('kyrgyzstan')}\n{scale}"
    assert load_scenario(write_yaml("s.yaml", text)).donor_budget_scale.value == 10.0


def test_text_that_only_looks_like_an_exponent_stays_text(write_yaml):
    text = "a: e5\nb: 1e\nc: x1e3\nd: ._e3\n"
    assert read_yaml_mapping(write_yaml("t.yaml", text)) == {
        "a": "e5",
        "b": "1e",
        "c": "x1e3",
        "d": "._e3",
    }


@pytest.mark.parametrize(
    ("command", "file", "expected"),
    [
        ("experiment", "kyrgyzstan.yaml", "country: a country's scenario file, not an experiment"),
        ("experiment", "central_asia.yaml", "countries: a regional scenario file, not an"),
        ("experiment", "behaviour.yaml", "parameters: a behaviour file, not an experiment"),
        ("regional-experiment", "central_asia.yaml", "countries: a regional scenario file"),
        ("run", "behaviour.yaml", "parameters: a behaviour file, not a country's scenario"),
    ],
)
def test_a_file_of_another_kind_is_named_as_such(
    command, file, expected, repo, tmp_path, clean_error
):
    # Each was named by the first key the command did not know (`extends: unknown key`).
    path = repo / "scenarios" / file
    out = tmp_path / "out"
    status = main([command, str(path), "--out", str(out)])
    clean_error(status, out, f"{path}: {expected}")


def test_a_regional_counterfactual_is_named_a_scenario_and_an_experiment_s_slip_its_key(
    repo, write_yaml, tmp_path, clean_error
):
    # Sets `parameters:` over the file it extends: a scenario, not a behaviour file.
    regional = write_yaml(
        "cf.yaml",
        f"extends: {repo / 'scenarios' / 'central_asia.yaml'}\nname: x\n"
        "parameters:\n  tie_decay: {value: 0.2, source: a test}\n",
    )
    out = tmp_path / "out"
    status = main(["regional-experiment", str(regional), "--out", str(out)])
    clean_error(status, out, f"{regional}: extends: a scenario file, not an experiment")
    # An experiment with `parameters:` for `params:` is an experiment with an unknown key.
    experiment = repo / "experiments" / "kyrgyzstan_counterfactuals.yaml"
    slip = write_yaml("slip.yaml", experiment.read_text(encoding="utf-8") + "parameters: median\n")
    status = main(["experiment", str(slip), "--dry-run"])
    clean_error(status, out, f"{slip}: parameters: unknown key")
