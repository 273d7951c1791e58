"""`paddlectl dev`: the dev image running JupyterLab on the project, as the invoking user, on a loopback port.

The container is found again by its label `io.paddlectl.dev=<project>`; its URL and token are kept in
`.paddlectl/dev.json` (mode 0600) so a second `paddlectl dev` prints the same URL instead of starting another.
It runs detached and is never auto-removed (docker-py's auto_remove races with reads); `--stop` stops and removes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from paddlectl.engine.protocol import Container, ContainerEngine, ContainerSpec, Mount
from paddlectl.errors import ExitCode, PaddlectlError, UnavailableError, UsageError
from paddlectl.foundation.atomic import write_atomic
from paddlectl.foundation.names import KIND_DEV, KIND_LABEL, PROJECT_LABEL, STORE_LABEL, store_value
from paddlectl.images.records import ImageStore
from paddlectl.images.tags import ImageRole
from paddlectl.project.workspace import Project

DEV_LABEL = "io.paddlectl.dev"
SESSION_FILE = "dev.json"
LOOPBACK = "127.0.0.1"
JUPYTER_PORT = "8888/tcp"
WORKSPACE = "/workspace"
STOP_GRACE_SECONDS = 10


@dataclass(frozen=True)
class DevSession:
    container_id: str
    image: str
    port: int
    token: str
    reused: bool = False  # an already running container, not a new one

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/lab?token={self.token}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "url": self.url}


def free_loopback_port() -> int:
    """A port the kernel just handed out on 127.0.0.1 (free now; Docker binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def check_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise UsageError(f"--port {port} is not a TCP port", hint="pick one between 1024 and 65535")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError as exc:
            raise UsageError(f"port {port} on {LOOPBACK} is in use", hint="pick another --port, or omit it") from exc
    return port


def dev_spec(project: Project, image: str, port: int, token: str, uid: int, gid: int) -> ContainerSpec:
    """JupyterLab as uid:gid on the project (read-write), published on 127.0.0.1:PORT only."""
    command = [
        "jupyter",
        "lab",
        "--ip=0.0.0.0",
        "--port=8888",
        "--no-browser",  # inside; published on loopback
        f"--ServerApp.root_dir={WORKSPACE}",
        f"--IdentityProvider.token={token}",
    ]
    if uid == 0:
        command.append("--allow-root")  # Jupyter refuses root otherwise; root here is the invoking user
    return ContainerSpec(
        image=image,
        command=command,
        labels={
            DEV_LABEL: project.config.name,
            KIND_LABEL: KIND_DEV,
            PROJECT_LABEL: project.config.name,
            STORE_LABEL: store_value(project.store),
        },
        environment={
            "HOME": "/tmp",  # noqa: S108 - in the container
            "JUPYTER_RUNTIME_DIR": "/tmp/.jupyter-runtime",  # noqa: S108 - in the container
            "PYTHONUNBUFFERED": "1",
        },
        mounts=[Mount(str(project.root), WORKSPACE)],
        working_dir=WORKSPACE,
        user=f"{uid}:{gid}",
        shm_size=project.config.shm_size,
        ports={JUPYTER_PORT: (LOOPBACK, port)},
        init=True,
    )


class DevSessions:
    """The project's dev container: start, find, stop."""

    def __init__(self, engine: ContainerEngine, project: Project) -> None:
        self.engine = engine
        self.project = project
        self.path = project.store / SESSION_FILE

    def _containers(self) -> list[Container]:
        return list(self.engine.containers({DEV_LABEL: self.project.config.name}))

    def _saved(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def default_image(self) -> str:
        """The newest dev image built for this project that is still present."""
        store = ImageStore(self.project.store)
        for image in sorted(store.load().images, key=lambda entry: entry.built_at, reverse=True):
            if image.role == ImageRole.DEV.value and self.engine.image(image.tag) is not None:
                return image.tag
        raise UsageError(
            "no dev image has been built for this project",
            hint="build one: paddlectl image build dev (or pass --image TAG)",
        )

    def start(
        self,
        image: str | None,
        port: int | None,
        *,
        wait_seconds: float = 120.0,
        uid: int | None = None,
        gid: int | None = None,
    ) -> DevSession:
        """Start JupyterLab (or return the running session) and wait until it answers; never two at once."""
        running = [container for container in self._containers() if container.state().running]
        if running:
            saved = self._saved()
            if saved.get("container_id") == running[0].id and image in (None, saved.get("image")):
                return DevSession(
                    running[0].id, str(saved["image"]), int(saved["port"]), str(saved["token"]), reused=True
                )
            raise UsageError(
                f"a dev container for {self.project.config.name} is already running ({running[0].id[:12]})",
                hint="stop it first: paddlectl dev --stop",
            )
        self._remove_stale()
        image = image or self.default_image()
        if self.engine.image(image) is None:
            raise UnavailableError(f"image {image} is not present locally", hint="paddlectl image build dev")
        port = check_port(port) if port is not None else free_loopback_port()
        token = secrets.token_hex(24)
        spec = dev_spec(
            self.project, image, port, token, os.getuid() if uid is None else uid, os.getgid() if gid is None else gid
        )
        container = self.engine.create(spec)
        self.engine.start(container)
        session = DevSession(container.id, image, port, token)
        self.project.store.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps(session.as_dict(), indent=1), mode=0o600)
        if wait_seconds > 0:
            self._wait_ready(container, session, wait_seconds)
        return session

    def _remove_stale(self) -> None:
        for container in self._containers():
            container.remove()

    @staticmethod
    def _wait_ready(container: Container, session: DevSession, wait_seconds: float) -> None:
        """Poll /api with the token until JupyterLab answers 200; bounded, and fails fast if the container ends."""
        deadline = time.monotonic() + wait_seconds
        url = f"http://{LOOPBACK}:{session.port}/api?token={session.token}"
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, urllib.error.URLError), urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
            state = container.state()
            if not state.running:
                lines = container.output().decode("utf-8", errors="replace").strip().splitlines()
                raise PaddlectlError(
                    f"JupyterLab exited (code {state.exit_code}) before answering: "
                    f"{lines[-1][:300] if lines else 'no output'}",
                    hint=f"see its output: docker logs {session.container_id[:12]}; then paddlectl dev --stop",
                    code=ExitCode.FAILED,
                )
            time.sleep(0.25)
        raise PaddlectlError(
            f"JupyterLab did not answer on port {session.port} within {wait_seconds:.0f} s",
            hint="it may still be starting: open the URL again shortly, or paddlectl dev --stop",
            code=ExitCode.FAILED,
        )

    def stop(self) -> list[str]:
        """Stop and remove every dev container of the project; returns their ids."""
        stopped = []
        for container in self._containers():
            container.stop(STOP_GRACE_SECONDS)
            container.remove()
            stopped.append(container.id)
        with contextlib.suppress(FileNotFoundError):
            Path(self.path).unlink()
        return stopped
