"""A run's metrics: parsed live from its output, read from the in-container helper's file, summarised at the end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from paddlectl.runs.store import METRICS_NAME, RunPaths

if TYPE_CHECKING:
    from paddlectl.runs.manifest import Manifest


_CONTEXT_PREFIXES = ("Epoch ", "Eval begin", "Predict begin")


class RunMetrics:
    """Collects both sources for one run; `finish` writes metrics.jsonl and the manifest's summary."""

    def __init__(self, paths: RunPaths) -> None:
        from paddlectl.runs.metrics import LogMetricParser, MetricRecorder

        self.paths = paths
        self.parser = LogMetricParser()
        self.recorder = MetricRecorder()

    def parse_lines(self, lines: list[str]) -> None:
        parse, add = self.parser.parse, self.recorder.add
        for line in lines:
            # Metric lines all have `name: value`; hapi's context lines (`Epoch 1/5`, `Eval begin...`) switch the
            # parser between training and eval. Everything else is skipped cheaply.
            if ":" in line or line.startswith(_CONTEXT_PREFIXES):
                for point in parse(line):
                    add(point)

    def parse_redraw(self, text: str) -> None:
        self.parse_lines([text])

    def finish(self, manifest: Manifest) -> None:
        self.recorder.read_helper_file(self.paths.helper_metrics)
        self.recorder.write_series(self.paths.metrics)
        from paddlectl.runs.manifest import MetricsRecord, MetricSummary

        summary = {name: MetricSummary(**entry) for name, entry in self.recorder.summary().items()}
        manifest.metrics = MetricsRecord(file=METRICS_NAME, summary=summary)
