"""The wording of one-line input errors that name what a field takes.

An empty ``extends:``, a choice that is not text, an empty list: the message says what
was wrong and what the field takes (``model.input_errors``, ``model.extends``).
"""

from __future__ import annotations

import pytest

from cli.main import main
from model import ScenarioError


def test_a_choice_that_is_not_text_keeps_pydantics_message(tmp_path):
    from calibration.priors import PRIORS, load_priors

    bad = tmp_path / "priors.yaml"
    bad.write_text(PRIORS.read_text().replace("version: 1", "version: 2", 1))
    with pytest.raises(ScenarioError, match="version: Input should be 1"):
        load_priors(bad)


def test_an_empty_extends_is_named_not_the_keys_it_would_have_given(
    write_yaml, tmp_path, clean_error
):
    bad = write_yaml("bad.yaml", "extends:\nname: x\n")
    out = tmp_path / "out"
    status = main(["run", str(bad), "--out", str(out)])
    clean_error(status, out, bad, "extends", "empty: name the file this one extends")


def test_an_empty_list_says_its_own_minimum():
    from model.input_errors import error_message

    short = {"type": "too_short", "input": [], "ctx": {"min_length": 2}, "msg": "List should"}
    assert error_message(short) == "an empty list: give at least 2 items"
    assert error_message({**short, "ctx": {"min_length": 1}}).endswith("at least 1 item")
