"""What a paddlectl run becomes on MLflow: params, tags, status, times, metric points and artifact files.

Decisions (README "Using MLflow" documents them):
- status: running -> RUNNING, succeeded -> FINISHED, failed -> FAILED, interrupted and lost -> KILLED (both were
  stopped from outside the script: a signal, or a container removed or a host gone); the exact status and
  reason are the tags `paddlectl.status` and `paddlectl.reason`.
- params: strings as they are, every other typed value as JSON text (`true`, `0.001`, `[1, 2]`, `null`);
  param_value reads them back.
- the train profile, when the run has one, is the tag `paddlectl.profile` (`{name, params, gpus}` as JSON).
- metric points: from metrics.jsonl; a point without a step gets its position in its metric's series (what
  `runs plot` draws), a non-finite value is NaN (metrics.jsonl keeps them as null); time in milliseconds.
- a value over MLflow's limit (param 6,000 characters, tag 8,000) is never cut: the text goes into the artifact
  `paddlectl/oversized/<sha256>.txt` and the value is `sha256:<hex>`, with a warning.
- a name MLflow refuses (characters outside letters, digits and `_ - . : / space`, over 250 characters) is left
  out with a warning; manifest.yaml, pushed as an artifact, still has it.
Everything comes from the manifest, which paddlectl wrote with secrets masked; values are masked once more here.
"""

from __future__ import annotations

import hashlib
import json
import math
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from paddlectl.foundation.names import EXPORT_DIR_NAME, LOG_NAME, MANIFEST_NAME, METRICS_NAME, PATCH_NAME
from paddlectl.foundation.records import dump
from paddlectl.foundation.secrets import mask_mapping
from paddlectl.runs.manifest import Manifest, RunStatus
from paddlectl.runs.metrics import MetricPoint, load_series
from paddlectl.runs.store import RunPaths
from paddlectl.tracking.batches import MAX_PARAM_VALUE, MAX_TAG_VALUE, Metric, Param, Tag, valid_key

RUN_ID_TAG = "paddlectl.run_id"
LABEL_TAG_PREFIX = "paddlectl.label."
PROFILE_TAG = "paddlectl.profile"
OVERSIZED_DIR = "paddlectl/oversized"
OUTPUTS_DIR = "outputs"

MLFLOW_STATUS = {
    RunStatus.RUNNING: "RUNNING",
    RunStatus.SUCCEEDED: "FINISHED",
    RunStatus.FAILED: "FAILED",
    RunStatus.INTERRUPTED: "KILLED",
    RunStatus.LOST: "KILLED",
}


@dataclass
class RunRecord:
    """A run as MLflow will hold it, before any request: what `push` sends and the round-trip test compares."""

    run_id: str
    run_name: str
    status: str
    start_time: int
    end_time: int | None
    params: list[Param]
    tags: list[Tag]
    oversized: dict[str, bytes] = field(default_factory=dict)  # artifact path -> the full text
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ArtifactFile:
    """A file to upload: where it goes in the MLflow run's artifacts, and where its bytes are here."""

    path: str
    source: Path | bytes


def epoch_ms(timestamp: str | None) -> int | None:
    """An ISO-8601 time as MLflow's milliseconds since the epoch; None stays None (and so does garbage)."""
    if not timestamp:
        return None
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round(moment.timestamp() * 1000)


def param_text(value: Any) -> str:
    """A typed param value as text: strings unchanged, the rest as JSON (true, 0.001, [1, 2], null)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def param_value(text: str) -> Any:
    """A value param_text wrote, typed again: JSON numbers, booleans, null, lists and objects; other text as it is
    (a string param that reads as JSON, such as "3", comes back as that JSON: 3)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return text if isinstance(value, str) else value


def run_record(manifest: Manifest) -> RunRecord:
    """The MLflow view of a manifest (no I/O)."""
    record = RunRecord(
        run_id=manifest.id,
        run_name=manifest.name or manifest.id,
        status=MLFLOW_STATUS[manifest.status],
        start_time=epoch_ms(manifest.started_at) or 0,
        end_time=epoch_ms(manifest.ended_at) if manifest.status.ended else None,
        params=[],
        tags=[],
    )
    values = mask_mapping(manifest.params.values)
    for key, value in values.items():
        text = _fit(record, "param", str(key), param_text(value), MAX_PARAM_VALUE)
        if text is not None:
            record.params.append(Param(str(key), text))
    for key, value in _tag_values(manifest).items():
        text = _fit(record, "tag", key, value, MAX_TAG_VALUE)
        if text is not None:
            record.tags.append(Tag(key, text))
    return record


