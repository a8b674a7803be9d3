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
import unicodedata
from pathlib import Path
from typing import Annotated, Any, NamedTuple

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
    FIRST_RUN_YEAR,
    LAST_RUN_YEAR,
    MAX_CURRENCY,
    MAX_QUESTION,
    MAX_TITLE,
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


# Unicode's line and paragraph separators break a line as a line feed does; the
# directional embeddings, overrides, isolates and marks reorder the text printed after
# them, so a title or a table cell would show other text than the file holds ("Trojan
# Source", Boucher and Anderson 2021).
_LINE_BREAKS = ("Zl", "Zp")
_DIRECTIONAL = frozenset(
    map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C])
)


def _printable(text: str) -> str:
    control = next((c for c in text if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        # A terminal acts on an escape or a bell; a line break breaks the one-line printouts.
        raise ValueError(f"a control character ({control!r}): it must be one line of text")
    separator = next((c for c in text if unicodedata.category(c) in _LINE_BREAKS), None)
    if separator is not None:
        raise ValueError(f"a line separator ({separator!r}): it must be one line of text")
    directional = next((c for c in text if c in _DIRECTIONAL), None)
    if directional is not None:
        raise ValueError(
            f"a directional formatting character ({directional!r}): it would reorder the "
            "text printed after it"
        )
    return text


# A name that heads a printout, a table or a figure (a scenario's, a donor's, an
# experiment's): an empty one would print as nothing.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE),
    AfterValidator(_printable),
]
# A counterfactual's question, printed and in its figures' titles: a sentence, one line.
Question = Annotated[
    str,
    # Stripped: YAML's folded style (">") ends a question with a line feed.
    StringConstraints(strip_whitespace=True, min_length=10, max_length=MAX_QUESTION),
    AfterValidator(_printable),
]
# A currency's code, in every amount's label ("KGS"): 100,000 characters took minutes to draw.
Currency = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_CURRENCY),
    AfterValidator(_printable),
]
# A calendar year in the inputs: series points, donors, shocks, the CPI base.
Year = Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR)]
# A simulated year: a scenario's start and end years, an experiment's end year.
RunYear = Annotated[int, Field(ge=FIRST_RUN_YEAR, le=LAST_RUN_YEAR)]


def _distinct_sorted(years: list[int]) -> list[int]:
    """Return the years in order, refusing one listed twice (a typo for another year)."""
    twice = first_repeated(years)
    if twice is not None:
        raise ValueError(f"year {twice} is listed twice")
    return sorted(years)


# The years an experiment tabulates, in order.
KeyYears = Annotated[list[Year], Field(min_length=1), AfterValidator(_distinct_sorted)]


# A value of another type is refused, not converted: a quoted "2010" for a year, ``true``
# for a count or a number are typos in a file, which pydantic would otherwise accept.
STRICT_VALUES = ConfigDict(strict=True)


class Strict(BaseModel):
    """An input model: unknown fields, other types, changes after loading, inf, NaN refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


class FileKind(NamedTuple):
    """A kind of file: the top-level key that marks it, its id, its name, what reads it."""

    key: str
    kind: str
    name: str
    hint: str


# A calibration's record holds keys of the inputs it records (``parameters:``, ``targets:``),
# so it is named as a record whatever else it holds.
_RECORDS = (
    FileKind("particles", "record", "a calibration's record", "ngo-abm calibrate writes it"),
    FileKind(
        "fitted",
        "record",
        "a regional calibration's record",
        "ngo-abm calibrate regional writes it",
    ),
)
_EXPERIMENT = (
    "experiment",
    "an experiment file",
    "ngo-abm experiment or regional-experiment runs it",
)
_KINDS = (
    *(FileKind(key, *_EXPERIMENT) for key in ("baseline", "counterfactuals", "mechanisms")),
    FileKind("countries", "regional", "a regional scenario file", "ngo-abm run runs it"),
    FileKind(
        "country",
        "scenario",
        "a country's scenario file",
        "ngo-abm run runs it; an experiment names it as its baseline:",
    ),
    FileKind("targets", "targets", "a targets file", "the calibration and ngo-abm compare read it"),
    FileKind(
        "anchors",
        "anchors",
        "the held-back curves' anchors",
        "ngo-abm calibrate report and validate read it",
    ),
    FileKind(
        "patterns", "patterns", "a file of regional patterns", "ngo-abm calibrate regional reads it"
    ),
)
# Keys that files of several kinds may hold mark a file's kind only where no key above
# does: ``extends:`` a scenario's, ``parameters:`` a behaviour or priors file's (told
# apart by their entries), which regional files and records hold too.
_EXTENDS = FileKind("extends", "scenario", "a scenario file", "ngo-abm run runs it")
_BEHAVIOUR = FileKind(
    "parameters", "behaviour", "a behaviour file", "a scenario names it in behaviour:"
)
_PRIORS = FileKind("parameters", "priors", "a priors file", "the calibration reads it")


def file_kinds(data: dict) -> list[FileKind]:
    """Return the kinds whose key ``data`` holds: a record first, the shared keys' last."""
    kinds = [k for k in (*_RECORDS, *_KINDS, _EXTENDS) if k.key in data]
    if "parameters" in data:
        kinds.append(_PRIORS if _holds_priors(data) else _BEHAVIOUR)
    return kinds


