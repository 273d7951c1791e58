"""paddlectl doctor against the real engine and the locally built Paddle image."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli
from paddlectl.errors import ExitCode

# The image checks need the local Paddle image (conftest skips, or under CI fails, when it is missing).
pytestmark = [pytest.mark.engine, pytest.mark.paddle]


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, paddle_image: str) -> tuple[int, dict[str, Any], str]:
    """One `doctor --json` in a project that pins images.cpu to the local Paddle image."""
    project = tmp_path_factory.mktemp("doctor") / "proj"
    project.mkdir()
    init = run_cli("init", "--cpu-image", paddle_image, cwd=project)
    assert init.returncode == 0, init.stderr
    result = run_cli("doctor", "--json", cwd=project)
    return result.returncode, json.loads(result.stdout), result.stderr


def checks(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in document["checks"]}


def test_doctor_passes_when_the_pinned_cpu_image_is_present(report: tuple[int, dict[str, Any], str]) -> None:
    code, document, stderr = report
    assert code == 0, stderr
    assert document["ok"] is True
    assert "error:" not in stderr


def test_doctor_reports_the_engine_version(report: tuple[int, dict[str, Any], str]) -> None:
    engine = checks(report[1])["docker engine"]
    assert engine["ok"] is True
    assert engine["data"]["version"] == docker("version", "--format", "{{.Server.Version}}")
    assert engine["data"]["storage_driver"] == docker("info", "--format", "{{.Driver}}")


def test_doctor_reports_the_local_image_and_its_id(report: tuple[int, dict[str, Any], str], paddle_image: str) -> None:
    image = checks(report[1])["cpu image"]
    assert image["ok"] is True and image["required"] is True
    assert image["data"]["reference"] == paddle_image
    assert image["data"]["id"] == docker("image", "inspect", "--format", "{{.Id}}", paddle_image)
    digests = json.loads(docker("image", "inspect", "--format", "{{json .RepoDigests}}", paddle_image)) or []
    assert image["data"]["digest"] == (digests[0].split("@", 1)[1] if digests else None)
    assert image["data"]["id"][7:19] in image["detail"]


def test_doctor_fails_with_one_line_when_the_pinned_image_is_missing(project_dir: Path) -> None:
    absent = "paddlectl-test/absent:0.0.0-never-built"
    (project_dir / "paddlectl.yaml").write_text(f"images:\n  cpu: {absent}\n")
    result = run_cli("doctor", cwd=project_dir)
    assert result.returncode == ExitCode.FAILED
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "error: 1 required check failed: cpu image",
        f"hint: docker pull {absent} (or paddlectl train --pull; bash scripts/build-paddle-image.sh offline)",
    ]
    assert f"{absent} is not present locally" in result.stdout
