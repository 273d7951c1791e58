"""Parsed YAML to msgspec Structs, with one-line errors that say which key, where, and what was meant.

msgspec reports `Object contains unknown field 'gpu' - at '$.train'` or `Expected 'str | null', got 'int' - at
'$.export.model'`; this module turns that into `paddlectl.yaml, line 3: unknown key 'train.gpu'; did you mean
'gpus'?` (a UsageError, exit 2). The line comes from the composed node tree of the same text (composed only when
there is an error to place). A dict entry msgspec names `[...]` is found again by checking each entry on its own.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any, TypeVar

import msgspec
import yaml

from paddlectl.errors import UsageError
from paddlectl.foundation.yamlio import compose_yaml

T = TypeVar("T")
Path = tuple[str | int, ...]

_QUOTE = "[`']"
_UNKNOWN = re.compile(rf"Object contains unknown field {_QUOTE}(?P<key>.*?){_QUOTE}$")
_MISSING = re.compile(rf"Object missing required field {_QUOTE}(?P<key>.*?){_QUOTE}$")
_EXPECTED = re.compile(
    rf"Expected {_QUOTE}(?P<expected>[^`']+){_QUOTE}(?P<rest>.*?)(?:, got {_QUOTE}(?P<got>[^`']+){_QUOTE})?$"
)
_AT = re.compile(rf"^(?P<problem>.*?) - at (?P<key>{_QUOTE}key{_QUOTE} in )?{_QUOTE}(?P<path>\$[^`']*){_QUOTE}$")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_WORDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a decimal number",
    "bool": "true/false",
    "object": "a mapping",
    "array": "a list",
    "tuple": "a list",
    "set": "a set",
    "date": "a date",
    "datetime": "a timestamp",
    "time": "a time",
    "bytes": "binary data",
    "null": "null",
}
_ORDER = ("str", "int", "float", "bool", "object", "array")
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def convert(value: Any, target: type[T], *, source: str, text: str | None = None, at: Path = ()) -> T:
    """`value` (found at `at` in the document of `source`) as `target`; UsageError naming the key and its line."""
    try:
        return msgspec.convert(_without_nulls(value, target), target)
    except msgspec.ValidationError as error:
        raise _located(str(error), value, target, source, text, at) from None


def python_type_word(value: Any) -> str:
    """How an error names the type of a value YAML produced."""
    names = {str: "str", bool: "bool", int: "int", float: "float", dict: "object", list: "array", type(None): "null"}
    name = names.get(type(value), type(value).__name__)
    return _WORDS.get(name, name)


def located_error(problem: str, *, source: str, text: str | None, at: Path, hint: str) -> UsageError:
    """A UsageError for a problem at YAML path `at`, prefixed by the file and the line (when it can be found)."""
    root = compose_yaml(text) if text is not None else None
    return UsageError(f"{_prefix(source, _line_of(root, at, key_itself=False))}{problem}", hint=hint)


def dotted(path: Path) -> str:
    """`('export', 'inputs', 0, 'shape')` -> `export.inputs[0].shape`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


# ---- msgspec's message to ours ----------------------------------------------------------------------------


