"""The defaults that ``--help`` states are the options' defaults.

An option whose default is decided when the command runs (``None`` to argparse: a file's
value, a folder named after the scenario) is read where it is decided; a number given
to argparse is checked here against the text.
"""

from __future__ import annotations

import argparse
import re

from cli.main import build_parser

STATED = re.compile(r"default:? (-?\d+(?:\.\d+)?)(?![\d.])")  # not an address's 127


def stated_numbers() -> list[tuple[str, str, object, str]]:
    """Return (command, option, argparse's default, the number the help states)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = []
    for command, p in sub.choices.items():
        for action in p._actions:
            match = STATED.search(action.help or "")
            if match and action.default is not None:
                found.append((command, action.option_strings[0], action.default, match[1]))
    return found


def test_every_stated_number_is_the_options_default():
    found = stated_numbers()
    assert len(found) >= 20  # validate's, chains', reference's, sensitivity's, ...
    wrong = [f for f in found if float(f[2]) != float(f[3])]
    assert wrong == []


def test_validate_states_its_defaults():
    stated = {option for command, option, *_ in stated_numbers() if command == "validate"}
    assert {"--truths", "--draws", "--predictive-draws", "--trainings", "--seed"} <= stated
