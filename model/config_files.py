"""Input files: how YAML configs are read and checked.

Every config the project reads (scenarios, behaviour, regional files, experiments,
targets, priors) is read with ``yaml.safe_load`` only: configs are data (the merge of a
file that ``extends:`` another is ``model.extends``). Input models are ``Strict``; every
number carries a ``source:`` note (``Source``). A problem is one line naming the file and
the field (``ScenarioError``), an item of a named list by its name
(``model.input_errors.field_path``).
Source: the project's rules for inputs.
"""

from __future__ import annotations

import numbers
import os
import re
import stat
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from .input_errors import first_error
from .limits import (
    MAX_CONFIG_BYTES,
    MAX_CONFIG_VALUES,
    MAX_NESTING,
    MAX_YEAR,
    MIN_YEAR,
    nesting_path,
)
from .yaml_numbers import ConfigLoader

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


# A value of another type is refused, not converted: a quoted "2010" for a year, ``true``
# for a count or a number are typos in a file, which pydantic would otherwise accept.
STRICT_VALUES = ConfigDict(strict=True)


class Strict(BaseModel):
    """An input model: unknown fields, other types, changes after loading, inf, NaN refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


def read_yaml_mapping(path: str | Path, field: str = "") -> dict[str, Any]:
    """Read a YAML file (``yaml.safe_load``) whose top level is a mapping.

    Raises:
        ScenarioError: a missing, unreadable, non-UTF-8 or malformed file, or one whose
            top level is not a mapping (``field`` names what pointed at the file).
    """
    path = Path(path)
    try:
        text = _read_config_text(path, field)
    except FileNotFoundError:
        raise ScenarioError(path, field, "file not found") from None
    except UnicodeDecodeError:
        raise ScenarioError(path, field, "not UTF-8 text") from None
    except OSError as exc:
        raise ScenarioError(path, field, f"cannot read: {exc.strerror}") from None
    try:
        data = _load_yaml(text)
    except _Refused as exc:
        raise ScenarioError(path, exc.field, exc.message) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        if isinstance(exc, yaml.reader.ReaderError):
            # No mark: a character the reader refused, at a position in the text.
            where = f"line {text.count(chr(10), 0, exc.position) + 1}"
        raise ScenarioError(path, where, _yaml_problem(exc)) from None
    except RecursionError:
        raise ScenarioError(path, "", f"nested more than {MAX_NESTING} levels deep") from None
    except ValueError as exc:
        # A value PyYAML recognises but cannot build, such as the date 2010-13-45.
        raise ScenarioError(path, "YAML", f"a value that cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError(path, "", "expected a mapping at the top level")
    deep = nesting_path(data)
    if deep is not None:
        raise ScenarioError(path, deep, f"nested more than {MAX_NESTING} levels deep")
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Return what is wrong with a file ``yaml.safe_load`` refused, in a few words.

    A tag such as ``!!python/object`` is well-formed YAML that a safe loader builds no
    object for: configs are plain data.
    """
    problem = str(getattr(exc, "problem", "") or "")
    tag = re.search(r"constructor for the tag '([^']+)'", problem)
    if isinstance(exc, yaml.constructor.ConstructorError) and tag:
        shown = tag.group(1).replace("tag:yaml.org,2002:", "!!")
        return f"the tag {shown[:60]} is not allowed: configs are plain data"
    if problem == "but found another document":
        return "more than one YAML document (a line '---' after the first): one config a file"
    if isinstance(exc, yaml.reader.ReaderError):
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return f"the character U+{code:04X}, which YAML does not allow"
    return "malformed YAML"


MERGE_TAG = "tag:yaml.org,2002:merge"
# A key ``=`` (YAML's "value" key), which PyYAML reads as the text "=" only when it
# flattens the mapping, after this check.
VALUE_TAG = "tag:yaml.org,2002:value"


