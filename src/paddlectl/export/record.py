"""export.yaml: what an export is, how it was verified, where it came from (`paddlectl package` reads it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paddlectl.errors import UsageError
from paddlectl.foundation.enums import TextEnum

if TYPE_CHECKING:
    from paddlectl.export.source import RunSource
    from paddlectl.runs.manifest import ExportSummary

SCHEMA_VERSION = 1
RECORD_NAME = "export.yaml"
SAMPLES_NAME = "samples.npz"


class VerificationStatus(TextEnum):
    PASSED = "passed"
    UNVERIFIED = "unverified"  # exported, but outputs differ beyond atol/rtol


def manifest_entry(record: dict[str, Any]) -> ExportSummary:
    """The essentials of an export for the run's manifest.yaml."""
    from paddlectl.runs.manifest import ExportSummary

    outputs = record["verification"]["outputs"]
    latency = record.get("latency_ms") or {}
    return ExportSummary(
        format=record["format"],
        dir="export",
        verification=record["verification"]["status"],
        max_abs_diff=max((o["max_abs_diff"] for o in outputs), default=None),
        max_rel_diff=max((o["max_rel_diff"] for o in outputs), default=None),
        latency_ms={"p50": latency.get("p50"), "p95": latency.get("p95")},
        size_bytes=record["size_bytes"],
        created_at=record["created_at"],
    )


def update_run_manifest(run: RunSource, record: dict[str, Any]) -> None:
    """Set the manifest's `export` key through the run store, which keeps every other key (unknown ones too).

    Raises UsageError when the manifest no longer reads as one, PaddlectlError when it is of a newer schema
    (read-only) or cannot be written.
    """
    from paddlectl.runs.store import RunPaths, RunStore

    paths = RunPaths(run.run_dir)
    stored = RunStore.load(paths)
    if stored.manifest is None:
        raise UsageError(
            f"run {run.run_id}: {stored.problem}; the export is in {run.run_dir / 'export'}",
            hint=f"look at {paths.manifest}",
        )
    stored.manifest.export = manifest_entry(record)
    RunStore(run.run_dir.parent).write(stored.manifest, paths)
