"""The docker-py implementation of the engine protocol: the only module that imports `docker`.

Every call into docker-py goes through `translated_errors`, which turns connection, timeout, permission and API
errors into a PaddlectlError whose hint says what to do.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import requests.exceptions

from paddlectl.engine.hosts import EngineHost
from paddlectl.engine.protocol import (
    Container,
    ContainerSpec,
    ContainerState,
    EngineInfo,
    ImageInfo,
    PullProgress,
)
from paddlectl.errors import ExitCode, PaddlectlError, UnavailableError
from paddlectl.foundation.checkout import checkout_script, script_command
from paddlectl.foundation.image_ref import ImageRef


@contextlib.contextmanager
def _paramiko_hidden() -> Iterator[None]:
    """docker-py imports paramiko, when installed, for an ssh transport paddlectl does not use (engine/transports.py
    has its own): 0.1 s of every command's start-up. Hidden while docker-py loads; an ssh host imports it later."""
    hide = "paramiko" not in sys.modules
    if hide:
        sys.modules["paramiko"] = None  # type: ignore[assignment]  # `import paramiko` raises ImportError
    try:
        yield
    finally:
        if hide and sys.modules.get("paramiko", False) is None:
            del sys.modules["paramiko"]


with _paramiko_hidden():
    import docker
    import docker.errors
    from docker.types import DeviceRequest
    from docker.types import Ulimit as DockerUlimit

DEFAULT_TIMEOUT_SECONDS = 60
REGISTRY_TIMEOUT_SECONDS = 15  # doctor's question to a registry: long enough for a slow one, short for none
TIMEOUT_ENV = "PADDLECTL_DOCKER_TIMEOUT"


def _engine_hint() -> str:
    script = checkout_script("ensure-docker.sh")
    start = f"{script_command(script)}, or 'sudo systemctl start docker'" if script else "'sudo systemctl start docker'"
    return f"start the Docker engine ({start}), or point DOCKER_HOST at one"


ENGINE_HINT = _engine_hint()


def _engine_address() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def _where(host: EngineHost | None) -> str:
    """How an error names the engine: the local one as before, a remote one by name and URL."""
    if host is None or not host.remote:
        return f"the Docker engine at {host.public_url if host is not None else _engine_address()}"
    return host.label


@contextlib.contextmanager
def translated_errors(action: str, host: EngineHost | None = None) -> Iterator[None]:
    """Turn docker-py and transport errors raised while doing `action` into PaddlectlErrors (naming the host)."""
    remote = host is not None and host.remote
    prefix = f"{action} on {host.label}" if remote and host is not None else action
    try:
        yield
    except PaddlectlError:
        raise
    except docker.errors.ImageNotFound as exc:
        raise UnavailableError(
            f"{prefix}: image not found ({_explanation(exc)})",
            hint="build it, or pull it with 'docker pull IMAGE' / 'paddlectl train --pull'",
        ) from exc
    except docker.errors.NotFound as exc:
        raise PaddlectlError(f"{prefix}: {_explanation(exc)}", code=ExitCode.FAILED) from exc
    except docker.errors.APIError as exc:
        raise _api_error(prefix, exc) from exc
    except (requests.exceptions.ReadTimeout, requests.exceptions.Timeout) as exc:
        raise UnavailableError(
            f"{action}: {_where(host)} did not answer in time",
            hint=f"check that dockerd is healthy, or raise {TIMEOUT_ENV} (seconds)",
        ) from exc
    except PermissionError as exc:
        raise _permission_error(action, host) from exc
    except (docker.errors.DockerException, requests.exceptions.ConnectionError, ConnectionError, OSError) as exc:
        transport = (docker.errors.DockerException, requests.exceptions.RequestException, ConnectionError)
        if not isinstance(exc, transport) and not remote:
            raise  # a local file's error (a build context, ...) is not the engine's: as before
        raise _unreachable_error(action, host, exc) from exc


def _api_error(prefix: str, exc: docker.errors.APIError) -> PaddlectlError:
    text = _explanation(exc)
    if "could not select device driver" in text:
        return UnavailableError(
            f"{prefix}: GPUs were requested but this Docker engine has no NVIDIA runtime",
            hint="install the NVIDIA Container Toolkit and restart dockerd, or run with --gpus none",
        )
    return PaddlectlError(f"{prefix}: Docker engine error: {text}", code=ExitCode.UNAVAILABLE)


