"""Input files: the checks every config's model shares.

Every config the project reads (scenarios, behaviour, regional files, experiments,
targets, priors) is read with ``yaml.safe_load`` only (``model.yaml_files``: configs are
data; the merge of a file that ``extends:`` another is ``model.extends``). Input models
are ``Strict``; every number carries a ``source:`` note (``Source``). A problem is one
line naming the file and the field (``ScenarioError``, ``model.input_errors``), an item
of a named list by its name (``model.input_errors.field_path``); a file of another kind
than the one asked for is named as such (``refuse_other_kind``).
Source: the project's rules for inputs.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from .input_errors import OtherKindError, ScenarioError, first_error
from .limits import (
    MAX_YEAR,
    MIN_YEAR,
)

# What ``model.extends`` puts where an extending file gives new values without a source.
UNSOURCED = "(no source given for the new values)"


def _not_unsourced(text: str) -> str:
    if text == UNSOURCED:
        raise ValueError("required with new values (the file extended sources its own, not these)")
    return text


Source = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3), AfterValidator(_not_unsourced)
]
# A name that heads a printout (an experiment's): an empty one would print as nothing.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# A calendar year in the inputs: series points, donors, shocks, the CPI base.
Year = Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR)]


# A value of another type is refused, not converted: a quoted "2010" for a year, ``true``
# for a count or a number are typos in a file, which pydantic would otherwise accept.
STRICT_VALUES = ConfigDict(strict=True)


class Strict(BaseModel):
    """An input model: unknown fields, other types, changes after loading, inf, NaN refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


# The kinds of file the project reads or writes, each marked by a top-level key that only
# its files have, with what runs, reads or writes a file of the kind. In this order: a
# regional file and a calibration's record also have ``parameters:``, and a counterfactual
# scenario that ``extends:`` another may set it too.
_KINDS = (
    ("countries", "regional", "a regional scenario file", "ngo-abm run runs it"),
    ("baseline", "experiment", "an experiment file", "ngo-abm experiment runs it"),
    ("counterfactuals", "experiment", "an experiment file", "ngo-abm experiment runs it"),
    ("mechanisms", "experiment", "an experiment file", "ngo-abm experiment runs it"),
    (
        "country",
        "scenario",
        "a country's scenario file",
        "ngo-abm run runs it; an experiment names it as its baseline:",
    ),
    ("extends", "scenario", "a scenario file", "ngo-abm run runs it"),
    ("particles", "record", "a calibration's record", "ngo-abm calibrate writes it"),
    ("fitted", "record", "a regional calibration's record", "ngo-abm calibrate regional writes it"),
    ("targets", "targets", "a targets file", "the calibration and ngo-abm compare read it"),
    (
        "anchors",
        "anchors",
        "the held-back curves' anchors",
        "ngo-abm calibrate report and validate read it",
    ),
    ("patterns", "patterns", "a file of regional patterns", "ngo-abm calibrate regional reads it"),
    ("parameters", "behaviour", "a behaviour file", "a scenario names it in behaviour:"),
)
# A priors file has ``parameters:`` too, each with a ``distribution:`` where a behaviour
# file gives a ``value:``.
_PRIORS = ("parameters", "priors", "a priors file", "the calibration reads it")


def file_kind(data: dict) -> tuple[str, str, str, str] | None:
    """Return the kind of file ``data`` is (marking key, kind, name, what reads it) if known."""
    for kind in _KINDS:
        if kind[0] in data:
            return _PRIORS if kind[1] == "behaviour" and _has_priors(data) else kind
    return None


def _has_priors(data: dict) -> bool:
    entries = data["parameters"]
    return isinstance(entries, dict) and any(
        isinstance(entry, dict) and "distribution" in entry for entry in entries.values()
    )


def refuse_other_kind(path: Path, data: dict, own: tuple[str, ...], this: str) -> None:
    """Refuse a file of another kind than ``this`` (whose kinds are ``own``), named as such.

    Otherwise its first key the loader does not know is named (``extends: unknown key``),
    which points at the file's content rather than at the file given.

    Raises:
        OtherKindError: naming the key that marks the file's kind.
    """
    kind = file_kind(data)
    if kind is not None and kind[1] not in own:
        key, _, name, hint = kind
        raise OtherKindError(path, key, f"{name}, not {this} ({hint})")


def refuse_scenario_files(path: Path, data: dict) -> None:
    """Refuse a file of another kind given as an experiment, named as such.

    Raises:
        OtherKindError: naming the key that marks the file's kind.
    """
    refuse_other_kind(path, data, ("experiment",), "an experiment")


def check_own_values(model: type[BaseModel], path: Path, data: dict, names) -> None:
    """Check a file's own value of each field in ``names`` against that field alone.

    For the fields a command line replaces: the file's value never runs, so it is held
    only to its field's type and bounds, not to checks that combine fields.

    Raises:
        ScenarioError: naming the file and the field.
    """
    for name in names:
        if name in data:
            info = model.model_fields[name]
            try:
                field = TypeAdapter(Annotated[info.annotation, info], config=STRICT_VALUES)
                field.validate_python(data[name])
            except ValidationError as exc:
                raise ScenarioError(path, name, first_error(exc)[1]) from None


def named_file(owner: Path, field: str, file: Path) -> Path:
    """Return ``file``, which ``owner``'s ``field`` names; one line if absent or a folder.

    Raises:
        ScenarioError: naming the owner, the field and the file.
    """
    # lexists: a loop of symbolic links exists, and is reported by the file's loader.
    if not os.path.lexists(file):
        raise ScenarioError(owner, field, f"{file}: file not found")
    if os.path.isdir(file):
        raise ScenarioError(owner, field, f"{file}: is a folder, not a file")
    return file


def is_number(value: Any) -> bool:
    """Return whether ``value`` is a real number (numpy's included); a bool is not one."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real)


def is_whole(value: Any, least: int | None = None) -> bool:
    """Return whether ``value`` is a whole number (numpy's included) of at least ``least``.

    A bool is not one: ``True`` is no seed, year or count anyone means.
    """
    whole = not isinstance(value, bool) and isinstance(value, numbers.Integral)
    return whole and (least is None or value >= least)


def param_number(name: str, value: Any) -> float:
    """Return a parameter override as a float; a bool, string or other object is refused.

    Raises:
        ScenarioError: naming ``params`` and the parameter.
    """
    if not is_number(value):
        raise ScenarioError("params", name, f"must be a number, got {type(value).__name__}")
    return float(value)


def first_repeated(names: list) -> Any:
    """Return the first of ``names`` that an earlier one repeats, or ``None``."""
    return next((n for i, n in enumerate(names) if n in names[:i]), None)


def plain_python(value: Any) -> Any:
    """Return ``value`` with numpy values as Python's, tuples as lists and paths as text.

    For inputs built in Python (a notebook's ``np.arange`` of key years, a ``Path`` to a
    scenario): the strict input models take what YAML gives, and YAML gives neither numpy
    values, tuples nor paths.
    """
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {plain_python(k): plain_python(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_python(v) for v in value]
    return value
