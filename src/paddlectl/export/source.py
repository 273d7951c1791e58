"""The recorded run an export starts from: its folder, manifest, image and weights."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from paddlectl.errors import UsageError
from paddlectl.project.workspace import Project
from paddlectl.runs.manifest import EngineRecord, ImageRecord, RunStatus
from paddlectl.runs.store import RunPaths

if TYPE_CHECKING:
    from paddlectl.engine.protocol import EngineFactory


@dataclass(frozen=True)
class RunSource:
    """The recorded run being exported."""

    run_id: str
    run_dir: Path
    image: ImageRecord
    status: RunStatus
    reason: str | None = None
    engine: EngineRecord = field(default_factory=EngineRecord)  # the engine the run ran on (the export runs there too)

    @property
    def manifest_path(self) -> Path:
        return RunPaths(self.run_dir).manifest

    @property
    def outputs_dir(self) -> Path:
        return RunPaths(self.run_dir).outputs


def resolve_run_dir(target: str, project: Project, engine_factory: EngineFactory | None = None) -> Path:
    """A run (id, unique prefix, name, or `last`) or a run directory path; raises UsageError when none matches.

    A run of the project still marked running whose CLI is gone is settled first (with an engine factory).
    """
    from paddlectl.runs.project_runs import ProjectRuns
    from paddlectl.runs.store import RunStore

    path = Path(target)
    if ("/" in target or target in (".", "..")) and RunPaths(path).manifest.is_file():
        return path.resolve()
    runs = ProjectRuns(RunStore(project.runs_dir), engine_factory)
    paths = runs.resolve(target)
    runs.load(paths)
    return paths.root.resolve()


def load_run(run_dir: Path) -> RunSource:
    """The run's id, status and image, read through the run store.

    Raises UsageError for a manifest that does not read as one, records no image, or was written by a newer
    paddlectl (exporting records the export in it, and this version must not rewrite it).
    """
    from paddlectl.runs.manifest import READ_ONLY_HINT
    from paddlectl.runs.store import RunStore

    paths = RunPaths(run_dir)
    stored = RunStore.load(paths)
    manifest = stored.manifest
    if manifest is None:
        raise UsageError(f"run {run_dir.name}: {stored.problem}", hint=f"look at {paths.manifest}")
    if manifest.read_only:
        raise UsageError(f"{manifest.read_only_reason()}, and an export would be recorded in it", hint=READ_ONLY_HINT)
    if not (manifest.image.id or manifest.image.digest):
        raise UsageError(f"{paths.manifest} records no image id or digest", hint="export it with --weights and --image")
    return RunSource(
        run_id=manifest.id,
        run_dir=run_dir,
        image=manifest.image,
        status=manifest.status,
        reason=manifest.reason,
        engine=manifest.engine,
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
