"""Reading a YAML config: ``yaml.safe_load`` only, and every way a file can be refused.

A config is plain data: no tag that builds an object, no alias that expands the file
beyond ``MAX_CONFIG_VALUES`` values or nests a structure in itself, no key given twice in
a mapping as written, UTF-8 text under ``MAX_CONFIG_BYTES`` (a UTF-16 or UTF-32 file
is named as such); a file PyYAML cannot parse is named by the line where the broken
construct began. Each refusal is one line naming
the file and the field (``ScenarioError``). Source: the project's rules for inputs
(configs are data; bad input is one line naming the file and the field).
"""

from __future__ import annotations

import codecs
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .input_errors import ScenarioError
from .limits import MAX_CONFIG_BYTES, MAX_CONFIG_VALUES, MAX_NESTING, nesting_path
from .yaml_numbers import ConfigLoader


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
        raise ScenarioError(path, _yaml_where(exc, text), _yaml_problem(exc)) from None
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


def _yaml_where(exc: yaml.YAMLError, text: str) -> str:
    """Return the line to look at for a file ``yaml.safe_load`` refused.

    Where the construct that broke began (an unclosed quote or bracket), rather than where
    the parser gave up, which can be the end of the file; never past its last line.
    """
    if isinstance(exc, yaml.reader.ReaderError):
        # No mark: a character the reader refused, at a position in the text.
        return f"line {text.count(chr(10), 0, exc.position) + 1}"
    mark = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    if context is not None and (mark is None or mark.index >= len(text.rstrip())):
        # The parser reached the end of the file looking for the close of a construct.
        mark = context
    if mark is None:
        return "YAML"
    last = max(1, len(text.splitlines()))
    return f"line {min(mark.line + 1, last)}"


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
    context = str(getattr(exc, "context", "") or "")
    said = ", ".join(part for part in (context, problem) if part)
    return f"malformed YAML ({said[:120]})" if said else "malformed YAML"


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
    # Where each node first sits in the document: its parent and its name there, joined
    # into a field path (``state.shocks.0``) only for a message; stored whole, a path would
    # cost the file's depth for every node, quadratic in a deeply nested file.
    parents: dict[int, tuple[int, str]] = {}
    open_nodes: set[int] = set()
    # Children are pushed last first, so that nodes are first reached in document order.
    stack: list[tuple[yaml.Node, bool, tuple[int, str] | None]] = [(root, False, None)]
    while stack:
        node, finished, link = stack.pop()
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
            if link is not None:
                parents.setdefault(key, link)
            if isinstance(node, yaml.ScalarNode) and not _is_text(node.value):
                raise _Refused(where, "a string that is not text (a lone surrogate?)")
            if isinstance(node, yaml.MappingNode):
                _check_keys(node, loader, lambda k=key: _field_path(parents, k))
            open_nodes.add(key)
            stack.append((node, True, None))
            children = [(c, n) for c, n in _named_children(node) if id(c) not in sizes]
            stack.extend((child, False, (key, name)) for child, name in reversed(children))


def _field_path(parents: dict[int, tuple[int, str]], key: int) -> str:
    """Return the field path of node ``key`` from its ancestors' names (``""`` for the root)."""
    names = []
    while key in parents:
        key, name = parents[key]
        names.append(name)
    return ".".join(reversed(names))


def _check_keys(node: yaml.MappingNode, loader: yaml.SafeLoader, path: Callable[[], str]) -> None:
    """Refuse a key given twice in one mapping at ``path()``, as written (before ``<<`` merges).

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
            where = path()
            field = f"{where}.{key_node.value}" if where else key_node.value
            raise _Refused(field, f"given twice (lines {first} and {line})")
        seen[key] = line


def _named_children(node: yaml.Node) -> list[tuple[yaml.Node, str]]:
    """Return a node's children with their names in a field path (a key's own, its parent's)."""
    if isinstance(node, yaml.SequenceNode):
        return [(child, str(i)) for i, child in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        named = []
        for key_node, value_node in node.value:
            name = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
            named += [(key_node, name), (value_node, name)]
        return named
    return []


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
    wide = _wide_encoding(data)
    if wide:
        # Windows editors save "Unicode" text so; its NULs would otherwise read as binary.
        raise ScenarioError(path, field, f"encoded as {wide}, not UTF-8: save it as UTF-8")
    # A table or an image given where a config goes (a NUL in a .yaml file is named, below,
    # as the character YAML does not allow).
    if b"\x00" in data[:8192] and path.suffix.lower() not in (".yaml", ".yml"):
        raise ScenarioError(path, field, "binary data, not a YAML config")
    if len(data) > MAX_CONFIG_BYTES:
        raise ScenarioError(path, field, f"larger than {MAX_CONFIG_BYTES:,} bytes")
    return data.decode("utf-8")


def _wide_encoding(data: bytes) -> str:
    """Return the name of the UTF-16 or UTF-32 encoding a byte-order mark announces, or ''."""
    # UTF-32's little-endian mark begins with UTF-16's, so it is checked first.
    marks = [
        (codecs.BOM_UTF32_LE, "UTF-32"),
        (codecs.BOM_UTF32_BE, "UTF-32"),
        (codecs.BOM_UTF16_LE, "UTF-16"),
        (codecs.BOM_UTF16_BE, "UTF-16"),
    ]
    return next((name for mark, name in marks if data.startswith(mark)), "")
