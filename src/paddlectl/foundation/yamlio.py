"""YAML in and out, safe loaders only (the C ones when PyYAML has them)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from paddlectl.errors import UsageError

try:
    from yaml import CSafeDumper as SafeDumper
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper, SafeLoader  # type: ignore[assignment]

# Constructors raise these, not YAMLError, for values that only look typed: `2020-13-45`, `!!int x`, `!!bool maybe`.
CONSTRUCTOR_ERRORS = (ValueError, TypeError, AttributeError, LookupError, OverflowError, RecursionError)
# libyaml's composer recurses on the C stack and crashes the process (SIGSEGV) somewhere past 20,000 nesting levels.
# Every level opens with `[`, `{`, or `-`/`?` and a blank, so a text with few of those is safe for it; others go to
# the pure-Python loader, whose recursion ends in a RecursionError instead.
_NESTING_OPENERS = re.compile(r"[\[{]|[-?](?:\s|$)")
_C_LOADER_MAX_OPENERS = 10_000
# Exponent floats YAML 1.1 reads as strings (`1e-3`, `3e4`, `1.0e5`): it wants a dot and a signed exponent.
EXPONENT_FLOAT = re.compile(r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$")


def exponent_floats(values: dict[str, Any]) -> dict[str, Any]:
    """Values such as `1e-3` that YAML 1.1 left as strings, read as the floats users meant."""
    return {
        key: float(value) if isinstance(value, str) and EXPONENT_FLOAT.match(value) else value
        for key, value in values.items()
    }


def _safe_loader(text: str) -> type[Any]:
    """The C loader, or the pure-Python one for deeply nested text (libyaml would crash on it); both are safe."""
    openers = sum(1 for _ in _NESTING_OPENERS.finditer(text))
    return SafeLoader if openers <= _C_LOADER_MAX_OPENERS else yaml.SafeLoader


def compose_yaml(text: str) -> yaml.Node | None:
    """The node tree of a YAML text (each node carries its line in `start_mark`); None when it does not parse."""
    try:
        return yaml.compose(text, Loader=_safe_loader(text))  # composing builds no objects: safe for any text
    except (yaml.YAMLError, RecursionError):
        return None


def load_yaml(text: str, source: str) -> Any:
    """Parse YAML safely; a syntax error, a bad typed value or a python/object tag is a UsageError naming the source."""
    safe_loader = _safe_loader(text)
    try:
        return yaml.load(text, Loader=safe_loader)  # noqa: S506 - SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{source} is not valid YAML{where}: {problem}", hint=f"fix {source}") from exc
    except CONSTRUCTOR_ERRORS as exc:
        if isinstance(exc, RecursionError):
            problem = "nested too deeply"
        elif isinstance(exc, ValueError | OverflowError):
            problem = str(exc)
        else:
            problem = "a value does not fit its !!tag"
        raise UsageError(f"{source} is not valid YAML: {problem}", hint=f"fix {source}") from exc


def dump_yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=SafeDumper, sort_keys=False, allow_unicode=True, default_flow_style=False)
