"""The export a package is built from: its directory, export.yaml, its files and the run's manifest."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from paddlectl.errors import UsageError
from paddlectl.export.record import ExportRecord, read_export_record
from paddlectl.foundation.names import EXPORT_DIR_NAME, EXPORT_RECORD_NAME, MANIFEST_NAME
from paddlectl.packaging.layout import RESERVED_NAMES, format_problem, unsafe_name_reason

if TYPE_CHECKING:
    from paddlectl.project.workspace import Project
    from paddlectl.runs.manifest import Manifest


@dataclass(frozen=True)
class ExportSource:
    directory: Path
    record: ExportRecord
    files: tuple[str, ...]  # sorted, checked to be plain regular files in `directory`
    format: str
    manifest: Manifest | None  # the run's manifest when the export sits in a run folder

    @property
    def run_status(self) -> str | None:
        """The status of the run the export came from (None for an export made from a weights file)."""
        return self.manifest.status.value if self.manifest is not None else None

    @property
    def verification_status(self) -> str:
        return self.record.verification.status


def resolve_export_dir(target: str, project: Project) -> Path:
    """The export folder TARGET names: an export folder, a run folder, or a run id in the project's store.

    Raises UsageError naming what was looked for when none of them holds an export.yaml.
    """
    path = Path(target).expanduser()
    if path.is_dir():
        for candidate in (path, path / EXPORT_DIR_NAME):
            if (candidate / EXPORT_RECORD_NAME).is_file():
                return candidate
        raise UsageError(
            f"{target} holds no {EXPORT_RECORD_NAME}",
            hint="export the run first (paddlectl export RUN), or pass its export folder",
        )
    from paddlectl.runs.query import resolve_run
    from paddlectl.runs.store import RunStore

    run_dir = resolve_run(RunStore(project.runs_dir), target).root
    if (run_dir / EXPORT_DIR_NAME / EXPORT_RECORD_NAME).is_file():
        return run_dir / EXPORT_DIR_NAME
    raise UsageError(f"run {run_dir.name} has not been exported", hint=f"run: paddlectl export {run_dir.name}")


def _regular_file_size(path: Path) -> int:
    try:
        info = os.lstat(path)
    except FileNotFoundError as exc:
        raise UsageError(
            f"{path} is listed in {EXPORT_RECORD_NAME} but missing", hint="re-run paddlectl export"
        ) from exc
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{path} is not a regular file (a link or a folder)", hint="re-run paddlectl export")
    return info.st_size


def _run_manifest(run_dir: Path) -> Manifest:
    """The run's manifest, read through the run store (typed, unknown keys kept); UsageError when unreadable."""
    from paddlectl.runs.store import RunPaths, RunStore

    stored = RunStore.load(RunPaths(run_dir))
    if stored.manifest is None:
        raise UsageError(f"run {run_dir.name}: {stored.problem}", hint=f"look at {run_dir / MANIFEST_NAME}")
    return stored.manifest


def load_export(directory: Path) -> ExportSource:
    """Read and check an export folder: a known schema and format, and every listed file present and plain.

    Raises UsageError for anything a package could not be honestly built from.
    """
    record = read_export_record(directory / EXPORT_RECORD_NAME)
    names = record.files
    if not names:
        raise UsageError(f"{directory / EXPORT_RECORD_NAME} lists no files", hint="re-run paddlectl export")
    for name in names:
        reason = unsafe_name_reason(name) or ("a reserved name" if name in RESERVED_NAMES else None)
        if reason:
            raise UsageError(f"{EXPORT_RECORD_NAME} lists {name!r}: {reason}", hint="re-run paddlectl export")
        _regular_file_size(directory / name)
    if len(set(names)) != len(names):
        raise UsageError(f"{EXPORT_RECORD_NAME} lists a file twice", hint="re-run paddlectl export")
    problem = format_problem(record.format, names)
    if problem:
        raise UsageError(f"{directory / EXPORT_RECORD_NAME}: {problem}", hint="re-run paddlectl export")

    manifest = None
    if directory.name == EXPORT_DIR_NAME and (directory.parent / MANIFEST_NAME).is_file():
        manifest = _run_manifest(directory.parent)
    return ExportSource(
        directory=directory,
        record=record,
        files=tuple(sorted(names)),
        format=str(record.format),
        manifest=manifest,
    )
