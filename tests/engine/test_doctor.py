"""paddlectl doctor against the real engine and the locally built Paddle image."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli
from engine.tiny_registry import TinyRegistry
from paddlectl.doctor.fixes import offline_cpu_fix
from paddlectl.errors import ExitCode
from paddlectl.foundation.checkout import CHECKOUT_ROOT

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


def test_doctor_fails_with_the_offline_route_when_the_pinned_image_is_missing(project_dir: Path) -> None:
    absent = "paddlectl-test/absent:0.0.0-never-built"  # no registry has it: not pullable, whatever the network
    (project_dir / "paddlectl.yaml").write_text(f"images:\n  cpu: {absent}\n")
    result = run_cli("doctor", cwd=project_dir)
    assert result.returncode == ExitCode.FAILED
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "error: 1 required check failed: cpu image"
    assert lines[1] == f"hint: bash {CHECKOUT_ROOT / 'scripts' / 'build-paddle-image.sh'} 0.0.0"
    assert lines[-1] == (
        f"hint: then in {project_dir / 'paddlectl.yaml'} change line 2 to `  cpu: paddlectl-test/paddle:0.0.0-cpu`"
    )
    assert f"{absent} is not present locally and cannot be pulled" in result.stdout


# ---- every fix line doctor prints, pasted ------------------------------------------------------------------

# What a person's shell has that a bare test environment may not: an identity for `git commit`.
PASTE_ENV = {
    "GIT_AUTHOR_NAME": "doctor test",
    "GIT_AUTHOR_EMAIL": "doctor@example.invalid",
    "GIT_COMMITTER_NAME": "doctor test",
    "GIT_COMMITTER_EMAIL": "doctor@example.invalid",
}
_BACKTICKED = re.compile(r"^then in (?P<path>\S+) change line (?P<line>\d+) to `(?P<text>[^`]*)`$")


def _doctor(project: Path) -> tuple[int, dict[str, dict[str, Any]], list[str]]:
    """doctor --json's checks by name, and every `fix:` line the human table printed for the same state."""
    document = run_cli("doctor", "--json", cwd=project)
    human = run_cli("doctor", cwd=project)
    assert document.returncode == human.returncode, human.stderr
    printed = [line.split("fix: ", 1)[1] for line in human.stdout.splitlines() if "fix: " in line]
    return document.returncode, checks(json.loads(document.stdout)), printed


