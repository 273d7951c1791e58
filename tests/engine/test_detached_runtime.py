"""A detached run records its runtime from the probe started beside it; listing settles it and starts nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engine.train_harness import (
    CLI_ENV,
    KIND_LABEL,
    PROJECT_LABEL,
    TrainProject,
    container_state,
    docker,
    labelled_containers,
    run_train,
    wait_until,
)

pytestmark = pytest.mark.engine


def test_a_detached_run_gets_its_runtime_and_listing_creates_no_container(tmp_path: Path, paddle_image: str) -> None:
    project = TrainProject(tmp_path / "cold", paddle_image)  # no probe cache: the image is probed for this run
    try:
        result = run_train(project, "--detach", "--quiet", "hello.py", timeout=120)
        assert result.returncode == 0, result.stderr
        run_id = result.stdout.strip()
        [probe] = labelled_containers("io.paddlectl.for-run", run_id)
        labels = json.loads(docker("inspect", "-f", "{{json .Config.Labels}}", probe))
        assert (labels[KIND_LABEL], labels[PROJECT_LABEL]) == ("probe", project.name)
        [run_container] = labelled_containers("io.paddlectl.run", run_id)
        wait_until(lambda: container_state(run_container) == "exited", 120, "the detached run to end")
        wait_until(lambda: container_state(probe) == "exited", 120, "its probe to answer")

        since = time.time()
        listing = subprocess.run(
            [sys.executable, "-m", "paddlectl", "runs", "list", "--json"],
            cwd=project.root,
            env={**os.environ, **CLI_ENV},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        until = time.time()
        assert listing.returncode == 0, listing.stderr

        created = docker(
            *("events", "--since", f"{since:.3f}", "--until", f"{until + 1:.3f}", "--format", "{{.Actor.ID}}"),
            *("--filter", "type=container", "--filter", "event=create"),
            *("--filter", f"label={PROJECT_LABEL}={project.name}"),
        ).split()
        assert created == [], "listing settled the run without starting a container"
        manifest = project.manifest(run_id)
        assert manifest["status"] == "succeeded", manifest.get("reason")
        assert manifest["runtime"]["paddle_version"] == "3.2.0", manifest["runtime"]
        assert manifest["runtime"].get("probe_error") is None
        assert labelled_containers("io.paddlectl.for-run", run_id) == [], "settling removed the probe it read"
    finally:
        for container in labelled_containers(PROJECT_LABEL, project.name):
            docker("rm", "-f", container, check=False)
        project.cleanup()
