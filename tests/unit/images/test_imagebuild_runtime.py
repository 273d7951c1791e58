"""The pieces around image builds: the dev container's spec and lifecycle, the in-build package check, and how
build output and build errors reach the user."""

from __future__ import annotations

import ast
import json
import os
import socket
import stat
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from fakes import FakeEngine, image_info
from paddlectl.engine.docker_engine import DockerEngine
from paddlectl.errors import ExitCode, PaddlectlError, UnavailableError, UsageError
from paddlectl.foundation.yamlio import dump_yaml
from paddlectl.images.dev_session import DEV_LABEL, DevSessions, dev_spec
from paddlectl.images.records import BuiltImage, ImageStore
from paddlectl.packaging import PackageRequest, build_package
from paddlectl.project.workspace import open_project
from unit.packaging.test_packaging_fakes import crafted_package, make_export, member, write_tar

VERIFY = Path(__file__).resolve().parents[3] / "src" / "paddlectl" / "incontainer" / "verify_package.py"
DEV_TAG = "proj/paddle-dev:3.2.0-0123456789ab"


@pytest.fixture
def project_root(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "paddlectl.yaml").write_text(dump_yaml({"project": "proj", "train": {"shm_size": "1g"}}))
    return root


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine(images={DEV_TAG: image_info(DEV_TAG)})


def built(tag: str, built_at: str, role: str = "dev") -> BuiltImage:
    return BuiltImage(
        role=role,
        tag=tag,
        id="sha256:" + "1" * 64,
        digest=None,
        size=1,
        inputs={},
        inputs_hash="0" * 64,
        built_at=built_at,
    )


# ---------------------------------------------------------------- paddlectl dev


def test_dev_spec_runs_jupyter_as_the_user_on_loopback_only(project_root: Path) -> None:
    spec = dev_spec(open_project(project_root), DEV_TAG, 41234, "tok", 1001, 1002)
    assert spec.ports == {"8888/tcp": ("127.0.0.1", 41234)}
    assert spec.user == "1001:1002" and spec.init and spec.shm_size == "1g"
    assert [(m.source, m.target, m.read_only) for m in spec.mounts] == [(str(project_root), "/workspace", False)]
    assert spec.labels[DEV_LABEL] == "proj" and spec.working_dir == "/workspace"
    assert spec.command[:2] == ["jupyter", "lab"] and "--IdentityProvider.token=tok" in spec.command
    assert "--allow-root" not in spec.command and spec.environment["HOME"] == "/tmp"
    assert "--allow-root" in dev_spec(open_project(project_root), DEV_TAG, 1, "t", 0, 0).command


def test_dev_starts_once_records_the_session_privately_and_stops(project_root: Path, engine: FakeEngine) -> None:
    sessions = DevSessions(engine, open_project(project_root))
    first = sessions.start(DEV_TAG, None, wait_seconds=0)
    assert len(first.token) == 48 and first.url == f"http://127.0.0.1:{first.port}/lab?token={first.token}"
    [container] = engine.created
    assert container.status == "running" and container.spec.ports["8888/tcp"] == ("127.0.0.1", first.port)
    saved = project_root / ".paddlectl" / "dev.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600, "the token is a secret"
    assert json.loads(saved.read_text())["token"] == first.token
    again = sessions.start(None, None, wait_seconds=0)
    assert again.reused and (again.url, again.container_id) == (first.url, first.container_id)
    assert len(engine.created) == 1
    with pytest.raises(UsageError, match="already running"):
        sessions.start("other/paddle-dev:1-x", None, wait_seconds=0)
    assert sessions.stop() == [container.id]
    assert container.removed and container.stopped_with == 10 and not saved.exists()
    assert sessions.stop() == []


def test_dev_removes_an_exited_container_before_starting_anew(project_root: Path, engine: FakeEngine) -> None:
    sessions = DevSessions(engine, open_project(project_root))
    old = sessions.start(DEV_TAG, None, wait_seconds=0)
    engine.live[old.container_id].status = "exited"
    new = sessions.start(DEV_TAG, None, wait_seconds=0)
    assert new.container_id != old.container_id and not new.reused
    assert engine.created[0].removed and not engine.created[1].removed