def file_kind(data: dict) -> FileKind | None:
    """Return the kind a file is named as (the first of ``file_kinds``), if any."""
    kinds = file_kinds(data)
    return kinds[0] if kinds else None


def _holds_priors(data: dict) -> bool:
    """Whether ``parameters:`` are priors rather than behavioural values.

    One has a ``distribution:``, or none a ``value:`` in a file with ``version:``, which
    priors files have and behaviour files may not (a misspelt prior is then the priors
    loader's to name).
    """
    entries = data["parameters"]
    entries = list(entries.values()) if isinstance(entries, dict) else []
    if any(isinstance(e, dict) and "distribution" in e for e in entries):
        return True
    return "version" in data and not any(isinstance(e, dict) and "value" in e for e in entries)


def refuse_other_kind(path: Path, data: dict, own: tuple[str, ...], this: str) -> None:
    """Refuse a file of another kind than ``this`` (whose kinds are ``own``), named as such.

    A file is named by its first kind (``file_kinds``); one named only by a shared key
    that also holds its own kind's is its own kind, with a stray key that its loader
    names (a behaviour file with an ``extends:``). Without this the file's first key that
    the loader does not know would be named (``extends: unknown key``), which points at
    the file's content rather than at the file given.

    Raises:
        OtherKindError: naming the key that marks the file's kind.
    """
    kinds = file_kinds(data)
    if not kinds or kinds[0].kind in own:
        return
    if kinds[0] in (_EXTENDS, _BEHAVIOUR, _PRIORS) and any(k.kind in own for k in kinds):
        return
    key, _, name, hint = kinds[0]
    raise OtherKindError(path, key, f"{name}, not {this} ({hint})")


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


# Fields that only explain a number: a run never reads them.
PROSE_FIELDS = frozenset({"source", "unit", "description", "years_source"})


def without_keys(value, keys: frozenset[str]):
    """Return a dumped model (mappings, lists) without the entries named ``keys``, at any depth."""
    if isinstance(value, dict):
        return {k: without_keys(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [without_keys(v, keys) for v in value]
    return value


def is_number(value: Any) -> bool:
    """Return whether ``value`` is a real number (numpy's included); a bool is not one."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real)


def is_whole(value: Any, least: int | None = None) -> bool:
    """Return whether ``value`` is a whole number (numpy's included) of at least ``least``.

    A bool is not one: ``True`` is no seed, year or count anyone means.
    """
    whole = not isinstance(value, bool) and isinstance(value, numbers.Integral)
    return whole and (least is None or value >= least)


def path_argument(path: Any, argument: str = "path") -> Path:
    """Return ``path`` as a ``Path`` if it names a file (``str`` or ``Path``), naming ``argument``.

    pathlib's own error ("argument should be a str or an os.PathLike object") names no
    argument.

    Raises:
        ScenarioError: naming ``argument``.
    """
    if not isinstance(path, (str, Path)):
        raise ScenarioError(argument, "", f"must be a file name, got {type(path).__name__}")
    return Path(path)


def param_number(name: str, value: Any) -> float:
    """Return a parameter override as a float; a bool, string or other object is refused.

    Raises:
        ScenarioError: naming ``params`` and the parameter.
    """
    if not is_number(value):
        raise ScenarioError("params", name, f"must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        # An int such as 10**400: Python's own error named neither params nor the name.
        raise ScenarioError("params", name, "beyond the largest float") from None
    if not np.isfinite(number):
        # Checked here for every name: another country's value is not validated otherwise.
        raise ScenarioError("params", name, f"must be a finite number, got {number}")
    return number


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
