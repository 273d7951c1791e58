"""Reading a run's metric series (metrics.jsonl) back, and drawing one as a unicode sparkline."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

SPARK_BARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 24

Point = tuple[float, float]  # (step, value)


def read_series(path: Path, names: Iterable[str] | None = None) -> dict[str, list[Point]]:
    """Each metric's points in file order; the step defaults to the point's position when the source had none.

    Lines that are not JSON objects (a line cut short by a crash) and non-finite values are skipped.
    """
    wanted = set(names) if names is not None else None
    series: dict[str, list[Point]] = {}
    try:
        handle = path.open("rb")
    except OSError:
        return series
    with handle:
        for line in handle:
            try:
                point = json.loads(line)
            except ValueError:
                continue
            if not isinstance(point, dict):
                continue
            name, value, step = point.get("name"), point.get("value"), point.get("step")
            if not isinstance(name, str) or (wanted is not None and name not in wanted):
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                continue
            points = series.setdefault(name, [])
            x = float(step) if isinstance(step, int | float) and not isinstance(step, bool) else float(len(points))
            points.append((x, float(value)))
    return series


def sparkline(values: list[float], width: int = SPARK_WIDTH) -> str:
    """A row of block characters tracing `values` (bucket means when there are more values than `width`)."""
    if not values:
        return ""
    if len(values) > width:
        buckets = []
        for index in range(width):
            start, stop = index * len(values) // width, (index + 1) * len(values) // width
            chunk = values[start : max(stop, start + 1)]
            buckets.append(sum(chunk) / len(chunk))
        values = buckets
    low, high = min(values), max(values)
    if high == low:
        return SPARK_BARS[len(SPARK_BARS) // 2] * len(values)
    top = len(SPARK_BARS) - 1
    return "".join(SPARK_BARS[round((value - low) / (high - low) * top)] for value in values)
