"""The run manifest: what `manifest.yaml` holds, as typed records with a schema version."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

SCHEMA_VERSION = 1


class RunStatus(str, Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    LOST = "lost"

    @property
    def ended(self) -> bool:
        return self is not RunStatus.RUNNING


class ManifestError(ValueError):
    """A manifest that cannot be read as one (empty, truncated, not a mapping, future schema)."""


@dataclass
class ImageRecord:
    reference: str  # as asked: repo:tag or repo@sha256:...
    id: str | None = None  # the local image id (sha256:...)
    digest: str | None = None  # the registry digest, None for a locally built image
    moved_from: str | None = None  # the image id this tag pointed at in an earlier run, when it moved


@dataclass
class CommandRecord:
    script: str | None  # path relative to the project root
    module: str | None
    args: list[str] = field(default_factory=list)  # the script's own arguments (after --)
    argv: list[str] = field(default_factory=list)  # the full command in the container, secrets masked
    secret_args: bool = True  # secret-looking params were on the command line (False: only in the params file)


@dataclass
class ContainerRecord:
    id: str | None = None
    user: str | None = None
    working_dir: str | None = None
    shm_size: str | None = None
    mem_limit: str | None = None
    gpus: str = "none"
    ipc_mode: str | None = None
    nproc: int = 1
    code_read_only: bool = True
    mounts: list[dict[str, Any]] = field(default_factory=list)
    env_names: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # user-given env, secrets masked
    kept: bool = False
    warnings: list[str] = field(default_factory=list)
    private_dir: str | None = None  # the run's private files (runs/private_files.py) until the run is settled


@dataclass
class Manifest:
    id: str
    project: str
    status: RunStatus
    started_at: str
    image: ImageRecord
    command: CommandRecord
    container: ContainerRecord = field(default_factory=ContainerRecord)
    name: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    exit_code: int | None = None
    oom_killed: bool = False
    reason: str | None = None
    signal: str | None = None  # the stop signal that interrupted the run (SIGINT, SIGTERM, SIGHUP)
    ended_at: str | None = None
    duration_seconds: float | None = None
    detached: bool = False
    owner_pid: int | None = None  # the CLI process finalising this run; reconciliation leaves it alone while alive
    owner_host: str | None = None
    reproduces: str | None = None
    params: dict[str, Any] = field(default_factory=lambda: {"values": {}, "sources": {}})
    git: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=lambda: {"file": "metrics.jsonl", "summary": {}})
    runtime: dict[str, Any] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[str, Any] = field(default_factory=lambda: {"file": "output.log", "lines": 0})
    export: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["status"] = self.status.value
        ordered = {"schema_version": document.pop("schema_version")}
        ordered.update(document)
        return ordered

    @classmethod
    def from_dict(cls, document: Any) -> Manifest:
        """Rebuild a manifest; raise ManifestError for anything that is not a readable manifest of this schema."""
        if not isinstance(document, dict):
            raise ManifestError("not a mapping" if document is not None else "empty")
        version = document.get("schema_version")
        if not isinstance(version, int):
            raise ManifestError("no schema_version")
        if version > SCHEMA_VERSION:
            raise ManifestError(f"schema {version} is newer than this paddlectl reads ({SCHEMA_VERSION}): upgrade")
        try:
            data = dict(document)
            data["status"] = RunStatus(data["status"])
            data["image"] = ImageRecord(**data["image"])
            data["command"] = CommandRecord(**data["command"])
            data["container"] = ContainerRecord(**(data.get("container") or {}))
            known = set(cls.__dataclass_fields__)
            return cls(**{key: value for key, value in data.items() if key in known})
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"malformed: {exc}") from exc
