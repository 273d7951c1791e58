"""The recorded run an export starts from: its folder, manifest, image and weights."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paddlectl.errors import UsageError
from paddlectl.foundation.yamlio import load_yaml
from paddlectl.project.workspace import Project


@dataclass(frozen=True)
class RunSource:
    """The recorded run being exported."""

    run_id: str
    run_dir: Path
    image: dict[str, Any]
    status: str | None
    reason: str | None = None
    engine: dict[str, Any] = field(default_factory=dict)  # the engine the run ran on (the export runs there too)

    @property
    def manifest_path(self) -> Path:
        return self.run_dir / "manifest.yaml"

    @property
    def outputs_dir(self) -> Path:
        return self.run_dir / "outputs"


def resolve_run_dir(target: str, project: Project) -> Path:
    """A run (id, unique prefix, name, or `last`) or a run directory path; raises UsageError when none matches."""
    from paddlectl.runs.query import resolve_run
    from paddlectl.runs.store import RunStore

    path = Path(target)
    if ("/" in target or target in (".", "..")) and (path / "manifest.yaml").is_file():
        return path.resolve()
    return resolve_run(RunStore(project.runs_dir), target).root.resolve()


def load_run(run_dir: Path) -> RunSource:
    """Read the run's manifest: its id, status and image.

    Raises UsageError for a manifest that is no mapping, records no image, or was written by a newer paddlectl
    (exporting records the export in it, and this version must not rewrite it).
    """
    from paddlectl.runs.manifest import READ_ONLY_HINT, SCHEMA_VERSION

    path = run_dir / "manifest.yaml"
    manifest = load_yaml(path.read_text(encoding="utf-8"), str(path))
    if not isinstance(manifest, dict):
        raise UsageError(f"{path} is not a run manifest (not a mapping)", hint="the run's record is damaged")
    version = manifest.get("schema_version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise UsageError(
            f"run {run_dir.name} was recorded by a newer paddlectl (manifest schema {version}; this one knows "
            f"{SCHEMA_VERSION}): it is read-only here, and an export would be recorded in it",
            hint=READ_ONLY_HINT,
        )
    image = manifest.get("image")
    if not isinstance(image, dict) or not (image.get("id") or image.get("digest")):
        raise UsageError(f"{path} records no image id or digest", hint="export it with --weights and --image")
    run_id = manifest.get("id") or manifest.get("run_id") or run_dir.name
    status, reason = manifest.get("status"), manifest.get("reason")
    return RunSource(
        run_id=str(run_id),
        run_dir=run_dir,
        image=image,
        status=None if status is None else str(status),
        reason=None if reason is None else str(reason),
        engine=dict(manifest["engine"]) if isinstance(manifest.get("engine"), dict) else {},
    )


def find_run_weights(run: RunSource, given: Path | None, configured: str | None) -> Path:
    """--weights (as a path, or relative to the run's outputs/), export.weights, or the only *.pdparams."""
    outputs = run.outputs_dir
    if given is not None:
        for candidate in (given, outputs / given):
            if candidate.is_file():
                return candidate.resolve()
        raise UsageError(f"weights {given} not found (nor under {outputs})", hint="pass an existing .pdparams")
    if configured:
        path = outputs / configured
        if not path.is_file():
            raise UsageError(f"export.weights: {path} not found", hint="fix export.weights in paddlectl.yaml")
        return path.resolve()
    found = sorted(outputs.glob("*.pdparams")) or sorted(outputs.rglob("*.pdparams"))
    if len(found) == 1:
        return found[0].resolve()
    if not found:
        raise UsageError(
            f"run {run.run_id} has no *.pdparams under {outputs}",
            hint="save weights to the run's output dir with paddle.save(model.state_dict(), ...), or pass --weights",
        )
    names = ", ".join(str(p.relative_to(outputs)) for p in found[:6]) + (", ..." if len(found) > 6 else "")
    raise UsageError(
        f"run {run.run_id} has {len(found)} weight files: {names}",
        hint="choose one with --weights NAME (relative to the run's outputs/)",
    )
