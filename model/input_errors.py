"""How an input file's problem is named in one line: its field path and its message.

A validation error's field is given as the user wrote it: an item of a named list by its
name (``donors[UNDP].entry_year``), whichever file of an ``extends:`` chain it came from;
a key mistyped for a required one as the unknown key, with the name it is closest to.
Shared by every loader of input files (``model.config_files`` and the loaders of
scenarios, regional files, experiments, targets and priors). Source: the project's rules
for inputs (bad input is one line naming the file and the field).
"""

from __future__ import annotations

import difflib
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
        data = _child(data, part)
        if name is not None:
            text = named_item(text, name)
            continue
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


def _child(data: Any, part: Any) -> Any:
    if isinstance(data, dict):
        return data.get(part)
    if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
        return data[part]
    return None


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
        meant = err.get("meant")
        return f"unknown key (did you mean {meant}?)" if meant else "unknown key"
    if err["type"] == "missing":
        return "required field is missing"
    return err["msg"].removeprefix("Value error, ")


def first_error(exc: ValidationError, data: Any = None) -> tuple[str, str]:
    """Return the field and message of a validation error's leading problem, for one line.

    Shared by every loader of input files (scenarios, regional files, experiments).
    ``data`` is what was validated: with it, an item of a named list is given by name.
    """
    err = leading_error(exc)
    loc = tuple(p for p in err["loc"] if p not in ("Literal", "literal"))
    return field_path(loc, data), error_message(err)
