"""The scenario numbers that rest on an assumption, and how the input screen moves each.

A scenario file gives every number a ``source:`` note (``docs/sources.md``): data, or an
assumption with its reason. The calibration fits the parameters of
``calibration/priors.yaml`` with these assumptions held fixed, so the posterior carries
none of their uncertainty. ``experiments.input_screen`` measures how far each moves the
fitted figures; this module finds them in a loaded scenario (``Scenario.model_dump``, so
``base.yaml`` and ``behaviour.yaml`` are included as the scenario reads them) and
perturbs one at a time.

An entry is assumed when its source note says so ("assumption", "assumed"); an entry
that is partly data and partly assumed (a series whose last years are an assumption, a
donor whose entry year is assumed) is moved whole. Calibrated values are left out (they
are the posterior's). How an entry moves, low side then high side (``docs/calibration.md``):

- a number, or every point of a series together: times 0.75 and 1.25 (a quarter either
  way: most assumptions are stated to their order, "tens of thousands of dollars");
- priority and sector weights: raised to the power 0.5 and 1.5 (flatter and sharper);
  scaling them all alike would change nothing, since only their proportions count;
- a donor's entry or exit year: 2 years earlier and later; a shock's duration: 1 year
  shorter (at least 1) and longer;
- the year of an event (a shock, a revolution) is its date, data, and stays.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

ASSUMED = re.compile(r"\bassum(?:ptions?|ed)\b", re.IGNORECASE)
SIDES = ("low", "high")
SCALE = {"low": 0.75, "high": 1.25}
POWER = {"low": 0.5, "high": 1.5}
YEAR_SHIFT = {"low": -2, "high": 2}
DURATION_SHIFT = {"low": -1, "high": 1}
# Keys that explain or name an entry, or that no run reads as a number.
NOT_NUMBERS = frozenset({"name", "source", "unit", "interpolation", "description"})
# Keys ending so hold a donor's year; ``year`` alone is an event's date and never moves,
# and neither does a law's (``soviet_rules_until``, which is no assumed entry's).
YEAR_KEYS = ("_year",)
BEHAVIOUR = "behaviour"
SHARED_FILES = ("scenarios/base.yaml", "scenarios/behaviour.yaml")


@dataclass(frozen=True)
class AssumedInput:
    """One assumed entry: where it is in a scenario's data, and the file that sets it."""

    path: tuple[str, ...]
    file: str
    source: str

    @property
    def label(self) -> str:
        """The entry's name: ``path_label`` of its path."""
        return path_label(self.path)

    @property
    def shared(self) -> bool:
        """Whether every country reads it (``base.yaml`` or ``behaviour.yaml``)."""
        return self.file in SHARED_FILES


def path_label(path: tuple[str, ...]) -> str:
    """Return a path as ``docs/sources.md`` names it: ``donors[UNDP].weight``.

    A behaviour parameter, ``parameters.<name>`` of ``behaviour.yaml`` there, is
    ``behaviour.<name>`` here (its place in a loaded scenario).
    """
    return ".".join(path).replace(".[", "[")


def is_calibrated(country: str, name: str, calibrated: set[str]) -> bool:
    """Return whether a behaviour parameter or country input ``name`` is calibrated.

    A name of ``calibrated`` counts bare (every country) or with this country's prefix,
    as ``Scenario.with_params`` reads it.
    """
    return name in calibrated or f"{country}.{name}" in calibrated


def assumed_inputs(
    data: dict[str, Any], country_file: str, own_keys: set[str], calibrated: set[str]
) -> list[AssumedInput]:
    """Return the assumed entries of one scenario's data, calibrated values left out.

    ``own_keys`` are the top-level keys the country's file sets itself (the rest come
    from ``base.yaml``); ``calibrated`` the names of ``calibration/priors.yaml`` (a
    behaviour parameter, or ``<country>.<key>`` for a country input).
    """
    country = data["country"]
    found = []
    for path, entry in _entries(data, ()):
        # A behaviour parameter is named by its key, a country input by its top-level key.
        name = path[1] if path[0] == BEHAVIOUR else path[0]
        if is_calibrated(country, name, calibrated):
            continue
        if path[0] == BEHAVIOUR:
            file = "scenarios/behaviour.yaml"
        else:
            # Attributed by the top-level key: no country file overrides part of an entry.
            file = country_file if path[0] in own_keys else "scenarios/base.yaml"
        found.append(AssumedInput(path, file, entry["source"]))
    return found


def _entries(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dict]]:
    if isinstance(value, dict):
        source = value.get("source")
        if isinstance(source, str) and ASSUMED.search(source):
            yield path, value
        for key, item in value.items():
            if key not in NOT_NUMBERS:
                yield from _entries(item, (*path, str(key)))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and "name" in item:
                yield from _entries(item, (*path, f"[{item['name']}]"))


def entry_at(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """Return the entry of ``data`` at ``path`` (list items by ``[name]``)."""
    here: Any = data
    for key in path:
        if key.startswith("["):
            here = next(item for item in here if item.get("name") == key[1:-1])
        else:
            here = here[key]
    return here


def perturbed(data: dict[str, Any], path: tuple[str, ...], side: str) -> dict[str, Any] | None:
    """Return a copy of ``data`` with the entry at ``path`` moved to ``side``.

    ``None`` when the move changes no number (an entry of zeros, say).
    """
    copied = copy.deepcopy(data)
    entry = entry_at(copied, path)
    changed = _move(entry, side)
    return copied if changed else None


def _move(entry: dict[str, Any], side: str) -> bool:
    """Move every number the entry itself holds (not its sourced sub-entries); say if any."""
    changed = False
    for key, value in entry.items():
        if key in NOT_NUMBERS or key == "year" or (isinstance(value, dict) and "source" in value):
            continue
        new = _moved(key, value, side)
        if new is not None and new != value:
            entry[key] = new
            changed = True
    return changed


def _moved(key: str, value: Any, side: str) -> Any:
    """Return ``value`` moved to ``side`` by the rule for ``key``, or None if it has none."""
    if isinstance(value, bool) or value is None:
        return None
    if key == "weights" and isinstance(value, dict):
        return {k: float(w) ** POWER[side] for k, w in value.items()}
    if key == "points" and isinstance(value, dict):
        return {year: float(v) * SCALE[side] for year, v in value.items()}
    if not isinstance(value, (int, float)):
        return None
    if key.endswith(YEAR_KEYS):
        return int(value) + YEAR_SHIFT[side]
    if key == "duration_years":
        return max(1, int(value) + DURATION_SHIFT[side])
    return float(value) * SCALE[side]


def move_description(entry: dict[str, Any], side: str) -> str:
    """Return how ``side`` moves the entry, for the screen's table."""
    parts = []
    for key, value in entry.items():
        if key in NOT_NUMBERS or key == "year" or (isinstance(value, dict) and "source" in value):
            continue
        new = _moved(key, value, side)
        if new is None or new == value:
            continue
        if key == "weights":
            parts.append(f"weights^{POWER[side]}")
        elif key.endswith(YEAR_KEYS):
            parts.append(f"{key} {YEAR_SHIFT[side]:+d}")
        elif key == "duration_years":
            parts.append(f"{key} {DURATION_SHIFT[side]:+d}")
        else:
            parts.append(f"{key} x{SCALE[side]}")
    return ", ".join(parts)
