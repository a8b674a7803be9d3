"""Which file of an ``extends:`` chain wrote the field a validation error is about.

A scenario or regional file that extends another is validated once its chain is merged,
so an unknown key or a bad value written in the file extended was named in the file that
extends it, which does not hold it (``child.yaml: state.registration_burdn: unknown
key``): a researcher who keeps a base file of their own and variants of it looked in the
wrong file. The error is named in the file that wrote the field: the file nearest the
one loaded (child first) that holds the longest part of the field's path, so that a value
the child overrides is the child's and a key missing from an item is named where the item
was written. A ``source`` demanded for new values (``model.extends``) is named in the file
that gave the values without one. Source: the project's rules for inputs (bad input is
one line naming the file and the field).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .config_files import UNSOURCED, ScenarioError
from .extends import resolve_path
from .input_errors import child_value, error_loc, first_error, leading_error, written_steps
from .yaml_files import read_yaml_mapping

_ABSENT = object()


def validation_error(path: Path, exc: ValidationError, data: dict[str, Any]) -> ScenarioError:
    """Return the one-line error of ``exc``, named in the file of ``path``'s chain that wrote it.

    ``data`` is what was validated: the chain of ``path`` merged.
    """
    field, message = first_error(exc, data)
    loc = error_loc(exc)
    steps = written_steps(loc, data)
    if steps and steps[-1] == ("key", "source") and _value_at(data, loc) == UNSOURCED:
        return ScenarioError(_wrote_unsourced(path, steps[:-1]), field, message)
    if leading_error(exc)["type"] == "missing":
        # No file holds a missing key: the one that wrote its mapping or item first left it out.
        return ScenarioError(_first_writer(path, steps[:-1]), field, message)
    return ScenarioError(written_by(path, steps), field, message)


def written_by(path: Path, steps: list[tuple[str, Any]]) -> Path:
    """Return the file of ``path``'s chain nearest to it that holds most of ``steps``."""
    files = chain(path)
    for length in range(len(steps), 0, -1):
        for file, data in files:
            if _reach(data, steps[:length]) is not _ABSENT:
                return file
    return path


def chain(path: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Return each file of ``path``'s ``extends:`` chain with its own data, ``path`` first.

    Called once the chain has been read and merged, so every file in it reads. A file's
    ``extends:`` is followed from where the file really is, as ``resolve_extends`` follows
    it (a scenario reached through a symbolic link extends files beside its target); the
    first file keeps the name it was given.
    """
    files = []
    named = path
    while True:
        data = read_yaml_mapping(path)
        files.append((named, data))
        parent = data.get("extends")
        if not isinstance(parent, str) or any(named == seen for seen, _ in files[:-1]):
            return files
        path = named = resolve_path(resolve_path(path).parent / parent, "extends")


def _first_writer(path: Path, steps: list[tuple[str, Any]]) -> Path:
    """Return the file of ``path``'s chain that wrote what ``steps`` lead to first.

    Read from the top of the chain down: an item removed (``remove: true``) and written
    again was first written by the file that wrote it again. ``path`` if none holds it.
    """
    writer, present = path, False
    for file, data in reversed(chain(path)):
        own = _reach(data, steps)
        if own is _ABSENT:
            continue
        if isinstance(own, dict) and own.get("remove") is True:
            present = False
        elif not present:
            writer, present = file, True
    return writer if steps else path


def _wrote_unsourced(path: Path, steps: list[tuple[str, Any]]) -> Path:
    """Return the file nearest to ``path`` that writes the input at ``steps`` without a source."""
    for file, data in chain(path):
        own = _reach(data, steps)
        if isinstance(own, dict) and "source" not in own:
            return file
    return path


def _reach(data: Any, steps: list[tuple[str, Any]]) -> Any:
    """Return what ``steps`` lead to in one file's own data, ``_ABSENT`` if it has none."""
    for kind, part in steps:
        if kind == "item" and isinstance(data, list):
            named = [i for i in data if isinstance(i, dict) and i.get("name") == part]
            data = named[0] if named else _ABSENT
        elif kind == "index" and isinstance(data, list) and 0 <= part < len(data):
            data = data[part]
        elif kind == "key" and isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return _ABSENT
    return data


def _value_at(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        data = child_value(data, part)
    return data