def _permission_error(action: str, host: EngineHost | None) -> UnavailableError:
    return UnavailableError(
        f"{action}: permission denied talking to {_where(host)}",
        hint="add your user to the 'docker' group (then log in again), or run as root",
    )


def _unreachable_error(action: str, host: EngineHost | None, exc: BaseException) -> UnavailableError:
    if "Permission denied" in str(exc):
        return _permission_error(action, host)
    if host is not None and host.remote:
        return UnavailableError(
            f"cannot reach {host.label}: {_transport_reason(exc)} (while {action})", hint=_remote_hint(host)
        )
    return UnavailableError(f"{action}: cannot reach {_where(host)}", hint=ENGINE_HINT)


def _transport_reason(exc: BaseException) -> str:
    """The innermost reason of a transport error, in one line (an SSL verify failure, a refused connection)."""
    seen = exc
    for _ in range(8):
        inner = seen.__cause__ or seen.__context__ or (seen.args[0] if seen.args else None)
        if not isinstance(inner, BaseException):
            break
        seen = inner
    text = " ".join(str(seen).split()) or type(seen).__name__
    return text[:300]


def _remote_hint(host: EngineHost) -> str:
    if host.scheme == "ssh":
        return "check the ssh login ('ssh HOST docker version' must work) and that dockerd runs there"
    if host.tls:
        return (
            f"check that the engine listens with --tlsverify and that {host.tls_dir} holds the CA and a client "
            "certificate it trusts"
        )
    return "check that the engine listens there (and use TLS on port 2376 rather than plain tcp://)"


def _local_engine(host: EngineHost | None = None) -> bool:
    """Is the engine on this machine (so its tools can be looked for here)?"""
    if host is not None:
        return not host.remote
    return _engine_address().startswith("unix://")


def _explanation(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc).strip()


def connect(host: EngineHost | None = None, timeout: float | None = None) -> DockerEngine:
    """Build the one Docker client for `host` (default: DOCKER_HOST, the docker context, the local socket) and check
    that the engine answers.

    The local socket gets docker-py's client as it always did; an ssh:// host one paramiko login
    (engine/transports.py); a TLS host its client certificate, with the environment's CA bundles ignored.
    Raises PaddlectlError naming the host when it cannot be reached.
    """
    from paddlectl.engine.hosts import resolve_host

    if host is None:
        host = resolve_host(None, {})
    if timeout is None:
        timeout = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS))
    if not host.remote:
        default = host.url == _engine_address()
        with translated_errors("connecting", None if default else host):
            client = docker.DockerClient(base_url=host.url, timeout=int(timeout))  # the URL hosts.py resolved
            client.ping()
        return DockerEngine(client, host)
    session = None
    with translated_errors("connecting", host):
        try:
            if host.scheme == "ssh":
                from paddlectl.engine.transports import open_ssh, ssh_adapter

                session = open_ssh(host, timeout)
                api = _RemoteApi(_SSH_BASE_URL, timeout, adapter=ssh_adapter(session, timeout))
            elif host.tls:
                from paddlectl.engine.transports import tls_files

                ca, cert, key = tls_files(host)
                tls = docker.tls.TLSConfig(client_cert=(cert, key), ca_cert=ca, verify=host.tls_verify)
                api = _RemoteApi(host.url, timeout, tls=tls)
            else:
                api = _RemoteApi(host.url, timeout)
            api.negotiate_version()
        except (docker.errors.DockerException, requests.exceptions.ConnectionError, OSError) as exc:
            problem = session.diagnose() if session is not None else None
            if problem is not None:
                raise UnavailableError(
                    f"cannot reach {host.label}: the ssh login works, but the engine does not answer: {problem}",
                    hint="install the docker CLI there and let this user reach dockerd (the docker group)",
                ) from exc
            raise
    return DockerEngine(_Client(api), host)


_SSH_BASE_URL = "http+docker://ssh"


