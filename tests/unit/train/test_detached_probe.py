"""A detached run's runtime probe starts beside it; settling the run reads the answer and never starts a container."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakes import FakeEngine, image_info
from paddlectl.foundation.names import FOR_RUN_LABEL, KIND_LABEL, KIND_PROBE, PROJECT_LABEL, RUNTIME_PROBE_MARK
from paddlectl.project.workspace import open_project
from paddlectl.runs.cleanup import run_status
from paddlectl.runs.leftovers import find_leftovers
from paddlectl.runs.manifest import RunStatus
from paddlectl.runs.project_runs import ProjectRuns
from paddlectl.runs.runtime_probe import ProbeTarget, collect_run_probe
from paddlectl.runs.store import RunStore
from paddlectl.train.launch import train
from paddlectl.train.prepare import prepare
from paddlectl.train.request import TrainRequest
from tests.unit.train.test_train_logic import IMAGE, Events

ANSWER = {"paddle_version": "3.2.0", "cuda_version": None, "gpus": [], "python": "3.10.12"}


@pytest.fixture
def project(project_dir: Path) -> Path:
    (project_dir / "paddlectl.yaml").write_text(f"project: demo\nimages:\n  cpu: {IMAGE}\n", encoding="utf-8")
    (project_dir / "train.py").write_text("print('hi')\n", encoding="utf-8")
    return project_dir


def _detach(project: Path, engine: FakeEngine) -> str:
    request = TrainRequest(script="train.py", detach=True)
    outcome = train(prepare(request, open_project(project), project), open_project(project), lambda: engine, Events())
    assert outcome.exit_code == 0
    return outcome.manifest.id


def _probes(engine: FakeEngine, run_id: str) -> list[str]:
    return [c.id for c in engine.containers({KIND_LABEL: KIND_PROBE, FOR_RUN_LABEL: run_id})]


def test_detach_starts_the_probe_and_settling_reads_it_without_starting_a_container(project: Path) -> None:
    engine = FakeEngine(
        images={IMAGE: image_info(IMAGE)}, script=[f"{RUNTIME_PROBE_MARK}{json.dumps(ANSWER)}\n".encode()]
    )
    run_id = _detach(project, engine)
    [probe] = _probes(engine, run_id)
    assert engine.live[probe].status == "running" and engine.live[probe].spec.labels[PROJECT_LABEL] == "demo"
    assert "io.paddlectl.owner" not in engine.live[probe].spec.labels, (
        "nobody waits for it: the run's settlement reads it"
    )
    store = RunStore(open_project(project).runs_dir)
    for container in engine.live.values():
        container.status = "exited"
    created_before = len(engine.created)

    assert ProjectRuns(store, lambda: engine).settle_all().changed == [run_id]

    assert len(engine.created) == created_before, "settling a run never starts a container"
    manifest = store.read(run_id)
    assert manifest.status is RunStatus.SUCCEEDED
    assert manifest.runtime.paddle_version == "3.2.0" and manifest.runtime.probe_error is None
    assert _probes(engine, run_id) == [], "the probe is removed once read"
    second = _detach(project, engine)
    assert _probes(engine, second) == [], "the answer is cached per image: a second detached run starts no probe"


def test_a_probe_still_busy_is_not_waited_for_long_and_gc_removes_it_later(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("paddlectl.runs.reconcile.PROBE_WAIT_SECONDS", 0.0)
    engine = FakeEngine(images={IMAGE: image_info(IMAGE)}, script=[b"no answer yet\n"])
    run_id = _detach(project, engine)
    [probe] = _probes(engine, run_id)
    store = RunStore(open_project(project).runs_dir)
    lock = open_project(project).store / "build.lock"
    assert find_leftovers(store, "demo", engine, lock, run_status) == [], "its run still runs: not a leftover"
    engine.live[engine.live[probe].id].status = "running"  # still importing Paddle when the run is settled
    [run_container] = [c for c in engine.live.values() if c.id != probe]
    run_container.status = "exited"

    assert ProjectRuns(store, lambda: engine).settle_all().changed == [run_id]

    runtime = store.read(run_id).runtime
    assert runtime.probe_error == "the runtime probe had not answered 0 s after the run ended"
    assert _probes(engine, run_id) == [probe], "left to finish"
    leftovers = find_leftovers(store, "demo", engine, lock, run_status)
    assert [(left.kind, left.id, left.run) for left in leftovers] == [(KIND_PROBE, probe, run_id)]


def test_no_probe_for_the_run_says_so(project: Path) -> None:
    engine = FakeEngine()
    target = ProbeTarget("sha256:" + "cd" * 32, open_project(project).store, None)
    record = collect_run_probe(engine, target, "20261201-000000-abcd", wait_seconds=0.0)
    assert record.probe_error == "no runtime probe ran for this run (its image was not probed)"
