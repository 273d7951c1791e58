"""`paddlectl train` under real signals: stop, second-signal kill, SIGTERM forwarding, kill -9 and reconciliation.

Each test runs the real CLI as a child process, signals it the way a terminal or a scheduler would, and checks the
result with the docker CLI (no container left with the run's label) and the run's manifest and log.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import run_cli
from engine.train_harness import (
    KIND_LABEL,
    RUN_LABEL,
    Cli,
    TrainProject,
    container_state,
    docker,
    labelled_containers,
    run_train,
    wait_until,
)

pytestmark = pytest.mark.engine

StartCli = Callable[..., Cli]


@pytest.fixture
def start_cli(project: TrainProject) -> Iterator[StartCli]:
    started: list[Cli] = []

    def start(*args: str) -> Cli:
        cli = Cli(args, project.root)
        started.append(cli)
        return cli

    yield start
    for cli in started:
        cli.close()


def _running_container(run_id: str) -> str:
    found = labelled_containers(RUN_LABEL, run_id)
    assert len(found) == 1, f"expected the run's one container, found {found}"
    assert container_state(found[0]) == "running"
    return found[0]


@pytest.mark.parametrize(
    ("signum", "exit_code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
    ids=["SIGINT", "SIGTERM", "SIGHUP"],
)
def test_stop_signal_removes_container_and_records_interrupted(
    project: TrainProject, start_cli: StartCli, signum: signal.Signals, exit_code: int
) -> None:
    grace = 8
    cli = start_cli("train", "--grace", str(grace), "ready_sleep.py")
    run_id = project.wait_for_run_id()
    cli.wait_for_stdout("ready")
    _running_container(run_id)

    sent = time.monotonic()
    cli.send(signum)
    code = cli.wait(grace + 30)
    elapsed = time.monotonic() - sent

    assert code == exit_code, cli.describe()
    assert labelled_containers(RUN_LABEL, run_id) == []
    # The script does not handle SIGTERM, so it ends at once: waiting out the grace means the stop never reached it.
    assert elapsed < grace, f"took {elapsed:.1f}s, the grace period is {grace}s"
    manifest = project.manifest(run_id)
    assert manifest["status"] == "interrupted"
    assert signum.name in manifest["reason"]
    assert manifest["owner_pid"] is None
    assert manifest["ended_at"] is not None
    log = project.log(run_id)
    for line in ("first line", "stderr line", "ready"):
        assert line in log.splitlines(), f"{line!r} missing from the saved log:\n{log}"
    assert "slept to the end" not in log


def test_second_sigint_kills_at_once(project: TrainProject, start_cli: StartCli) -> None:
    cli = start_cli("train", "--grace", "60", "ignore_term.py")
    run_id = project.wait_for_run_id()
    cli.wait_for_stdout("ready")
    container = _running_container(run_id)

    first = time.monotonic()
    cli.send(signal.SIGINT)
    wait_until(lambda: "signal again" in cli.stderr(), 10, "the CLI to announce the graceful stop")
    assert container_state(container) == "running", "the script ignores SIGTERM: it must still run"
    cli.send(signal.SIGINT)
    code = cli.wait(30)
    elapsed = time.monotonic() - first

    assert code == 130, cli.describe()
    assert elapsed < 10, f"the second SIGINT should kill at once, the CLI took {elapsed:.1f}s (grace 60s)"
    assert labelled_containers(RUN_LABEL, run_id) == []
    manifest = project.manifest(run_id)
    assert manifest["status"] == "interrupted"
    assert "SIGINT" in manifest["reason"]
    assert manifest["exit_code"] == 137  # killed, not stopped
    assert "ready" in project.log(run_id).splitlines()


def test_sigterm_reaches_the_training_process(project: TrainProject, start_cli: StartCli) -> None:
    cli = start_cli("train", "--grace", "20", "term_handler.py")
    run_id = project.wait_for_run_id()
    cli.wait_for_stdout("ready")

    cli.send(signal.SIGTERM)
    assert cli.wait(40) == 143, cli.describe()

    marker = project.runs_dir / run_id / "outputs" / "sigterm.txt"
    assert marker.is_file(), "the script's SIGTERM handler never ran"
    text = marker.read_text(encoding="utf-8")
    assert text.startswith("got SIGTERM pid=")
    assert text.strip() != "got SIGTERM pid=1", "the script ran as PID 1: the container has no init"
    assert "got SIGTERM" in project.log(run_id).splitlines()
    manifest = project.manifest(run_id)
    assert manifest["status"] == "interrupted"
    assert manifest["exit_code"] == 0  # the handler's own exit, not a kill
    assert [a["path"] for a in manifest["artifacts"]] == ["sigterm.txt"]
    assert labelled_containers(RUN_LABEL, run_id) == []


def test_kill9_then_reconcile_takes_the_real_exit_code(project: TrainProject, start_cli: StartCli) -> None:
    cli = start_cli("train", "exit_later.py", "3", "7")
    run_id = project.wait_for_run_id()
    cli.wait_for_stdout("ready")
    cli.send(signal.SIGKILL)
    assert cli.wait(10) == -signal.SIGKILL

    [container] = labelled_containers(RUN_LABEL, run_id)
    assert project.manifest(run_id)["status"] == "running"
    if container_state(container) == "running":
        changed = project.reconcile()
        if container_state(container) == "running":  # the container outlived the call: nothing to settle yet
            assert changed == []
            assert project.manifest(run_id)["status"] == "running"
    wait_until(lambda: container_state(container) == "exited", 30, "the orphaned container to exit")

    assert project.reconcile() == [run_id]
    manifest = project.manifest(run_id)
    assert manifest["status"] == "failed"
    assert manifest["exit_code"] == 7
    assert "7" in manifest["reason"]
    assert manifest["logs"]["rebuilt_from_engine"] is True
    assert manifest["ended_at"] is not None
    assert manifest["duration_seconds"] is not None and manifest["duration_seconds"] >= 3
    log_lines = project.log(run_id).splitlines()
    assert "ready" in log_lines
    assert "after the sleep, exiting with 7" in log_lines, "lines printed after the CLI died must be recovered"
    assert labelled_containers(RUN_LABEL, run_id) == [], "reconciliation removes the settled container"
    assert project.reconcile() == []  # settled once, never again


def test_kill9_then_container_removed_is_lost(project: TrainProject, start_cli: StartCli) -> None:
    cli = start_cli("train", "ready_sleep.py")
    run_id = project.wait_for_run_id()
    cli.wait_for_stdout("ready")
    cli.send(signal.SIGKILL)
    cli.wait(10)
    [container] = labelled_containers(RUN_LABEL, run_id)
    docker("rm", "-f", container)

    assert project.reconcile() == [run_id]
    manifest = project.manifest(run_id)
    assert manifest["status"] == "lost"
    assert "gone" in manifest["reason"]
    assert manifest["owner_pid"] is None
    assert manifest["ended_at"] is not None


def test_detach_prints_the_run_id_on_stdout_and_the_status_on_stderr(project: TrainProject) -> None:
    """`RID=$(paddlectl train x.py --detach)` holds the run id: the help says --detach returns it."""
    result = run_train(project, "--detach", "hello.py", timeout=60)
    assert result.returncode == 0, result.stderr
    (run_id,) = project.run_ids()
    assert result.stdout == f"{run_id}\n"
    assert f"run {run_id} started detached" in result.stderr and f"run {run_id} running" in result.stderr
    [container] = labelled_containers(RUN_LABEL, run_id)
    wait_until(lambda: container_state(container) == "exited", 60, "the detached container to finish")
    assert project.reconcile() == [run_id]


def test_detach_returns_the_id_and_reconcile_settles_it(project: TrainProject) -> None:
    started = time.monotonic()
    result = run_train(project, "--detach", "--quiet", "metrics_short.py", timeout=60)
    returned_after = time.monotonic() - started

    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    assert result.stdout == f"{run_id}\n", "with --quiet stdout is exactly the run id"
    assert project.run_ids() == [run_id]
    [container] = labelled_containers(RUN_LABEL, run_id)
    assert container_state(container) == "running", f"the CLI returned after {returned_after:.1f}s"
    manifest = project.manifest(run_id)
    assert manifest["status"] == "running"
    assert manifest["detached"] is True
    assert manifest["owner_pid"] is None
    assert manifest["container"]["id"] == container
    changed = project.reconcile()
    if container_state(container) == "running":  # a running detached run is left alone
        assert changed == []

    wait_until(lambda: container_state(container) == "exited", 60, "the detached container to finish")
    assert project.reconcile() == [run_id]
    manifest = project.manifest(run_id)
    assert manifest["status"] == "succeeded", manifest.get("reason")
    assert manifest["exit_code"] == 0
    log_lines = project.log(run_id).splitlines()
    assert [line for line in log_lines if "loss" in line] == [
        "epoch: 1, step: 1, loss: 1.00",
        "epoch: 1, step: 2, loss: 0.50",
        "epoch: 1, step: 3, loss: 0.33",
        "epoch: 1, step: 4, loss: 0.25",
    ]
    assert log_lines[-1] == "finished"
    loss = manifest["metrics"]["summary"]["loss"]
    assert (loss["last"], loss["min"], loss["max"], loss["count"]) == (0.25, 0.25, 1.0, 4)
    assert [a["path"] for a in manifest["artifacts"]] == ["result.txt"]
    assert labelled_containers(RUN_LABEL, run_id) == []


def test_signal_after_the_run_ended_keeps_its_record(tmp_path: Path, paddle_image: str) -> None:
    """Ctrl-C while the CLI waits for the first runtime probe: the finished run stays recorded as it ended.

    A fresh project probes the image (importing Paddle, seconds) while the run goes on; the run (one print) ends
    first. A signal then must not leave the run marked running (reconciliation would call it lost, its container
    being already removed), and the CLI still lets the probe remove its own container.
    """
    project = TrainProject(tmp_path / "cold", paddle_image)  # no probe cache on purpose
    probes_before = set(labelled_containers(KIND_LABEL, "probe"))
    ours: set[str] = set()
    cli = Cli(["train", "hello.py"], project.root)
    try:
        run_id = project.wait_for_run_id()
        cli.wait_for_stdout("hello from the container")
        wait_until(
            lambda: not labelled_containers(RUN_LABEL, run_id) or cli.process.poll() is not None,
            30,
            "the run's container to be removed",
        )
        assert cli.process.poll() is None, "the probe ended before the run: this test needs the opposite order"
        ours.update(set(labelled_containers(KIND_LABEL, "probe")) - probes_before)
        assert ours, "the first run in a project should be probing the image"
        cli.send(signal.SIGINT)
        assert cli.wait(60) == 130, cli.describe()
        assert not ours & set(labelled_containers(KIND_LABEL, "probe")), "the probe container outlived its CLI"
    finally:
        cli.close()
        if ours:
            docker("rm", "-f", *ours, check=False)
    manifest = project.manifest(run_id)
    assert manifest["status"] == "succeeded", manifest
    assert manifest["exit_code"] == 0
    assert manifest["owner_pid"] is None
    assert manifest["duration_seconds"] < 10
    assert project.reconcile() == []
    assert project.manifest(run_id)["status"] == "succeeded"
    assert project.cleanup() == []


def test_probe_left_by_kill9_is_reaped(tmp_path: Path, paddle_image: str) -> None:
    """kill -9 while the first run probes the image leaves the probe container; the next train reaps it.

    The probe is held at its start on purpose (PADDLECTL_TEST_PAUSE_AT=probe-started), so the kill always lands
    between its creation and the removal its CLI would have done: never after a probe that happened to finish.
    """
    from paddlectl.engine.docker_engine import connect
    from paddlectl.runs.leftovers import reap_one_shots

    project = TrainProject(tmp_path / "cold", paddle_image)  # no probe cache on purpose
    ours: set[str] = set()
    cli = Cli(["train", "ready_sleep.py"], project.root, env={"PADDLECTL_TEST_PAUSE_AT": "probe-started"})
    try:
        wait_until(lambda: "paused at probe-started" in cli.stderr(), 60, "the probe to be held at its start")
        ours.update(_probes_of(project))
        assert len(ours) == 1, "the first run in a project probes its image in one container"
        cli.send(signal.SIGKILL)
        cli.wait(10)
        assert ours <= _probes_of(project), "nobody is left to remove the probe"

        assert ours <= set(reap_one_shots(connect(), project.name)), "its owner is dead: the reaper removes it"
        assert not ours & _probes_of(project)
    finally:
        cli.close()
        if ours:
            docker("rm", "-f", *ours, check=False)
        project.cleanup()  # the run's own container: reconciliation is tested above


def test_runs_stop_records_interrupted_not_failed(project: TrainProject, start_cli: StartCli) -> None:
    """The owner CLI sees its container exit 143 (docker stop's SIGTERM): because `runs stop` asked, the run is
    `interrupted` with that reason, and the CLI exits with the container's code."""
    cli = start_cli("train", "ready_sleep.py")
    run_id = project.wait_for_run_id()
    cli.wait_for_stdout("ready")
    stopped = run_cli("runs", "stop", run_id, "--grace", "2", cwd=project.root)
    assert stopped.returncode == 0, stopped.stderr
    assert cli.wait(30) == 143, cli.describe()
    manifest = project.manifest(run_id)
    assert manifest["status"] == "interrupted", manifest
    assert manifest["reason"].startswith("stopped by paddlectl runs stop (by ")
    assert manifest["signal"] is None and manifest["exit_code"] == 143
    assert labelled_containers(RUN_LABEL, run_id) == []


def test_runs_stop_of_a_detached_run_is_settled_interrupted(project: TrainProject) -> None:
    started = run_train(project, "--detach", "--quiet", "ready_sleep.py", timeout=60)
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip().splitlines()[-1]
    [container] = labelled_containers(RUN_LABEL, run_id)
    assert container_state(container) == "running"
    stopped = run_cli("runs", "stop", run_id, "--grace", "2", cwd=project.root)
    assert stopped.returncode == 0, stopped.stderr
    listed = run_cli("runs", "list", "--json", cwd=project.root)  # the listing settles it (its owner is gone)
    assert listed.returncode == 0, listed.stderr
    manifest = project.manifest(run_id)
    assert manifest["status"] == "interrupted" and "runs stop" in manifest["reason"], manifest
    assert labelled_containers(RUN_LABEL, run_id) == []


def _probes_of(project: TrainProject) -> set[str]:
    """The probe containers working for this project (other projects' probes come and go meanwhile)."""
    kind, of_project = f"label={KIND_LABEL}=probe", f"label=io.paddlectl.project={project.name}"
    return set(docker("ps", "-a", "-q", "--no-trunc", "--filter", kind, "--filter", of_project).split())
