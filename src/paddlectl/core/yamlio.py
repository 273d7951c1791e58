"""YAML in and out, safe loaders only (the C ones when PyYAML has them)."""

from __future__ import annotations

from typing import Any

import yaml

from paddlectl.errors import UsageError

try:
    from yaml import CSafeDumper as SafeDumper
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper, SafeLoader  # type: ignore[assignment]


def load_yaml(text: str, source: str) -> Any:
    """Parse YAML safely; a syntax error or a python/object tag is a UsageError naming the source."""
    try:
        return yaml.load(text, Loader=SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{source} is not valid YAML{where}: {problem}", hint=f"fix {source}") from exc


def dump_yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=SafeDumper, sort_keys=False, allow_unicode=True, default_flow_style=False)
