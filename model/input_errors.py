"""How an input file's problem is named in one line: its field path and its message.

A validation error's field is given as the user wrote it: an item of a named list by its
name (``donors[UNDP].entry_year``), whichever file of an ``extends:`` chain it came from;
a key mistyped for a required one as the unknown key, with the name it is closest to.
Shared by every loader of input files (``model.config_files`` and the loaders of
scenarios, regional files, experiments, targets and priors), with the error they raise,
``ScenarioError``. Source: the project's rules for inputs (bad input is one line naming
the file and the field).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError


def field_path(loc: tuple[Any, ...], data: Any = None) -> str:
    """Return ``loc`` as a field path, an item of a named list by its name (``donors[UNDP]``).

    An item's position is that of the merged list, which a file that extends another
    does not show: its name is what the user wrote.
    """
    text = ""
    parts = [part for part in loc if not str(part).startswith("function-")]
    for i, part in enumerate(parts):
        # An error in the name itself keeps the position: the name is what is wrong.
        name = None if parts[i + 1 : i + 2] == ["name"] else _item_name(data, part)
        written = _written_key(data, part)
        data = child_value(data, part)
        if name is not None:
            text = named_item(text, name)
            continue
        if isinstance(written, bool) or written is None:
            # pydantic reports a `true:` key as 1 (bool is an int to it): say what was written.
            part = {True: "true", False: "false", None: "null"}[written]
        # A mistyped year key can be hundreds of digits long: keep the line readable. A
        # field's name is shown whole (a misspelt key is what the message is about).
        part = str(part)
        if len(part) > 24 and (part.isdigit() or len(part) > 80):
            part = f"{part[:12]}..."
        if not part.isprintable():
            part = repr(part)  # a key with a line break must not break the one line
        text += f".{part}" if text else part
    return text


def named_item(field: str, name: str) -> str:
    """Return the field path of the item called ``name`` in the list ``field``: ``donors[UNDP]``.

    A name with brackets, dots or characters that do not print is quoted (``repr``), so
    that the path stays one unambiguous line; a long one is cut.
    """
    plain = name.isprintable() and not any(c in name for c in "[].")
    shown = name if plain else repr(name)
    return f"{field}[{shown if len(shown) <= 40 else shown[:36] + '...'}]"


def _item_name(data: Any, part: Any) -> str | None:
    """Return the name of item ``part`` of ``data`` if it is a list item with a text name."""
    if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
        item = data[part]
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str) and name.strip():
            return name
    return None


def _written_key(data: Any, part: Any) -> Any:
    """Return the key of mapping ``data`` that ``part`` stands for, as the file wrote it.

    ``part`` itself if there is none. pydantic reports a key written ``true`` as 1 (equal
    to it, so a mapping cannot hold both) and one written ``null`` as the text "None".
    """
    if not isinstance(data, dict):
        return part
    if part == "None" and None in data and "None" not in data:
        return None
    for key in data:
        if key == part and type(key) is not type(part):
            return key
    return part


def child_value(data: Any, part: Any) -> Any:
    """Return the value at ``part`` (a key or a list position) of ``data``, ``None`` if none."""
    if isinstance(data, dict):
        return data.get(part)
    if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
        return data[part]
    return None


NUMBER_FORMS = "a number takes value: and source:, a yearly series points: {year: value}"
# A number's form given where a yearly series goes, and the other way round: the key the
# user wrote, the key the field holds, and what the field takes.
SHAPES = {
    ("value", "points"): "a yearly series takes points: {year: value, ...}",
    ("points", "value"): "a single number takes value:",
}


def leading_error(exc: ValidationError) -> dict[str, Any]:
    """Return the problem a one-line report gives: the first, unless it is a mistyped key.

    A required key given under another name is both missing and unknown; the unknown key
    is what the user wrote, so it is reported, with the missing name it is closest to
    (``replicats: unknown key (did you mean replicates?)``).
    """
    errors = exc.errors()
    first = errors[0]
    if first["type"] != "missing":
        return first
    parent = first["loc"][:-1]
    missing = [
        str(e["loc"][-1]) for e in errors if e["type"] == "missing" and e["loc"][:-1] == parent
    ]
    unknown = [e for e in errors if e["type"] == "extra_forbidden" and e["loc"][:-1] == parent]
    guesses = [difflib.get_close_matches(str(e["loc"][-1]), missing, n=1) for e in unknown]
    # The unknown key that reads as a missing one first, else the first unknown key.
    ranked = sorted(zip(unknown, guesses, strict=True), key=lambda pair: not pair[1])
    if not ranked:
        return first
    err, close = ranked[0]
    return {**err, "meant": close[0] if close else None}


def error_message(err: dict[str, Any]) -> str:
    """Return the message of one problem of ``leading_error``, in the loaders' words."""
    if err["type"] == "extra_forbidden":
        meant, shape = err.get("meant"), err.get("shape")
        if shape:
            return f"unknown key ({shape})"
        return f"unknown key (did you mean {meant}?)" if meant else "unknown key"
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] in ("dict_type", "model_type", "model_attributes_type"):
        # Not pydantic's "a valid dictionary or instance of StatePolicy": no class names.
        given = _kind(err.get("input"))
        expected = re.search(r"instance of (\w+)", err["msg"])
        if expected and (expected[1] == "Number" or expected[1].endswith("Series")):
            # The commonest slip: a bare number for a sourced number or a yearly series.
            return f"expected a mapping, got {given} ({NUMBER_FORMS})"
        return f"expected a mapping of keys to values, got {given}"
    if err["type"] == "too_short" and err.get("input") == []:
        least = err.get("ctx", {}).get("min_length", 1)
        return f"an empty list: give at least {least} item{'s' if least != 1 else ''}"
    if err["type"] == "literal_error":
        return _not_allowed(err)
    return err["msg"].removeprefix("Value error, ")


