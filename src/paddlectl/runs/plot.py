"""`runs plot`: one metric over steps as a PNG line chart, one line per run (matplotlib, the `plot` extra)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from paddlectl.errors import UnavailableError, UsageError
from paddlectl.runs.series import Point, read_series

if TYPE_CHECKING:
    from paddlectl.runs.store import RunPaths, RunStore

PLOT_INSTALL = "pip install 'paddlectl[plot]'"
# Run ids are YYYYMMDD-HHMMSS-...: a prefix down to the second stays unique as newer runs arrive (a run started
# in the same second is the only one that can share it, and then the prefix is made longer).
PREFIX_MINIMUM = len("20261122-110809")


@dataclass
class PlotLine:
    run: str
    label: str
    points: list[Point]


def usable_prefix(run_id: str, run_ids: Sequence[str], minimum: int = PREFIX_MINIMUM) -> str:
    """The shortest prefix of `run_id` (at least `minimum` characters) that no other of `run_ids` starts with.

    `paddlectl runs show PREFIX` resolves it to this run, so a legend can name runs by something one can type.
    """
    others = [other for other in run_ids if other != run_id]
    for length in range(min(minimum, len(run_id)), len(run_id)):
        prefix = run_id[:length]
        if not any(other.startswith(prefix) for other in others):
            return prefix
    return run_id


def plot_label(run_id: str, name: str | None, run_ids: Sequence[str]) -> str:
    """A legend entry: `name (prefix)`, or the prefix alone for a run without a name."""
    prefix = usable_prefix(run_id, run_ids)
    return f"{name} ({prefix})" if name else prefix


def collect_run_lines(store: RunStore, targets: Sequence[str], metric: str) -> list[PlotLine]:
    """Resolve each RUN argument and collect its series of `metric`, labelled for the legend (see plot_label).

    Raises UsageError for a RUN that does not resolve, or when no run has any point of the metric.
    """
    from paddlectl.runs.index import RunIndex
    from paddlectl.runs.query import resolve_run

    index = RunIndex.of(store)
    run_ids = index.run_ids()
    chosen = []
    for target in targets:
        paths = resolve_run(store, target)
        name = index.entry(paths.run_id).row.get("name")
        chosen.append((paths, plot_label(paths.run_id, str(name) if name else None, run_ids)))
    return collect_lines(chosen, metric)


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
