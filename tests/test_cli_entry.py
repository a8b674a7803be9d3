"""An interrupt while ``ngo-abm`` imports its command line is answered in one line.

The program (``cli.entry``) imports ``cli.main``, which loads the model, pandas and Mesa,
and ``cli.main.main`` imports every command's module before it reads the arguments: a
Ctrl-C in those seconds printed the imports' traceback.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys

import cli.main
from cli import entry


class StopImporting(importlib.abc.MetaPathFinder):
    """An import of ``name`` meets a Ctrl-C."""

    def __init__(self, name: str):
        self.name = name

    def find_spec(self, fullname, path, target=None):
        if fullname == self.name:
            raise KeyboardInterrupt
        return None


def test_an_interrupt_while_the_command_line_is_imported_is_one_line(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "cli.main")
    monkeypatch.setattr(sys, "meta_path", [StopImporting("cli.main"), *sys.meta_path])
    assert entry.main(["--help"]) == 130
    assert capsys.readouterr().err == "ngo-abm: interrupted\n"


def test_an_interrupt_while_the_commands_are_imported_is_one_line(monkeypatch, capsys):
    def stopped(name):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib, "import_module", stopped)
    assert cli.main.main(["run", "--help"]) == 130
    assert capsys.readouterr().err == "ngo-abm: interrupted\n"


def test_the_program_runs_the_command_line(capsys):
    assert entry.main(["sources", "--help"]) == 0
    assert "usage: ngo-abm sources" in capsys.readouterr().out
