"""What `paddlectl train` was asked for, checked, and the container spec that follows from it (pure logic)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from paddlectl.engine.gpus import GpuRequest
from paddlectl.engine.hosts import EngineHost
from paddlectl.engine.protocol import ContainerSpec, Mount, Ulimit
from paddlectl.errors import UsageError
from paddlectl.foundation.names import (
    HOME_DIR,
    KIND_LABEL,
    KIND_RUN,
    LIB_DIR,
    OUTPUT_DIR,
    PARAMS_FILE,
    PRIVATE_DIR,
    PROJECT_LABEL,
    ROOT_LABEL,
    RUN_DIR,
    RUN_LABEL,
    STORE_LABEL,
    WORKDIR,
    store_value,
)
from paddlectl.runs.manifest import ProfileRecord

_SIZE = re.compile(r"^\d+(\.\d+)?[bkmg]?$", re.IGNORECASE)
_RESERVED_TARGETS = (WORKDIR, OUTPUT_DIR, RUN_DIR, LIB_DIR, PRIVATE_DIR)


@dataclass
class TrainRequest:
    """Everything a user can ask of `paddlectl train`, as typed values (the CLI parses strings into this)."""

    script: str | None = None
    module: str | None = None
    script_args: list[str] = field(default_factory=list)
    image: str | None = None
    params: list[str] = field(default_factory=list)  # "key=value" assignments
    profile: str | None = None  # `--profile NAME`: profiles.NAME of paddlectl.yaml
    fixed_profile: ProfileRecord | None = None  # reproduce: the original's profile record, kept as it was
    fixed_params: dict[str, object] | None = None  # reproduce: the recorded values, used as they are
    image_tag: str | None = None  # reproduce: the tag the original asked for (the image is run by digest or id)
    params_file: Path | None = None
    gpus: str | None = None
    nproc: int = 1
    name: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    env: list[EnvSetting] = field(default_factory=list)
    mounts: list[MountRequest] = field(default_factory=list)
    shm_size: str | None = None
    memory: str | None = None
    detach: bool = False
    keep: bool = False
    pull: bool = False
    require_clean: bool = False
    code_writable: bool = False
    secret_args: bool = True  # secret-looking params on the command line too (False: in the params file only)
    grace_seconds: int = 10
    reproduces: str | None = None
    reproduction_of: str | None = None  # reproduce: the original's name (or id); the run is named `<it>~reproN`
    code_root: Path | None = None  # where the code comes from (reproduce: a temporary worktree)
    # --host: a hosts: name or an engine URL (None: DOCKER_HOST, the docker context, local); reproduce: the run's own
    host: str | EngineHost | None = None


def gpu_count(request: GpuRequest | None) -> int | None:
    """How many devices a request names (None for all: unknown until run time)."""
    if request is None:
        return 0
    return None if request.all else len(request.device_ids)


def check_size(value: str, option: str) -> str:
    if not _SIZE.match(value.strip()):
        raise UsageError(f"invalid {option} '{value}'", hint=f"use a size such as 512m or 2g, e.g. {option} 2g")
    return value.strip().lower()


@dataclass(frozen=True)
class MountRequest:
    """A `--mount` as asked (`SRC:DST[:ro|rw]`, or a recorded run's mount): `resolve_mount` checks its source."""

    source: str
    target: str
    read_only: bool = False

    @classmethod
    def parse(cls, text: str) -> MountRequest:
        """The syntax only; raises UsageError naming the fix."""
        parts = text.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            raise UsageError(
                f"invalid --mount '{text}'", hint="use SRC:DST or SRC:DST:ro, e.g. --mount ./data:/data:ro"
            )
        mode = parts[2] if len(parts) == 3 else "rw"
        if mode not in ("ro", "rw"):
            raise UsageError(f"invalid --mount mode '{mode}' in '{text}'", hint="the mode is ro or rw")
        return cls(parts[0], parts[1], read_only=(mode == "ro"))


def resolve_mount(mount: MountRequest, base: Path, remote: str | None = None) -> Mount:
    """The mount the container gets: SRC made absolute (relative to `base`) and existing (a missing one would be
    created by the daemon as root), DST absolute and not one of paddlectl's own.

    On a remote engine (`remote` names it) SRC is a path on that host: absolute, and not checked here.
    """
    source: Path | PurePosixPath
    if remote is not None:
        if not PurePosixPath(mount.source).is_absolute():
            raise UsageError(
                f"--mount source '{mount.source}' must be an absolute path on {remote}",
                hint="on a remote host --mount names that host's folders, e.g. --mount /srv/datasets/x:/data:ro "
                "(the code is sent there by paddlectl)",
            )
        source = PurePosixPath(mount.source)
    else:
        source = (base / os.path.expanduser(mount.source)).resolve()
        if not source.exists():
            raise UsageError(f"--mount source {source} does not exist", hint="create it first (so it belongs to you)")
    if not PurePosixPath(mount.target).is_absolute():
        raise UsageError(f"--mount target '{mount.target}' must be an absolute path", hint=f"e.g. {mount.source}:/data")
    normalized = str(PurePosixPath(mount.target))
    if any(normalized == reserved or normalized.startswith(reserved + "/") for reserved in _RESERVED_TARGETS):
        raise UsageError(f"--mount target {normalized} is reserved by paddlectl", hint="mount it elsewhere, e.g. /data")
    return Mount(source=str(source), target=normalized, read_only=mount.read_only)


def parse_mount(text: str, base: Path, remote: str | None = None) -> Mount:
    """`SRC:DST[:ro|rw]` checked and resolved in one step (MountRequest.parse, then resolve_mount)."""
    return resolve_mount(MountRequest.parse(text), base, remote)


@dataclass(frozen=True)
class EnvSetting:
    """An environment variable for the container: `NAME=VALUE`, or a bare `NAME` (value None) whose value is this
    process's, read when the run is prepared."""

    name: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str, option: str = "--env") -> EnvSetting:
        """Raises UsageError for a name that is not an environment variable's."""
        from paddlectl.train.params import ENV_NAME_PATTERN

        name, sep, value = text.partition("=")
        if not ENV_NAME_PATTERN.fullmatch(name):
            raise UsageError(
                f"{option} {text!r}: {name!r} is not a valid environment variable name",
                hint="names hold letters, digits and _, not starting with a digit, e.g. --env HF_HOME=/data",
            )
        return cls(name, value if sep else None)

    def resolved(self, environ: Mapping[str, str], option: str = "--env") -> str:
        """The value; a bare name must be set in `environ` (UsageError naming the fix otherwise)."""
        if self.value is not None:
            return self.value
        if self.name not in environ:
            raise UsageError(
                f"{option} {self.name}: {self.name} is not set in your environment",
                hint=f"export {self.name} first, or pass a value: {option} {self.name}=VALUE",
            )
        return environ[self.name]