def _located(message: str, value: Any, target: Any, source: str, text: str | None, at: Path) -> UsageError:
    root = compose_yaml(text) if text is not None else None
    problem, of_key = message, False
    inner: Path = ()
    match = _AT.match(message)
    if match:
        problem, of_key = match.group("problem"), match.group("key") is not None
        inner = _resolve_wildcards(_parse_path(match.group("path")), value, target)
    path = at + inner
    subject = dotted(path)
    if unknown := _UNKNOWN.match(problem):
        return _unknown_key(unknown.group("key"), path, _keys_of(target, inner), source, root)
    if missing := _MISSING.match(problem):
        what = subject or "the document"
        line = _line_of(root, path, key_itself=False)
        hint = f"add {missing.group('key')}: to {what}" if subject else f"add {missing.group('key')}: to {source}"
        return UsageError(f"{_prefix(source, line)}{what} has no '{missing.group('key')}'", hint=hint)
    expected = _EXPECTED.match(problem)
    if of_key:
        written, kind, line = _offending_key(value, inner, root, path)
        where = f"in {subject}" if subject else "at the top level"
        return UsageError(
            f"{_prefix(source, line)}key '{written}' {where} must be a string, not {kind}",
            hint=f"quote the key to make it text: '{written}':",
        )
    if expected is None:
        line = _line_of(root, path, key_itself=False)
        return UsageError(f"{_prefix(source, line)}{subject or source}: {problem}", hint=f"fix {subject} in {source}")
    wanted = _describe(expected.group("expected")) + expected.group("rest")
    got = expected.group("got")
    if not subject:
        return UsageError(
            f"{source} must be a mapping of sections ({', '.join(_keys_of(target, ()))}), not {_WORDS.get(got, got)}",
            hint=f"write one section per line in {source}, e.g. project: my-project",
        )
    line = _line_of(root, path, key_itself=False)
    tail = f", not {_WORDS.get(got, got)}" if got else ""
    return UsageError(f"{_prefix(source, line)}{subject} must be {wanted}{tail}", hint=f"set {subject} to {wanted}")


def _unknown_key(key: str, path: Path, valid: list[str], source: str, root: Any) -> UsageError:
    full = (*path, key)
    line = _line_of(root, full, key_itself=True)
    section = dotted(path)
    known = f"the keys of {section} are: " if section else "the top-level keys are: "
    close = (
        difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
        or [name for name in valid if key and (name.startswith(key) or key.startswith(name))][:1]
    )
    message = f"{_prefix(source, line)}unknown key '{dotted(full)}'"
    if close:
        message += f"; did you mean '{close[0]}'?"
    return UsageError(message, hint=known + ", ".join(valid))


def _prefix(source: str, line: int | None) -> str:
    return f"{source}, line {line}: " if line is not None else f"{source}: "


def _describe(expected: str) -> str:
    names = [name.strip() for name in expected.split("|")]
    if len(names) > 1:
        names = [name for name in names if name != "null"]
    names.sort(key=lambda name: _ORDER.index(name) if name in _ORDER else len(_ORDER))
    return " or ".join(_WORDS.get(name, name) for name in names)


def _parse_path(text: str) -> list[str | int]:
    parts: list[str | int] = []
    for match in _PATH_PART.finditer(text):
        key, index = match.groups()
        parts.append(key if key is not None else (index if index == "..." else int(index)))
    return parts


# ---- types: which Struct a part of the document belongs to ------------------------------------------------


