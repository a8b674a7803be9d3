"""constraints.txt, the pinned versions that `make setup` installs (calibration.versions)."""

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from calibration import versions
from calibration.npe import TRAINING_LIBRARIES, training_libraries
from calibration.versions import locked_versions, unlocked
from cli.calibrate import _say_unlocked_libraries

ROOT = Path(__file__).resolve().parent.parent


def _requirement_names() -> set[str]:
    """Return the canonical names of pyproject.toml's dependencies and dev extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def test_the_lock_pins_every_requirement_and_training_library():
    pins = locked_versions()
    missing = (_requirement_names() | {canonicalize_name(n) for n in TRAINING_LIBRARIES}) - set(
        pins
    )
    assert not missing, f"constraints.txt pins no version of {sorted(missing)}"


def test_the_installed_training_libraries_are_the_locked_ones():
    # What `make setup` installs; a training with others gives other weights (the header).
    assert unlocked(training_libraries()) == {}


def test_the_makefile_installs_with_the_lock():
    makefile = (ROOT / "Makefile").read_text()
    lines = makefile.splitlines()
    installs = [line for line in lines if "pip install" in line and "--upgrade pip" not in line]
    assert len(installs) == 2 and all("-c constraints.txt" in line for line in installs)


def test_a_lock_is_read_by_canonical_name(tmp_path):
    lock = tmp_path / "constraints.txt"
    lock.write_text(
        "# header\n\nPyYAML==6.0.4\nml_dtypes==0.7.0  # a comment\n"
        "tool @ file:///opt/wheels/tool-1.0-py3-none-any.whl\n"
    )
    # A package pinned to a file or repository has no version to compare.
    assert locked_versions(lock) == {"pyyaml": "6.0.4", "ml-dtypes": "0.7.0"}
    assert unlocked({"python": "3.12.1", "pyyaml": "6.0.4", "ml-dtypes": "0.6.0"}, lock) == {
        "ml-dtypes": ("0.6.0", "0.7.0")
    }
    assert locked_versions(tmp_path / "absent.txt") == {}


@pytest.mark.parametrize(
    "line", ["numpy>=2", "-e .", "jax==0.12.1; python_version>'3'", "jax===0.12.1", "jax[cpu]==1"]
)
def test_a_line_that_is_not_a_pin_is_refused_with_its_file_and_line(tmp_path, line):
    lock = tmp_path / "constraints.txt"
    lock.write_text(f"# header\n{line}\n")
    with pytest.raises(ValueError, match=r"constraints\.txt: line 2 is not a pin"):
        locked_versions(lock)


def _note_under(lock: Path, text: str, capsys) -> str:
    """Write ``text`` as the lock, say what a training would; return what it wrote."""
    lock.write_text(text)
    _say_unlocked_libraries()
    return capsys.readouterr().err


def test_a_training_with_other_libraries_says_so(tmp_path, monkeypatch, capsys):
    lock = tmp_path / "constraints.txt"
    monkeypatch.setattr(versions, "LOCK_FILE", lock)
    note = _note_under(lock, "jax==0.0.1\n", capsys)
    assert "jax " in note and "(locked 0.0.1)" in note and "other" in note
    assert _note_under(lock, f"jax=={training_libraries()['jax']}\n", capsys) == ""


def test_an_unreadable_lock_is_a_note_not_a_failed_training(tmp_path, monkeypatch, capsys):
    lock = tmp_path / "constraints.txt"
    monkeypatch.setattr(versions, "LOCK_FILE", lock)
    note = _note_under(lock, "jax>=0.12\n", capsys)
    assert note.startswith("note: ") and f"{lock}: line 1 is not a pin" in note