class _RemoteApi(docker.APIClient):  # type: ignore[misc]
    """An APIClient for a remote engine: paddlectl's own transport, the environment's CA bundles ignored."""

    def __init__(self, base_url: str, timeout: float, *, adapter: Any = None, tls: Any = None) -> None:
        # A placeholder version: docker-py would otherwise ask the engine now, before trust_env can be switched off.
        super().__init__(
            base_url="tcp://127.0.0.1:9" if adapter is not None else base_url,
            version=docker.constants.MINIMUM_DOCKER_API_VERSION,
            timeout=int(timeout),
            tls=tls or False,
        )
        self.trust_env = False  # REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE would replace the engine's CA (docker-py#2433)
        if adapter is not None:
            self._custom_adapter = adapter
            self.mount(_SSH_BASE_URL, adapter)
            self.base_url = _SSH_BASE_URL

    def negotiate_version(self) -> None:
        """Use the engine's API version (or docker-py's newest, if the engine's is newer)."""
        server = str(self.version(api_version=False)["ApiVersion"])
        newest = docker.constants.DEFAULT_DOCKER_API_VERSION
        self._version = server if docker.utils.version_lt(server, newest) else newest


class _Client(docker.DockerClient):  # type: ignore[misc]
    """A DockerClient around an APIClient built here (DockerClient() would build a second one)."""

    def __init__(self, api: docker.APIClient) -> None:
        self.api = api


def _image_info(image: Any) -> ImageInfo:
    attrs = image.attrs
    return ImageInfo(
        id=str(image.id),
        tags=tuple(image.tags),
        repo_digests=tuple(attrs.get("RepoDigests") or ()),
        size=int(attrs.get("Size") or 0),
        created=str(attrs.get("Created", "")),
        labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
    )


def _state_from_attrs(attrs: dict[str, Any]) -> ContainerState:
    state = attrs.get("State") or {}
    return ContainerState(
        status=str(state.get("Status", "unknown")),
        exit_code=state.get("ExitCode"),
        oom_killed=bool(state.get("OOMKilled", False)),
        error=str(state.get("Error") or ""),
        started_at=state.get("StartedAt"),
        finished_at=state.get("FinishedAt"),
    )


class DockerContainer:
    """A container handled through docker-py."""

    def __init__(self, client: docker.DockerClient, model: Any, host: EngineHost | None = None) -> None:
        self._client = client
        self._model = model
        self._host = host

    @property
    def id(self) -> str:
        return str(self._model.id)

    @property
    def labels(self) -> dict[str, str]:
        return dict(self._model.labels or {})

    def start(self) -> None:
        with translated_errors("starting the container", self._host):
            self._model.start()

    def stream_output(self) -> Iterator[bytes]:
        """Attach (call before start) and yield output in large merged chunks, in the order it was written.

        No `logs=1`: the daemon subscribes to the container's output before it answers (moby's ContainerAttach:
        AttachStreams, then GetStreams sends the headers), so attaching before start misses nothing. With logs=1
        it would also replay the log file, and lines written during that replay, by a container started as soon
        as we have the answer, arrived twice (seen once in 20 concurrent runs).
        """
        # docker-py has no public call that attaches without logs=1: these are private APIClient methods, which
        # is why pyproject.toml caps docker-py and tests/unit/engine_adapter/test_docker_private_api.py checks them.
        api = self._client.api
        with translated_errors("attaching to the container", self._host):
            params = {"logs": 0, "stdout": 1, "stderr": 1, "stream": 1}
            headers = {"Connection": "Upgrade", "Upgrade": "tcp"}
            response = api._post(
                api._url("/containers/{0}/attach", self.id), headers=headers, params=params, stream=True
            )
            sock = api._get_raw_response_socket(response)
            api._disable_socket_timeout(sock)
        return _guarded(_demultiplexed(sock, response), self._host)

    def output(self, since: float | None = None) -> bytes:
        with translated_errors("reading the container's log", self._host):
            data = self._client.api.logs(self.id, stdout=True, stderr=True, since=since)
        return bytes(data)

    def wait(self, timeout: float | None = None) -> ContainerState:
        with translated_errors("waiting for the container", self._host):
            self._model.wait(timeout=timeout)
        return self.state()

    def state(self) -> ContainerState:
        with translated_errors("inspecting the container", self._host):
            self._model.reload()
        return _state_from_attrs(self._model.attrs)

    def stop(self, grace_seconds: int) -> None:
        with translated_errors("stopping the container", self._host), contextlib.suppress(docker.errors.NotFound):
            self._client.api.stop(self.id, timeout=grace_seconds)

    def kill(self) -> None:
        with translated_errors("killing the container", self._host), contextlib.suppress(docker.errors.APIError):
            self._model.kill()

    def remove(self) -> None:
        with translated_errors("removing the container", self._host), contextlib.suppress(docker.errors.NotFound):
            self._model.remove(force=True)

    def put_archive(self, path: str, archive: BinaryIO) -> None:
        with translated_errors(f"copying files into the container ({path})", self._host):
            archive.seek(0)
            self._client.api.put_archive(self.id, path, archive)

    def get_archive(self, path: str) -> Iterator[bytes] | None:
        with translated_errors(f"copying {path} out of the container", self._host):
            try:
                stream, _ = self._client.api.get_archive(self.id, path, chunk_size=_ARCHIVE_CHUNK)
            except docker.errors.NotFound:
                return None
        return _archive_stream(stream, self._host, path)