def script_in_project(script: str, code_root: Path, cwd: Path) -> str:
    """The script's path relative to the code root (it is mounted there); raise when missing or outside."""
    path = (cwd / script).resolve()
    if not path.is_file():
        raise UsageError(f"script {script} not found", hint=f"give a path to a Python file under {code_root}")
    try:
        return path.relative_to(code_root.resolve()).as_posix()
    except ValueError as exc:
        raise UsageError(
            f"script {path} is outside the project {code_root}",
            hint="run paddlectl from the project (where paddlectl.yaml is), or move the script into it",
        ) from exc


def container_command(
    *,
    script: str | None,
    module: str | None,
    args: list[str],
    nproc: int,
    gpus: GpuRequest | None,
    python: str = "python3",
) -> list[str]:
    """The command the container runs: the script directly, or under paddle.distributed.launch for >1 worker."""
    target = [script] if script else ["-m", module or ""]
    devices = gpu_count(gpus)
    distributed = nproc > 1 or (devices is not None and devices > 1)
    if not distributed:
        return [python, "-u", *target, *args]
    launch = [python, "-m", "paddle.distributed.launch", "--log_dir", f"{RUN_DIR}/workers"]
    if gpus is not None:
        launch += ["--devices", ",".join(gpus.device_ids) if not gpus.all else "all"]
        if nproc > 1:
            launch += ["--nproc_per_node", str(nproc)]
    else:
        launch += ["--nproc_per_node", str(nproc)]
    return [*launch, *target, *args]


def build_container_spec(
    *,
    image: str,
    command: list[str],
    run_id: str,
    project_name: str,
    store: Path,
    code_root: Path,
    run_dir: Path,
    lib_dir: Path,
    env: dict[str, str],
    mounts: list[Mount],
    gpus: GpuRequest | None,
    shm_size: str,
    memory: str | None,
    code_writable: bool,
    distributed: bool,
    params_file: Path,
    user: str | None = None,
) -> ContainerSpec:
    """The container for a run: labelled, init, the invoking user, code/outputs/run/lib mounted, NCCL-friendly."""
    environment = {
        "PYTHONUNBUFFERED": "1",
        "HOME": HOME_DIR,
        "PYTHONPATH": LIB_DIR,
        "PADDLECTL_RUN_ID": run_id,
        "PADDLECTL_OUTPUT_DIR": OUTPUT_DIR,
        "PADDLECTL_METRICS_FILE": f"{RUN_DIR}/metrics.jsonl",
        "PADDLECTL_PARAMS_FILE": PARAMS_FILE,
        **env,
    }
    ipc_mode = None
    ulimits: list[Ulimit] = []
    if gpus is not None:
        # NCCL in containers needs the host IPC namespace (Paddle issue 37803) and unlimited locked memory.
        ipc_mode = "host" if distributed else None
        ulimits = [Ulimit("memlock", -1, -1)]
        environment.setdefault("NCCL_DEBUG", "WARN")
    if user is None:
        user = f"{os.getuid()}:{os.getgid()}"
    all_mounts = [
        Mount(str(code_root), WORKDIR, read_only=not code_writable),
        Mount(str(run_dir / "outputs"), OUTPUT_DIR),
        Mount(str(run_dir / "container"), RUN_DIR),
        Mount(str(lib_dir), LIB_DIR, read_only=True),
        Mount(str(params_file), PARAMS_FILE, read_only=True),  # outside the run store: it holds secret values
        *mounts,
    ]
    return ContainerSpec(
        image=image,
        command=command,
        labels={
            KIND_LABEL: KIND_RUN,
            RUN_LABEL: run_id,
            PROJECT_LABEL: project_name,
            ROOT_LABEL: str(code_root),
            STORE_LABEL: store_value(store),
        },
        environment=environment,
        mounts=all_mounts,
        working_dir=WORKDIR,
        user=user,
        shm_size=shm_size,
        mem_limit=memory,
        gpus=gpus,
        ipc_mode=ipc_mode,
        ulimits=ulimits,
        init=True,
    )
