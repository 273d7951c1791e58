"""Package archives on an MLflow server: one run per package in the registry's experiment, the archive its artifact.

A run is tagged `paddlectl.package.sha256`; its artifact `package/NAME-VERSION.tar` holds the bytes, and the
model versions of that package name it as their source (`runs:/<run>/package`), so `mlflow artifacts download -u
models:/digits@production` gets the archive too. The run is FINISHED once the upload is complete: a RUNNING one
is an upload cut short (`sweep_partial` removes it). Two clients putting the same bytes at once both end up using
the oldest run (the other deletes its own), as `mlflow push` does with duplicate runs.

Bytes are hashed while they are staged in a scratch folder and uploaded from there; downloads land in the same
scratch folder (removed by `close`) and are never trusted later: every `path` of a new process downloads again,
and the registry hashes what it reads before using it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paddlectl.errors import PaddlectlError, UsageError
from paddlectl.mlflowapi.artifacts import ArtifactStore, store_for
from paddlectl.mlflowapi.client import TrackingClient
from paddlectl.mlflowapi.model_registry import quoted
from paddlectl.packaging.errors import TamperedError

SHA_TAG = "paddlectl.package.sha256"
FILE_TAG = "paddlectl.package.file"
REMOVED_TAG = "paddlectl.package.removed"  # the artifact was deleted (moved to the cold tier, or garbage)
ARTIFACT_DIR = "package"
RUNS_PAGE = 1_000
CHUNK = 1 << 20


@dataclass(frozen=True)
class PackageRun:
    run_id: str
    artifact_uri: str
    status: str
    start_time: int
    tags: dict[str, str]

    @classmethod
    def from_json(cls, run: dict[str, Any]) -> PackageRun:
        info, data = run.get("info") or {}, run.get("data") or {}
        tags = {str(t["key"]): str(t.get("value", "")) for t in data.get("tags") or [] if isinstance(t, dict)}
        return cls(
            str(info["run_id"]),
            str(info.get("artifact_uri") or ""),
            str(info.get("status") or ""),
            int(info.get("start_time") or 0),
            tags,
        )

    @property
    def sha256(self) -> str:
        return self.tags.get(SHA_TAG, "")

    @property
    def artifact(self) -> str:
        return f"{ARTIFACT_DIR}/{self.tags.get(FILE_TAG) or self.sha256 + '.tar'}"

    @property
    def whole(self) -> bool:
        return self.status == "FINISHED" and REMOVED_TAG not in self.tags


class MlflowBlobStore:
    """The BlobStore of an MLflow-backed registry (see the module's docstring)."""

    def __init__(self, client: TrackingClient, experiment: str) -> None:
        self.client = client
        self.experiment = experiment
        self._experiment_id: str | None = None
        self._downloaded: dict[str, Path] = {}
        self._scratch: Path | None = None

    # ---- where things are --------------------------------------------------------------------------------

    def experiment_id(self, create: bool = False) -> str | None:
        if self._experiment_id is None:
            if create:
                self._experiment_id = self.client.ensure_experiment(
                    self.experiment, elsewhere="set registry.mlflow.experiment to another name"
                )
            else:
                found = self.client.experiment_by_name(self.experiment)
                self._experiment_id = str(found["experiment_id"]) if found else None
        return self._experiment_id

    def scratch(self) -> Path:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="paddlectl-mlflow-registry-"))
        return self._scratch

    def _runs(self, filter_string: str) -> Iterator[PackageRun]:
        experiment_id = self.experiment_id()
        if experiment_id is None:
            return
        token = None
        while True:
            body: dict[str, Any] = {
                "experiment_ids": [experiment_id],
                "filter": filter_string,
                "max_results": RUNS_PAGE,
                "run_view_type": "ACTIVE_ONLY",
            }
            if token:
                body["page_token"] = token
            answer = self.client.call("POST", "runs/search", body)
            for run in answer.get("runs") or []:
                package = PackageRun.from_json(run)
                if package.sha256:
                    yield package
            token = answer.get("next_page_token")
            if not token:
                return

    def run_for(self, sha256: str) -> PackageRun | None:
        """The package's run: of several (two first puts at once), the oldest."""
        runs = list(self._runs(f"tags.`{SHA_TAG}` = {quoted(sha256)}"))
        return min(runs, key=lambda run: (run.start_time, run.run_id)) if runs else None

    def source(self, sha256: str) -> tuple[str, str]:
        """The model-version source of the package's artifact and its run id; UsageError when it is not stored."""
        run = self.run_for(sha256)
        if run is None or not run.whole:
            raise UsageError(f"package {sha256[:12]} is not stored on the MLflow server", hint="register it again")
        return f"runs:/{run.run_id}/{ARTIFACT_DIR}", run.run_id

    def _store(self, run: PackageRun) -> ArtifactStore:
        return store_for(run.artifact_uri, self.client)

    # ---- the BlobStore protocol --------------------------------------------------------------------------

    def has(self, sha256: str) -> bool:
        run = self.run_for(sha256)
        return run is not None and run.whole

    def _staged(self, source: Path, sha256: str) -> Path:
        folder = self.scratch() / "staged"
        folder.mkdir(exist_ok=True)
        staged = folder / source.name
        digest = hashlib.sha256()
        with open(source, "rb") as reader, open(staged, "wb") as writer:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
        if digest.hexdigest() != sha256:
            staged.unlink()
            raise TamperedError(
                f"{source} changed while it was being copied into the registry (sha256 {digest.hexdigest()})",
                hint="do not change a package while it is registered; register it again",
            )
        return staged

    def _claim(self, sha256: str, file_name: str) -> PackageRun:
        """The package's run, created when there is none; of two created at once, everyone keeps the oldest."""
        found = self.run_for(sha256)
        if found is not None:
            return found
        experiment_id = self.experiment_id(create=True)
        assert experiment_id is not None
        tags = [{"key": SHA_TAG, "value": sha256}, {"key": FILE_TAG, "value": file_name}]
        created = PackageRun.from_json(self.client.create_run(experiment_id, int(time.time() * 1000), file_name, tags))
        winner = self.run_for(sha256) or created
        if winner.run_id != created.run_id:
            self.client.delete_run(created.run_id)
        return winner

    def put(self, source: Path, sha256: str) -> None:
        staged = self._staged(source, sha256)
        try:
            run = self._claim(sha256, source.name)
            self._store(run).upload(staged, run.artifact)
            if REMOVED_TAG in run.tags:
                self.client.delete_tag(run.run_id, REMOVED_TAG)
            if run.status != "FINISHED":
                self.client.update_run(run.run_id, "FINISHED", int(time.time() * 1000), source.name)
        finally:
            staged.unlink(missing_ok=True)
        self._downloaded.pop(sha256, None)

    def path(self, sha256: str) -> Path:
        """The package downloaded now into the scratch folder (a missing path when the server has no copy)."""
        if sha256 in self._downloaded:
            return self._downloaded[sha256]
        folder = self.scratch() / sha256
        folder.mkdir(exist_ok=True)
        run = self.run_for(sha256)
        if run is None or not run.whole:
            return folder / "missing"
        target = folder / run.artifact.rpartition("/")[2]
        partial = folder / f".{target.name}.part"
        if not self._store(run).download(run.artifact, partial):
            return folder / "missing"
        os.replace(partial, target)
        self._downloaded[sha256] = target
        return target

    def remove(self, sha256: str) -> None:
        run = self.run_for(sha256)
        self._downloaded.pop(sha256, None)
        if run is None:
            return
        self._store(run).delete(run.artifact)
        self.client.set_run_tag(run.run_id, REMOVED_TAG, "true")

    def stored(self) -> Iterator[str]:
        seen = set()
        for run in self._runs("attributes.status = 'FINISHED'"):
            if run.whole and run.sha256 not in seen:
                seen.add(run.sha256)
                yield run.sha256

    def put_since(self, moment: float) -> set[str]:
        """The packages whose run started after `moment` (seconds since the epoch)."""
        return {run.sha256 for run in self._runs(f"attributes.start_time > {int(moment * 1000)}")}

    def sweep_partial(self, older_than_seconds: float) -> list[str]:
        cutoff_ms = (time.time() - older_than_seconds) * 1000
        removed = []
        for run in list(self._runs("attributes.status = 'RUNNING'")):
            if run.start_time < cutoff_ms:
                with contextlib.suppress(PaddlectlError):  # what is left of it goes with the run
                    self._store(run).delete(ARTIFACT_DIR)
                self.client.delete_run(run.run_id)
                removed.append(f"run {run.run_id} (an upload of {run.sha256[:12]} cut short)")
        return removed

    def close(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
        self._downloaded.clear()