_READ_SIZE = 1 << 18
_MAX_HELD = 1 << 16  # a stream's unfinished line is passed on anyway past this size (memory, live display)


def _demultiplexed(sock: Any, response: Any) -> Iterator[bytes]:
    """Docker's multiplexed stream (8-byte header + payload per frame), read in bulk and merged per read.

    docker-py reads every frame with separate header and payload reads; a script printing a million lines
    produces a million frames, so this reads up to 256 KiB at a time and splits frames from the buffer.

    stdout and stderr are merged only at line boundaries (a newline, or the `\\r`/`\\b` of a progress redraw):
    each stream's unfinished tail waits for the rest of its line. The daemon reads the two pipes separately,
    so `print` under `python -u` (text, then its newline: two writes) would otherwise get a stderr line glued
    into the middle of a stdout line.
    """
    read = sock.recv if hasattr(sock, "recv") else sock.read
    buffer = bytearray()
    held: dict[int, bytearray] = {}
    try:
        while data := read(_READ_SIZE):
            buffer += data
            position, payloads = _whole_frames(buffer, held)
            if position:
                del buffer[:position]
            if payloads:
                yield b"".join(payloads)
        if held:
            yield b"".join(held.values())
    finally:
        with contextlib.suppress(Exception):
            response.close()


def _whole_frames(buffer: bytearray, held: dict[int, bytearray]) -> tuple[int, list[bytearray]]:
    """The payloads of the complete frames at the start of `buffer`, and where the last one ends.

    Each payload is cut after its last line end; the unfinished rest waits in `held[stream]` and goes before that
    stream's next payload.
    """
    position, size_total = 0, len(buffer)
    payloads = []
    while position + 8 <= size_total:
        size = int.from_bytes(buffer[position + 4 : position + 8], "big")
        end = position + 8 + size
        if end > size_total:
            break
        stream = buffer[position]
        payload = buffer[position + 8 : end]
        if held and stream in held:
            payload = held.pop(stream) + payload
        position = end
        if not payload or payload[-1] == 10:  # ends a line: the common case, nothing to hold
            payloads.append(payload)
            continue
        cut = _line_end(payload)
        if cut:
            payloads.append(payload[:cut])
        if cut < len(payload):
            held[stream] = payload[cut:]
    return position, payloads


def _line_end(payload: bytearray) -> int:
    """Where the payload's last line ends (after a newline, `\\r` or `\\b`); its end when the rest is too long."""
    cut = max(payload.rfind(b"\n"), payload.rfind(b"\r"), payload.rfind(b"\x08")) + 1
    return len(payload) if len(payload) - cut > _MAX_HELD else cut


_ARCHIVE_CHUNK = 1 << 20


def _archive_stream(stream: Iterator[bytes], host: EngineHost | None, path: str) -> Iterator[bytes]:
    with translated_errors(f"copying {path} out of the container", host):
        yield from stream


def _guarded(frames: Iterator[bytes], host: EngineHost | None) -> Iterator[bytes]:
    with translated_errors("streaming the container's output", host):
        yield from frames


