"""One remote site per session (tests/remote/remote_site.py), shared by every remote test; projects that use it."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import IN_CI
from engine.train_harness import SCRIPTS_DIR
from remote.remote_site import RemoteSite, run_cli

REQUIRED_TOOLS = ("dockerd", "unshare", "nsenter", "sshd", "ssh-keygen", "socat", "docker")


@pytest.fixture(scope="session")
def remote(paddle_image: str) -> Iterator[RemoteSite]:
    """The remote engine (the Paddle image loaded), its sshd and TLS endpoint; stopped at the session's end."""
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()]
    if os.geteuid() != 0 or missing:
        message = f"the remote site needs root and {', '.join(missing) or 'nothing more'}"
        if IN_CI:
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    site = RemoteSite(paddle_image)
    try:
        site.start()
        print(f"\nremote site: image loaded in {site.image_load_seconds:.1f} s (0: kept from an earlier session)")
        yield site
    finally:
        site.stop()


class RemoteProject:
    """A project (a git repository) whose paddlectl.yaml names the remote site's hosts; the test scripts copied in."""

    def __init__(self, root: Path, site: RemoteSite, image: str) -> None:
        self.root = root
        self.site = site
        self.name = f"pdctl-r-{uuid.uuid4().hex[:10]}"
        root.mkdir(parents=True)
        (root / "paddlectl.yaml").write_text(
            f"project: {self.name}\nimages:\n  cpu: {image}\n{site.hosts_yaml()}", encoding="utf-8"
        )
        for script in SCRIPTS_DIR.glob("*.py"):
            shutil.copy(script, root / script.name)
        self.git("init", "-q")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", "project")

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=self.root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def cli(self, *args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
        return run_cli(self.site, *args, cwd=self.root, env=env, timeout=timeout)

    @property
    def runs_dir(self) -> Path:
        return self.root / ".paddlectl" / "runs"

    def run_ids(self) -> list[str]:
        if not self.runs_dir.is_dir():
            return []
        return sorted(p.name for p in self.runs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    def manifest(self, run_id: str) -> dict[str, object]:
        import yaml

        document = yaml.safe_load((self.runs_dir / run_id / "manifest.yaml").read_text(encoding="utf-8"))
        assert isinstance(document, dict)
        return document

    def left(self) -> list[str]:
        """Containers of this project still on the remote engine."""
        return self.site.containers(f"label=io.paddlectl.project={self.name}")


@pytest.fixture
def remote_project(tmp_path: Path, remote: RemoteSite, paddle_image: str) -> Iterator[RemoteProject]:
    project = RemoteProject(tmp_path / "proj", remote, paddle_image)
    seed = remote.root / "runtime-cache"
    if seed.is_dir():  # probed once per session and host: later projects start no probe container
        shutil.copytree(seed, project.root / ".paddlectl" / "runtime-cache", dirs_exist_ok=True)
    remote.trust_host_key()
    yield project
    left = project.left()
    if left:
        remote.engine.docker("rm", "-f", *left)
    assert not left, f"containers left on the remote engine by the test: {left}"


def keep_probe_cache(project: RemoteProject) -> None:
    """After a project's first remote run: keep its runtime-probe results for the session's later projects."""
    cache = project.root / ".paddlectl" / "runtime-cache"
    if cache.is_dir():
        shutil.copytree(cache, project.site.root / "runtime-cache", dirs_exist_ok=True)
