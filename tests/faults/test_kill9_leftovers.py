"""kill -9 of the CLI in the middle of an export, a runtime probe and an image build: what each leaves behind is
labelled, `runs gc --dry-run` names it, and `runs gc` removes it (checked with the docker CLI).

Each kill lands at a moment chosen on purpose: the export and the probe are held at their start
(PADDLECTL_TEST_PAUSE_AT), the build is killed once its long step is running.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import uuid
from pathlib import Path

import pytest

from conftest import REPO_ROOT, run_cli
from engine.train_harness import Cli, TrainProject, docker, labelled_containers, run_train, wait_until
from paddlectl.engine.docker_engine import connect
from paddlectl.engine.oneshot import run_oneshot
from paddlectl.engine.protocol import ContainerSpec, Mount

pytestmark = [pytest.mark.engine, pytest.mark.paddle, pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parents[1] / "engine" / "fixtures"


def owned_by(cli: Cli) -> list[str]:
    return labelled_containers("io.paddlectl.owner", f"{socket.gethostname()}:{cli.pid}")


def gc(project: TrainProject) -> tuple[dict[str, object], dict[str, object]]:
    dry = run_cli("runs", "gc", "--dry-run", "--json", cwd=project.root)
    assert dry.returncode == 0, dry.stderr
    done = run_cli("runs", "gc", "--json", cwd=project.root)
    assert done.returncode == 0, done.stderr
    return json.loads(dry.stdout), json.loads(done.stdout)


def kill9(cli: Cli) -> None:
    cli.send(signal.SIGKILL)
    assert cli.wait(10) == -signal.SIGKILL


def test_kill9_during_an_export_leaves_a_container_gc_removes(tmp_path: Path, paddle_image: str) -> None:
    project = TrainProject(tmp_path / "proj", paddle_image)
    for name in ("convnet.py", "make_weights.py"):
        shutil.copy(FIXTURES / name, project.root / name)
    made = run_oneshot(
        connect(),
        ContainerSpec(
            image=paddle_image,
            command=["python3", "-W", "ignore", "make_weights.py", "/w"],
            mounts=[Mount(str(project.root), "/w")],
            working_dir="/w",
            user=f"{os.getuid()}:{os.getgid()}",
            environment={"HOME": "/tmp", "GLOG_minloglevel": "2"},
            network_mode="none",
        ),
        "export",
        timeout=300,
        project=project.name,  # only this project's CLIs may reap it (pytest's pid is no paddlectl owner)
    )
    assert made.exit_code == 0, made.output
    assert run_train(project, "hello.py").returncode == 0
    [run_id] = project.run_ids()
    shutil.copy(project.root / "model.pdparams", project.runs_dir / run_id / "outputs" / "model.pdparams")
    args = ["export", run_id, "--model", "convnet:build_model", "--model-arg", "num_classes=10"]
    cli = Cli([*args, "--input", "x:float32:-1,1,8,8"], project.root, env={"PADDLECTL_TEST_PAUSE_AT": "export-started"})
    try:
        wait_until(lambda: "paused at export-started" in cli.stderr(), 60, "the export to be held at its start")
        left = owned_by(cli)
        assert len(left) == 1
        kill9(cli)
        assert owned_by(cli) == left, "nobody else removes the export container"
        dry, done = gc(project)
        assert [(c["kind"], c["id"]) for c in dry["containers"]] == [("export", left[0])]  # type: ignore[index]
        assert owned_by(cli) == [] and labelled_containers("io.paddlectl.for-run", run_id) == []
        assert [c["id"] for c in done["containers"]] == left  # type: ignore[index]
    finally:
        cli.close()
        if owned_by(cli):
            docker("rm", "-f", *owned_by(cli), check=False)


def test_kill9_during_the_first_probe_leaves_a_probe_gc_removes(tmp_path: Path, paddle_image: str) -> None:
    project = TrainProject(tmp_path / "cold", paddle_image)  # no probe cache: the run probes its image
    cli = Cli(["train", "hello.py"], project.root, env={"PADDLECTL_TEST_PAUSE_AT": "probe-started"})
    try:
        wait_until(lambda: "paused at probe-started" in cli.stderr(), 60, "the probe to be held at its start")
        left = owned_by(cli)
        assert len(left) == 1
        kill9(cli)
        dry, _ = gc(project)
        assert ("probe", left[0]) in [(c["kind"], c["id"]) for c in dry["containers"]]  # type: ignore[index]
        assert owned_by(cli) == []
        assert labelled_containers("io.paddlectl.project", project.name) == [], "the run's container too"
    finally:
        cli.close()
        if owned_by(cli):
            docker("rm", "-f", *owned_by(cli), check=False)
        project.cleanup()


def test_kill9_during_an_image_build_leaves_stages_gc_removes(tmp_path: Path, paddle_image: str) -> None:
    """A base build whose install stage sleeps after its first steps: killed there, the daemon cancels the build
    and keeps the finished steps' images, untagged; gc (no build holding the lock any more) removes them."""
    images = tmp_path / "images-src"
    (images / "images").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "images" / "requirements-base.lock", images / "images" / "requirements-base.lock")
    dockerfile = (REPO_ROOT / "Dockerfile.base").read_text(encoding="utf-8")
    marker = 'LABEL io.paddlectl.stage="base-install" io.paddlectl.project="${PADDLECTL_PROJECT}" '
    marker += 'io.paddlectl.store="${PADDLECTL_STORE}"\n'
    assert marker in dockerfile
    slow = f'RUN echo {uuid.uuid4().hex} > /tmp/paddlectl-kill-test && echo "slow step started" && sleep 120\n'
    (images / "Dockerfile.base").write_text(dockerfile.replace(marker, marker + slow), encoding="utf-8")
    project = TrainProject(tmp_path / "proj", paddle_image)
    stages = ["images", "-q", "--no-trunc", "--filter", "dangling=true"]
    stages += ["--filter", f"label=io.paddlectl.project={project.name}"]
    cli = Cli(
        ["image", "build", "base", "--paddle-image", paddle_image, "--rebuild"],
        project.root,
        env={"PADDLECTL_IMAGES_DIR": str(images)},
    )
    try:
        wait_until(lambda: "slow step started" in cli.stdout() + cli.stderr(), 600, "the build's slow step")
        kill9(cli)
        left = wait_until(lambda: docker(*stages).split(), 30, "the cancelled build's stage images")
        dry, _ = gc(project)
        assert {i["id"] for i in dry["images"]} >= set(left), dry  # type: ignore[index]
        assert docker(*stages).split() == []
    finally:
        cli.close()
        remaining = docker(*stages).split()
        if remaining:
            docker("rmi", "-f", *remaining, check=False)