class _Refused(Exception):
    """A YAML document that is well formed but not a config (``_load_yaml``)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def _load_yaml(text: str) -> Any:
    r"""Return the data of one YAML document, as ``yaml.safe_load`` does, after its checks.

    Checked on the document as written, before anything is built: its aliases must not
    expand it beyond ``MAX_CONFIG_VALUES`` values (a file of a few hundred bytes can
    otherwise stand for billions, and every check after loading walks them all) nor nest a
    structure inside itself, no mapping may give a key twice, and every string must be
    text (a lone surrogate such as ``"\ud800"`` is not, and nothing could print or write it).
    """
    loader = ConfigLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded(node, loader)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_expanded(root: yaml.Node, loader: yaml.SafeLoader) -> None:
    """Refuse a node graph too large once its aliases are expanded, recursive, or not text.

    Depth first without recursion, each shared node counted once and its count reused, so
    that the check costs the file's size, not the expansion's.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key, where = id(node), f"line {node.start_mark.line + 1}"
        if finished:
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            open_nodes.discard(key)
            if sizes[key] > MAX_CONFIG_VALUES:
                message = f"expands to more than {MAX_CONFIG_VALUES:,} values through aliases"
                raise _Refused(where, message)
        elif key in open_nodes:
            raise _Refused(where, "an alias inside its own anchor (a structure in itself)")
        elif key not in sizes:
            if isinstance(node, yaml.ScalarNode) and not _is_text(node.value):
                raise _Refused(where, "a string that is not text (a lone surrogate?)")
            if isinstance(node, yaml.MappingNode):
                _check_keys(node, loader)
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _check_keys(node: yaml.MappingNode, loader: yaml.SafeLoader) -> None:
    """Refuse a key given twice in one mapping, as written (before any ``<<`` merge).

    YAML requires the keys of a mapping to be unique; PyYAML keeps the last, so that a
    second ``end_year:`` further down a file would silently win. Keys are compared by
    their values (``2010`` and ``+2010`` are one key). Keys that a ``<<`` merge brings in
    may still be overridden, as YAML's merge rule says.
    """
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag in (MERGE_TAG, VALUE_TAG):
            continue
        # A plain value (text, number, bool, date): building it early is safe, and cached.
        key, line = loader.construct_object(key_node), key_node.start_mark.line + 1
        try:
            first = seen.get(key)
        except TypeError:
            continue  # not a key PyYAML accepts either; its own error follows
        if first is not None:
            raise _Refused(key_node.value, f"given twice (lines {first} and {line})")
        seen[key] = line


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _read_config_text(path: Path, field: str) -> str:
    """Return a config file's text; refuse devices, pipes and files over the size limit."""
    # Checked before opening: opening a pipe would wait for a writer.
    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        raise ScenarioError(path, field, "is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise ScenarioError(path, field, "not a regular file (a device or a pipe?)")
    with path.open("rb") as file:
        data = file.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ScenarioError(path, field, f"larger than {MAX_CONFIG_BYTES:,} bytes")
    return data.decode("utf-8")


# The keys that mark each kind of input file, with what runs (or names) a file of the kind.
_KINDS = {
    "countries": ("a regional scenario file", "ngo-abm run runs it"),
    "baseline": ("an experiment file", "ngo-abm experiment runs it"),
    "counterfactuals": ("an experiment file", "ngo-abm experiment runs it"),
    "mechanisms": ("an experiment file", "ngo-abm experiment runs it"),
    "country": (
        "a country's scenario file",
        "ngo-abm run runs it; an experiment names it as its baseline:",
    ),
    "extends": ("a scenario file", "ngo-abm run runs it"),
    "parameters": ("a behaviour file", "a scenario names it in behaviour:"),
}
# An experiment's own keys: a file with one is an experiment, its other keys named as such.
_EXPERIMENT_KEYS = ("baseline", "counterfactuals", "mechanisms")


def kind_keys(*own: str) -> tuple[str, ...]:
    """Return the keys that mark the kinds of input file, in the table's order, but ``own``."""
    return tuple(key for key in _KINDS if key not in own)


def refuse_other_kind(path: Path, data: dict, keys: tuple[str, ...], this: str) -> None:
    """Refuse a file of another kind than ``this``, named as such by the first of ``keys``.

    Otherwise its first key the loader does not know is named (``extends: unknown key``).

    Raises:
        OtherKindError: naming the key that marks the file's kind.
    """
    for key in keys:
        if key in data:
            kind, hint = _KINDS[key]
            raise OtherKindError(path, key, f"{kind}, not {this} ({hint})")


def refuse_scenario_files(path: Path, data: dict) -> None:
    """Refuse a scenario or behaviour file given as an experiment, named as such.

    Raises:
        OtherKindError: naming the key that marks the file's kind.
    """
    if not any(key in data for key in _EXPERIMENT_KEYS):
        # In the table's order: a counterfactual scenario ``extends:`` another before it
        # may set ``parameters:``.
        refuse_other_kind(path, data, kind_keys(*_EXPERIMENT_KEYS), "an experiment")


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
