"""Scenario and regional files that ``extends:`` another: read the chain, merge it.

A file may name another in ``extends:`` and override a few of its fields, so that a
counterfactual is a small file. Mappings merge key by key; lists of named items (donors,
shocks, countries' ties) merge by ``name``, an item given ``remove: true`` alone is
dropped; the child's values win. Source: the project's merge rule (``docs/experiments.md``).
"""

from __future__ import annotations

import difflib
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config_files import (
    PROSE_FIELDS,
    UNSOURCED,
    ScenarioError,
    file_kind,
    first_repeated,
    refuse_other_kind,
)
from .input_errors import OtherKindError, named_item
from .limits import MAX_NESTING
from .yaml_files import read_yaml_mapping


def _merge(base: Any, override: Any, file: Path, field: str = "") -> Any:
    """Deep-merge ``override`` (from ``file``) into ``base``; named lists merge by ``name``.

    Raises:
        ScenarioError: an override that would silently change nothing: an empty mapping or
            named list (whose keys and items are kept) or ``remove: true`` for a name the
            list does not hold; or an item without a name in a list that merges by name.
    """
    if isinstance(base, dict) and isinstance(override, dict):
        # A whole file of nothing but ``extends:`` is a copy under another name; a field
        # given as an empty mapping reads as an order to clear it, which merging ignores.
        if base and not override and field:
            message = "an empty mapping keeps every key of the file extended"
            raise ScenarioError(file, field, f"{message}; give the keys to change")
        if not field:
            _check_same_country(base, override, file)
        override = _sourced(base, override)
        merged = dict(base)
        for key, value in override.items():
            inner = f"{field}.{key}" if field else str(key)
            merged[key] = _merge(base[key], value, file, inner) if key in base else value
        return merged
    if _is_named_list(base) and isinstance(override, list):
        if base:
            _check_names(override, file, field)
        if _is_named_list(override):
            return _merge_named(base, override, file, field)
    return override


def _check_same_country(base: dict, override: dict, file: Path) -> None:
    """Refuse a file that makes the country file it extends another country's.

    It ran another country's calibrated parameters on this country's currency, donors and
    policies, and was compared with the other country's figures.
    """
    country = override.get("country")
    if "country" in base and country is not None and country != base["country"]:
        found = f"{country!r} in a file that extends {base['country']}'s scenario"
        raise ScenarioError(file, "country", f"{found}: another country's is a file of its own")


def _check_names(items: list, file: Path, field: str) -> None:
    """Refuse an item without a name (text) in a list that merges by name.

    The list then replaced the extended file's whole list, so the named items lost the
    fields they did not repeat, and the message blamed one of them. The place is
    counted from 0, as validation names a list's items (``donors.0.name``).
    """
    rule = "items merge by name with the file extended"
    for place, item in enumerate(items):
        where = f"{field}.{place}.name"
        if not isinstance(item, dict) or "name" not in item:
            raise ScenarioError(file, where, f"missing: {rule}")
        if not isinstance(item["name"], str):
            kind = type(item["name"]).__name__
            raise ScenarioError(file, where, f"must be text, not {kind}: {rule}")


# The keys that hold a sourced input's numbers (``Number``, the series, sector weights).
VALUE_KEYS = ("value", "points", "weights")
# Keys of a sourced mapping that change no number: the others (a shock's instability, a
# donor's entry year, a series' interpolation) are inputs its source vouches for.
NOT_INPUTS = PROSE_FIELDS | {"name", "remove"}


def _gives_inputs(base: dict, override: dict) -> bool:
    """Return whether ``override`` changes a number ``base``'s source vouches for.

    Its values, points and weights, and any other value but a mapping or a named list
    (a donor's priorities, a programme's items), which are inputs of their own with their
    own sources, checked when they are merged. A value restated unchanged needs none.
    """
    return any(
        key not in NOT_INPUTS and _changes(base.get(key), value)
        for key, value in override.items()
        if key in VALUE_KEYS or not (isinstance(value, dict) or _is_named_list(value))
    )


