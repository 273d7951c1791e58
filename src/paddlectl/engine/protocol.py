"""What paddlectl needs from a container engine, independent of docker-py."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from paddlectl.engine.gpus import GpuRequest

if TYPE_CHECKING:
    from paddlectl.engine.hosts import EngineHost


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@dataclass
class ContainerSpec:
    """Everything paddlectl decides about a container, before the engine creates it."""

    image: str
    command: list[str]
    labels: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    mounts: list[Mount] = field(default_factory=list)
    working_dir: str | None = None
    user: str | None = None
    name: str | None = None
    shm_size: str | None = None
    mem_limit: str | None = None
    gpus: GpuRequest | None = None
    ipc_mode: str | None = None
    network_mode: str | None = None
    ulimits: list[Ulimit] = field(default_factory=list)
    init: bool = True
    # container port ("8888/tcp") -> (host address, host port); publish on 127.0.0.1 unless told otherwise
    ports: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerState:
    """How a container stands, read from inspect."""

    status: str  # created, running, exited, dead, ...
    exit_code: int | None
    oom_killed: bool
    error: str
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def running(self) -> bool:
        return self.status in ("running", "restarting", "paused")


@dataclass(frozen=True)
class ImageInfo:
    id: str
    tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    size: int
    created: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineInfo:
    server_version: str
    api_version: str
    storage_driver: str
    os: str
    runtimes: tuple[str, ...]
    default_runtime: str
    docker_root_dir: str

    nvidia_hook: bool = False  # the NVIDIA Container Toolkit's hook is installed (enough for --gpus)
    id: str = ""  # the engine's own id (docker info's ID)
    name: str = ""  # the engine's host name

    @property
    def has_nvidia_runtime(self) -> bool:
        return "nvidia" in self.runtimes

    @property
    def gpu_capable(self) -> bool:
        """Can GPU device requests work? A registered nvidia runtime, or the toolkit's hook (docker --gpus)."""
        return self.has_nvidia_runtime or self.nvidia_hook


@dataclass(frozen=True)
class PullProgress:
    layer: str
    status: str
    current: int | None = None
    total: int | None = None


class Container(Protocol):
    """A created container."""

    @property
    def id(self) -> str: ...

    @property
    def labels(self) -> dict[str, str]: ...

    def start(self) -> None: ...

    def stream_output(self) -> Iterator[bytes]:
        """Raw output chunks (stdout and stderr merged) from attach time until the container ends."""
        ...

    def output(self, since: float | None = None) -> bytes:
        """All output so far (or since a Unix time), from the engine's log."""
        ...

    def wait(self, timeout: float | None = None) -> ContainerState:
        """Block until the container stops (or the timeout, in seconds, runs out) and return its state."""
        ...

    def state(self) -> ContainerState: ...

    def stop(self, grace_seconds: int) -> None: ...

    def kill(self) -> None: ...

    def remove(self) -> None: ...

    def put_archive(self, path: str, archive: BinaryIO) -> None:
        """Extract a tar archive (read from its start) at `path` in the container (created or stopped, too)."""
        ...

    def get_archive(self, path: str) -> Iterator[bytes] | None:
        """`path` in the container as a tar stream (its last component the archive's top folder); None if absent."""
        ...


class ContainerEngine(Protocol):
    """The operations paddlectl uses."""

    @property
    def host(self) -> EngineHost:
        """Which engine this is (a remote one cannot see this machine's files: engine/shipping.py)."""
        ...

    def info(self) -> EngineInfo: ...

    def server_version(self) -> str:
        """The engine's version (cheaper than info())."""
        ...

    def image(self, reference: str) -> ImageInfo | None:
        """The local image for a tag, digest or id, or None when absent."""
        ...

    def pull(self, reference: str, on_progress: Callable[[PullProgress], None] | None = None) -> ImageInfo: ...

    def registry_problem(self, reference: str) -> str | None:
        """Ask the reference's registry, through the engine, whether it has the image; pulls nothing.

        None when it has it; otherwise why it cannot be pulled, in one line (no registry answers in time, or it
        does not know the image). Never raises for the registry's sake.
        """
        ...

    def create(self, spec: ContainerSpec) -> Container:
        """Create (not start) a container. A failed create leaves nothing behind."""
        ...

    def start(self, container: Container) -> None:
        """Start a created container; a failed start removes it and raises PaddlectlError."""
        ...

    def container(self, container_id: str) -> Container | None: ...

    def containers(self, labels: dict[str, str]) -> Sequence[Container]:
        """All containers (running or not) carrying every one of these labels."""
        ...

    def list_images(self, labels: dict[str, str | None], *, dangling: bool = False) -> Sequence[ImageInfo]:
        """Images carrying every one of these labels (None: any value); only untagged, childless ones with
        `dangling`."""
        ...

    def remove_image(self, image_id: str) -> None:
        """Remove an image (never forced: one a container still uses stays); a missing one is fine."""
        ...

    def build(
        self,
        context: Path,
        dockerfile: str,
        tag: str,
        buildargs: dict[str, str],
        labels: dict[str, str],
        on_event: Callable[[str], None] | None = None,
    ) -> ImageInfo:
        """Build `dockerfile` (relative to `context`) as `tag`, streaming output lines to `on_event`.

        Never pulls; a failing step raises PaddlectlError naming the step and its last output line.
        """
        ...


EngineFactory = Callable[[], ContainerEngine]  # connects on first use: commands that need no engine never reach it
