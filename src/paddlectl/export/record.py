"""export.yaml: what an export is, how it was verified, where it came from (`paddlectl package` reads it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paddlectl.errors import UsageError
from paddlectl.foundation.enums import TextEnum
from paddlectl.foundation.names import EXPORT_DIR_NAME, EXPORT_RECORD_NAME

if TYPE_CHECKING:
    from paddlectl.export.source import RunSource
    from paddlectl.runs.manifest import ExportSummary

SCHEMA_VERSION = 1
RECORD_NAME = EXPORT_RECORD_NAME
SAMPLES_NAME = "samples.npz"


class VerificationStatus(TextEnum):
    PASSED = "passed"
    UNVERIFIED = "unverified"  # exported, but outputs differ beyond atol/rtol


# Every record keeps the keys this paddlectl does not know (foundation/records.py), so a newer export.yaml read
# by this version loses nothing it would write back.


@dataclass
class ModelRecord:
    """What was exported: the factory (`module:callable`), its keyword arguments, the weights it loaded."""

    factory: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    weights: str | None = None  # as the record names them: relative to the run's outputs/, or the path given
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class TensorRecord:
    """An input or output of the static graph: its name, dtype and shape (-1 / None: any size)."""

    name: str | None = None
    dtype: str | None = None
    shape: list[int | None] = field(default_factory=list)
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)

    def shape_text(self) -> str:
        """`float32[?,10]`, as the model card shows an output."""
        dims = ",".join("?" if dim is None else str(dim) for dim in self.shape)
        return f"{self.dtype or '?'}[{dims}]"


@dataclass
class OutputDiff:
    """How far the predictor's output strayed from the dynamic graph's over the samples."""

    name: str | None = None
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class VerificationRecord:
    # A word, not the enum: a record from another paddlectl may carry a status this one does not know (it is
    # then not verified, as far as this one can tell).
    status: str = VerificationStatus.UNVERIFIED.value
    atol: float | None = None
    rtol: float | None = None
    samples: int | None = None
    outputs: list[OutputDiff] = field(default_factory=list)
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)

    def worst(self) -> str:
        """Each output's largest differences, for a message."""
        parts = [
            f"{o.name} max abs diff {o.max_abs_diff or 0:.3g}, max rel diff {o.max_rel_diff or 0:.3g}"
            for o in self.outputs
        ]
        return "; ".join(parts) or "no output"


@dataclass
class LatencyRecord:
    """The predictor's latency over `runs` timed runs, in milliseconds."""

    p50: float | None = None
    p95: float | None = None
    runs: int | None = None
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class ExportImage:
    """The image the export ran in: the reference asked for, its id, its registry digest."""

    reference: str | None = None
    id: str | None = None
    digest: str | None = None
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class ExportRecord:
    """export.yaml: what an export is, how it was verified, where it came from."""

    schema_version: int = SCHEMA_VERSION
    format: str | None = None  # json (PIR) or pdmodel (the legacy program)
    paddle_version: str | None = None
    paddle_commit: str | None = None
    files: list[str] = field(default_factory=list)
    samples: str = SAMPLES_NAME
    model: ModelRecord = field(default_factory=ModelRecord)
    inputs: list[TensorRecord] = field(default_factory=list)
    outputs: list[TensorRecord] = field(default_factory=list)
    verification: VerificationRecord = field(default_factory=VerificationRecord)
    latency_ms: LatencyRecord | None = None
    size_bytes: int | None = None
    run_id: str | None = None
    image: ExportImage = field(default_factory=ExportImage)
    created_at: str | None = None
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def verified(self) -> bool:
        return self.verification.status == VerificationStatus.PASSED.value

    def to_dict(self) -> dict[str, Any]:
        from paddlectl.foundation.records import dump

        document: dict[str, Any] = dump(self)
        return document


def read_export_record(path: Path) -> ExportRecord:
    """export.yaml as its record; UsageError for one that cannot be read, is of a newer schema, or does not read
    as a record (a field of the wrong type)."""
    from paddlectl.foundation.records import RecordError, load
    from paddlectl.foundation.yamlio import load_yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read export record {path}: {exc}", hint="re-run paddlectl export") from exc
    document = load_yaml(text, str(path))
    if not isinstance(document, dict):
        raise UsageError(f"{path} is not an export record (not a mapping)", hint="re-run paddlectl export")
    version = document.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise UsageError(
            f"{path} has schema_version {version!r}; this paddlectl reads {SCHEMA_VERSION}",
            hint="upgrade paddlectl or re-run paddlectl export",
        )
    try:
        return load(ExportRecord, document)
    except RecordError as exc:
        raise UsageError(f"{path} does not read as an export record: {exc}", hint="re-run paddlectl export") from exc


def manifest_entry(record: ExportRecord) -> ExportSummary:
    """The essentials of an export for the run's manifest.yaml."""
    from paddlectl.runs.manifest import ExportSummary

    outputs = record.verification.outputs
    latency = record.latency_ms or LatencyRecord()
    abs_diffs = [o.max_abs_diff for o in outputs if o.max_abs_diff is not None]
    rel_diffs = [o.max_rel_diff for o in outputs if o.max_rel_diff is not None]
    return ExportSummary(
        format=record.format,
        dir=EXPORT_DIR_NAME,
        verification=record.verification.status,
        max_abs_diff=max(abs_diffs, default=None),
        max_rel_diff=max(rel_diffs, default=None),
        latency_ms={"p50": latency.p50, "p95": latency.p95},
        size_bytes=record.size_bytes,
        created_at=record.created_at,
    )


def update_run_manifest(run: RunSource, record: ExportRecord) -> None:
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
