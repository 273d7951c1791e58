"""Every gate, recorded as one JSON line, and the noise `--noise-from K` reads from the recent ones.

Where: `$PADDLECTL_GATE_HISTORY` when set, else `.paddlectl/gate-history.jsonl` in the project. A pipeline that
clones the project afresh for every run points PADDLECTL_GATE_HISTORY at a file that outlives the clone (next to
the registry on the runner): the file `paddlectl ci init` writes does. Lines are appended under a lock, each
written whole in one write; a line that does not read (a torn last line after a crash) is skipped.

The noise of a metric is twice the sample standard deviation of its values over the last K gated runs against
the same baseline model (`registry:NAME`, `mlflow:NAME` or `run:ID`) with the same profile, counting only runs
that passed their gate and were comparable: a regression that was caught never widens the band that lets the
next one through.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from paddlectl.errors import ExitCode, PaddlectlError

HISTORY_ENV = "PADDLECTL_GATE_HISTORY"
HISTORY_NAME = "gate-history.jsonl"
SPREAD_SIGMAS = 2.0  # the band: this many sample standard deviations


@dataclass(frozen=True)
class GateRecord:
    time: str
    run: str
    baseline_key: str
    baseline: str  # the baseline's label (digits@1.0.0, run ...)
    profile: str | None
    comparable: bool
    passed: bool
    metrics: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, line: str) -> GateRecord | None:
        try:
            data = json.loads(line)
            metrics = {str(k): float(v) for k, v in (data.get("metrics") or {}).items()}
            return cls(
                time=str(data["time"]),
                run=str(data["run"]),
                baseline_key=str(data["baseline_key"]),
                baseline=str(data.get("baseline") or ""),
                profile=data.get("profile"),
                comparable=bool(data.get("comparable")),
                passed=bool(data.get("passed")),
                metrics=metrics,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


@dataclass(frozen=True)
class NoiseEstimate:
    """A metric's band: SPREAD_SIGMAS standard deviations of `values` (0 with fewer than two values)."""

    metric: str
    source: str  # history | repeats
    values: list[float]
    runs: list[str]

    @property
    def spread(self) -> float:
        return SPREAD_SIGMAS * statistics.stdev(self.values) if len(self.values) >= 2 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "source": self.source,
            "spread": self.spread,
            "values": self.values,
            "runs": self.runs,
        }


def history_path(store_dir: Path) -> Path:
    """$PADDLECTL_GATE_HISTORY, else gate-history.jsonl in the project's .paddlectl/."""
    configured = os.environ.get(HISTORY_ENV)
    return Path(configured).expanduser() if configured else store_dir / HISTORY_NAME


class GateHistory:
    """The gate records in one append-only JSON-lines file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.unreadable = 0  # lines the last read skipped (a write cut short, an edit): the gate says how many

    def append(self, record: GateRecord) -> None:
        """Add one line; PaddlectlError (exit 74) when the file cannot be written."""
        from paddlectl.foundation.locks import held_lock

        line = (json.dumps(asdict(record), sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            with held_lock(self.path.with_name(self.path.name + ".lock")):
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, line)
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise PaddlectlError(
                f"cannot record the gate in {self.path}: {exc.strerror}",
                hint=f"make {self.path.parent} writable, or point {HISTORY_ENV} elsewhere",
                code=ExitCode.IO,
            ) from exc

    def records(self) -> Iterator[GateRecord]:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return
        except OSError as exc:
            raise PaddlectlError(
                f"cannot read the gate history {self.path}: {exc.strerror}", hint=f"check {HISTORY_ENV}"
            ) from exc
        self.unreadable = 0
        for line in text.splitlines():
            record = GateRecord.from_json(line) if line.strip() else None
            if record is not None:
                yield record
            elif line.strip():
                self.unreadable += 1

    def recent(self, baseline_key: str, profile: str | None, limit: int, exclude_run: str) -> list[GateRecord]:
        """The last `limit` passed, comparable gates against `baseline_key` with this profile, oldest first; one
        record per run (its latest), never `exclude_run` (the run being gated now)."""
        latest: dict[str, GateRecord] = {}
        for record in self.records():
            if record.baseline_key == baseline_key and record.profile == profile and record.run != exclude_run:
                latest.pop(record.run, None)  # re-inserted last: a run gated again counts where it was gated last
                latest[record.run] = record
        kept = [record for record in latest.values() if record.passed and record.comparable]
        return kept[-limit:] if limit > 0 else []


def noise_from_history(records: list[GateRecord], metric: str) -> NoiseEstimate:
    having = [record for record in records if metric in record.metrics]
    return NoiseEstimate(metric, "history", [r.metrics[metric] for r in having], [r.run for r in having])