class DockerEngine:
    """The container engine, through one docker-py client built by `connect`."""

    def __init__(self, client: docker.DockerClient, host: EngineHost | None = None) -> None:
        from paddlectl.engine.hosts import EngineHost

        self._client = client
        self.host = host or EngineHost(_engine_address())
        self._info: EngineInfo | None = None

    def server_version(self) -> str:
        with translated_errors("reading the engine version", self.host):
            return str(self._client.version().get("Version", "?"))

    def info(self) -> EngineInfo:
        """The engine's facts (asked once per client: they do not change while a command runs)."""
        if self._info is None:
            self._info = self._read_info()
        return self._info

    def _read_info(self) -> EngineInfo:
        with translated_errors("reading engine information", self.host):
            info = self._client.info()
            version = self._client.version()
        return EngineInfo(
            server_version=str(version.get("Version", "?")),
            api_version=str(version.get("ApiVersion", "?")),
            storage_driver=str(info.get("Driver", "?")),
            os=str(info.get("OperatingSystem", "?")),
            runtimes=tuple(sorted((info.get("Runtimes") or {}).keys())),
            default_runtime=str(info.get("DefaultRuntime", "")),
            docker_root_dir=str(info.get("DockerRootDir", "")),
            id=str(info.get("ID") or ""),
            name=str(info.get("Name") or ""),
            nvidia_hook=_local_engine(self.host)
            and any(shutil.which(tool) for tool in ("nvidia-container-runtime-hook", "nvidia-container-toolkit")),
        )

    def image(self, reference: str) -> ImageInfo | None:
        with translated_errors(f"looking up image {reference}", self.host):
            try:
                image = self._client.images.get(reference)
            except docker.errors.ImageNotFound:
                return None
        return _image_info(image)

    def list_images(self, labels: dict[str, str | None], *, dangling: bool = False) -> list[ImageInfo]:
        filters: dict[str, Any] = {
            "label": [key if value is None else f"{key}={value}" for key, value in labels.items()]
        }
        if dangling:
            filters["dangling"] = True
        with translated_errors("listing images", self.host):
            return [_image_info(image) for image in self._client.images.list(filters=filters)]

    def remove_image(self, image_id: str) -> None:
        with (
            translated_errors(f"removing image {image_id[:19]}", self.host),
            contextlib.suppress(docker.errors.ImageNotFound),
        ):
            self._client.images.remove(image_id, force=False)

    def pull(self, reference: str, on_progress: Callable[[PullProgress], None] | None = None) -> ImageInfo:
        parts = ImageRef.split(reference)
        repository, tag = parts.repository, parts.digest or parts.tag
        with translated_errors(f"pulling {reference}", self.host):
            kwargs: dict[str, Any] = {"stream": True, "decode": True}
            stream = self._client.api.pull(repository, tag=tag or None, **kwargs)
            for event in stream:
                if "error" in event:
                    raise UnavailableError(
                        f"pulling {reference} failed: {event['error']}",
                        hint=f"check the name and your registry access, then try 'docker pull {reference}'",
                    )
                if on_progress is not None:
                    detail = event.get("progressDetail") or {}
                    on_progress(
                        PullProgress(
                            layer=str(event.get("id", "")),
                            status=str(event.get("status", "")),
                            current=detail.get("current"),
                            total=detail.get("total"),
                        )
                    )
        found = self.image(reference)
        if found is None:
            raise UnavailableError(f"pulled {reference} but the engine does not list it")
        return found

    def registry_problem(self, reference: str) -> str | None:
        # The daemon asks the registry (with its proxy and credentials). It can hang on a network that drops
        # packets, so the answer is awaited on a thread for a bounded time only.
        answers: list[str | None] = []

        def ask() -> None:
            try:
                self._client.api.inspect_distribution(reference)
                answers.append(None)
            except docker.errors.APIError as exc:
                answers.append(_one_line(_explanation(exc), 200))
            except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
                answers.append(_one_line(str(exc), 200))

        thread = threading.Thread(target=ask, name="registry-probe", daemon=True)
        thread.start()
        thread.join(REGISTRY_TIMEOUT_SECONDS)
        return answers[0] if answers else f"its registry did not answer within {REGISTRY_TIMEOUT_SECONDS} s"

    def create(self, spec: ContainerSpec) -> DockerContainer:
        kwargs: dict[str, Any] = {
            "command": spec.command,
            "labels": spec.labels,
            "environment": spec.environment,
            "working_dir": spec.working_dir,
            "user": spec.user,
            "name": spec.name,
            "init": spec.init,
            "detach": True,
            "stdin_open": False,
            "tty": False,
            "volumes": {
                mount.source: {"bind": mount.target, "mode": "ro" if mount.read_only else "rw"} for mount in spec.mounts
            },
        }
        if spec.shm_size and spec.ipc_mode != "host":
            kwargs["shm_size"] = spec.shm_size
        if spec.mem_limit:
            kwargs["mem_limit"] = spec.mem_limit
        if spec.ipc_mode:
            kwargs["ipc_mode"] = spec.ipc_mode
        if spec.network_mode:
            kwargs["network_mode"] = spec.network_mode
        if spec.ports:
            kwargs["ports"] = dict(spec.ports)
        if spec.ulimits:
            kwargs["ulimits"] = [DockerUlimit(name=u.name, soft=u.soft, hard=u.hard) for u in spec.ulimits]
        if spec.gpus is not None:
            if spec.gpus.all:
                request = DeviceRequest(count=-1, capabilities=[["gpu"]])
            else:
                request = DeviceRequest(device_ids=list(spec.gpus.device_ids), capabilities=[["gpu"]])
            kwargs["device_requests"] = [request]
        with translated_errors("creating the container", self.host):
            model = self._client.containers.create(spec.image, **kwargs)
        return DockerContainer(self._client, model, self.host)

    def start(self, container: Container) -> None:
        try:
            container.start()
        except PaddlectlError:
            container.remove()  # a failed start leaves a Created container behind
            raise

    def container(self, container_id: str) -> DockerContainer | None:
        with translated_errors("looking up a container", self.host):
            try:
                model = self._client.containers.get(container_id)
            except docker.errors.NotFound:
                return None
        return DockerContainer(self._client, model, self.host)

    def containers(self, labels: dict[str, str]) -> list[DockerContainer]:
        filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
        with translated_errors("listing containers", self.host):
            models = self._client.containers.list(all=True, filters=filters)
        return [DockerContainer(self._client, model, self.host) for model in models]

    def build(
        self,
        context: Path,
        dockerfile: str,
        tag: str,
        buildargs: dict[str, str],
        labels: dict[str, str],
        on_event: Callable[[str], None] | None = None,
    ) -> ImageInfo:
        """Build through the engine's API (no read timeout: a long step may print nothing for minutes)."""
        lines = _BuildLines(on_event)
        with translated_errors(f"building {tag}", self.host):
            stream = self._client.api.build(
                path=str(context),
                dockerfile=dockerfile,
                tag=tag,
                buildargs=buildargs,
                labels=labels,
                decode=True,
                rm=True,
                forcerm=True,
                pull=False,
                timeout=None,
            )
            for event in stream:
                if "error" in event:
                    lines.flush()
                    raise PaddlectlError(
                        f"building {tag} failed at {lines.step or 'the first step'}: "
                        f"{_build_error(str(event['error']))}{lines.last_output_note()}",
                        hint="the build output above shows the failing step; fix it and build again",
                        code=ExitCode.FAILED,
                    )
                lines.feed(str(event.get("stream") or ""))
            lines.flush()
        found = self.image(tag)
        if found is None:
            raise PaddlectlError(f"the build of {tag} ended without an image", code=ExitCode.FAILED)
        return found


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NONZERO = re.compile(r"returned a non-zero code: \d+")


