"""A small in-memory container engine implementing the protocol, for fast unit tests of the logic above it."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paddlectl.engine.hosts import EngineHost
from paddlectl.engine.protocol import (
    ContainerSpec,
    ContainerState,
    EngineInfo,
    ImageInfo,
    PullProgress,
)
from paddlectl.errors import UnavailableError


@dataclass
class FakeContainer:
    """Plays back scripted output chunks, then ends with a scripted exit code."""

    id: str
    spec: ContainerSpec
    chunks: list[bytes]
    exit_code: int = 0
    oom_killed: bool = False
    status: str = "created"
    removed: bool = False
    stopped_with: int | None = None
    killed: bool = False
    on_chunk: Callable[[int], None] | None = None  # called before chunk i is yielded (to send signals, ...)
    stream_breaks_after: int | None = None  # raise UnavailableError after this many chunks
    engine: FakeEngine | None = None
    uploads: list[tuple[str, bytes]] = field(default_factory=list)  # put_archive calls: (path, tar bytes)
    files: dict[str, bytes] = field(default_factory=dict)  # container path -> contents, for get_archive
    folders: set[str] = field(default_factory=set)  # container folders that exist (empty ones included)

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.spec.labels)

    def start(self) -> None:
        self.status = "running"

    def stream_output(self) -> Iterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            if self.stream_breaks_after is not None and index >= self.stream_breaks_after:
                raise UnavailableError("streaming the container's output: cannot reach the Docker engine")
            if self.on_chunk is not None:
                self.on_chunk(index)
            if self.status != "running":
                return
            yield chunk
        self.status = "exited"

    def output(self, since: float | None = None) -> bytes:
        return b"".join(self.chunks)

    def wait(self, timeout: float | None = None) -> ContainerState:
        if self.engine is not None and self.engine.down:
            raise UnavailableError("waiting for the container: cannot reach the Docker engine")
        if self.status == "running":
            self.status = "exited"
        return self.state()

    def state(self) -> ContainerState:
        return ContainerState(status=self.status, exit_code=self.exit_code, oom_killed=self.oom_killed, error="")

    def stop(self, grace_seconds: int) -> None:
        self.stopped_with = grace_seconds
        self.status = "exited"
        self.exit_code = 143

    def kill(self) -> None:
        self.killed = True
        self.status = "exited"
        self.exit_code = 137

    def remove(self) -> None:
        self.removed = True
        if self.engine is not None:
            self.engine.live.pop(self.id, None)

    def put_archive(self, path: str, archive: Any) -> None:
        """Keep what was sent (path, archive bytes) for the test to read."""
        archive.seek(0)
        self.uploads.append((path, archive.read()))

    def get_archive(self, path: str) -> Iterator[bytes] | None:
        """A tar of the files a test put in `files` under `path` (the folder's name as its top)."""
        if self.engine is not None and self.engine.fail_fetch:
            raise UnavailableError(f"copying {path} out of the container: cannot reach the Docker engine")
        import io
        import tarfile

        prefix = path.rstrip("/") + "/"
        members = {name[len(prefix) :]: data for name, data in self.files.items() if name.startswith(prefix)}
        if not members and path not in self.folders:
            return None
        buffer = io.BytesIO()
        top = path.rstrip("/").rsplit("/", 1)[-1]
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            folder = tarfile.TarInfo(top)
            folder.type = tarfile.DIRTYPE
            archive.addfile(folder)
            for name, data in members.items():
                info = tarfile.TarInfo(f"{top}/{name}")
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        data = buffer.getvalue()
        return iter([data[: len(data) // 2], data[len(data) // 2 :]])


@dataclass
class FakeEngine:
    images: dict[str, ImageInfo] = field(default_factory=dict)
    script: list[bytes] = field(default_factory=list)
    exit_code: int = 0
    created: list[FakeContainer] = field(default_factory=list)
    live: dict[str, FakeContainer] = field(default_factory=dict)
    nvidia: bool = False
    down: bool = False
    fail_start: str | None = None
    builds: list[dict[str, Any]] = field(default_factory=list)
    removed_images: list[str] = field(default_factory=list)
    in_registry: set[str] = field(default_factory=set)  # references a registry would give
    host: EngineHost = field(default_factory=lambda: EngineHost("unix:///var/run/docker.sock"))
    fail_fetch: bool = False  # get_archive raises UnavailableError (a remote host that went away)
    container_files: dict[str, bytes] = field(default_factory=dict)  # what every created container has written

    def info(self) -> EngineInfo:
        runtimes = ("runc", "nvidia") if self.nvidia else ("runc",)
        return EngineInfo("20.10.24", "1.41", "overlay2", "Debian", runtimes, "runc", "/var/lib/docker")

    def server_version(self) -> str:
        return "20.10.24"

    def image(self, reference: str) -> ImageInfo | None:
        return self.images.get(reference)

    def pull(self, reference: str, on_progress: Callable[[PullProgress], None] | None = None) -> ImageInfo:
        raise UnavailableError(f"pulling {reference} failed: no registry")

    def registry_problem(self, reference: str) -> str | None:
        return None if reference in self.in_registry else "no registry answers (fake engine)"

    def create(self, spec: ContainerSpec) -> FakeContainer:
        container = FakeContainer(
            id=f"c{len(self.created):04d}",
            spec=spec,
            chunks=list(self.script),
            exit_code=self.exit_code,
            engine=self,
            files=dict(self.container_files),
        )
        self.created.append(container)
        self.live[container.id] = container
        return container

    def start(self, container: FakeContainer) -> None:  # type: ignore[override]
        if self.fail_start:
            container.remove()
            raise UnavailableError(self.fail_start)
        container.start()

    def container(self, container_id: str) -> FakeContainer | None:
        return self.live.get(container_id)

    def containers(self, labels: dict[str, str]) -> Sequence[FakeContainer]:
        return [c for c in self.live.values() if all(c.spec.labels.get(k) == v for k, v in labels.items())]

    def list_images(self, labels: dict[str, str | None], *, dangling: bool = False) -> Sequence[ImageInfo]:
        return [
            image
            for image in self.images_by_id()
            if all(k in image.labels and (v is None or image.labels[k] == v) for k, v in labels.items())
            and (not dangling or not image.tags)
        ]

    def images_by_id(self) -> list[ImageInfo]:
        return list({image.id: image for image in self.images.values()}.values())

    def remove_image(self, image_id: str) -> None:
        self.removed_images.append(image_id)
        for key in [key for key, image in self.images.items() if image.id == image_id]:
            del self.images[key]

    def build(
        self,
        context: Path,
        dockerfile: str,
        tag: str,
        buildargs: dict[str, str],
        labels: dict[str, str],
        on_event: Callable[[str], None] | None = None,
    ) -> ImageInfo:
        """Record the build (with the context's file names) and register an image carrying its labels."""
        files = sorted(str(p.relative_to(context)) for p in context.rglob("*") if p.is_file())
        self.builds.append(
            {"dockerfile": dockerfile, "tag": tag, "buildargs": dict(buildargs), "labels": dict(labels), "files": files}
        )
        if on_event is not None:
            on_event(f"Step 1/1 : FROM {buildargs.get('PADDLE_IMAGE') or buildargs.get('BASE_IMAGE')}")
        info = ImageInfo(
            id="sha256:" + f"{len(self.builds):064x}",
            tags=(tag,),
            repo_digests=(),
            size=1000,
            created="2026-01-01T00:00:00Z",
            labels=dict(labels),
        )
        self.images[tag] = info
        return info


def image_info(reference: str, image_id: str = "sha256:" + "ab" * 32, digests: tuple[str, ...] = ()) -> ImageInfo:
    return ImageInfo(id=image_id, tags=(reference,), repo_digests=digests, size=1, created="")


def sleeping_process(*arguments: str, python: str | None = None) -> subprocess.Popen[bytes]:
    """A process that sleeps a minute with `arguments` on its command line, returned once it runs its own program.

    Between fork and exec a child's /proc/PID/cmdline is still its parent's: a check made in that window would read
    pytest's command line. The child says so on stdout when it runs, and this waits for that line.
    """
    import sys

    script = "import sys, time; print('ready', flush=True); time.sleep(60)"
    process = subprocess.Popen([python or sys.executable, "-c", script, *arguments], stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    return process