def _paste(command: str, elsewhere: Path) -> subprocess.CompletedProcess[str]:
    """Run a fix line as a person pastes it: in a shell, from some other folder."""
    return subprocess.run(
        ["bash", "-c", command],
        cwd=elsewhere,
        env={**os.environ, **PASTE_ENV},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _follow(line: str) -> None:
    """Do what a `then in FILE change line N to `TEXT`` instruction says, exactly as written."""
    match = _BACKTICKED.match(line)
    assert match, f"not an instruction this test knows how to follow: {line}"
    path, number = Path(match["path"]), int(match["line"])
    lines = path.read_text().splitlines()
    lines[number - 1] = match["text"]
    path.write_text("\n".join(lines) + "\n")


def test_every_fix_line_of_an_offline_machine_works_when_pasted(tmp_path: Path, paddle_image: str) -> None:
    """A fresh project on a machine where no registry answers: follow every fix line, then doctor passes.

    The pinned image names a registry on a closed loopback port, so no pull can ever succeed, on any network.
    The local Paddle image exists here, so the fix is to pin it, never to build it again; the build line doctor
    prints where it is absent is pasted too (it ends at once, "already present", since the image is here).
    """
    project, elsewhere = tmp_path / "fresh", tmp_path / "elsewhere"
    elsewhere.mkdir()
    version = paddle_image.rsplit(":", 1)[1].removesuffix("-cpu")
    closed = "127.0.0.1:9/paddlepaddle/paddle"  # port 9 (discard): nothing listens, the pull is refused at once
    init = run_cli("init", "--cpu-image", f"{closed}:{version}", "--gpu-image", f"{closed}:{version}-gpu", str(project))
    assert init.returncode == 0, init.stderr
    code, found, printed = _doctor(project)
    assert code == ExitCode.FAILED
    failing = {name: check for name, check in found.items() if not check["ok"]}
    assert {"cpu image", "git repository"} <= set(failing)
    assert printed == [line for check in failing.values() for line in (check["fix"] or "").splitlines()]
    commands = [command for check in failing.values() for command in check["commands"]]
    assert not any("build-paddle-image.sh" in command for command in commands)
    assert f"({paddle_image} is built here already: pin it)" in failing["cpu image"]["fix"]
    where_absent = offline_cpu_fix(f"{closed}:{version}", project / "paddlectl.yaml", project, lambda _: None)
    assert f"bash {CHECKOUT_ROOT / 'scripts' / 'build-paddle-image.sh'} {version}" in where_absent.commands
    commands += where_absent.commands
    for command in commands:
        pasted = _paste(command, elsewhere)
        assert pasted.returncode == 0, f"{command}\n{pasted.stdout}{pasted.stderr}"
    instructions = [line for line in failing["cpu image"]["fix"].splitlines() if line.startswith("then ")]
    assert instructions == [f"then in {project / 'paddlectl.yaml'} change line 6 to `  cpu: {paddle_image}`"]
    _follow(instructions[0])
    code, found, _ = _doctor(project)
    assert code == 0, found
    assert found["cpu image"]["ok"] and found["git repository"]["ok"]
    assert found["git repository"]["data"]["commit"]  # a first commit: runs record a code version


def test_the_pull_fix_pulls_when_a_registry_has_the_image(tmp_path: Path, tiny_registry: TinyRegistry) -> None:
    reference = tiny_registry.reference(f"paddlectl-doctor-{uuid.uuid4().hex[:8]}/paddle", "3.2.0")
    assert run_cli("init", "--cpu-image", reference, str(tmp_path / "p")).returncode == 0
    try:
        code, found, _ = _doctor(tmp_path / "p")
        assert code == ExitCode.FAILED
        assert "its registry has it" in found["cpu image"]["detail"]
        assert found["cpu image"]["commands"] == [f"docker pull {reference}"]
        pasted = _paste(found["cpu image"]["commands"][0], tmp_path)
        assert pasted.returncode == 0, pasted.stderr
        code, found, _ = _doctor(tmp_path / "p")
        assert code == 0 and found["cpu image"]["ok"]
    finally:
        subprocess.run(["docker", "rmi", reference], capture_output=True, check=False, timeout=60)


def test_the_engine_fix_and_the_init_fix_work_when_pasted(tmp_path: Path, paddle_image: str) -> None:
    """Fix lines doctor prints for states this machine cannot be put in safely (the local engine down, no
    paddlectl.yaml), built by doctor's own code and pasted here, where the engine is up (so ensure-docker.sh
    only confirms it: never a second dockerd)."""
    from paddlectl.doctor.checks import run_checks
    from paddlectl.doctor.fixes import pin_cpu_image
    from paddlectl.errors import UnavailableError
    from paddlectl.project.workspace import open_project

    def down() -> Any:
        raise UnavailableError("connecting: cannot reach the Docker engine at unix:///var/run/docker.sock")

    saved = os.environ.pop("DOCKER_HOST", None)
    try:
        report = run_checks(open_project(tmp_path), down)
    finally:
        if saved is not None:
            os.environ["DOCKER_HOST"] = saved
    (engine,) = [check for check in report.checks if check.name == "docker engine"]
    assert engine.commands == (f"bash {CHECKOUT_ROOT / 'scripts' / 'ensure-docker.sh'}",)
    pasted = _paste(engine.commands[0], tmp_path)
    assert pasted.returncode == 0 and "engine already answering" in pasted.stderr

    bare = tmp_path / "no-config"
    bare.mkdir()
    line, is_command = pin_cpu_image(paddle_image, None, bare)
    assert is_command
    assert _paste(line, tmp_path).returncode == 0
    _, found, _ = _doctor(bare)
    assert found["cpu image"]["ok"], found["cpu image"]
