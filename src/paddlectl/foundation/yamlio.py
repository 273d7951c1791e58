"""YAML in and out, safe loaders only (the C ones when PyYAML has them)."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
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


def first_duplicate_key(node: yaml.Node | None) -> tuple[str, int, int] | None:
    """The mapping key written twice that comes first in the text, as (dotted path, first line, second line); None
    when every key is unique. YAML takes the last one in silence, so a second `profiles:` would hide the first.
    Walked with a stack, not recursion: a text nested thousands deep must not overflow Python's stack."""
    found: list[tuple[str, int, int]] = []
    pending: list[tuple[yaml.Node, tuple[str, ...]]] = [(node, ())] if node is not None else []
    while pending:
        current, path = pending.pop()
        children: list[tuple[yaml.Node, tuple[str, ...]]] = []
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode):
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        found.append((".".join((*path, key.value)), seen[key.value], line))
                    else:
                        seen[key.value] = line
                children.append((value, (*path, str(getattr(key, "value", "?")))))
        elif isinstance(current, yaml.SequenceNode):
            children = [(item, (*path, f"[{index}]")) for index, item in enumerate(current.value)]
        pending.extend(children)
    return min(found, key=lambda duplicate: duplicate[2], default=None)


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


def load_config_yaml(text: str, source: str) -> Any:
    """A configuration file (paddlectl.yaml, the user's config.yaml): load_yaml, and a key written twice in one
    mapping is a UsageError naming both lines, never the silent last-one-wins of YAML."""
    document = load_yaml(text, source)
    duplicate = first_duplicate_key(compose_yaml(text))
    if duplicate is not None:
        key, first, second = duplicate
        raise UsageError(
            f"{source}, line {second}: {key} is written twice (first on line {first}); YAML would keep only the last",
            hint=f"merge the two {key.rsplit('.', 1)[-1]}: entries into one",
        )
    return document


_FLOAT_TAG = "tag:yaml.org,2002:float"
_INT_TAG = "tag:yaml.org,2002:int"
_STR_TAG = "tag:yaml.org,2002:str"
_PLAIN_INT = re.compile(r"[-+]?(?:0|[1-9][0-9_]*)")
_SPECIAL_FLOAT = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")


def float_text_is_kept(text: str) -> bool:
    """Whether `text`, read as a float, would lose a digit that was typed (`1.10`, `2.50`); see the module doc."""
    if _SPECIAL_FLOAT.fullmatch(text):
        return False
    try:
        typed = Decimal(text.replace("_", ""))
        number = float(typed)
    except (InvalidOperation, ValueError, OverflowError):
        return True  # `1:30.5` and other YAML 1.1 float forms that are not decimal notation
    if not math.isfinite(number):
        return True  # `1e999`: typed as a number, would be inf
    shortest = Decimal(repr(number))
    exponent, shortest_exponent = typed.as_tuple().exponent, shortest.as_tuple().exponent
    assert isinstance(exponent, int) and isinstance(shortest_exponent, int)  # finite numbers
    return typed != shortest or exponent < shortest_exponent


class _ParamsLoader(yaml.SafeLoader):
    """The safe loader, which also reads exponent floats such as `1e-3` as floats (YAML 1.2 behaviour), and
    keeps as strings the plain numbers whose typed text a number would not print back (the module doc)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        if kind is yaml.ScalarNode and implicit[0]:  # a plain scalar typed implicitly, never an explicit !!tag
            if tag == _FLOAT_TAG and float_text_is_kept(value):
                return _STR_TAG
            if tag == _INT_TAG and not _PLAIN_INT.fullmatch(value):
                return _STR_TAG
        return tag


_ParamsLoader.add_implicit_resolver(_FLOAT_TAG, EXPONENT_FLOAT, list("-+0123456789."))


def load_params_yaml(text: str, source: str) -> Any:
    """YAML the way params are typed (train/params.py's module doc): exponent floats are floats, and a number
    whose typed text it would not print back (`1.10`, `0x1f`) stays the text. For `-p` values, params files and
    paddlectl.yaml's train.params; safe like load_yaml, whose one-line errors it raises."""
    try:
        return yaml.load(text, Loader=_ParamsLoader)  # noqa: S506 - a SafeLoader subclass: no python/* tags
    except (yaml.YAMLError, *CONSTRUCTOR_ERRORS):
        # load_yaml words the error (line, column, problem) the same way everywhere.
        return load_yaml(text, source)


def dump_yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=SafeDumper, sort_keys=False, allow_unicode=True, default_flow_style=False)
