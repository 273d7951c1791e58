"""A run on a remote engine, with fakes: nothing bind-mounted, files sent in, outputs back, the host followed."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from fakes import FakeContainer, FakeEngine, image_info
from paddlectl.engine.hosts import EngineHost
from paddlectl.errors import UnavailableError, UsageError
from paddlectl.foundation.names import KIND_LABEL, KIND_PROBE, OUTPUT_DIR, RUN_DIR, RUN_LABEL, STORE_LABEL
from paddlectl.project.workspace import open_project
from paddlectl.runs.cleanup import stop_run
from paddlectl.runs.manifest import RunStatus
from paddlectl.runs.project_runs import ProjectRuns
from paddlectl.runs.run_engines import RunEngines
from paddlectl.runs.store import RunStore
from paddlectl.train.launch import train
from paddlectl.train.prepare import dry_run_spec, prepare
from paddlectl.train.request import MountRequest, TrainRequest
from tests.unit.train.test_train_logic import IMAGE, Events

REMOTE = EngineHost("ssh://me@10.0.0.5:2222", name="gpu-box")
WRITTEN = {
    f"{OUTPUT_DIR}/model.pdparams": b"weights",
    f"{RUN_DIR}/metrics.jsonl": b'{"name": "acc", "value": 0.5, "step": 1, "time": 1.0}\n',
}


@pytest.fixture
def project(project_dir: Path) -> Path:
    (project_dir / "paddlectl.yaml").write_text(
        f"project: demo\nimages:\n  cpu: {IMAGE}\nhosts:\n  gpu-box: {{url: 'ssh://me@10.0.0.5:2222'}}\n",
        encoding="utf-8",
    )
    (project_dir / "train.py").write_text("print('hi')\n", encoding="utf-8")
    return project_dir


def _remote(**kwargs: object) -> FakeEngine:
    engine = FakeEngine(images={IMAGE: image_info(IMAGE)}, host=REMOTE, **kwargs)  # type: ignore[arg-type]
    engine.container_files.update(WRITTEN)
    return engine


def _run_and_probe(engine: FakeEngine) -> tuple[FakeContainer, FakeContainer]:
    """The run's container and the runtime probe's (the probe starts in a thread: either may come first)."""
    (run,) = [c for c in engine.created if c.spec.labels.get(RUN_LABEL)]
    (probe,) = [c for c in engine.created if c.spec.labels.get(KIND_LABEL) == KIND_PROBE]
    return run, probe


def _sent(container: object) -> dict[str, tarfile.TarInfo]:
    ((path, data),) = container.uploads  # type: ignore[attr-defined]
    assert path == "/"
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {member.name: member for member in archive.getmembers()}


def _train(project: Path, engine: FakeEngine, **request: object) -> tuple[object, Events]:
    events = Events()
    prepared = prepare(TrainRequest(script="train.py", host="gpu-box", **request), open_project(project), project)  # type: ignore[arg-type]
    return train(prepared, open_project(project), lambda: engine, events), events


def test_a_remote_run_mounts_nothing_of_this_machine_and_gets_its_outputs_back(project: Path) -> None:
    engine = _remote(script=[b"epoch done\n"])
    outcome, _ = _train(project, engine, params=["token=s3cret"])
    manifest = outcome.manifest  # type: ignore[attr-defined]
    run, probe = _run_and_probe(engine)
    assert run.spec.mounts == [] and probe.spec.mounts == []  # nothing bind-mounted, the probe's library neither
    sent = _sent(run)
    assert {"workspace/train.py", "paddlectl/lib/paddlectl_metrics.py", "paddlectl/private/params.json"} <= set(sent)
    assert "workspace/paddlectl.yaml" in sent and not any(name.startswith("workspace/.paddlectl") for name in sent)
    assert "paddlectl/lib/probe_runtime.py" in _sent(probe)
    assert run.spec.labels[STORE_LABEL].endswith(str(project / ".paddlectl"))
    paths = RunStore(open_project(project).runs_dir).paths(manifest.id)
    assert (paths.outputs / "model.pdparams").read_bytes() == b"weights"
    assert manifest.status is RunStatus.SUCCEEDED and run.removed  # removed only after the fetch
    assert [a.path for a in manifest.artifacts] == ["model.pdparams"]
    assert manifest.metrics.summary["acc"].last == 0.5  # the helper's metrics file came back too
    record = manifest.engine
    assert (record.name, record.url, record.remote) == ("gpu-box", REMOTE.url, True)
    assert record.uploaded is not None and record.uploaded.files >= 3
    assert record.fetched is not None and record.fetched.files == 2


def test_a_failed_fetch_keeps_the_container_and_the_next_command_settles_the_run(project: Path) -> None:
    engine = _remote(script=[b"done\n"], fail_fetch=True)
    with pytest.raises(UnavailableError) as caught:
        _train(project, engine)
    assert "could not be fetched from gpu-box (ssh://me@10.0.0.5:2222)" in caught.value.message
    store = RunStore(open_project(project).runs_dir)
    (run_id,) = [paths.run_id for paths in store.run_dirs()]
    assert store.read(run_id).status is RunStatus.RUNNING  # never recorded as ended without its outputs
    run, _ = _run_and_probe(engine)
    assert not run.removed and not (store.paths(run_id).outputs / "model.pdparams").exists()
    # the next command reaches the run's own host (not the default engine) and fetches, then removes
    local = FakeEngine(images={IMAGE: image_info(IMAGE)})
    reached: list[str] = []

    def connect(host: EngineHost) -> FakeEngine:
        reached.append(host.url)
        return engine

    engine.fail_fetch = False
    settled = ProjectRuns(store, RunEngines(connect, default=lambda: local)).settle([run_id])
    assert settled.changed == [run_id] and settled.warning is None and reached == [REMOTE.url]
    assert store.read(run_id).status is RunStatus.SUCCEEDED and run.removed
    assert (store.paths(run_id).outputs / "model.pdparams").read_bytes() == b"weights"
    assert local.created == []


def test_an_unreachable_host_leaves_its_runs_running_and_says_so(project: Path) -> None:
    engine = _remote(script=[b"done\n"], fail_fetch=True)
    with pytest.raises(UnavailableError):
        _train(project, engine)
    store = RunStore(open_project(project).runs_dir)
    (run_id,) = [paths.run_id for paths in store.run_dirs()]

    def unreachable(host: EngineHost) -> FakeEngine:
        raise UnavailableError(f"cannot reach {host.label}: connection refused")

    settled = ProjectRuns(store, RunEngines(unreachable)).settle([run_id])
    assert settled.changed == [] and settled.warning is not None and "cannot reach gpu-box" in settled.warning
    assert store.read(run_id).status is RunStatus.RUNNING  # never `lost` for a host that did not answer
    # an engine factory that knows only another engine refuses rather than calling the run lost
    other = ProjectRuns(store, FakeEngine).settle_all()
    assert other.changed == [] and other.warning is not None and "ran on gpu-box" in other.warning
    assert store.read(run_id).status is RunStatus.RUNNING


def test_runs_stop_goes_to_the_runs_host(project: Path) -> None:
    engine = _remote(script=[b"done\n"], fail_fetch=True)
    with pytest.raises(UnavailableError):
        _train(project, engine, keep=True)
    store = RunStore(open_project(project).runs_dir)
    (run_id,) = [paths.run_id for paths in store.run_dirs()]
    run, _ = _run_and_probe(engine)
    run.status = "running"
    result = stop_run(store, run_id, RunEngines(lambda host: engine, default=FakeEngine))
    assert result.stopped == [run.id] and run.stopped_with == 10


def test_remote_mounts_name_paths_on_that_host(project: Path) -> None:
    prepared = prepare(
        TrainRequest(script="train.py", host="gpu-box", mounts=[MountRequest.parse("/srv/data/digits:/data:ro")]),
        open_project(project),
        project,
    )
    assert [(m.source, m.target) for m in prepared.mounts] == [("/srv/data/digits", "/data")]  # not checked here
    with pytest.raises(UsageError, match="absolute path on gpu-box"):
        prepare(
            TrainRequest(script="train.py", host="gpu-box", mounts=[MountRequest.parse("data:/data")]),
            open_project(project),
            project,
        )
    spec = dry_run_spec(prepared, open_project(project))
    assert spec["mounts"] == [{"source": "/srv/data/digits", "target": "/data", "read_only": True}]
    assert spec["host"] == "gpu-box (ssh://me@10.0.0.5:2222)"
    assert {item["target"] for item in spec["sent"]} >= {"/workspace", "/paddlectl/lib"}
    assert {item["target"] for item in spec["fetched"]} == {OUTPUT_DIR, RUN_DIR}


def test_a_hosts_gpus_are_the_default_for_runs_there(project: Path) -> None:
    (project / "paddlectl.yaml").write_text(
        f"project: demo\nimages:\n  cpu: {IMAGE}\n  gpu: {IMAGE}\n"
        "hosts:\n  gpu-box: {url: 'ssh://me@h', gpus: all}\n",
        encoding="utf-8",
    )
    there = prepare(TrainRequest(script="train.py", host="gpu-box"), open_project(project), project)
    here = prepare(TrainRequest(script="train.py"), open_project(project), project)
    asked = prepare(TrainRequest(script="train.py", host="gpu-box", gpus="none"), open_project(project), project)
    assert (there.gpus_text, here.gpus_text, asked.gpus_text) == ("all", "none", "none")


def test_a_local_run_is_bind_mounted_as_before(project: Path) -> None:
    engine = FakeEngine(images={IMAGE: image_info(IMAGE)}, script=[b"done\n"])
    prepared = prepare(TrainRequest(script="train.py"), open_project(project), project)
    outcome = train(prepared, open_project(project), lambda: engine, Events())
    run, _ = _run_and_probe(engine)
    assert run.uploads == [] and run.spec.labels[STORE_LABEL].endswith(str(project / ".paddlectl"))
    assert {m.target for m in run.spec.mounts} >= {"/workspace", OUTPUT_DIR, RUN_DIR, "/paddlectl/lib"}
    assert outcome.manifest.engine.remote is False and outcome.manifest.engine.uploaded is None
