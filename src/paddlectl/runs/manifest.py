"""The run manifest: what `manifest.yaml` holds, as typed records with a schema version.

Forward compatibility: keys this paddlectl does not know (a newer one wrote them) are kept, per record, in
`unknown_keys` and written back after the known ones, so a read-modify-write never drops them. A manifest whose
`schema_version` is newer than SCHEMA_VERSION reads as usual but is `read_only`: RunStore refuses to write it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from paddlectl.foundation.enums import TextEnum
from paddlectl.foundation.names import EXPORT_DIR_NAME, LOG_NAME, METRICS_NAME

SCHEMA_VERSION = 1
UNKNOWN = "unknown_keys"  # the field of every record that keeps the keys this paddlectl does not know
READ_ONLY_HINT = "upgrade paddlectl (pip install -U paddlectl) to change this run"


class RunStatus(TextEnum):
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
class MountRecord:
    """A `--mount SRC:DST[:ro]` the container had (the source as resolved on the engine's host)."""

    source: str
    target: str
    read_only: bool = False
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
    mounts: list[MountRecord] = field(default_factory=list)
    env_names: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # user-given env, secrets masked
    kept: bool = False
    warnings: list[str] = field(default_factory=list)
    private_dir: str | None = None  # the run's private files (runs/private_files.py) until the run is settled
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class ParamsRecord:
    """The params the run got: values (secrets masked), where each came from, and its type."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # config, file:<path>, cli, reproduce:<run>
    types: dict[str, str] = field(default_factory=dict)  # str, int, float, bool, null (train/params.py)
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class OutsidePatchFile:
    """An untracked file the patch does not inline (binary, or over the inline limit), recorded by its sha256."""

    path: str
    size: int
    sha256: str
    reason: str
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class GitRecord:
    """The git state of the project when a run started; all paths are relative to the repository's top."""

    is_repository: bool = False
    commit: str | None = None
    branch: str | None = None  # None when HEAD is detached
    remote_url: str | None = None  # credentials stripped
    dirty: bool = False  # tracked changes or untracked (not ignored) files
    changed: list[str] = field(default_factory=list)  # tracked files changed against HEAD
    untracked: list[str] = field(default_factory=list)
    patch_file: str | None = None
    patch_bytes: int = 0  # size of the full patch, also when it was too big to keep
    patch_sha256: str | None = None
    patch_truncated: bool = False  # the patch was over patch_cap_bytes and not written
    patch_cap_bytes: int = 10 * 1024**2
    subdir: str = "."  # the project's folder relative to the repository's top
    warning: str | None = None  # why there is no git state although there may be a repository
    # Untracked files kept out of the patch; `reproduce` takes them from the working tree while their sha256 matches.
    outside_patch: list[OutsidePatchFile] = field(default_factory=list)
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class MetricSummary:
    """One metric over the run: its last, smallest and largest finite values, how many points, from where."""

    last: float | None = None
    min: float | None = None
    max: float | None = None
    count: int = 0
    last_step: int | None = None
    source: str | None = None  # log (parsed from the output) or helper (paddlectl_metrics)
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class MetricsRecord:
    file: str = METRICS_NAME  # the whole series, beside the manifest
    summary: dict[str, MetricSummary] = field(default_factory=dict)
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)

    def last(self, name: str) -> float | None:
        """The metric's last finite value, or None when the run has no such metric (or it was never finite)."""
        entry = self.summary.get(name)
        return entry.last if entry is not None else None


@dataclass
class RuntimeRecord:
    """What the run's image holds, probed in the same image (incontainer/probe_runtime.py); errors say why not."""

    python: str | None = None
    python_executable: str | None = None
    paddle_version: str | None = None
    paddle_commit: str | None = None
    compiled_with_cuda: bool | None = None
    cuda: str | None = None
    cudnn: str | None = None
    gpus: list[str] = field(default_factory=list)
    paddle_error: str | None = None
    gpu_error: str | None = None
    probe_error: str | None = None
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def probed(self) -> bool:
        return bool(self.python or self.paddle_version or self.paddle_error or self.probe_error)


