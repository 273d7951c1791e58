"""The run store: one folder per run under .paddlectl/runs/, each with its manifest.yaml and files."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from paddlectl.errors import ExitCode, PaddlectlError, UsageError
from paddlectl.foundation import clock
from paddlectl.foundation.atomic import write_atomic
from paddlectl.foundation.names import (
    CONTAINER_DIR_NAME,
    LOG_NAME,
    MANIFEST_NAME,
    METRICS_NAME,
    OUTPUTS_DIR_NAME,
    PATCH_NAME,
    STOP_REQUEST_NAME,
)
from paddlectl.foundation.yamlio import dump_yaml, load_yaml
from paddlectl.runs.manifest import READ_ONLY_HINT, Manifest, ManifestError


def new_run_id(now: datetime | None = None) -> str:
    """A run id that sorts by start time (to the millisecond) and carries 24 random bits against collisions."""
    moment = (now or clock.now()).astimezone(clock.UTC)
    return f"{moment:%Y%m%d-%H%M%S}-{moment.microsecond // 1000:03d}{secrets.token_hex(3)}"


def _write_failed(error: OSError, what: str, path: Path, kept: str | None = None) -> PaddlectlError:
    """The I/O error (exit 74) for a run-store write the file system refused, naming the path and the reason."""
    reason = error.strerror or str(error)
    hint = f"free space or fix permissions in {path.parent}" + (f"; {kept}" if kept else "")
    return PaddlectlError(f"{what} {path}: {reason}", hint=hint, code=ExitCode.IO)


@dataclass(frozen=True)
class RunPaths:
    """Where a run's files live."""

    root: Path

    @property
    def run_id(self) -> str:
        return self.root.name

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def log(self) -> Path:
        return self.root / LOG_NAME

    @property
    def metrics(self) -> Path:
        return self.root / METRICS_NAME

    @property
    def patch(self) -> Path:
        return self.root / PATCH_NAME

    @property
    def outputs(self) -> Path:
        return self.root / OUTPUTS_DIR_NAME

    @property
    def container_dir(self) -> Path:
        return self.root / CONTAINER_DIR_NAME

    @property
    def helper_metrics(self) -> Path:
        return self.container_dir / METRICS_NAME

    @property
    def stop_request(self) -> Path:
        """Written by `runs stop` before it stops the container, so the run is recorded interrupted."""
        return self.root / STOP_REQUEST_NAME

    @property
    def workers_dir(self) -> Path:
        return self.container_dir / "workers"


@dataclass(frozen=True)
class StoredRun:
    """A run as found on disk: its manifest, or the problem that kept it from being read."""

    paths: RunPaths
    manifest: Manifest | None
    problem: str | None = None


class RunStore:
    """Creates run folders and reads and writes their manifests."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir

    def create(self) -> RunPaths:
        """Make a new run folder (with outputs/ and container/); ids never collide, even between processes.

        Raises PaddlectlError (exit 74) when the file system refuses the folders.
        """
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            for _ in range(20):
                paths = RunPaths(self.runs_dir / new_run_id())
                try:
                    paths.root.mkdir()
                except FileExistsError:
                    continue
                paths.outputs.mkdir()
                paths.container_dir.mkdir()
                return paths
        except OSError as exc:
            raise _write_failed(exc, "cannot create a run folder", self.runs_dir) from exc
        raise PaddlectlError(f"could not create a new run folder in {self.runs_dir}")

    def paths(self, run_id: str) -> RunPaths:
        return RunPaths(self.runs_dir / run_id)

    def write(self, manifest: Manifest, paths: RunPaths | None = None) -> None:
        """Write the manifest atomically: readers see the previous one or this one, never a torn file.

        Raises PaddlectlError for a manifest of a newer schema (this paddlectl would lose what it does not know)
        and when the file system refuses the write.
        """
        paths = paths or self.paths(manifest.id)
        if manifest.read_only:
            reason = manifest.read_only_reason()
            raise PaddlectlError(f"{reason}; {paths.manifest} was not changed", hint=READ_ONLY_HINT)
        try:
            write_atomic(paths.manifest, dump_yaml(manifest.to_dict()))
        except OSError as exc:
            raise _write_failed(exc, "cannot write", paths.manifest, "the previous manifest is intact") from exc

    def read(self, run_id: str) -> Manifest:
        """Read one manifest; raise UsageError when it is missing or unreadable."""
        stored = self.load(self.paths(run_id))
        if stored.manifest is None:
            raise UsageError(f"run {run_id}: {stored.problem}", hint=f"look at {stored.paths.manifest}")
        return stored.manifest

    @staticmethod
    def load(paths: RunPaths) -> StoredRun:
        """Read a run's manifest without raising: problems come back as text."""
        try:
            text = paths.manifest.read_text(encoding="utf-8")
        except FileNotFoundError:
            return StoredRun(paths, None, "no manifest.yaml")
        except OSError as exc:
            return StoredRun(paths, None, f"unreadable manifest: {exc.strerror}")
        except UnicodeDecodeError:
            return StoredRun(paths, None, "corrupt manifest: not UTF-8 text")
        try:
            manifest = Manifest.from_dict(load_yaml(text, str(paths.manifest)))
        except PaddlectlError as exc:
            return StoredRun(paths, None, f"corrupt manifest: {exc.message}")
        except ManifestError as exc:
            return StoredRun(paths, None, f"bad manifest: {exc}")
        return StoredRun(paths, manifest)

    def run_dirs(self) -> list[RunPaths]:
        """Every run folder, oldest first (ids sort by time)."""
        try:
            names = sorted(entry.name for entry in os.scandir(self.runs_dir) if entry.is_dir())
        except FileNotFoundError:
            return []
        return [RunPaths(self.runs_dir / name) for name in names if not name.startswith(".")]

    def iter_runs(self) -> Iterator[StoredRun]:
        for paths in self.run_dirs():
            yield self.load(paths)
