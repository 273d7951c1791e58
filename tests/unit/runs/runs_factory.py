"""Build realistic run folders for the `runs` tests: manifests through RunStore.write, metrics.jsonl, logs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from paddlectl.runs.manifest import (
    CommandRecord,
    ContainerRecord,
    GitRecord,
    ImageRecord,
    Manifest,
    MetricsRecord,
    MetricSummary,
    ParamsRecord,
    RunStatus,
    RuntimeRecord,
)
from paddlectl.runs.store import RunPaths, RunStore, new_run_id

IMAGE = "paddlectl-test/paddle:3.2.0-cpu"
IMAGE_ID = "sha256:" + "3" * 64
BASE_TIME = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_run(
    project: Path,
    *,
    minutes: int,
    status: RunStatus = RunStatus.SUCCEEDED,
    name: str | None = None,
    params: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
    labels: dict[str, str] | None = None,
    image: str = IMAGE,
    commit: str | None = "a" * 40,
    dirty: bool = False,
    series: dict[str, list[float]] | None = None,
    log: str | None = None,
    started: datetime | None = None,
    runtime: dict[str, Any] | None = None,
    **extra: Any,
) -> RunPaths:
    """One run folder; `minutes` after BASE_TIME sets its id and start (ids sort by start time)."""
    moment = started or BASE_TIME + timedelta(minutes=minutes)
    store = RunStore(project / ".paddlectl" / "runs")
    run_id = new_run_id(moment)
    paths = store.paths(run_id)
    paths.outputs.mkdir(parents=True)
    values = params or {}
    summary = {
        metric: MetricSummary(last=value, min=value, max=value, count=1, last_step=0, source="log")
        for metric, value in (metrics or {}).items()
    }
    ended = status is not RunStatus.RUNNING
    manifest = Manifest(
        id=run_id,
        project=project.name,
        status=status,
        started_at=iso(moment),
        image=ImageRecord(image, IMAGE_ID, None),
        command=CommandRecord("train.py", None, [], ["python", "-u", "train.py"]),
        container=ContainerRecord(id="c" * 64, env_names=["PADDLECTL_RUN_ID", "PYTHONUNBUFFERED"]),
        name=name,
        labels=labels or {},
        exit_code=0 if status is RunStatus.SUCCEEDED else (1 if ended else None),
        ended_at=iso(moment + timedelta(seconds=90)) if ended else None,
        duration_seconds=90.0 if ended else None,
        params=ParamsRecord(values, dict.fromkeys(values, "cli")),
        git=GitRecord(is_repository=commit is not None, commit=commit, dirty=dirty),
        metrics=MetricsRecord(summary=summary),
        runtime=RuntimeRecord(**(runtime or {"paddle_version": "3.2.0", "python": "3.11.2", "cuda": None})),
        **extra,
    )
    store.write(manifest)
    if series:
        with paths.metrics.open("w") as handle:
            for metric, points in series.items():
                for step, value in enumerate(points):
                    handle.write(
                        json.dumps({"name": metric, "value": value, "step": step, "time": 1.0, "source": "log"}) + "\n"
                    )
    if log is not None:
        paths.log.write_text(log)
    return paths


def update(paths: RunPaths, **changes: Any) -> Manifest:
    """Rewrite a run's manifest with some fields changed."""
    store = RunStore(paths.root.parent)
    manifest = store.read(paths.run_id)
    for key, value in changes.items():
        setattr(manifest, key, value)
    store.write(manifest)
    return manifest