def _members(target: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(target)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(target)
    return (target,)


def _struct_of(target: Any) -> type[msgspec.Struct] | None:
    for member in _members(target):
        if isinstance(member, type) and issubclass(member, msgspec.Struct):
            return member
    return None


def _child_type(target: Any, part: str | int) -> Any:
    """The declared type of `part` (a key or an index) inside a value of type `target`; None when unknown."""
    struct = _struct_of(target)
    if struct is not None and isinstance(part, str):
        for info in msgspec.structs.fields(struct):
            if info.encode_name == part:
                return info.type
        return None
    for member in _members(target):
        origin, args = typing.get_origin(member), typing.get_args(member)
        if origin is dict and len(args) == 2 and isinstance(part, str):
            return args[1]
        if origin is list and args and isinstance(part, int):
            return args[0]
    return None


def _keys_of(target: Any, inner: Path) -> list[str]:
    for part in inner:
        target = _child_type(target, part)
    struct = _struct_of(target)
    return [info.encode_name for info in msgspec.structs.fields(struct)] if struct is not None else []


def _without_nulls(value: Any, target: Any) -> Any:
    """The document with `key: null` dropped wherever a Struct field has a default: empty means unset."""
    struct = _struct_of(target)
    if struct is not None and isinstance(value, dict):
        optional = {info.encode_name: info.type for info in msgspec.structs.fields(struct) if not info.required}
        required = {info.encode_name: info.type for info in msgspec.structs.fields(struct) if info.required}
        kept = {}
        for key, item in value.items():
            if item is None and key in optional:
                continue
            field_type = optional.get(key, required.get(key)) if isinstance(key, str) else None
            kept[key] = _without_nulls(item, field_type) if field_type is not None else item
        return kept
    if isinstance(value, list):
        item_type = _child_type(target, 0)
        return [_without_nulls(item, item_type) for item in value] if item_type is not None else value
    if isinstance(value, dict):
        return {key: _empty_entry(item, _child_type(target, key)) for key, item in value.items()}
    return value


def _empty_entry(item: Any, target: Any) -> Any:
    """An entry of a mapping of records (`profiles: {ci: }`): null is the record with every default, when it has
    no required field; anything else as _without_nulls reads it."""
    struct = _struct_of(target)
    if item is None and struct is not None and all(not info.required for info in msgspec.structs.fields(struct)):
        return {}
    return _without_nulls(item, target)


def _resolve_wildcards(parts: list[str | int], value: Any, target: Any) -> Path:
    """msgspec's path with each `[...]` (an entry of a dict) replaced by the key of the first entry that fails."""
    resolved: list[str | int] = []
    for written in parts:
        part = _first_failing_key(value, _child_type(target, "")) if written == "..." else written
        resolved.append(part)
        target = _child_type(target, part) if target is not None else None
        value = _item(value, part)
    return tuple(resolved)


def _item(container: Any, part: str | int) -> Any:
    """container[part], or None when there is no such entry."""
    if isinstance(container, dict):
        return container.get(part)
    if isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container):
        return container[part]
    return None


def _first_failing_key(mapping: Any, item_type: Any) -> str:
    if isinstance(mapping, dict) and item_type is not None:
        for key, item in mapping.items():
            try:
                msgspec.convert(_without_nulls(item, item_type), item_type)
            except msgspec.ValidationError:
                return str(key)
    return "..."


# ---- where in the text ------------------------------------------------------------------------------------


def _line_of(root: yaml.Node | None, path: Path, *, key_itself: bool) -> int | None:
    """The 1-based line of the value at `path` (or of its key), else of the deepest part of it that exists."""
    if root is None:
        return None
    node: yaml.Node = root
    line: int = root.start_mark.line + 1
    for position, part in enumerate(path):
        pair = _child_node(node, part)
        if pair is None:
            return line
        key_node, node = pair
        last = position == len(path) - 1
        marked = key_node if (last and key_itself and key_node is not None) else node
        line = marked.start_mark.line + 1
    return line


def _child_node(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    """The (key node, value node) of `part` in a mapping (merge keys `<<` included) or a sequence."""
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        return (None, node.value[part]) if 0 <= part < len(node.value) else None
    if not isinstance(node, yaml.MappingNode):
        return None
    merged: list[yaml.Node] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            merged.extend(value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node])
        elif isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
            return key_node, value_node
    for source in merged:
        found = _child_node(source, part)
        if found is not None:
            return found
    return None


def _offending_key(value: Any, inner: Path, root: yaml.Node | None, path: Path) -> tuple[str, str, int | None]:
    """The first key that is not text in the mapping at `inner`: as written, its type in words, and its line."""
    mapping = value
    for part in inner:
        mapping = _item(mapping, part)
    bad = next((key for key in mapping if not isinstance(key, str)), None) if isinstance(mapping, dict) else None
    written, line = str(bad), _line_of(root, path, key_itself=False)
    node: yaml.Node | None = root
    for part in path:
        pair = _child_node(node, part) if node is not None else None
        node = pair[1] if pair is not None else None
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _STR_TAG:
                written, line = key_node.value, key_node.start_mark.line + 1
                break
    return written, python_type_word(bad), line
