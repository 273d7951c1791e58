"""`runs plot`: one metric over steps as a PNG line chart, one line per run (matplotlib, the `plot` extra)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from paddlectl.errors import UnavailableError, UsageError
from paddlectl.runs.series import Point, read_series

if TYPE_CHECKING:
    from paddlectl.runs.store import RunPaths

PLOT_INSTALL = "pip install 'paddlectl[plot]'"


@dataclass
class PlotLine:
    run: str
    label: str
    points: list[Point]


def collect_lines(runs: list[tuple[RunPaths, str]], metric: str) -> list[PlotLine]:
    """Each run's series of `metric`; UsageError when no run has any point of it."""
    lines = []
    for paths, label in runs:
        points = read_series(paths.metrics, [metric]).get(metric, [])
        lines.append(PlotLine(paths.run_id, label, points))
    if not any(line.points for line in lines):
        known = sorted({name for paths, _ in runs for name in read_series(paths.metrics)})
        raise UsageError(
            f"no run recorded the metric '{metric}'",
            hint=f"metrics recorded: {', '.join(known[:20])}" if known else "these runs recorded no metrics",
        )
    return lines


def plot_png(lines: list[PlotLine], metric: str, output: Path, title: str | None = None) -> Path:
    """Draw the lines with matplotlib's Agg backend and save a PNG; UnavailableError without matplotlib."""
    try:
        import matplotlib  # type: ignore[import-not-found, unused-ignore]

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise UnavailableError("plotting needs matplotlib, which is not installed", hint=PLOT_INSTALL) from None
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        for line in lines:
            if line.points:
                axes.plot([x for x, _ in line.points], [y for _, y in line.points], label=line.label, linewidth=1.2)
        axes.set_xlabel("step")
        axes.set_ylabel(metric)
        axes.set_title(title or metric)
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize="small")
        figure.tight_layout()
        output.parent.mkdir(parents=True, exist_ok=True)
        try:
            figure.savefig(output, format="png")
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror}", hint="choose another -o path") from exc
    finally:
        plt.close(figure)
    return output
