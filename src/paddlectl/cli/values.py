"""One way to show a recorded value in a table or a line (no rich here: `registry show` prints plain lines)."""

from __future__ import annotations

from typing import Any


def fmt(value: Any, nested: bool = False) -> str:
    """None as nothing, bools as yes/no, floats to 6 significant digits, mappings as `k=v, ...`, lists joined
    (in brackets inside a mapping, so `x=[-1, 8], y=[3]` stays readable)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return ", ".join(f"{key}={fmt(item, nested=True)}" for key, item in value.items())
    if isinstance(value, list):
        joined = ", ".join(fmt(item, nested=True) for item in value)
        return f"[{joined}]" if nested else joined
    return str(value)
