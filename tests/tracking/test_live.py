"""Live tracking without the engine: the CLI-side component, fed the way train feeds it, against a real server."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

import pytest

from conftest import run_cli
from http_proxy import SeenRequest, forwarding_proxy
from mlflow_server import MlflowServer, free_port
from paddlectl.foundation.clock import utc_now
from paddlectl.runs.manifest import Manifest, RunStatus
from paddlectl.runs.metric_recorder import RunMetrics
from paddlectl.runs.store import RunPaths, RunStore
from paddlectl.tracking.config import TrackingTarget
from paddlectl.tracking.live import LiveTracking
from unit.runs.runs_factory import make_run

pytestmark = pytest.mark.mlflow


def eventually(check: object, what: str, seconds: float = 60) -> None:
    """Wait for something the background thread does (no time is asserted: the deadline only ends a hang)."""
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def running_run(project: Path) -> tuple[RunPaths, RunStore, Manifest]:
    paths = make_run(project, minutes=5, status=RunStatus.RUNNING, params={"lr": 0.1}, name="live")
    paths.container_dir.mkdir(exist_ok=True)
    store = RunStore(paths.root.parent)
    return paths, store, store.read(paths.run_id)


def end(manifest: Manifest, store: RunStore, metrics: RunMetrics, status: RunStatus) -> None:
    manifest.status, manifest.ended_at, manifest.exit_code = (
        status,
        utc_now(),
        0 if status is RunStatus.SUCCEEDED else 1,
    )
    metrics.finish(manifest)
    store.write(manifest)


def test_a_held_server_never_holds_the_log_stream_and_the_end_equals_one_push(
    tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    paths, store, manifest = running_run(project)
    release, holding = threading.Event(), threading.Event()

    def hold(request: SeenRequest) -> None:
        if not release.is_set():
            holding.set()
            release.wait(120)

    statuses: list[str] = []
    warnings: list[str] = []
    with forwarding_proxy(mlflow_server.uri) as proxy:
        proxy.before = hold
        live = LiveTracking(
            TrackingTarget(proxy.uri, "live-held"), on_status=statuses.append, on_warning=warnings.append, interval=0.05
        )
        live.started(manifest, paths)
        holding.wait(30)
        assert holding.is_set()  # the sender thread is stuck in its first request, and stays so until released
        metrics = RunMetrics(paths, on_points=live.metrics)
        metrics.parse_lines([f"epoch: 1, step: {step}, loss: {1 / step:.6f}" for step in range(1, 5001)])
        assert not release.is_set() and live.queued == 5000  # every point queued while the server held the sender
        release.set()
        eventually(lambda: mlflow_server.runs_tagged("live-held", paths.run_id), "the run appears while running")
        running = mlflow_server.the_run("live-held", paths.run_id)
        assert running["info"]["status"] == "RUNNING"
        with paths.helper_metrics.open("w") as handle:  # the in-container helper logs its own metric meanwhile
            handle.writelines(json.dumps({"name": "val_acc", "value": v / 10, "step": v, "time": 1e9 + v}) + "\n"
                              for v in range(3))  # fmt: skip
        eventually(
            lambda: len(mlflow_server.history(running["info"]["run_id"], "val_acc")) == 3, "helper points arrive live"
        )
        eventually(lambda: len(mlflow_server.history(running["info"]["run_id"], "loss")) == 5000, "log points arrive")
        end(manifest, store, metrics, RunStatus.SUCCEEDED)
        live.finish(manifest)
    assert warnings == []
    assert any("is live at" in line for line in statuses) and any("is FINISHED" in line for line in statuses)
    pushed = run_cli("mlflow", "push", paths.run_id, "--tracking-uri", mlflow_server.uri, "--experiment", "live-ref",
                     cwd=project)  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    assert mlflow_server.state("live-held", paths.run_id) == mlflow_server.state("live-ref", paths.run_id)


@pytest.mark.parametrize(("status", "mlflow_status"), [(RunStatus.INTERRUPTED, "KILLED"), (RunStatus.FAILED, "FAILED")])
def test_a_dead_server_costs_the_run_nothing_and_push_sends_it_later(
    tmp_path: Path, mlflow_server: MlflowServer, status: RunStatus, mlflow_status: str
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    paths, store, manifest = running_run(project)
    statuses: list[str] = []
    warnings: list[str] = []
    live = LiveTracking(
        TrackingTarget(f"http://127.0.0.1:{free_port()}", "live-dead"),
        on_status=statuses.append,
        on_warning=warnings.append,
        interval=0.05,
    )
    live.started(manifest, paths)
    metrics = RunMetrics(paths, on_points=live.metrics)
    metrics.parse_lines([f"step: {step}, loss: {1 / step:.4f}" for step in range(1, 101)])
    end(manifest, store, metrics, status)
    live.finish(manifest)  # returns, raises nothing
    assert statuses == []
    assert any("cannot reach" in warning and "training goes on" in warning for warning in warnings)
    assert any(f"paddlectl mlflow push {paths.run_id}" in warning for warning in warnings)
    pushed = run_cli("mlflow", "push", paths.run_id, "--tracking-uri", mlflow_server.uri, "--experiment", "live-dead",
                     cwd=project)  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    state = mlflow_server.state("live-dead", paths.run_id)
    assert state["status"] == mlflow_status and len(state["metrics"]["loss"]) == 100


def test_log_points_superseded_by_the_scripts_own_metric_are_reported(
    tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    paths, store, manifest = running_run(project)
    warnings: list[str] = []
    live = LiveTracking(
        TrackingTarget(mlflow_server.uri, "live-both"), on_status=lambda _: None, on_warning=warnings.append,
        interval=0.05,
    )  # fmt: skip
    live.started(manifest, paths)
    metrics = RunMetrics(paths, on_points=live.metrics)
    metrics.parse_lines(["step: 1, loss: 0.9000", "step: 2, loss: 0.8000"])
    eventually(lambda: len(live.sent) == 2, "the log points are sent")
    paths.helper_metrics.write_text(json.dumps({"name": "loss", "value": 0.85, "step": 1, "time": 2e9}) + "\n")
    end(manifest, store, metrics, RunStatus.SUCCEEDED)
    live.finish(manifest)
    assert any("2 point(s) of loss parsed from the log were sent live" in warning for warning in warnings)


def test_points_beyond_the_live_queue_reach_the_server_with_the_final_push(
    tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    paths, store, manifest = running_run(project)
    statuses: list[str] = []
    live = LiveTracking(
        TrackingTarget(mlflow_server.uri, "live-full"), on_status=statuses.append, on_warning=statuses.append,
        interval=0.05, queue_limit=50,
    )  # fmt: skip
    live.started(manifest, paths)
    metrics = RunMetrics(paths, on_points=live.metrics)
    metrics.parse_lines([f"step: {step}, loss: {1 / step:.4f}" for step in range(1, 101)])  # 100 points at once
    assert live.queued == 0  # over the limit: none queued, none held in memory
    end(manifest, store, metrics, RunStatus.SUCCEEDED)
    live.finish(manifest)
    assert len(mlflow_server.state("live-full", paths.run_id)["metrics"]["loss"]) == 100
    assert any("100 came only now (the live queue was full)" in line for line in statuses)


def test_a_record_written_again_after_the_end_is_pushed_too_with_only_the_changed_files(
    tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    mlflow_server.create_experiment("live-rewritten", "mlflow-artifacts:/live-rewritten")
    project = tmp_path / "proj"
    project.mkdir()
    paths, store, manifest = running_run(project)
    with forwarding_proxy(mlflow_server.uri) as proxy:
        live = LiveTracking(
            TrackingTarget(proxy.uri, "live-rewritten"), on_status=lambda _: None, on_warning=lambda _: None,
            interval=0.05,
        )  # fmt: skip
        live.started(manifest, paths)
        metrics = RunMetrics(paths, on_points=live.metrics)
        metrics.parse_lines(["step: 1, loss: 0.5000"])
        end(manifest, store, metrics, RunStatus.SUCCEEDED)
        live.finished(manifest)  # what train does right after recording the end
        eventually(lambda: proxy.count("POST", "runs/update") == 1, "the first final push is complete")
        manifest.runtime = {"paddle_version": "3.2.0", "probed": "late"}  # the first run's probe, written after
        store.write(manifest)
        live.finish(manifest)
    assert proxy.count("PUT", "/manifest.yaml") == 2 and proxy.count("PUT", "/metrics.jsonl") == 1
    state = mlflow_server.state("live-rewritten", paths.run_id)
    assert state["artifacts"]["manifest.yaml"] == hashlib.sha256(paths.manifest.read_bytes()).hexdigest()