def test_dev_defaults_to_the_newest_present_dev_image(project_root: Path, engine: FakeEngine) -> None:
    store = ImageStore(project_root / ".paddlectl")
    store.record(built(DEV_TAG, "2026-01-01T00:00:00Z"))
    store.record(built("proj/paddle-dev:3.2.0-gone00000000", "2026-02-01T00:00:00Z"))  # newer, but deleted
    store.record(built("proj/paddle-base:3.2.0-aaaaaaaaaaaa", "2026-03-01T00:00:00Z", role="base"))
    session = DevSessions(engine, open_project(project_root)).start(None, None, wait_seconds=0)
    assert session.image == DEV_TAG


def test_dev_without_any_dev_image_says_how_to_build_one(project_root: Path) -> None:
    with pytest.raises(UsageError) as caught:
        DevSessions(FakeEngine(), open_project(project_root)).start(None, None, wait_seconds=0)
    assert "paddlectl image build dev" in (caught.value.hint or "")
    with pytest.raises(UnavailableError):
        DevSessions(FakeEngine(), open_project(project_root)).start("proj/paddle-dev:1-x", None, wait_seconds=0)


def test_dev_refuses_a_busy_port(project_root: Path, engine: FakeEngine) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(UsageError, match=f"port {port} on 127.0.0.1 is in use"):
            DevSessions(engine, open_project(project_root)).start(DEV_TAG, port, wait_seconds=0)
    assert engine.created == []


def test_dev_reports_jupyter_exiting_early(project_root: Path, engine: FakeEngine) -> None:
    engine.script = [b"[C 12:00:00 ServerApp] Running as root is not recommended.\n"]
    engine.exit_code = 1
    sessions = DevSessions(engine, open_project(project_root))
    original = engine.start

    def start_then_exit(container: Any) -> None:
        original(container)
        container.status = "exited"

    engine.start = start_then_exit  # type: ignore[method-assign]
    with pytest.raises(PaddlectlError) as caught:
        sessions.start(DEV_TAG, None, wait_seconds=5)
    assert "exited (code 1)" in caught.value.message and "Running as root" in caught.value.message


# ---------------------------------------------------------------- the in-build package check (stdlib only)


def verify(package: Path, dest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFY), str(package), str(dest)], capture_output=True, text=True, check=False, timeout=60
    )


def test_a_real_package_verifies_and_extracts(tmp_path: Path) -> None:
    export = make_export(tmp_path / "proj")
    package = build_package(PackageRequest(export_dir=export, name="digits", version="1.0.0", output_dir=tmp_path)).path
    result = verify(package, tmp_path / "model")
    assert result.returncode == 0, result.stderr
    assert "5 files match SHA256SUMS" in result.stdout
    extracted = sorted(p.name for p in (tmp_path / "model").iterdir())
    assert extracted == ["MODEL.yaml", "RUN.yaml", "SHA256SUMS", "model.json", "model.pdiparams"]
    assert (tmp_path / "model" / "model.pdiparams").read_bytes() == (export / "model.pdiparams").read_bytes()


def test_a_flipped_byte_fails_naming_the_file_and_extracts_nothing(tmp_path: Path) -> None:
    package = crafted_package(tmp_path / "m.tar")
    with tarfile.open(package) as archive:
        offset = archive.getmember("model.pdiparams").offset_data
    data = bytearray(package.read_bytes())
    data[offset + 10] ^= 1
    package.write_bytes(bytes(data))
    result = verify(package, tmp_path / "model")
    assert result.returncode == 1
    assert "model.pdiparams: checksum mismatch" in result.stderr
    assert not (tmp_path / "model").exists() and not (tmp_path / "model.partial").exists()


@pytest.mark.parametrize(
    ("extra", "list_extra", "says"),
    [
        ([member("link", kind=tarfile.SYMTYPE, linkname="/etc/passwd")], True, "link: not a regular file"),
        ([member("../evil", b"x")], True, "not a plain file name"),
        ([member("sub/file", b"x")], True, "not a plain file name"),
        ([member("extra.bin", b"x")], False, "extra.bin: not listed in SHA256SUMS"),
        ([member("dev", kind=tarfile.CHRTYPE)], True, "dev: not a regular file"),
    ],
)
def test_unsafe_or_unlisted_members_are_refused(tmp_path: Path, extra: list[Any], list_extra: bool, says: str) -> None:
    package = crafted_package(tmp_path / "m.tar", extra, list_extra=list_extra)
    result = verify(package, tmp_path / "model")
    assert result.returncode == 1 and says in result.stderr, result.stderr
    assert not (tmp_path / "model").exists()
    assert not (tmp_path.parent / "evil").exists()


