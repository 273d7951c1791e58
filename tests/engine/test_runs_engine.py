"""`runs gc` and `runs stop` against the real Docker engine: labelled containers found, stopped and removed."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import run_cli
from paddlectl.foundation.names import store_value
from paddlectl.runs.manifest import RunStatus
from tests.unit.runs.runs_factory import make_run

pytestmark = pytest.mark.engine


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=60).stdout.strip()


def _state(container_id: str) -> str | None:
    result = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Status}}", container_id],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


@pytest.fixture
def containers(paddle_image: str) -> Iterator[list[str]]:
    """Start `sleep 60` containers with paddlectl's labels; whatever the test leaves is removed."""
    started: list[str] = []
    yield started
    if started:
        subprocess.run(["docker", "rm", "-f", *started], capture_output=True, timeout=60, check=False)


def _start(started: list[str], image: str, project: str, run_id: str, *labels: str) -> str:
    container_id = _docker(
        "run",
        "-d",
        "--init",
        "--label",
        f"io.paddlectl.run={run_id}",
        "--label",
        f"io.paddlectl.project={project}",
        *(item for label in labels for item in ("--label", label)),
        image,
        "sleep",
        "60",
    )
    started.append(container_id)
    return container_id


def test_gc_removes_orphans_and_stop_stops_a_run(tmp_path: Path, containers: list[str], paddle_image: str) -> None:
    project = tmp_path / "gcproj"
    ended = make_run(project, minutes=1)
    running = make_run(project, minutes=2, status=RunStatus.RUNNING)
    ours = f"io.paddlectl.store={store_value(project / '.paddlectl')}"
    of_gone = _start(containers, paddle_image, project.name, "20261101-000000-000deadbe", ours)
    of_ended = _start(containers, paddle_image, project.name, ended.run_id)
    of_running = _start(containers, paddle_image, project.name, running.run_id)
    of_other = _start(containers, paddle_image, "another-project", "20261101-000000-000deadbe")
    # A project of the same name elsewhere (two copies of one example): its live run is not ours to judge.
    namesake_store = f"io.paddlectl.store={store_value(tmp_path / 'elsewhere' / 'gcproj' / '.paddlectl')}"
    of_namesake = _start(containers, paddle_image, project.name, "20261101-000000-000a11ve0", namesake_store)
    # One made before store labels whose run folder is not here: it may be a namesake's, so it stays.
    of_unlabelled = _start(containers, paddle_image, project.name, "20261101-000000-000a11ve1")

    dry = run_cli("runs", "gc", "--dry-run", "--json", cwd=project)
    assert dry.returncode == 0, dry.stderr
    assert {c["id"] for c in json.loads(dry.stdout)["containers"]} == {of_gone, of_ended}
    assert _state(of_gone) == "running"

    result = run_cli("runs", "gc", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    removed = {c["id"]: c["why"] for c in json.loads(result.stdout)["containers"]}
    assert removed == {of_gone: "run folder gone", of_ended: "run succeeded"}
    assert _state(of_gone) is None and _state(of_ended) is None
    assert _state(of_running) == "running" and _state(of_other) == "running"  # a live run, another project
    assert _state(of_namesake) == "running" and _state(of_unlabelled) == "running"

    stop = run_cli("runs", "stop", running.run_id, "--grace", "2", "--json", cwd=project)
    assert stop.returncode == 0, stop.stderr
    assert json.loads(stop.stdout)["stopped"] == [of_running]
    assert _state(of_running) in ("exited", None)  # None: reconciliation may already have removed it

    # The next listing reconciles the run: its container exited, so it is no longer marked running.
    listing = run_cli("runs", "list", "--json", cwd=project)
    assert listing.returncode == 0, listing.stderr
    status = {row["id"]: row["status"] for row in json.loads(listing.stdout)}
    assert status[running.run_id] != "running"
