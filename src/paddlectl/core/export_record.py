"""export.yaml: what an export is, how it was verified, where it came from (`paddlectl package` reads it)."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

from paddlectl.core.atomic import write_atomic
from paddlectl.core.yamlio import dump_yaml, load_yaml
from paddlectl.errors import UsageError

if TYPE_CHECKING:
    from paddlectl.core.export import ExportPlan, ImageChoice
    from paddlectl.core.export_source import RunSource

SCHEMA_VERSION = 1
RECORD_NAME = "export.yaml"
SAMPLES_NAME = "samples.npz"


class VerificationStatus(str, Enum):
    PASSED = "passed"
    UNVERIFIED = "unverified"  # exported, but outputs differ beyond atol/rtol


def build_record(plan: ExportPlan, result: dict[str, Any], image: ImageChoice, created_at: str) -> dict[str, Any]:
    """export.yaml's document, from the plan and the container's result (another command reads this format)."""
    verification = result.get("verification") or {}
    status = VerificationStatus.PASSED if result.get("status") == "passed" else VerificationStatus.UNVERIFIED
    return {
        "schema_version": SCHEMA_VERSION,
        "format": result.get("format"),
        "paddle_version": result.get("paddle_version"),
        "paddle_commit": result.get("paddle_commit"),
        "files": list(result.get("files") or []),
        "samples": result.get("samples_file") or SAMPLES_NAME,
        "model": {"factory": plan.factory, "args": plan.model_args, "weights": plan.weights_label},
        "inputs": [spec.as_dict() for spec in plan.inputs],
        "outputs": [
            {"name": o.get("name"), "dtype": o.get("dtype"), "shape": list(o.get("shape") or [])}
            for o in result.get("outputs") or []
        ],
        "verification": {
            "status": status.value,
            "atol": plan.atol,
            "rtol": plan.rtol,
            "samples": verification.get("samples"),
            "outputs": [
                {"name": s.get("name"), "max_abs_diff": s.get("max_abs_diff"), "max_rel_diff": s.get("max_rel_diff")}
                for s in verification.get("outputs") or []
            ],
        },
        "latency_ms": result.get("latency_ms"),
        "size_bytes": result.get("size_bytes"),
        "run_id": plan.run.run_id if plan.run else None,
        "image": image.as_dict(),
        "created_at": created_at,
    }


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