def test_a_package_without_sums_or_card_is_refused(tmp_path: Path) -> None:
    package = write_tar(tmp_path / "m.tar", [member("model.json", b"{}")])
    result = verify(package, tmp_path / "model")
    assert result.returncode == 1
    assert "SHA256SUMS: missing" in result.stderr and "MODEL.yaml: missing" in result.stderr


@pytest.mark.parametrize("script", [VERIFY, VERIFY.with_name("serve.py")], ids=lambda path: path.name)
def test_in_image_scripts_parse_as_python_3_8(script: Path) -> None:
    ast.parse(script.read_text(), str(script), feature_version=(3, 8))


# ---------------------------------------------------------------- build output and errors through docker-py


class FakeApi:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.kwargs: dict[str, Any] = {}

    def build(self, **kwargs: Any) -> Any:
        self.kwargs = kwargs
        return iter(self.events)


class FakeImage:
    def __init__(self, reference: str) -> None:
        self.id = "sha256:" + "e" * 64
        self.tags = [reference]
        self.attrs = {
            "Size": 42,
            "Created": "2026-01-01T00:00:00Z",
            "RepoDigests": [],
            "Config": {"Labels": {"io.paddlectl.role": "base"}},
        }


class FakeImages:
    def get(self, reference: str) -> FakeImage:
        return FakeImage(reference)


class FakeClient:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.api = FakeApi(events)
        self.images = FakeImages()


def test_build_streams_whole_lines_and_never_pulls(tmp_path: Path) -> None:
    events = [
        {"stream": "Step 1/3 : FROM x\n"},
        {"stream": " ---> abc\n"},
        {"stream": "Step 2/3 : RUN pip"},
        {"stream": " install\nCollecting a\r"},
        {"stream": "Progress 50%\rProgress 100%\n"},
        {"stream": "\x1b[91mwarning: colour\n\x1b[0m"},
        {"aux": {"ID": "sha256:" + "e" * 64}},
    ]
    client = FakeClient(events)
    lines: list[str] = []
    info = DockerEngine(client).build(tmp_path, "Dockerfile.base", "p/x:1", {"A": "1"}, {"l": "v"}, lines.append)
    assert info.size == 42 and info.labels == {"io.paddlectl.role": "base"}
    # a carriage return rewrites its line (pip's progress bars): only the last state is a line
    assert lines == ["Step 1/3 : FROM x", " ---> abc", "Step 2/3 : RUN pip install", "Progress 100%", "warning: colour"]
    kwargs = client.api.kwargs
    assert kwargs["pull"] is False and kwargs["timeout"] is None and kwargs["decode"] is True
    assert (kwargs["path"], kwargs["dockerfile"], kwargs["tag"]) == (str(tmp_path), "Dockerfile.base", "p/x:1")
    assert kwargs["buildargs"] == {"A": "1"} and kwargs["labels"] == {"l": "v"} and kwargs["rm"] is True


def test_a_failing_step_is_one_line_naming_step_and_last_output(tmp_path: Path) -> None:
    command = "/bin/sh -c python3 -m pip install --no-index -r /tmp/x.lock"
    events = [
        {"stream": "Step 5/9 : RUN python3 -m pip install --no-index " + "-r /tmp/x.lock " * 10 + "\n"},
        {"stream": " ---> Running in 123\n"},
        {"stream": "\x1b[91mERROR: THESE PACKAGES DO NOT MATCH THE HASHES\n\x1b[0m"},
        {"stream": "Removing intermediate container 123\n"},
        {"error": f"The command '{command}' returned a non-zero code: 1", "errorDetail": {"code": 1, "message": "..."}},
    ]
    with pytest.raises(PaddlectlError) as caught:
        DockerEngine(FakeClient(events)).build(tmp_path, "Dockerfile.base", "p/x:1", {}, {}, None)
    message = caught.value.message
    assert "\n" not in message and len(message) < 400
    assert message.startswith("building p/x:1 failed at step 5/9 (RUN python3 -m pip install")
    assert "the command returned a non-zero code: 1" in message
    assert message.endswith("(last output: ERROR: THESE PACKAGES DO NOT MATCH THE HASHES)")
    assert caught.value.code == ExitCode.FAILED and caught.value.hint


def test_the_dev_session_file_is_written_atomically(project_root: Path, engine: FakeEngine) -> None:
    DevSessions(engine, open_project(project_root)).start(DEV_TAG, None, wait_seconds=0)
    names = sorted(os.listdir(project_root / ".paddlectl"))
    assert names == ["dev.json"]
