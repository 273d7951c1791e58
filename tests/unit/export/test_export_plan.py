"""Planning an export: runs, weights, options and the export directory, all before any container starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from paddlectl.errors import UsageError
from paddlectl.export.run import ExportOptions, plan_export
from paddlectl.export.source import resolve_run_dir
from paddlectl.foundation.yamlio import dump_yaml
from paddlectl.project.config import ExportConfig, InputSpec, ProjectConfig
from paddlectl.project.workspace import Project
from paddlectl.runs.manifest import CommandRecord, ImageRecord, Manifest, RunStatus

RUN_ID = "20261122-103000-ab12cd"
IMAGE_ID = "sha256:" + "5" * 64


def make_project(root: Path, **export: object) -> Project:
    config = ProjectConfig(name="p", cpu_image="paddlectl-test/paddle:3.2.0-cpu", export=ExportConfig(**export))  # type: ignore[arg-type]
    return Project(root=root, config=config)


def write_run(
    root: Path,
    run_id: str = RUN_ID,
    weights: tuple[str, ...] = ("model.pdparams",),
    status: str = "succeeded",
    digest: str | None = None,
) -> Path:
    run_dir = root / ".paddlectl" / "runs" / run_id
    (run_dir / "outputs").mkdir(parents=True)
    for name in weights:
        path = run_dir / "outputs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not really a pickle")
    manifest = Manifest(
        id=run_id,
        project="p",
        status=RunStatus(status),
        started_at="2026-11-22T10:30:00.000Z",
        image=ImageRecord("paddlectl-test/paddle:3.2.0-cpu", IMAGE_ID, digest),
        command=CommandRecord("train.py", None),
    )
    (run_dir / "manifest.yaml").write_text(dump_yaml(manifest.to_dict()))
    return run_dir


CONVNET = {"model": "convnet:build_model", "inputs": (InputSpec("x", "float32", (-1, 1, 8, 8)),)}


def test_plan_for_a_run_uses_its_only_weights_and_export_dir(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path)
    plan = plan_export(make_project(tmp_path, **CONVNET, model_args={"num_classes": 10}), ExportOptions(run=RUN_ID))
    assert plan.run is not None and plan.run.run_id == RUN_ID
    assert plan.weights == (run_dir / "outputs" / "model.pdparams").resolve()
    assert plan.weights_label == "outputs/model.pdparams"
    assert plan.export_dir == run_dir.resolve() / "export"
    assert plan.image is None  # the run's own image, chosen against the engine later
    assert plan.sample_shapes == {"x": (1, 1, 8, 8)}
    assert plan.model_args == {"num_classes": 10}
    assert plan.warnings == ()


def test_run_can_be_given_as_a_directory(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path)
    assert resolve_run_dir(str(run_dir), make_project(tmp_path)) == run_dir.resolve()
    assert resolve_run_dir(RUN_ID, make_project(tmp_path)) == run_dir.resolve()
    with pytest.raises(UsageError, match="nope"):
        resolve_run_dir("nope", make_project(tmp_path))


def test_several_weight_files_are_listed(tmp_path: Path) -> None:
    write_run(tmp_path, weights=("best.pdparams", "last.pdparams"))
    with pytest.raises(UsageError) as caught:
        plan_export(make_project(tmp_path, **CONVNET), ExportOptions(run=RUN_ID))
    assert "best.pdparams" in caught.value.message and "last.pdparams" in caught.value.message
    assert caught.value.hint is not None and "--weights" in caught.value.hint
    plan = plan_export(make_project(tmp_path, **CONVNET), ExportOptions(run=RUN_ID, weights=Path("best.pdparams")))
    assert plan.weights is not None and plan.weights.name == "best.pdparams"
    plan = plan_export(make_project(tmp_path, **CONVNET, weights="last.pdparams"), ExportOptions(run=RUN_ID))
    assert plan.weights is not None and plan.weights.name == "last.pdparams"


def test_nested_single_weights_are_found_and_none_is_an_error(tmp_path: Path) -> None:
    write_run(tmp_path, weights=("checkpoints/final.pdparams",))
    plan = plan_export(make_project(tmp_path, **CONVNET), ExportOptions(run=RUN_ID))
    assert plan.weights_label == "outputs/checkpoints/final.pdparams"
    write_run(tmp_path, run_id="empty", weights=())
    with pytest.raises(UsageError, match=r"no \*\.pdparams"):
        plan_export(make_project(tmp_path, **CONVNET), ExportOptions(run="empty"))


@pytest.mark.parametrize("status", ["failed", "interrupted", "lost"])
def test_a_run_that_did_not_succeed_is_refused_unless_allowed(tmp_path: Path, status: str) -> None:
    write_run(tmp_path, status=status)
    with pytest.raises(UsageError, match=f"run {RUN_ID} {status}") as caught:
        plan_export(make_project(tmp_path, **CONVNET), ExportOptions(run=RUN_ID))
    assert caught.value.hint is not None and "--allow-failed" in caught.value.hint
    plan = plan_export(make_project(tmp_path, **CONVNET), ExportOptions(run=RUN_ID, allow_failed=True))
    assert any(status in warning for warning in plan.warnings)


def test_a_failed_run_without_weights_says_the_run_failed(tmp_path: Path) -> None:
    """Not "fix export.weights in paddlectl.yaml": the weights are missing because the run failed."""
    write_run(tmp_path, status="failed", weights=())
    with pytest.raises(UsageError, match="failed") as caught:
        plan_export(make_project(tmp_path, weights="model.pdparams", **CONVNET), ExportOptions(run=RUN_ID))
    assert "export.weights" not in caught.value.message and "export.weights" not in (caught.value.hint or "")


def test_unfinished_run_and_foreign_image_warn(tmp_path: Path) -> None:
    write_run(tmp_path, status="failed")
    plan = plan_export(
        make_project(tmp_path, **CONVNET), ExportOptions(run=RUN_ID, image="other/paddle:3.2.0", allow_failed=True)
    )
    assert any("failed" in warning for warning in plan.warnings)
    assert any("--image" in warning for warning in plan.warnings)
    assert plan.image == "other/paddle:3.2.0"


def test_without_run_weights_are_required(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    project = make_project(tmp_path, **CONVNET)
    with pytest.raises(UsageError, match="--weights is required"):
        plan_export(project, ExportOptions())
    with pytest.raises(UsageError, match="no such file"):
        plan_export(project, ExportOptions(weights=Path("missing.pdparams")))
    (tmp_path / "w.pdparams").write_bytes(b"x")
    plan = plan_export(project, ExportOptions(weights=Path("w.pdparams")))
    assert plan.export_dir == tmp_path.resolve() / "export"
    assert plan.image == "paddlectl-test/paddle:3.2.0-cpu"
    assert plan.weights_label == "w.pdparams"
    random = plan_export(project, ExportOptions(random_init=True, output_dir=Path("out")))
    assert random.weights is None and random.weights_label is None
    assert random.export_dir == tmp_path.resolve() / "out"


def test_cli_inputs_replace_config_inputs(tmp_path: Path) -> None:
    write_run(tmp_path)
    plan = plan_export(
        make_project(tmp_path, **CONVNET),
        ExportOptions(run=RUN_ID, inputs=("img:float32:-1,3,16,16",), sample_shapes=("img:2,3,16,16",)),
    )
    assert [spec.name for spec in plan.inputs] == ["img"]
    assert plan.sample_shapes == {"img": (2, 3, 16, 16)}


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (ExportOptions(run=RUN_ID, random_init=True), "does not combine"),
        (ExportOptions(run=RUN_ID, output_dir=Path("x")), "run directory"),
        (ExportOptions(random_init=True, weights=Path("w.pdparams")), "exclude each other"),
        (ExportOptions(run=RUN_ID, samples=0), "--samples"),
        (ExportOptions(run=RUN_ID, latency_runs=0), "--latency-runs"),
        (ExportOptions(run=RUN_ID, atol=-1.0), "negative"),
        (ExportOptions(run=RUN_ID, inputs_file=Path("nope.npz")), "no such file"),
        (ExportOptions(run=RUN_ID, model="nocolon"), "module:callable"),
    ],
)
def test_bad_option_combinations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: ExportOptions, fragment: str
) -> None:
    monkeypatch.chdir(tmp_path)
    write_run(tmp_path)
    with pytest.raises(UsageError) as caught:
        plan_export(make_project(tmp_path, **CONVNET), options)
    assert fragment in caught.value.message


def test_missing_inputs_and_factory_say_how_to_declare_them(tmp_path: Path) -> None:
    write_run(tmp_path)
    with pytest.raises(UsageError, match="no model factory") as caught:
        plan_export(make_project(tmp_path, inputs=CONVNET["inputs"]), ExportOptions(run=RUN_ID))
    assert caught.value.hint is not None and "--model" in caught.value.hint
    with pytest.raises(UsageError, match="no model inputs") as caught:
        plan_export(make_project(tmp_path, model="m:f"), ExportOptions(run=RUN_ID))
    assert caught.value.hint is not None and "--input" in caught.value.hint


def test_inputs_file_skips_sample_shapes(tmp_path: Path) -> None:
    write_run(tmp_path)
    (tmp_path / "in.npz").write_bytes(b"PK")
    inputs = (InputSpec("x", "float32", (-1, 3, -1, -1)),)
    plan = plan_export(
        make_project(tmp_path, model="m:f", inputs=inputs), ExportOptions(run=RUN_ID, inputs_file=tmp_path / "in.npz")
    )
    assert plan.sample_shapes == {}
    assert plan.request()["inputs_file"] == "/paddlectl/inputs/inputs.npz"
    assert plan.request()["inputs_file_name"] == "in.npz"


def test_a_foreign_non_empty_output_dir_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.pdparams").write_bytes(b"x")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="holds no earlier export"):
        plan_export(
            make_project(tmp_path, **CONVNET), ExportOptions(weights=Path("w.pdparams"), output_dir=Path("mine"))
        )


def test_host_side_never_imports_paddle_numpy_or_pickle() -> None:
    code = (
        "import sys, paddlectl.export.run, paddlectl.cli.export; "
        "print(sorted(m for m in ('numpy', 'paddle', 'pickle', '_pickle') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_config_model_args_apply_only_to_the_config_factory(tmp_path: Path) -> None:
    write_run(tmp_path)
    project = make_project(tmp_path, **CONVNET, model_args={"num_classes": 10})
    same = plan_export(project, ExportOptions(run=RUN_ID, model="convnet:build_model", model_args=("width=2",)))
    assert same.model_args == {"num_classes": 10, "width": 2}
    other = plan_export(project, ExportOptions(run=RUN_ID, model="paddle.vision.models:resnet18"))
    assert other.model_args == {}
