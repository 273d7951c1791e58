"""`paddlectl train` logic without Docker: request checks, the container spec, the manifest, reconciliation."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes import FakeEngine, image_info, sleeping_process
from paddlectl.engine.gpus import GpuRequest, parse_gpus
from paddlectl.engine.protocol import PullProgress
from paddlectl.errors import PaddlectlError, UnavailableError, UsageError
from paddlectl.project.workspace import open_project
from paddlectl.runs.manifest import RunStatus
from paddlectl.runs.project_runs import ProjectRuns
from paddlectl.runs.store import RunStore
from paddlectl.train.launch import train
from paddlectl.train.prepare import dry_run_spec, prepare
from paddlectl.train.request import (
    EnvSetting,
    MountRequest,
    TrainRequest,
    container_command,
    parse_mount,
)

IMAGE = "paddlectl-test/paddle:3.2.0-cpu"


class Events:
    def __init__(self) -> None:
        self.statuses: list[str] = []
        self.warnings: list[str] = []
        self.outputs: list[str] = []

    def status(self, message: str) -> None:
        self.statuses.append(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def output(self, text: str) -> None:
        self.outputs.append(text)

    def pull_progress(self, progress: PullProgress) -> None:
        pass


@pytest.fixture
def project(project_dir: Path) -> Path:
    (project_dir / "paddlectl.yaml").write_text(
        f"project: demo\nimages:\n  cpu: {IMAGE}\ntrain:\n  params:\n    lr: 0.1\n", encoding="utf-8"
    )
    (project_dir / "train.py").write_text("print('hi')\n", encoding="utf-8")
    return project_dir


def test_parse_gpus() -> None:
    assert parse_gpus("none") is None
    assert parse_gpus("all") == GpuRequest()
    assert parse_gpus("0,1") == GpuRequest(device_ids=("0", "1"))
    for bad in ("gpu0", "0,,1", "0,0", "-1"):
        with pytest.raises(UsageError, match="--gpus"):
            parse_gpus(bad)


def test_parse_mount(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    mount = parse_mount("data:/data:ro", tmp_path)
    assert mount.source == str(tmp_path / "data") and mount.target == "/data" and mount.read_only
    with pytest.raises(UsageError, match="does not exist"):
        parse_mount("missing:/data", tmp_path)
    with pytest.raises(UsageError, match="absolute"):
        parse_mount("data:data", tmp_path)
    with pytest.raises(UsageError, match="reserved"):
        parse_mount("data:/workspace/x", tmp_path)
    with pytest.raises(UsageError, match="mode"):
        parse_mount("data:/data:rx", tmp_path)


def test_distributed_command_uses_the_launcher() -> None:
    assert container_command(script="t.py", module=None, args=["--lr", "1"], nproc=1, gpus=None) == [
        "python3",
        "-u",
        "t.py",
        "--lr",
        "1",
    ]
    cpu2 = container_command(script="t.py", module=None, args=[], nproc=2, gpus=None)
    assert cpu2[:3] == ["python3", "-m", "paddle.distributed.launch"]
    assert cpu2[cpu2.index("--nproc_per_node") + 1] == "2"
    gpu = container_command(script=None, module="pkg.train", args=[], nproc=1, gpus=GpuRequest(("0", "1")))
    assert gpu[gpu.index("--devices") + 1] == "0,1" and gpu[-2:] == ["-m", "pkg.train"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image": "paddlepaddle/paddle:latest"}, "floats"),
        ({"image": "paddlepaddle/paddle"}, "no tag"),
        ({"script": "nope.py"}, "not found"),
        ({"params": ["lr"]}, "no .="),
        ({"gpus": "zero"}, "--gpus"),
        ({"mounts": [MountRequest("nowhere", "/data")]}, "does not exist"),
        ({"grace_seconds": -5}, "--grace must be 0 or more seconds"),
        ({"env": [EnvSetting("PADDLECTL_TEST_UNSET_VARIABLE")]}, "is not set in your environment"),
        ({"shm_size": "lots"}, "--shm-size"),
        ({"script": None}, "SCRIPT"),
        ({"nproc": 0}, "--nproc"),
    ],
)
def test_bad_input_is_a_usage_error(project: Path, change: dict[str, object], message: str) -> None:
    request = TrainRequest(**{"script": "train.py", **change})  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=message):
        prepare(request, open_project(project), project)
    assert not (project / ".paddlectl" / "runs").exists()


def test_params_file_must_be_a_mapping(project: Path) -> None:
    (project / "p.yaml").write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"p\.yaml"):
        prepare(TrainRequest(script="train.py", params_file=project / "p.yaml"), open_project(project), project)


def test_dry_run_masks_secrets_but_keeps_names(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    request = TrainRequest(
        script="train.py",
        env=[EnvSetting.parse("HF_TOKEN=hf_abcdef123456"), EnvSetting.parse("MODE=fast")],
        params=["api_key=sk-123456789", "epochs=3"],
    )
    prepared = prepare(request, open_project(project), project)
    document = dry_run_spec(prepared, open_project(project))
    text = repr(document)
    assert "hf_abcdef123456" not in text and "sk-123456789" not in text
    assert document["environment"]["MODE"] == "fast"
    assert document["environment"]["HF_TOKEN"] != "hf_abcdef123456"
    assert "--epochs" in document["command"]
    # the container itself still receives the real values
    assert prepared.env["HF_TOKEN"] == "hf_abcdef123456"
    assert "sk-123456789" in prepared.command


def test_no_secret_args_leaves_secret_params_off_the_command_line(project: Path) -> None:
    request = TrainRequest(script="train.py", params=["api_key=sk-123456789", "epochs=3"], secret_args=False)
    prepared = prepare(request, open_project(project), project)
    assert "sk-123456789" not in prepared.command and "--api_key" not in prepared.command
    assert prepared.command[-2:] == ["--epochs", "3"]
    assert prepared.params["api_key"] == "sk-123456789"  # the params file still holds it
    assert prepared.secret_values == ["sk-123456789"]


def _engine(**kwargs: object) -> FakeEngine:
    return FakeEngine(images={IMAGE: image_info(IMAGE)}, **kwargs)  # type: ignore[arg-type]


def test_train_records_a_complete_manifest(project: Path) -> None:
    engine = _engine(script=[b"epoch: 1, loss: 0.5, acc: 0.75\n", b"done\n"])
    events = Events()
    request = TrainRequest(script="train.py", name="first", labels={"team": "cv"})
    prepared = prepare(request, open_project(project), project)
    outcome = train(prepared, open_project(project), lambda: engine, events)
    manifest = outcome.manifest
    assert outcome.exit_code == 0
    assert manifest.status is RunStatus.SUCCEEDED and manifest.name == "first" and manifest.labels == {"team": "cv"}
    assert manifest.image.id == image_info(IMAGE).id and manifest.image.digest is None
    assert manifest.params.values == {"lr": 0.1} and manifest.params.sources == {"lr": "config"}
    assert manifest.metrics.last("loss") == 0.5
    assert manifest.git.is_repository is False
    stored = RunStore(open_project(project).runs_dir).read(manifest.id)
    assert stored.status is RunStatus.SUCCEEDED and stored.logs.lines == 2
    (spec,) = [c.spec for c in engine.created if "io.paddlectl.run" in c.spec.labels]
    assert spec.init and spec.labels["io.paddlectl.run"] == manifest.id
    assert spec.environment["PYTHONUNBUFFERED"] == "1" and spec.shm_size == "2g"
    assert any(m.target == "/workspace" and m.read_only for m in spec.mounts)


def test_failing_script_exit_code_propagates(project: Path) -> None:
    engine = _engine(script=[b"boom\n"], exit_code=3)
    outcome = train(
        prepare(TrainRequest(script="train.py"), open_project(project), project),
        open_project(project),
        lambda: engine,
        Events(),
    )
    assert outcome.exit_code == 3 and outcome.manifest.status is RunStatus.FAILED


def test_gpu_without_nvidia_runtime_leaves_nothing(project: Path) -> None:
    engine = _engine(script=[b"x\n"])
    prepared = prepare(TrainRequest(script="train.py", gpus="all", image=IMAGE), open_project(project), project)
    with pytest.raises(UnavailableError, match="NVIDIA"):
        train(prepared, open_project(project), lambda: engine, Events())
    assert not engine.created
    assert not list((project / ".paddlectl" / "runs").glob("*")) if (project / ".paddlectl" / "runs").exists() else True


def test_missing_image_is_unavailable_with_pull_hint(project: Path) -> None:
    engine = FakeEngine()
    prepared = prepare(TrainRequest(script="train.py"), open_project(project), project)
    with pytest.raises(PaddlectlError) as caught:
        train(prepared, open_project(project), lambda: engine, Events())
    assert caught.value.hint is not None and f"docker pull {IMAGE}" in caught.value.hint


def test_moved_tag_is_reported(project: Path) -> None:
    events = Events()
    first = _engine(script=[b"x\n"])
    train(
        prepare(TrainRequest(script="train.py"), open_project(project), project),
        open_project(project),
        lambda: first,
        events,
    )
    moved = FakeEngine(images={IMAGE: image_info(IMAGE, image_id="sha256:" + "cd" * 32)}, script=[b"x\n"])
    outcome = train(
        prepare(TrainRequest(script="train.py"), open_project(project), project),
        open_project(project),
        lambda: moved,
        events,
    )
    assert outcome.manifest.image.moved_from == "sha256:" + "ab" * 32
    assert any("TAG MOVED" in warning for warning in events.warnings)


def test_engine_lost_leaves_run_for_reconciliation(project: Path) -> None:
    engine = _engine(script=[b"a\n", b"b\n"])
    original = engine.create

    def create(spec):  # type: ignore[no-untyped-def]
        container = original(spec)
        container.stream_breaks_after = 1
        engine.down = True
        return container

    engine.create = create  # type: ignore[method-assign]
    with pytest.raises(UnavailableError, match="lost contact"):
        train(
            prepare(TrainRequest(script="train.py"), open_project(project), project),
            open_project(project),
            lambda: engine,
            Events(),
        )
    store = RunStore(open_project(project).runs_dir)
    (run,) = list(store.iter_runs())
    assert run.manifest is not None and run.manifest.status is RunStatus.RUNNING
    assert run.manifest.owner_pid is None
    # the engine comes back: the container had exited with 137
    engine.down = False
    (container,) = engine.containers({"io.paddlectl.run": run.manifest.id})
    container.status, container.exit_code = "exited", 137
    assert ProjectRuns(store, lambda: engine).settle_all().changed == [run.manifest.id]
    settled = store.read(run.manifest.id)
    assert settled.status is RunStatus.FAILED and settled.exit_code == 137
    assert "lost contact" in (settled.reason or "")
    assert (store.paths(settled.id).log).read_text() == "a\nb\n"  # rebuilt from the engine's copy


def test_reconcile_marks_vanished_container_lost_and_skips_live_owner(project: Path) -> None:
    engine = _engine(script=[b"x\n"])
    outcome = train(
        prepare(TrainRequest(script="train.py"), open_project(project), project),
        open_project(project),
        lambda: engine,
        Events(),
    )
    store = RunStore(open_project(project).runs_dir)
    manifest = outcome.manifest
    manifest.status, manifest.owner_pid = RunStatus.RUNNING, None
    store.write(manifest)
    assert ProjectRuns(store, lambda: engine).settle_all().changed == [manifest.id]  # the container was removed: lost
    assert store.read(manifest.id).status is RunStatus.LOST
    # a run whose owning CLI is alive on this host is left to it

    owner = sleeping_process("paddlectl")
    try:
        manifest.status, manifest.owner_pid = RunStatus.RUNNING, owner.pid
        store.write(manifest)
        assert ProjectRuns(store, lambda: engine).settle_all().changed == []
        assert store.read(manifest.id).status is RunStatus.RUNNING
    finally:
        owner.kill()
        owner.wait()
    assert ProjectRuns(store, lambda: engine).settle_all().changed == [manifest.id]  # the owner died: settled
    assert store.read(manifest.id).status is RunStatus.LOST


def test_reproduce_of_a_gone_image_names_the_pull_command() -> None:
    from paddlectl.engine.image_lookup import recorded_image_reference
    from paddlectl.runs.manifest import ImageRecord

    digest = "sha256:" + "12" * 32
    record = ImageRecord(reference="paddlepaddle/paddle:3.2.0", id="sha256:" + "34" * 32, digest=digest)
    with pytest.raises(UnavailableError) as caught:
        recorded_image_reference(FakeEngine(), record.reference, record.digest, record.id)
    assert caught.value.hint == f"docker pull paddlepaddle/paddle@{digest}"
    local = ImageRecord(reference="mine/img:1", id="sha256:" + "56" * 32, digest=None)
    with pytest.raises(UnavailableError, match="no registry digest"):
        recorded_image_reference(FakeEngine(), local.reference, local.digest, local.id)
    present = FakeEngine(images={local.id or "": image_info("mine/img:1", image_id=local.id or "")})
    assert recorded_image_reference(present, local.reference, local.digest, local.id) == local.id


def test_reproduce_finds_an_image_from_a_registry_with_a_port() -> None:
    """`localhost:5000/team/paddle@sha256:...`: the repository is the whole name, not `localhost`."""
    from paddlectl.engine.image_lookup import recorded_image_reference

    digest = "sha256:" + "ab" * 32
    reference = f"localhost:5000/team/paddle@{digest}"
    present = FakeEngine(images={reference: image_info("localhost:5000/team/paddle:1", image_id="sha256:" + "cd" * 32)})
    assert recorded_image_reference(present, reference, digest, "sha256:" + "cd" * 32) == reference
    tagged = "localhost:5000/team/paddle:3.2.0"
    assert recorded_image_reference(present, tagged, digest, None) == reference


def test_reproduce_verdicts() -> None:
    from paddlectl.runs.manifest import CommandRecord, ImageRecord, Manifest, MetricsRecord, MetricSummary
    from paddlectl.train.reproduce import compare_metrics

    def run(values: dict[str, float], status: RunStatus = RunStatus.SUCCEEDED) -> Manifest:
        manifest = Manifest(
            id="r",
            project="p",
            status=status,
            started_at="",
            image=ImageRecord("i:1"),
            command=CommandRecord(script="t.py", module=None),
        )
        manifest.metrics = MetricsRecord(summary={name: MetricSummary(last=value) for name, value in values.items()})
        return manifest

    assert compare_metrics(run({"a": 1.0}), run({"a": 1.0}), 0, 0).overall == "identical"
    within = compare_metrics(run({"a": 1.0}), run({"a": 1.0005}), 1e-3, 0)
    assert within.overall == "within-tolerance" and within.reproduced
    assert compare_metrics(run({"a": 1.0}), run({"a": 1.1}), 1e-3, 0).overall == "different"
    assert compare_metrics(run({"a": 1.0}), run({}), 0, 0).overall == "different"
    assert not compare_metrics(run({"a": 1.0}), run({"a": 1.0}, RunStatus.FAILED), 0, 0).reproduced


@pytest.mark.parametrize("arg", ["--epochs", "--epochs=2", "--epoch", "--batch-size", "--batch_size=8", "--ep"])
def test_a_script_argument_that_would_set_a_param_is_refused(project: Path, arg: str) -> None:
    """`-p epochs=1 -- --epochs 2` trained 2 epochs while the manifest said 1 (argparse lets the last one win,
    and accepts `--epoch` and `--batch-size` for `--epochs` and `--batch_size` too)."""
    request = TrainRequest(script="train.py", params=["epochs=1", "batch_size=4"], script_args=[arg, "2"])
    with pytest.raises(UsageError, match="would set the param") as caught:
        prepare(request, open_project(project), project)
    assert caught.value.hint is not None and "-p " in caught.value.hint


def test_other_script_arguments_and_positionals_after_a_bare_double_dash_pass(project: Path) -> None:
    request = TrainRequest(script="train.py", params=["epochs=1"], script_args=["--data", "/d", "-v", "--", "--epochs"])
    prepared = prepare(request, open_project(project), project)
    assert prepared.command[-7:] == ["--epochs", "1", "--data", "/d", "-v", "--", "--epochs"]


def test_param_types_reach_the_manifest(project: Path) -> None:
    engine = _engine(script=[b"done\n"])
    request = TrainRequest(script="train.py", params=["ver=1.10", "lr=1e-3", "n=3", "flag=true", "none=null"])
    prepared = prepare(request, open_project(project), project)
    outcome = train(prepared, open_project(project), lambda: engine, Events())
    params = outcome.manifest.params
    assert params.values["ver"] == "1.10" and params.types["ver"] == "str"
    assert params.types == {"ver": "str", "lr": "float", "n": "int", "flag": "bool", "none": "null"}
    assert "--ver" in prepared.command and prepared.command[prepared.command.index("--ver") + 1] == "1.10"


def test_names_are_unique_and_reproductions_get_their_own(project: Path) -> None:
    from paddlectl.runs.query import resolve_run
    from paddlectl.runs.store import RunStore

    def run(**request: object) -> str:
        prepared = prepare(TrainRequest(script="train.py", **request), open_project(project), project)  # type: ignore[arg-type]
        outcome = train(prepared, open_project(project), lambda: _engine(script=[b"done\n"]), Events())
        return outcome.manifest.id

    first = run(name="fast-lr")
    with pytest.raises(UsageError, match="a run named 'fast-lr' already exists") as caught:
        run(name="fast-lr")
    assert caught.value.hint is not None and "--name" in caught.value.hint
    store = RunStore(open_project(project).runs_dir)
    assert len(store.run_dirs()) == 1, "the refused run left nothing behind"
    taken = prepare(TrainRequest(script="train.py", name="fast-lr"), open_project(project), project)
    with pytest.raises(UsageError, match="a run named 'fast-lr' already exists"):
        dry_run_spec(taken, open_project(project))  # --dry-run says what the real train would
    again = run(reproduction_of="fast-lr", reproduces=first)
    third = run(reproduction_of="fast-lr", reproduces=first)
    assert store.read(again).name == "fast-lr~repro1" and store.read(third).name == "fast-lr~repro2"
    assert resolve_run(store, "fast-lr").run_id == first, "the original keeps its name"
    assert resolve_run(store, "fast-lr~repro2").run_id == third
