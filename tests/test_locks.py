"""The lock of an output folder or database: what a second command is told about its holder."""

from __future__ import annotations

import fcntl
import os
import sys
from contextlib import contextmanager

import pytest

from experiments.locks import LOCK_NAME, claim
from model import ScenarioError


@contextmanager
def held_by_another(lock_file, text: bytes = b""):
    """Hold ``lock_file``'s flock on a descriptor of its own, with ``text`` written in it."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, text)
        yield
    finally:
        os.close(fd)


def test_a_lock_taken_but_not_yet_written_is_named_as_starting(tmp_path):
    # Between its flock and its write of "pid N (command)" the holder's file is empty.
    lock_file = tmp_path / LOCK_NAME
    with held_by_another(lock_file):
        with pytest.raises(ScenarioError, match=r"--out: in use by another command \(starting\)"):
            with claim(lock_file, tmp_path, "--out"):
                pass
    assert lock_file.read_text("utf-8") == ""  # the loser wrote nothing into the holder's file


def test_a_lock_written_by_its_holder_names_its_pid(tmp_path):
    lock_file = tmp_path / LOCK_NAME
    with held_by_another(lock_file, b"pid 4242 (ngo-abm run k.yaml)\n"):
        with pytest.raises(ScenarioError, match=r"in use by pid 4242 \(ngo-abm run k\.yaml\)"):
            with claim(lock_file, tmp_path, "--out"):
                pass


def test_a_command_line_that_is_not_utf8_is_written_escaped_in_the_lock(tmp_path, monkeypatch):
    # File systems allow any bytes in a name; Python hands them over as surrogates.
    monkeypatch.setattr(sys, "argv", ["ngo-abm", "run", "k\udcff.yaml"])
    with claim(tmp_path / LOCK_NAME, tmp_path, "--out"):
        held = (tmp_path / LOCK_NAME).read_text("utf-8")
    assert held == f"pid {os.getpid()} (ngo-abm run 'k\\udcff.yaml')\n"
    assert not (tmp_path / LOCK_NAME).exists()
