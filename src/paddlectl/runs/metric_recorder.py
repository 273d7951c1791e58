"""A run's metrics: parsed live from its output, read from the in-container helper's file, summarised at the end."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from paddlectl.foundation.names import METRICS_NAME
from paddlectl.runs.store import RunPaths

if TYPE_CHECKING:
    from paddlectl.runs.manifest import Manifest
    from paddlectl.runs.metrics import MetricPoint


_CONTEXT_PREFIXES = ("Epoch ", "Eval begin", "Predict begin")


class RunMetrics:
    """Collects both sources for one run; `finish` writes metrics.jsonl and the manifest's summary.

    `on_points`, when given, gets the points parsed from each batch of log lines (live tracking); it must return
    at once, since it runs on the log stream's thread.
    """

    def __init__(self, paths: RunPaths, on_points: Callable[[list[MetricPoint]], None] | None = None) -> None:
        from paddlectl.runs.metrics import LogMetricParser, MetricRecorder

        self.paths = paths
        self.parser = LogMetricParser()
        self.recorder = MetricRecorder()
        self._on_points = on_points

    def parse_lines(self, lines: list[str]) -> None:
        parse, add = self.parser.parse, self.recorder.add
        found: list[MetricPoint] | None = [] if self._on_points is not None else None
        for line in lines:
            # Metric lines all have `name: value`; hapi's context lines (`Epoch 1/5`, `Eval begin...`) switch the
            # parser between training and eval. Everything else is skipped cheaply.
            if ":" in line or line.startswith(_CONTEXT_PREFIXES):
                for point in parse(line):
                    add(point)
                    if found is not None:
                        found.append(point)
        if found and self._on_points is not None:
            self._on_points(found)

    def parse_redraw(self, text: str) -> None:
        self.parse_lines([text])

    def finish(self, manifest: Manifest) -> None:
        self.recorder.read_helper_file(self.paths.helper_metrics)
        self.recorder.write_series(self.paths.metrics)
        from paddlectl.runs.manifest import MetricsRecord, MetricSummary

        summary = {name: MetricSummary(**entry) for name, entry in self.recorder.summary().items()}
        manifest.metrics = MetricsRecord(file=METRICS_NAME, summary=summary)
