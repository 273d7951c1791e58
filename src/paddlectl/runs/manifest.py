"""The run manifest: what `manifest.yaml` holds, as typed records with a schema version.

Forward compatibility: keys this paddlectl does not know (a newer one wrote them) are kept, per record, in
`unknown_keys` and written back after the known ones, so a read-modify-write never drops them. A manifest whose
`schema_version` is newer than SCHEMA_VERSION reads as usual but is `read_only`: RunStore refuses to write it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any, TypeVar

SCHEMA_VERSION = 1
UNKNOWN = "unknown_keys"  # the field of every record that keeps the keys this paddlectl does not know
READ_ONLY_HINT = "upgrade paddlectl (pip install -U paddlectl) to change this run"


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
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class CommandRecord:
    script: str | None  # path relative to the project root
    module: str | None
    args: list[str] = field(default_factory=list)  # the script's own arguments (after --)
    argv: list[str] = field(default_factory=list)  # the full command in the container, secrets masked
    secret_args: bool = True  # secret-looking params were on the command line (False: only in the params file)
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


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
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


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
    params: dict[str, Any] = field(default_factory=lambda: {"values": {}, "sources": {}, "types": {}})
    git: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=lambda: {"file": "metrics.jsonl", "summary": {}})
    runtime: dict[str, Any] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=dict)
    # The engine the container ran on: name, url (no password), remote, tls_dir, id, version; runs/run_engines.py
    # finds it again from this (runs recorded before remote hosts have none: the local engine).
    engine: dict[str, Any] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[str, Any] = field(default_factory=lambda: {"file": "output.log", "lines": 0})
    export: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def read_only(self) -> bool:
        """Written by a newer paddlectl (a newer schema): shown, never rewritten by this one."""
        return self.schema_version > SCHEMA_VERSION

    def read_only_reason(self) -> str:
        return (
            f"run {self.id} was recorded by a newer paddlectl (manifest schema {self.schema_version}; "
            f"this one knows {SCHEMA_VERSION}): it is read-only here"
        )

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["status"] = self.status.value
        for record in _RECORDS:
            document[record] = _merged(document[record])
        return _merged({"schema_version": document.pop("schema_version"), **document})

    @classmethod
    def from_dict(cls, document: Any) -> Manifest:
        """Rebuild a manifest; raise ManifestError for anything that is not a readable manifest.

        Keys it does not know are kept (see the module docstring); a newer schema reads as a read-only manifest,
        or fails with a message saying it is newer when its fields no longer read as this schema's.
        """
        if not isinstance(document, dict):
            raise ManifestError("not a mapping" if document is not None else "empty")
        version = document.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ManifestError("no schema_version")
        try:
            data = dict(document)
            data["status"] = RunStatus(data["status"])
            data["image"] = _record(ImageRecord, data["image"], "image")
            data["command"] = _record(CommandRecord, data["command"], "command")
            data["container"] = _record(ContainerRecord, data.get("container") or {}, "container")
            return _record(cls, data, "manifest")
        except (KeyError, TypeError, ValueError) as exc:
            if version > SCHEMA_VERSION:
                raise ManifestError(
                    f"schema {version} is newer than this paddlectl reads ({SCHEMA_VERSION}) and does not read as "
                    f"one ({exc}): {READ_ONLY_HINT}"
                ) from exc
            raise ManifestError(f"malformed: {exc}") from exc


_RECORDS = ("image", "command", "container")
Record = TypeVar("Record")


def _record(cls: type[Record], value: Any, name: str) -> Record:
    """A record from its mapping: known keys as fields, the others kept in `unknown_keys`."""
    if not isinstance(value, dict):
        raise TypeError(f"{name} is not a mapping")
    known = {item.name for item in fields(cls)} - {UNKNOWN}  # type: ignore[arg-type]
    unknown = {key: item for key, item in value.items() if key not in known}
    build: Any = cls  # every record class takes its fields and unknown_keys as keywords
    record: Record = build(**{key: item for key, item in value.items() if key in known}, unknown_keys=unknown)
    return record


def _merged(document: dict[str, Any]) -> dict[str, Any]:
    """A record's dict with its unknown keys written back after the known ones (never replacing one)."""
    unknown = document.pop(UNKNOWN, None) or {}
    document.update({key: value for key, value in unknown.items() if key not in document})
    return document
