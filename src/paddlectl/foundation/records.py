"""Typed records read from and written to YAML mappings, keeping the keys a newer paddlectl added.

A record is a dataclass whose last field is `unknown_keys: dict[str, Any]` (the mappings' keys this version does
not know). `load(cls, mapping)` walks the mapping with the record's type hints, moves unknown keys into each
record's `unknown_keys` (nested records, lists and dicts of records included), then lets msgspec check and convert
every value to its declared type (an `int` field holding "3" is an error, never a silent string). `dump(record)`
gives back the mapping, known keys first and the unknown ones after them, so a read-modify-write by an older
paddlectl loses nothing. msgspec is imported on first use (it is not on the `--help` path).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from enum import Enum
from typing import Any, TypeVar

UNKNOWN = "unknown_keys"
Record = TypeVar("Record")


class RecordError(ValueError):
    """A mapping that does not read as the record (a missing field, a value of the wrong type)."""


def load(cls: type[Record], mapping: Any) -> Record:
    """The record `cls` from a mapping; raises RecordError saying where (`$.git.dirty: Expected bool, got str`)."""
    import msgspec

    if not isinstance(mapping, dict):
        raise RecordError("not a mapping")
    try:
        return msgspec.convert(_split(cls, mapping), type=cls, strict=True)
    except msgspec.ValidationError as exc:
        raise RecordError(str(exc).replace("`", "'")) from exc


def dump(value: Any) -> Any:
    """The plain mapping (lists, scalars) of a record, its unknown keys written back after the known ones."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        document: dict[str, Any] = {}
        unknown: dict[str, Any] = {}
        for item in dataclasses.fields(value):
            if item.name == UNKNOWN:
                unknown = getattr(value, UNKNOWN)
            else:
                document[item.name] = dump(getattr(value, item.name))
        document.update({key: item for key, item in unknown.items() if key not in document})
        return document
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: dump(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [dump(item) for item in value]
    return value


def _split(hint: Any, value: Any) -> Any:
    """`value` with each record's unknown keys moved into its `unknown_keys` (by the type hints of `hint`)."""
    record = _record_class(hint)
    if record is not None:
        if not isinstance(value, dict):
            return value  # msgspec reports the wrong type with its path
        known = {name: item for name, item in _field_hints(record).items() if name != UNKNOWN}
        split = {key: _split(known[key], item) for key, item in value.items() if key in known}
        split[UNKNOWN] = {key: item for key, item in value.items() if key not in known}  # "unknown_keys" too
        return split
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list and args and isinstance(value, list):
        return [_split(args[0], item) for item in value]
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        return {key: _split(args[1], item) for key, item in value.items()}
    return value


def _record_class(hint: Any) -> type | None:
    """The record class a hint names: `X` or `X | None` where X is a dataclass with unknown_keys."""
    union = isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
    candidates = typing.get_args(hint) if union else (hint,)
    for candidate in candidates:
        if isinstance(candidate, type) and dataclasses.is_dataclass(candidate) and UNKNOWN in _field_hints(candidate):
            return candidate
    return None


@functools.cache
def _field_hints(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {item.name: hints[item.name] for item in dataclasses.fields(cls)}
