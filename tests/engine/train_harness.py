"""Helpers for real-engine tests of `paddlectl train`: projects, a CLI under signal control, docker as the oracle.

The oracle is the docker CLI itself (`docker ps -a --filter label=...`), never paddlectl's own engine code.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
RUN_LABEL = "io.paddlectl.run"
PROJECT_LABEL = "io.paddlectl.project"
KIND_LABEL = "io.paddlectl.kind"
CLI_ENV = {"NO_COLOR": "1", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll until `predicate()` is truthy and return its value; fail the test naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def docker(*args: str, check: bool = True, timeout: float = 60) -> str:
    result = subprocess.run(["docker", *args], check=False, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def labelled_containers(key: str, value: str) -> list[str]:
    """Ids of every container (any state) carrying label key=value."""
    return docker("ps", "-a", "-q", "--no-trunc", "--filter", f"label={key}={value}").split()


def container_state(container_id: str) -> str:
    """The container's state (running, exited, ...), or '' once it is gone."""
    result = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Status}}", container_id],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.stdout.strip() if result.returncode == 0 else ""


class TrainProject:
    """A temporary project folder with a paddlectl.yaml pinning the test image and a copy of the test scripts."""

    def __init__(self, root: Path, image: str) -> None:
        self.root = root
        self.name = f"pdctl-t-{uuid.uuid4().hex[:10]}"
        root.mkdir(parents=True, exist_ok=True)
        (root / "paddlectl.yaml").write_text(f"project: {self.name}\nimages:\n  cpu: {image}\n", encoding="utf-8")
        for script in SCRIPTS_DIR.glob("*.py"):
            shutil.copy(script, root / script.name)

    @property
    def runs_dir(self) -> Path:
        return self.root / ".paddlectl" / "runs"

    def run_ids(self) -> list[str]:
        if not self.runs_dir.is_dir():
            return []
        return sorted(p.name for p in self.runs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    def wait_for_run_id(self, timeout: float = 30) -> str:
        ids: list[str] = wait_until(self.run_ids, timeout, f"a run folder in {self.runs_dir}")
        assert len(ids) == 1, f"expected one run, found {ids}"
        return ids[0]

    def manifest(self, run_id: str) -> dict[str, Any]:
        document = yaml.safe_load((self.runs_dir / run_id / "manifest.yaml").read_text(encoding="utf-8"))
        assert isinstance(document, dict)
        return document

    def log(self, run_id: str) -> str:
        return (self.runs_dir / run_id / "output.log").read_text(encoding="utf-8")

    def reconcile(self) -> list[str]:
        """Settle orphaned runs the way every later command does (in this process: the CLI that owned them is gone)."""
        from paddlectl.engine.docker_engine import connect
        from paddlectl.runs.project_runs import ProjectRuns
        from paddlectl.runs.store import RunStore

        return ProjectRuns(RunStore(self.runs_dir), connect).settle_all().changed

    def seed_probe_cache(self, cache: Path | None) -> None:
        """Copy a warm runtime-probe cache in, so the run starts no probe container of its own."""
        if cache is not None and cache.is_dir():
            shutil.copytree(cache, self.root / ".paddlectl" / "runtime-cache", dirs_exist_ok=True)

    def cleanup(self) -> list[str]:
        """Remove any container this project left behind; return their ids (tests assert there are none)."""
        left = labelled_containers(PROJECT_LABEL, self.name)
        if left:
            docker("rm", "-f", *left, check=False)
        return left


class Cli:
    """`python -m paddlectl ...` as a child process, its output in files (a pipe nobody reads could block it)."""

    def __init__(
        self,
        args: Sequence[str],
        cwd: Path,
        *,
        prefix: Sequence[str] = (),
        python: str = sys.executable,
        env: dict[str, str] | None = None,
    ) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="pdctl-cli-"))
        os.chmod(self.folder, 0o755)
        self.stdout_path = self.folder / "stdout"
        self.stderr_path = self.folder / "stderr"
        full_env = {**os.environ, **CLI_ENV, **(env or {})}
        with open(self.stdout_path, "wb") as stdout, open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [*prefix, python, "-m", "paddlectl", *args],
                cwd=cwd,
                env=full_env,
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
            )
        self.pid = self.process.pid

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def describe(self) -> str:
        return f"exit={self.process.poll()}\n--- stdout\n{self.stdout()}\n--- stderr\n{self.stderr()}"

    def wait_for_stdout(self, text: str, timeout: float = 60) -> None:
        """Wait until `text` shows in the CLI's stdout; fail early (with its output) if the CLI exits first."""

        def seen() -> bool:
            if text in self.stdout():
                return True
            if self.process.poll() is not None:
                raise AssertionError(f"the CLI ended before printing {text!r}:\n{self.describe()}")
            return False

        try:
            wait_until(seen, timeout, f"{text!r} in the CLI's stdout")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.describe()}") from None

    def send(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the CLI did not exit within {timeout:.0f}s:\n{self.describe()}") from None

    def close(self) -> None:
        """Kill the CLI if it still runs (a failed test must not leave it) and drop its output files."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)
        shutil.rmtree(self.folder, ignore_errors=True)


def run_train(project: TrainProject, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `paddlectl train ARGS` in the project to its end."""
    return subprocess.run(
        [sys.executable, "-m", "paddlectl", "train", *args],
        cwd=project.root,
        env={**os.environ, **CLI_ENV},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@functools.cache
def warm_probe_cache(image: str) -> Path | None:
    """Run one trivial training once per session and keep its runtime-probe cache for later projects.

    Without it every new project probes the image in a second container (importing Paddle, seconds of CPU),
    which slows the runs under test and, when the CLI is SIGKILLed mid-probe, leaves that container behind.
    """
    holder = Path(tempfile.mkdtemp(prefix="pdctl-warm-"))
    atexit.register(shutil.rmtree, holder, True)
    project = TrainProject(holder / "proj", image)
    result = run_train(project, "hello.py")
    assert result.returncode == 0, f"warm-up run failed:\n{result.stdout}\n{result.stderr}"
    cache = project.root / ".paddlectl" / "runtime-cache"
    return cache if any(cache.glob("*.json")) else None


NON_ROOT_USER = "pdctl-test"


def ensure_docker_user(name: str = NON_ROOT_USER) -> tuple[int, int, Path]:
    """Create (once) a user in the docker group and make sure that group may use the engine's socket (needs root)."""
    import grp
    import pwd

    subprocess.run(["groupadd", "-f", "docker"], check=True)
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-m", "-G", "docker", name], check=True)
    if name not in grp.getgrnam("docker").gr_mem:
        subprocess.run(["usermod", "-aG", "docker", name], check=True)
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://"):
        sock = Path(host[len("unix://") :])
        docker_gid = grp.getgrnam("docker").gr_gid
        info = sock.stat()
        if info.st_gid != docker_gid:
            os.chown(sock, -1, docker_gid)
        if info.st_mode & 0o060 != 0o060:
            os.chmod(sock, info.st_mode | 0o060)
    entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid, Path(entry.pw_dir)


def _as_user(name: str) -> list[str]:
    return ["setpriv", f"--reuid={name}", f"--regid={name}", "--init-groups"]


def _user_can_import(name: str, python: str, env: dict[str, str]) -> bool:
    probe = "import paddlectl.cli.app, paddlectl.engine.docker_engine"
    result = subprocess.run(
        [*_as_user(name), python, "-c", probe],
        capture_output=True,
        cwd="/",
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )
    return result.returncode == 0


def _dependency_closure(root: str) -> list[Any]:
    """paddlectl's installed runtime dependencies (no extras), transitively."""
    from importlib import metadata

    from packaging.requirements import Requirement

    found: dict[str, Any] = {}
    todo = [root]
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found[name] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return [dist for name, dist in found.items() if name != root]


@functools.cache
def python_for_user(name: str = NON_ROOT_USER) -> tuple[str, dict[str, str]]:
    """A python and environment with which `name` can run paddlectl.

    This interpreter is used when the user can run it; when it lives somewhere the user cannot read (a pyenv under
    /root), paddlectl and its dependencies are copied to a readable folder for the system python of the same
    version (compiled extensions of cp3XX wheels load in any 3.XX).
    """
    if _user_can_import(name, sys.executable, {}):
        return sys.executable, {}
    system_python = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    if not Path(system_python).is_file():
        raise AssertionError(f"{name} cannot run {sys.executable} and there is no {system_python}")
    import paddlectl

    site = Path(tempfile.mkdtemp(prefix="pdctl-site-"))
    atexit.register(shutil.rmtree, site, True)
    site.chmod(0o755)
    shutil.copytree(
        Path(paddlectl.__file__).parent,
        site / "paddlectl",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*.tmp"),
    )
    for dist in _dependency_closure("paddlectl"):
        base = Path(dist.locate_file(""))
        for file in dist.files or []:
            if str(file).startswith(".."):
                continue
            source = base / file
            if source.is_file() and "__pycache__" not in file.parts:
                target = site / file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, target)
    for folder, dirs, _ in os.walk(site):
        for entry in dirs:
            os.chmod(os.path.join(folder, entry), 0o755)
    env = {"PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"}
    if not _user_can_import(name, system_python, env):
        raise AssertionError(f"{name} cannot import paddlectl from the copy in {site}")
    return system_python, env


def as_user_prefix(name: str = NON_ROOT_USER) -> list[str]:
    return _as_user(name)
