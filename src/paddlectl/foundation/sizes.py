"""Sizes for people."""

from __future__ import annotations


def human_size(size: int) -> str:
    """Bytes for people: 512 B, 3.4 KiB, 1.2 GiB."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