def _build_error(text: str) -> str:
    """The daemon's error without the step's whole command line, which the message already names."""
    match = _NONZERO.search(text)
    return f"the command {match.group(0)}" if match else _one_line(text)


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class _BuildLines:
    """Rebuilds whole lines from the build's `stream` events and remembers the current step and last output."""

    def __init__(self, on_event: Callable[[str], None] | None) -> None:
        self._on_event = on_event
        self._partial = ""
        self.step: str | None = None
        self.last_output: str | None = None

    def feed(self, text: str) -> None:
        if not text:
            return
        *complete, self._partial = (self._partial + text).split("\n")
        for line in complete:
            self._line(line)

    def flush(self) -> None:
        if self._partial:
            line, self._partial = self._partial, ""
            self._line(line)

    def _line(self, line: str) -> None:
        line = _ANSI.sub("", line.rstrip("\r").rpartition("\r")[2])  # bars rewrite lines with \r; colours
        if line.startswith("Step ") and " : " in line:
            number, _, instruction = line[len("Step ") :].partition(" : ")
            self.step, self.last_output = f"step {number} ({_one_line(instruction, 70)})", None
        elif line.strip() and not line.startswith((" ---> ", "Removing intermediate container")):
            self.last_output = line.strip()
        if self._on_event is not None and line.strip():
            self._on_event(line)

    def last_output_note(self) -> str:
        return f" (last output: {_one_line(self.last_output, 200)})" if self.last_output else ""
