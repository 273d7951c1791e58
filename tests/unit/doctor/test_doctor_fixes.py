"""doctor's fix lines against a fake engine: which route it offers, and that each line says exactly what to do."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fakes import FakeEngine, image_info
from paddlectl.doctor.checks import Check, run_checks
from paddlectl.doctor.fixes import pin_cpu_image
from paddlectl.errors import UnavailableError
from paddlectl.foundation.checkout import CHECKOUT_ROOT
from paddlectl.project.create import init_project
from paddlectl.project.workspace import open_project

BUILD = CHECKOUT_ROOT / "scripts" / "build-paddle-image.sh"
ENSURE = CHECKOUT_ROOT / "scripts" / "ensure-docker.sh"


def _checks(root: Path, engine: FakeEngine) -> dict[str, Check]:
    report = run_checks(open_project(root), lambda: engine)  # type: ignore[arg-type,return-value]
    return {check.name: check for check in report.checks}


def test_an_absent_image_that_no_registry_has_gets_the_offline_route(tmp_path: Path) -> None:
    init_project(tmp_path, force=False)
    check = _checks(tmp_path, FakeEngine())["cpu image"]
    assert not check.ok
    assert "cannot be pulled" in check.detail
    assert check.fix is not None
    lines = check.fix.splitlines()
    assert lines[0] == f"bash {BUILD} 3.2.0"  # the version the pinned tag names, never a word like 'offline'
    assert (
        lines[-1] == f"then in {tmp_path / 'paddlectl.yaml'} change line 6 to `  cpu: paddlectl-test/paddle:3.2.0-cpu`"
    )
    assert (tmp_path / "paddlectl.yaml").read_text().splitlines()[5] == "  cpu: paddlepaddle/paddle:3.2.0"
    assert check.commands == (lines[0],)


def test_a_local_image_built_already_is_only_pinned_never_built_again(tmp_path: Path) -> None:
    init_project(tmp_path, force=False)  # pins paddlepaddle/paddle:3.2.0, which no registry gives here
    local = "paddlectl-test/paddle:3.2.0-cpu"
    check = _checks(tmp_path, FakeEngine(images={local: image_info(local)}))["cpu image"]
    assert check.fix is not None and "build-paddle-image" not in check.fix
    assert check.fix.splitlines() == [
        f"({local} is built here already: pin it)",
        f"then in {tmp_path / 'paddlectl.yaml'} change line 6 to `  cpu: {local}`",
    ]
    assert check.commands == ()


def test_an_absent_image_the_registry_has_is_pulled(tmp_path: Path) -> None:
    init_project(tmp_path, force=False, cpu_image="paddlepaddle/paddle:3.1.0")
    check = _checks(tmp_path, FakeEngine(in_registry={"paddlepaddle/paddle:3.1.0"}))["cpu image"]
    assert check.commands == ("docker pull paddlepaddle/paddle:3.1.0",)
    assert "registry has it" in check.detail


def test_the_local_image_itself_absent_needs_only_the_build(tmp_path: Path) -> None:
    init_project(tmp_path, force=False, cpu_image="paddlectl-test/paddle:3.1.0-cpu")
    check = _checks(tmp_path, FakeEngine())["cpu image"]
    assert check.commands == (f"bash {BUILD} 3.1.0",)
    assert "then" not in str(check.fix)


def test_a_present_image_has_no_fix(tmp_path: Path) -> None:
    init_project(tmp_path, force=False, cpu_image="paddlectl-test/paddle:3.2.0-cpu")
    engine = FakeEngine(images={"paddlectl-test/paddle:3.2.0-cpu": image_info("paddlectl-test/paddle:3.2.0-cpu")})
    check = _checks(tmp_path, engine)["cpu image"]
    assert check.ok and check.fix is None


def test_the_local_engine_down_offers_the_checkout_s_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)

    def down() -> FakeEngine:
        raise UnavailableError("connecting: cannot reach the Docker engine at unix:///var/run/docker.sock", hint="x")

    report = run_checks(open_project(tmp_path), down)  # type: ignore[arg-type]
    engine = next(check for check in report.checks if check.name == "docker engine")
    assert engine.commands == (f"bash {ENSURE}",)
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2376")
    report = run_checks(open_project(tmp_path), down)  # type: ignore[arg-type]
    engine = next(check for check in report.checks if check.name == "docker engine")
    assert engine.commands == () and "DOCKER_HOST=tcp://10.0.0.1:2376" in str(engine.fix)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (None, "paddlectl init --cpu-image local/paddle:1.0-cpu {root}"),
        ("project: x\n", "then add this line to {path}: `images: {{cpu: local/paddle:1.0-cpu}}`"),
        (
            "images:\n    gpu: a/b:1.0\ntrain: {}\n",
            "then in {path} add `    cpu: local/paddle:1.0-cpu` after line 1 (images:)",
        ),
        ("images:  # pinned\n  cpu: a/b:1.0  # old\n", "then in {path} change line 2 to `  cpu: local/paddle:1.0-cpu`"),
        ("images: {cpu: a/b:1.0}\n", "then in {path} set images.cpu to local/paddle:1.0-cpu"),
    ],
)
def test_the_pinning_line_fits_the_file(tmp_path: Path, config: str | None, expected: str) -> None:
    path = tmp_path / "paddlectl.yaml"
    if config is not None:
        path.write_text(config)
    line, is_command = pin_cpu_image("local/paddle:1.0-cpu", path, tmp_path)
    assert line == expected.format(root=tmp_path, path=path)
    assert is_command is (config is None)


def test_the_build_script_refuses_what_is_not_a_version(tmp_path: Path) -> None:
    """The old hint `build-paddle-image.sh offline` tried to install paddlepaddle==offline."""
    result = subprocess.run(["bash", str(BUILD), "offline"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "'offline' is not a PaddlePaddle version such as 3.2.0" in result.stderr
    usage = subprocess.run(["bash", str(BUILD), "--help"], capture_output=True, text=True, check=False)
    assert usage.returncode == 0 and usage.stdout.startswith(
        "Usage: build-paddle-image.sh [--dry-run] [PADDLE_VERSION]"
    )