def _not_allowed(err: dict[str, Any]) -> str:
    """Return a value outside a fixed set, echoed, with the allowed value it is closest to.

    Pydantic's own message where the allowed values are not text (``version: 1``).
    """
    allowed = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
    if not allowed:
        return err["msg"]
    given = err.get("input")
    if given is None:
        return f"required: one of {', '.join(allowed)}"
    close = difflib.get_close_matches(str(given), allowed, n=1)
    if close:
        return f"{given!r} is not allowed (did you mean {close[0]}?)"
    # Every allowed value, however many: a count alone leaves the user to find them.
    return f"{given!r} is not allowed: one of {', '.join(allowed)}"


def _kind(value: Any) -> str:
    """Return what a value is, in a user's words."""
    if value is None:
        return "nothing (an empty field)"
    names = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list"}
    return names.get(type(value), type(value).__name__)


def error_loc(exc: ValidationError) -> tuple[Any, ...]:
    """Return the location of the problem ``first_error`` reports, as pydantic gives it."""
    return tuple(p for p in leading_error(exc)["loc"] if p not in ("Literal", "literal"))


def written_steps(loc: tuple[Any, ...], data: Any) -> list[tuple[str, Any]]:
    """Return ``loc`` as a file writes it: each step a key, a list item's name or position.

    A step is ("key", a mapping's key as written), ("item", a named list item's name) or
    ("index", a position in a list without names). ``data`` is what was validated (an
    extends chain merged): a position in a merged list is no position in the file that
    wrote the item, its name is.
    """
    steps: list[tuple[str, Any]] = []
    for part in loc:
        if str(part).startswith("function-"):
            continue
        name = _item_name(data, part)
        if name is not None:
            steps.append(("item", name))
        elif isinstance(data, list):
            steps.append(("index", part))
        else:
            steps.append(("key", _written_key(data, part)))
        data = child_value(data, part)
    return steps


def first_error(exc: ValidationError, data: Any = None) -> tuple[str, str]:
    """Return the field and message of a validation error's leading problem, for one line.

    Shared by every loader of input files (scenarios, regional files, experiments).
    ``data`` is what was validated: with it, an item of a named list is given by name.
    """
    err = leading_error(exc)
    loc = error_loc(exc)
    if err["type"] == "extra_forbidden" and loc:
        err = {**err, "shape": _shape_hint(loc, data)}
    return field_path(loc, data), error_message(err)


def _shape_hint(loc: tuple[Any, ...], data: Any) -> str | None:
    """Return what a field takes when its unknown key is the other form's (``SHAPES``)."""
    parent = data
    for part in loc[:-1]:
        parent = child_value(parent, part)
    holds = parent if isinstance(parent, dict) else {}
    return next(
        (hint for (key, has), hint in SHAPES.items() if key == loc[-1] and has in holds), None
    )


class ScenarioError(ValueError):
    """A configuration problem, reported as one line naming the file and the field."""

    def __init__(self, file: str | Path, field: str, message: str):
        self.file, self.field, self.message = str(file), field, message
        where = f"{self.file}: {field}" if field else self.file
        super().__init__(f"{where}: {message}")

    def __reduce__(self):
        # A run in a worker process can raise it; the default pickling would call
        # __init__ with the one formatted message and fail in the parent.
        return type(self), (self.file, self.field, self.message)


class OtherKindError(ScenarioError):
    """A file of another kind than the one asked for (an experiment file as a scenario).

    Its caller may name the field that pointed at the file, which is the mistake.
    """

    def found(self) -> str:
        """Return what the file is, for the field that named it (``what.yaml: <this>``).

        A file that extends one of another kind is of that kind too, and is said so.
        """
        return f"extends {self.message}" if self.field == "extends" else self.message