@dataclass
class HostRecord:
    hostname: str | None = None
    os: str | None = None
    platform: str | None = None
    docker_version: str | None = None
    paddlectl_version: str | None = None
    python: str | None = None
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class ArtifactRecord:
    path: str  # relative to the run's outputs/
    size: int
    sha256: str
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class LogsRecord:
    file: str = LOG_NAME
    lines: int = 0
    rebuilt_from_engine: bool = False  # the stream broke, or the CLI was gone: rewritten from the engine's copy
    error: str | None = None  # why the saved log stops early (a full disk)
    workers: list[str] = field(default_factory=list)  # worker logs of a distributed run (container/workers/)
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class ExportSummary:
    """The essentials of the run's export (export/export.yaml has all of it)."""

    format: str | None = None
    dir: str = EXPORT_DIR_NAME
    verification: str | None = None  # passed or unverified
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    latency_ms: dict[str, float | None] = field(default_factory=dict)  # p50, p95
    size_bytes: int | None = None
    created_at: str | None = None
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class ProfileRecord:
    """`train --profile NAME`: the profile's name, the params it set (secret values masked), its GPUs."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    gpus: str | None = None
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class TransferRecord:
    """Files that went into (or came out of) a container on a remote engine."""

    files: int = 0
    bytes: int = 0
    seconds: float | None = None
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class EngineRecord:
    """The engine the container ran on, enough to reach it again (runs/run_engines.py), and what moved there.

    Runs recorded before remote hosts have none (all defaults): the local engine.
    """

    name: str | None = None
    url: str | None = None  # without any password
    remote: bool = False
    tls_dir: str | None = None
    id: str | None = None
    version: str | None = None
    uploaded: TransferRecord | None = None
    fetched: TransferRecord | None = None
    unknown_keys: dict[str, Any] = field(default_factory=dict, repr=False)

    def address(self) -> dict[str, Any]:
        """name, url, remote and tls_dir: how `engine.hosts.host_of_record` finds the engine again."""
        return {"name": self.name, "url": self.url, "remote": self.remote, "tls_dir": self.tls_dir}


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
    profile: ProfileRecord | None = None
    params: ParamsRecord = field(default_factory=ParamsRecord)
    git: GitRecord = field(default_factory=GitRecord)
    metrics: MetricsRecord = field(default_factory=MetricsRecord)
    runtime: RuntimeRecord = field(default_factory=RuntimeRecord)
    host: HostRecord = field(default_factory=HostRecord)
    artifacts: list[ArtifactRecord] = field(default_factory=list)
    logs: LogsRecord = field(default_factory=LogsRecord)
    engine: EngineRecord = field(default_factory=EngineRecord)
    export: ExportSummary | None = None
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
        """The manifest as manifest.yaml holds it: schema_version first, unknown keys after the known ones."""
        from paddlectl.foundation.records import dump

        document: dict[str, Any] = dump(self)
        return {"schema_version": document.pop("schema_version"), **document}

    @classmethod
    def from_dict(cls, document: Any) -> Manifest:
        """Rebuild a manifest; raise ManifestError for anything that is not a readable manifest.

        Keys it does not know are kept (see the module docstring); a newer schema reads as a read-only manifest,
        or fails with a message saying it is newer when its fields no longer read as this schema's.
        """
        from paddlectl.foundation.records import RecordError, load

        if not isinstance(document, dict):
            raise ManifestError("not a mapping" if document is not None else "empty")
        version = document.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ManifestError("no schema_version")
        try:
            return load(cls, _without_nulls(document))
        except RecordError as exc:
            if version > SCHEMA_VERSION:
                raise ManifestError(
                    f"schema {version} is newer than this paddlectl reads ({SCHEMA_VERSION}) and does not read as "
                    f"one ({exc}): {READ_ONLY_HINT}"
                ) from exc
            raise ManifestError(f"malformed: {exc}") from exc


def _without_nulls(document: dict[str, Any]) -> dict[str, Any]:
    """Known fields written as `null` take their defaults (older paddlectls wrote `git: null` and the like); a
    required one then reads as missing. Unknown keys are kept as they are."""
    known = {item.name for item in fields(Manifest)}
    return {key: value for key, value in document.items() if value is not None or key not in known}
