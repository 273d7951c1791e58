"""Fitting a table to a terminal: drop the least important columns until the rest fit, never cut a value.

A pipe has no width: piped tables keep every column (cli/output.py). On a terminal, a column squeezed to `d…` is
worse than one left out and named on stderr.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

COLUMN_GAP = 3  # a space of padding, the separator, a space of padding between two columns


def fit_columns(
    columns: list[str], widths: dict[str, int], width: int, rank: Callable[[str], int], keep: Collection[str]
) -> list[str]:
    """The columns to show in `width` cells: the highest `rank` (least important) dropped first, the later of two
    equals first; those in `keep` never. `widths` is each column's natural width (header or widest cell)."""
    kept = list(columns)

    def total() -> int:
        return sum(widths[column] for column in kept) + COLUMN_GAP * (len(kept) - 1)

    for column in sorted(columns, key=lambda c: (rank(c), columns.index(c)), reverse=True):
        if total() <= width:
            break
        if column not in keep:
            kept.remove(column)
    return kept


def table_width(columns: Collection[str], widths: dict[str, int]) -> int:
    return sum(widths[column] for column in columns) + COLUMN_GAP * (len(columns) - 1)
