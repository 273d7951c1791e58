"""export.yaml: what an export is, how it was verified, where it came from (`paddlectl package` reads it)."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

from paddlectl.errors import UsageError
from paddlectl.foundation.atomic import write_atomic
from paddlectl.foundation.yamlio import dump_yaml, load_yaml

if TYPE_CHECKING:
    from paddlectl.export.source import RunSource

SCHEMA_VERSION = 1
RECORD_NAME = "export.yaml"
SAMPLES_NAME = "samples.npz"


class VerificationStatus(str, Enum):
    PASSED = "passed"
    UNVERIFIED = "unverified"  # exported, but outputs differ beyond atol/rtol


def manifest_entry(record: dict[str, Any]) -> dict[str, Any]:
    """The essentials of an export for the run's manifest.yaml."""
    outputs = record["verification"]["outputs"]
    latency = record.get("latency_ms") or {}
    return {
        "format": record["format"],
        "dir": "export",
        "verification": record["verification"]["status"],
        "max_abs_diff": max((o["max_abs_diff"] for o in outputs), default=None),
        "max_rel_diff": max((o["max_rel_diff"] for o in outputs), default=None),
        "latency_ms": {"p50": latency.get("p50"), "p95": latency.get("p95")},
        "size_bytes": record["size_bytes"],
        "created_at": record["created_at"],
    }


def update_run_manifest(run: RunSource, record: dict[str, Any]) -> None:
    """Set the manifest's `export` key, leaving every other key as the train command wrote it."""
    path = run.manifest_path
    manifest = load_yaml(path.read_text(encoding="utf-8"), str(path))
    if not isinstance(manifest, dict):
        raise UsageError(f"{path} is no longer a mapping; the export is in {run.run_dir / 'export'}")
    manifest["export"] = manifest_entry(record)
    write_atomic(path, dump_yaml(manifest))