def _fit(record: RunRecord, kind: str, key: str, text: str, limit: int) -> str | None:
    """The value to send for `key`, or None (with a warning) when MLflow cannot hold the name."""
    if not valid_key(key):
        record.warnings.append(
            f"{kind} {key!r} has a name MLflow refuses (letters, digits, _ - . : / and spaces, at most 250); "
            f"it is left out (manifest.yaml, pushed as an artifact, has it)"
        )
        return None
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    path = f"{OVERSIZED_DIR}/{digest}.txt"
    record.oversized[path] = text.encode("utf-8")
    record.warnings.append(
        f"{kind} {key} is {len(text):,} characters, over MLflow's {limit:,}: "
        f"the value is sha256:{digest} and the text is in artifact {path}"
    )
    return f"sha256:{digest}"


def _tag_values(manifest: Manifest) -> dict[str, str]:
    git, export, command = manifest.git, manifest.export, manifest.command
    source = command.script or (f"-m {command.module}" if command.module else None)
    tags: dict[str, Any] = {
        RUN_ID_TAG: manifest.id,
        "paddlectl.project": manifest.project,
        "paddlectl.status": manifest.status.value,
        "paddlectl.reason": manifest.reason,
        "paddlectl.exit_code": manifest.exit_code,
        "paddlectl.oom_killed": True if manifest.oom_killed else None,
        "paddlectl.version": manifest.host.paddlectl_version,
        "paddlectl.image.reference": manifest.image.reference,
        "paddlectl.image.id": manifest.image.id,
        "paddlectl.image.digest": manifest.image.digest,
        "paddlectl.image.moved_from": manifest.image.moved_from,
        "paddlectl.git.commit": git.commit,
        "paddlectl.git.branch": git.branch,
        "paddlectl.git.dirty": git.dirty if git.is_repository else None,
        "paddlectl.git.remote": git.remote_url,
        "paddlectl.command": shlex.join(command.argv) if command.argv else None,
        "paddlectl.gpus": manifest.container.gpus,
        PROFILE_TAG: dump(manifest.profile) if manifest.profile else None,
        "paddlectl.reproduces": manifest.reproduces,
        "paddlectl.export.format": export.format if export else None,
        "paddlectl.export.verification": export.verification if export else None,
        "mlflow.runName": manifest.name or manifest.id,
        "mlflow.source.type": "LOCAL",
        "mlflow.source.name": source,
        "mlflow.source.git.commit": git.commit,
        "mlflow.source.git.branch": git.branch,
        "mlflow.source.git.repoURL": git.remote_url,
    }
    for key, value in sorted((manifest.labels or {}).items()):
        tags[f"{LABEL_TAG_PREFIX}{key}"] = value
    masked = mask_mapping({key: value for key, value in tags.items() if value is not None})
    return {key: param_text(value) for key, value in masked.items()}


def metric_points(points: Iterable[MetricPoint], warnings: list[str] | None = None) -> list[Metric]:
    """MLflow points for a series in file order; names MLflow refuses are left out (one warning per name)."""
    positions: dict[str, int] = {}
    refused: set[str] = set()
    metrics = []
    for point in points:
        position = positions.get(point.name, 0)
        positions[point.name] = position + 1
        if point.name in refused:
            continue
        if not valid_key(point.name):
            refused.add(point.name)
            if warnings is not None:
                warnings.append(
                    f"metric {point.name!r} has a name MLflow refuses; its points are only in metrics.jsonl"
                )
            continue
        metrics.append(to_metric(point, position))
    return metrics


def to_metric(point: MetricPoint, position: int) -> Metric:
    value = point.value if math.isfinite(point.value) else None
    step = point.step if point.step is not None else position
    return Metric(point.name, value, round(point.time * 1000), step)


def load_metrics(paths: RunPaths, warnings: list[str] | None = None) -> list[Metric]:
    return metric_points(load_series(paths.metrics), warnings)


def artifact_files(paths: RunPaths, manifest: Manifest, record: RunRecord) -> list[ArtifactFile]:
    """Every file the MLflow run gets, sorted by path: the run's record files, the patch, the outputs listed in
    the manifest, the export folder when there is one, and the texts of oversized values."""
    files = [
        ArtifactFile(name, paths.root / name)
        for name in (MANIFEST_NAME, LOG_NAME, METRICS_NAME, PATCH_NAME)
        if (paths.root / name).is_file()
    ]
    for artifact in manifest.artifacts:
        relative = artifact.path
        local = paths.outputs / relative
        if relative and _inside(local, paths.outputs) and local.is_file() and not local.is_symlink():
            files.append(ArtifactFile(f"{OUTPUTS_DIR}/{relative}", local))
    export_dir = paths.root / EXPORT_DIR_NAME
    if manifest.export is not None and export_dir.is_dir():
        for local in sorted(export_dir.rglob("*")):
            if local.is_file() and not local.is_symlink():
                files.append(ArtifactFile(f"{EXPORT_DIR_NAME}/{local.relative_to(export_dir).as_posix()}", local))
    files.extend(ArtifactFile(path, text) for path, text in record.oversized.items())
    return sorted(files, key=lambda item: item.path)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True
