"""Fixtures for the registry tests: an isolated registry, packages built by the real packaging code, two signing
keys, and one real S3-compatible server (SeaweedFS) on 127.0.0.1 for the whole session."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from paddlectl.foundation.yamlio import dump_yaml
from paddlectl.packaging import PackageRequest, build_package, generate_keypair
from paddlectl.registry import hooks
from paddlectl.registry.store import Registry, open_registry
from s3_server import S3Server
from unit.packaging.test_packaging_fakes import make_export


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