def _changes(old: Any, new: Any) -> bool:
    """Return whether ``new`` changes ``old`` (a mapping merges key by key: only its keys count)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return any(key not in old or _changes(old[key], value) for key, value in new.items())
    return old != new


def _sourced(base: dict, override: dict) -> dict:
    """Return ``override``, marked ``UNSOURCED`` where it gives new numbers but no source.

    Merged key by key, they kept the source of the numbers they replaced, so a changed
    value read as the file extended's finding. The mark fails validation (``Source``) after
    the numbers of its own input, so that an input's bad value is named before its missing
    source (inputs are reported one at a time, in the file's order).
    """
    if "source" in base and "source" not in override and _gives_inputs(base, override):
        return {**override, "source": UNSOURCED}
    return override


def _merge_named(base: list, override: list, file: Path, field: str) -> list:
    if base and not override:
        message = "an empty list keeps every item of the file extended; remove each by name"
        raise ScenarioError(file, field, f"{message} (remove: true)")
    names = [item["name"] for item in override]
    twice = first_repeated(names)
    if twice is not None:
        # The later item would silently win over the earlier one.
        raise ScenarioError(file, field, f"{twice!r} is named twice: give each item once")
    merged: list[Any] = list(base)
    index = {item["name"]: i for i, item in enumerate(merged)}
    for item in override:
        name = item["name"]
        if "remove" in item:
            _check_removal(item, file, named_item(field, name))
            if name not in index:
                raise ScenarioError(file, field, f"no item named {name!r} to remove")
            merged[index[name]] = None
        elif name in index:
            merged[index[name]] = _merge(merged[index[name]], item, file, named_item(field, name))
        else:
            _check_not_mistyped(item, base, file, field)
            merged.append(item)
    return [item for item in merged if item is not None]


def _check_not_mistyped(item: dict, base: list, file: Path, field: str) -> None:
    """Refuse a new item that reads as an override of an existing one under a mistyped name.

    A new name adds an item, which then lacked its required fields: a misspelt donor read
    ``donors[USAID bilateral].entry_year: required field is missing``. A new item that
    lacks a field every item of the list gives (a field an item needs, not an optional
    one such as an exit year) is taken for a change of the similarly named item.
    """
    names = {i["name"]: i for i in base}
    close = difflib.get_close_matches(item["name"], list(names), n=1, cutoff=0.6)
    needed = set.intersection(*(set(i) for i in base)) if base else set()
    if close and not needed <= set(item):
        found = f"no item named {item['name']!r} to change (did you mean {close[0]!r}?)"
        raise ScenarioError(file, field, f"{found}; a new item gives all its fields")


def _check_removal(item: dict, file: Path, field: str) -> None:
    """Refuse a removal that is not ``remove: true``, or that gives fields it would drop.

    ``remove: "true"`` or ``false`` would otherwise fail later as an unknown key of the
    item, and fields beside ``remove: true`` (but its ``source``) would be dropped with it.
    """
    if item["remove"] is not True:
        raise ScenarioError(file, f"{field}.remove", "must be true (unquoted) to remove the item")
    # A ``source`` may say why the item goes; any other field would go with it unread.
    others = sorted(str(key) for key in item if key not in ("name", "remove", "source"))
    if others:
        found = f"an item removed takes only a source besides its name ({', '.join(others)} given)"
        raise ScenarioError(file, field, found)


def _is_named_list(value: Any) -> bool:
    # Only string names merge by name: a list or mapping as a name is left to validation.
    return isinstance(value, list) and all(
        isinstance(i, dict) and isinstance(i.get("name"), str) for i in value
    )


def _anchor_behaviour(data: dict[str, Any], folder: Path) -> None:
    """Name the behaviour file relative to the file that names it."""
    if isinstance(data.get("behaviour"), str):
        data["behaviour"] = str(folder / data["behaviour"])


def resolve_path(path: str | Path, field: str = "") -> Path:
    """Return ``path`` made absolute with its symbolic links followed (``Path.resolve``).

    Raises:
        ScenarioError: a loop of symbolic links, or a name the system refuses (too long).
    """
    path = Path(path)
    try:
        return path.resolve()
    except RuntimeError:
        # Python 3.12 reports a loop of symbolic links this way (later versions: OSError).
        raise ScenarioError(path, field, "a loop of symbolic links") from None
    except OSError as exc:
        raise ScenarioError(path, field, f"cannot resolve: {exc.strerror}") from None


def path_exists(path: Path, file: str | Path, field: str, folder: bool = False) -> bool:
    """Return whether ``path`` exists (with ``folder``: is a folder); refuse what cannot say.

    A missing path is False; any other refusal of the system (a name longer than it
    allows, which ``Path.exists`` raised as a traceback; a loop of symbolic links, which
    it answered as False, as from Python 3.14 it answers every error) is one line naming
    ``file``, the file or option that gave the path, and ``field``.
    """
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        named = "" if Path(file) == path else f"{path}: "
        raise ScenarioError(file, field, f"{named}cannot be checked: {exc.strerror}") from None
    return stat.S_ISDIR(mode) if folder else True


def resolve_extends(
    path: Path,
    chain: tuple[Path, ...] = (),
    anchor: Callable[[dict[str, Any], Path], None] = _anchor_behaviour,
    kind: tuple[str, str] = ("scenario", "a country's scenario"),
) -> dict[str, Any]:
    """Read ``path`` and everything it extends, child fields winning.

    ``anchor(data, folder)`` rewrites the file names a file gives relative to its folder.
    ``kind`` is the kind of file being read and its name (``refuse_other_kind``): a file
    extended that is of another kind is named in the ``extends:`` that points at it.
    """
    path = resolve_path(path, "extends" if chain else "")
    if len(chain) >= MAX_NESTING:
        # Read deeper, the merge's recursion is what would give out, named as a nesting.
        raise ScenarioError(chain[0], "extends", f"a chain of more than {MAX_NESTING} files")
    if path in chain:
        loop = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError(chain[0], "extends", f"extends loop: {loop}")
    data = read_yaml_mapping(path, "extends" if chain else "")
    if chain:
        _check_extended_kind(path, data, chain[-1], kind)
    anchor(data, path.parent)
    if "extends" in data and data["extends"] is None:
        # An empty ``extends:`` reads as no parent, and the file then lacks the parent's keys.
        raise ScenarioError(path, "extends", "empty: name the file this one extends")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent.strip():
        raise ScenarioError(path, "extends", "must be a file name")
    target = resolve_path(path.parent / parent, "extends")
    if not path_exists(target, path, "extends"):
        # Named in the file that says ``extends:``, where the mistake is.
        raise ScenarioError(path, "extends", f"{target}: file not found")
    if path_exists(target, path, "extends", folder=True):
        raise ScenarioError(path, "extends", f"{target}: is a folder, not a file")
    return _merge(resolve_extends(target, (*chain, path), anchor, kind), data, path)


def _check_extended_kind(path: Path, data: dict, child: Path, kind: tuple[str, str]) -> None:
    """Refuse an extended file of another kind, in the ``extends:`` of ``child``.

    Merged, its keys would be blamed on the child (``end_year: unknown key`` for a
    scenario extending a regional file) or its fields named as if the child held them.
    """
    own = file_kind(data)
    if own is None or own.key in ("extends", "parameters"):
        return  # a kind shared by several (a counterfactual that extends): its parent decides
    try:
        refuse_other_kind(path, data, (kind[0],), kind[1])
    except OtherKindError as exc:
        # Of the other kind too, so that a file naming the child names its own field.
        raise OtherKindError(child, "extends", f"{path.name}: {exc.message}") from None
