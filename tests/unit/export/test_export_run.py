"""Running an export against a fake engine: the container spec, export.yaml, the run's manifest, error mapping."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import paddlectl.export.run as export_core
from paddlectl.engine.hosts import EngineHost
from paddlectl.engine.oneshot import OneshotResult
from paddlectl.engine.protocol import ContainerSpec, ImageInfo
from paddlectl.errors import ExitCode, PaddlectlError, UnavailableError
from paddlectl.export.run import ExportOptions, ExportPlan, plan_export, run_export
from paddlectl.foundation.yamlio import load_yaml
from tests.unit.export.test_export_plan import CONVNET, IMAGE_ID, RUN_ID, make_project, write_run

TAG = "paddlectl-test/paddle:3.2.0-cpu"
DIGEST = "sha256:" + "d" * 64


class FakeEngine:
    """Only what export asks of an engine: image lookups."""

    def __init__(self, images: dict[str, ImageInfo]) -> None:
        self.images = images
        self.looked_up: list[str] = []
        self.host = EngineHost("unix:///var/run/docker.sock")

    def image(self, reference: str) -> ImageInfo | None:
        self.looked_up.append(reference)
        return self.images.get(reference)


LOCAL = ImageInfo(id=IMAGE_ID, tags=(TAG,), repo_digests=(), size=1, created="")
PULLED = ImageInfo(id=IMAGE_ID, tags=(TAG,), repo_digests=(f"paddlectl-test/paddle@{DIGEST}",), size=1, created="")


def passed_result(max_abs: float = 1.2e-07, status: str = "passed") -> dict[str, Any]:
    return {
        "status": status,
        "format": "pir-json",
        "files": ["model.json", "model.pdiparams"],
        "samples_file": "samples.npz",
        "size_bytes": 8479,
        "outputs": [{"name": "fetch_name_0", "dtype": "float32", "shape": [-1, 10]}],
        "verification": {
            "passed": status == "passed",
            "atol": 1e-5,
            "rtol": 1e-4,
            "samples": 8,
            "outputs": [{"name": "fetch_name_0", "max_abs_diff": max_abs, "max_rel_diff": 3e-06}],
        },
        "latency_ms": {"p50": 0.08, "p95": 0.11, "runs": 50},
        "paddle_version": "3.2.0",
        "paddle_commit": "abc123",
        "device": "cpu",
        "timings": {"save_s": 0.2},
    }


class FakeOneshot:
    """Stands in for run_oneshot: records the spec, writes what export_model.py would, returns an exit code."""

    def __init__(
        self,
        result: dict[str, Any] | None,
        exit_code: int = 0,
        output: str = "",
        oom: bool = False,
        files: tuple[str, ...] = ("model.json", "model.pdiparams", "samples.npz"),
    ) -> None:
        self.result, self.exit_code, self.output, self.oom, self.files = result, exit_code, output, oom, files
        self.specs: list[ContainerSpec] = []
        self.requests: list[dict[str, Any]] = []

    def mount(self, spec: ContainerSpec, target: str) -> Path:
        return Path(next(m.source for m in spec.mounts if m.target == target))

    def __call__(
        self,
        engine: object,
        spec: ContainerSpec,
        kind: str,
        timeout: float | None = None,
        project: str | None = None,
        trees: dict[str, list[str]] | None = None,
    ) -> OneshotResult:
        assert project == "p", "the export container carries its project (only its CLIs reap it)"
        assert kind == "export"
        self.specs.append(spec)
        job = self.mount(spec, "/paddlectl/job")
        self.requests.append(json.loads((job / "request.json").read_text()))
        if self.result is not None and self.result.get("status") != "error":
            for name in self.files:
                (self.mount(spec, "/paddlectl/export") / name).write_bytes(b"new")
        if self.result is not None:
            (job / "result.json").write_text(json.dumps(self.result))
        return OneshotResult(exit_code=self.exit_code, oom_killed=self.oom, output=self.output)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., FakeOneshot]:
    jobs = tmp_path / "tmp"
    jobs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(jobs))  # job folders kept for crashes stay in the test's tmp

    def install(result: dict[str, Any] | None, **kwargs: Any) -> FakeOneshot:
        oneshot = FakeOneshot(result, **kwargs)
        monkeypatch.setattr(export_core, "run_oneshot", oneshot)
        return oneshot

    return install


def run_plan(tmp_path: Path, **options: Any) -> ExportPlan:
    return plan_export(
        make_project(tmp_path, **CONVNET, model_args={"num_classes": 10}), ExportOptions(run=RUN_ID, **options)
    )


def test_run_export_writes_the_record_and_the_manifest_entry(tmp_path: Path, fake: Callable[..., FakeOneshot]) -> None:
    run_dir = write_run(tmp_path)
    oneshot = fake(passed_result())
    outcome = run_export(FakeEngine({IMAGE_ID: LOCAL}), run_plan(tmp_path))  # type: ignore[arg-type]

    assert outcome.verified and outcome.export_dir == run_dir.resolve() / "export"
    record = load_yaml((run_dir / "export" / "export.yaml").read_text(), "export.yaml")
    assert list(record) == [
        "schema_version",
        "format",
        "paddle_version",
        "paddle_commit",
        "files",
        "samples",
        "model",
        "inputs",
        "outputs",
        "verification",
        "latency_ms",
        "size_bytes",
        "run_id",
        "image",
        "created_at",
    ]
    assert record["format"] == "pir-json" and record["files"] == ["model.json", "model.pdiparams"]
    assert record["samples"] == "samples.npz"
    assert record["model"] == {
        "factory": "convnet:build_model",
        "args": {"num_classes": 10},
        "weights": "outputs/model.pdparams",
    }
    assert record["inputs"] == [{"name": "x", "dtype": "float32", "shape": [-1, 1, 8, 8]}]
    assert record["outputs"] == [{"name": "fetch_name_0", "dtype": "float32", "shape": [-1, 10]}]
    assert record["verification"] == {
        "status": "passed",
        "atol": 1e-5,
        "rtol": 1e-4,
        "samples": 8,
        "outputs": [{"name": "fetch_name_0", "max_abs_diff": 1.2e-07, "max_rel_diff": 3e-06}],
    }
    assert record["run_id"] == RUN_ID
    assert record["image"] == {"reference": TAG, "id": IMAGE_ID, "digest": None}
    assert record["created_at"].endswith("Z")

    manifest = load_yaml((run_dir / "manifest.yaml").read_text(), "manifest")
    assert manifest["status"] == "succeeded" and manifest["image"]["id"] == IMAGE_ID  # the rest untouched
    assert manifest["export"] == {
        "format": "pir-json",
        "dir": "export",
        "verification": "passed",
        "max_abs_diff": 1.2e-07,
        "max_rel_diff": 3e-06,
        "latency_ms": {"p50": 0.08, "p95": 0.11},
        "size_bytes": 8479,
        "created_at": record["created_at"],
    }
    # Nothing left behind: no staging folder next to export/, no job folder.
    assert sorted(p.name for p in run_dir.iterdir()) == ["export", "manifest.yaml", "outputs"]
    assert not Path(oneshot.specs[0].mounts[2].source).exists()
    assert oct((run_dir / "export").stat().st_mode & 0o777) == oct(0o777 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_container_spec_runs_the_script_as_the_user_with_read_only_inputs(
    tmp_path: Path, fake: Callable[..., FakeOneshot]
) -> None:
    write_run(tmp_path)
    oneshot = fake(passed_result())
    run_export(FakeEngine({IMAGE_ID: LOCAL}), run_plan(tmp_path))  # type: ignore[arg-type]
    spec = oneshot.specs[0]
    assert spec.image == IMAGE_ID  # no digest recorded: the exact image by id
    assert spec.command == ["python3", "/paddlectl/lib/export_model.py", "--request", "/paddlectl/job/request.json"]
    assert spec.user == f"{os.getuid()}:{os.getgid()}"
    assert spec.init and spec.network_mode == "none"
    assert spec.environment["HOME"] == "/tmp" and spec.environment["GLOG_minloglevel"] == "2"
    modes = {m.target: m.read_only for m in spec.mounts}
    assert modes == {
        "/workspace": True,
        "/paddlectl/lib": True,
        "/paddlectl/job": False,
        "/paddlectl/export": False,
        "/paddlectl/weights/weights.pdparams": True,
    }
    assert Path(oneshot.mount(spec, "/paddlectl/lib"), "export_model.py").is_file()
    request = oneshot.requests[0]
    assert request["weights"] == "/paddlectl/weights/weights.pdparams" and request["weights_name"] == "model.pdparams"
    assert request["sample_shapes"] == {"x": [1, 1, 8, 8]} and request["model_args"] == {"num_classes": 10}


def test_a_recorded_digest_runs_by_digest(tmp_path: Path, fake: Callable[..., FakeOneshot]) -> None:
    write_run(tmp_path, digest=DIGEST)
    oneshot = fake(passed_result())
    engine = FakeEngine({f"paddlectl-test/paddle@{DIGEST}": PULLED})
    outcome = run_export(engine, run_plan(tmp_path))  # type: ignore[arg-type]
    assert oneshot.specs[0].image == f"paddlectl-test/paddle@{DIGEST}"
    assert outcome.record.to_dict()["image"] == {"reference": TAG, "id": IMAGE_ID, "digest": DIGEST}


def test_a_vanished_image_says_what_to_pull(tmp_path: Path, fake: Callable[..., FakeOneshot]) -> None:
    write_run(tmp_path, digest=DIGEST)
    fake(passed_result())
    with pytest.raises(UnavailableError) as caught:
        run_export(FakeEngine({}), run_plan(tmp_path))  # type: ignore[arg-type]
    assert f"docker pull paddlectl-test/paddle@{DIGEST}" in caught.value.message
    assert "\n" not in caught.value.message


def test_a_vanished_local_image_names_its_tag(tmp_path: Path, fake: Callable[..., FakeOneshot]) -> None:
    write_run(tmp_path)
    fake(passed_result())
    with pytest.raises(UnavailableError) as caught:
        run_export(FakeEngine({}), run_plan(tmp_path))  # type: ignore[arg-type]
    assert IMAGE_ID[:19] in caught.value.message and TAG in caught.value.message


def test_without_run_the_project_image_is_recorded_with_its_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: Callable[..., FakeOneshot]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.pdparams").write_bytes(b"x")
    oneshot = fake(passed_result())
    plan = plan_export(make_project(tmp_path, **CONVNET), ExportOptions(weights=Path("w.pdparams")))
    outcome = run_export(FakeEngine({TAG: PULLED}), plan)  # type: ignore[arg-type]
    assert oneshot.specs[0].image == TAG
    assert outcome.record.to_dict()["run_id"] is None
    assert outcome.record.to_dict()["image"] == {"reference": TAG, "id": IMAGE_ID, "digest": DIGEST}
    assert (tmp_path / "export" / "export.yaml").is_file()
    with pytest.raises(UnavailableError, match="not present locally") as caught:
        run_export(FakeEngine({}), plan)  # type: ignore[arg-type]
    assert caught.value.hint == f"docker pull {TAG}"


def test_tolerance_exceeded_keeps_the_export_marked_unverified(
    tmp_path: Path, fake: Callable[..., FakeOneshot]
) -> None:
    run_dir = write_run(tmp_path)
    fake(passed_result(max_abs=0.5, status="unverified"), exit_code=1)
    outcome = run_export(FakeEngine({IMAGE_ID: LOCAL}), run_plan(tmp_path))  # type: ignore[arg-type]
    assert not outcome.verified
    assert outcome.record.to_dict()["verification"]["status"] == "unverified"
    assert (run_dir / "export" / "model.json").is_file()
    assert load_yaml((run_dir / "manifest.yaml").read_text(), "m")["export"]["verification"] == "unverified"


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("factory", ExitCode.USAGE),
        ("weights", ExitCode.USAGE),
        ("inputs", ExitCode.USAGE),
        ("request", ExitCode.USAGE),
        ("conversion", ExitCode.FAILED),
        ("predictor", ExitCode.FAILED),
        ("internal", ExitCode.INTERNAL),
        ("something-new", ExitCode.INTERNAL),
    ],
)
def test_failure_kinds_map_to_exit_codes_and_keep_the_previous_export(
    tmp_path: Path, fake: Callable[..., FakeOneshot], kind: str, code: ExitCode
) -> None:
    run_dir = write_run(tmp_path)
    (run_dir / "export").mkdir()
    (run_dir / "export" / "export.yaml").write_text("schema_version: 1\n")
    (run_dir / "export" / "model.json").write_text("old")
    fake(
        {"status": "error", "error": {"kind": kind, "message": f"{kind} went wrong", "hint": "do this"}},
        exit_code=1,
        output="Traceback ...\nBoom\n",
    )
    with pytest.raises(PaddlectlError) as caught:
        run_export(FakeEngine({IMAGE_ID: LOCAL}), run_plan(tmp_path))  # type: ignore[arg-type]
    assert caught.value.code == code
    assert caught.value.message == f"{kind} went wrong"
    assert (run_dir / "export" / "model.json").read_text() == "old"
    assert load_yaml((run_dir / "manifest.yaml").read_text(), "m")["export"] is None
    assert sorted(p.name for p in run_dir.iterdir()) == ["export", "manifest.yaml", "outputs"]


def test_a_crash_without_result_points_at_the_saved_output(tmp_path: Path, fake: Callable[..., FakeOneshot]) -> None:
    write_run(tmp_path)
    oneshot = fake(None, exit_code=139, output="loading\nSegmentation fault\n")
    with pytest.raises(PaddlectlError) as caught:
        run_export(FakeEngine({IMAGE_ID: LOCAL}), run_plan(tmp_path))  # type: ignore[arg-type]
    assert "code 139" in caught.value.message and "Segmentation fault" in caught.value.message
    log = Path(oneshot.mount(oneshot.specs[0], "/paddlectl/job")) / "output.log"
    assert caught.value.hint is not None and str(log) in caught.value.hint
    assert log.read_text().endswith("Segmentation fault\n")


def test_oom_is_reported_as_such(tmp_path: Path, fake: Callable[..., FakeOneshot]) -> None:
    write_run(tmp_path)
    fake(None, exit_code=137, oom=True)
    with pytest.raises(PaddlectlError, match="out of memory") as caught:
        run_export(FakeEngine({IMAGE_ID: LOCAL}), run_plan(tmp_path))  # type: ignore[arg-type]
    assert caught.value.code == ExitCode.FAILED


def test_cli_json_prints_only_the_record_and_fails_when_unverified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: Callable[..., FakeOneshot]
) -> None:
    from paddlectl.cli.app import app

    write_run(tmp_path)
    (tmp_path / "paddlectl.yaml").write_text(
        "project: p\nexport:\n  model: convnet:build_model\n  inputs:\n    - {name: x, shape: [-1, 1, 8, 8]}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("paddlectl.engine.docker_engine.connect", lambda host=None: FakeEngine({IMAGE_ID: LOCAL}))
    fake(passed_result())
    result = CliRunner().invoke(app, ["export", RUN_ID, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["verification"]["status"] == "passed"

    fake(passed_result(max_abs=0.5, status="unverified"), exit_code=1)
    result = CliRunner().invoke(app, ["export", RUN_ID, "--json"])
    assert result.exit_code == ExitCode.FAILED
    assert json.loads(result.stdout)["verification"]["status"] == "unverified"


def test_cli_summary_and_the_error_name_the_given_tolerances_when_unverified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: Callable[..., FakeOneshot]
) -> None:
    from paddlectl.cli.app import app

    write_run(tmp_path)
    (tmp_path / "paddlectl.yaml").write_text(
        "project: p\nexport:\n  model: convnet:build_model\n  inputs:\n    - {name: x, shape: [-1, 1, 8, 8]}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("paddlectl.engine.docker_engine.connect", lambda host=None: FakeEngine({IMAGE_ID: LOCAL}))
    fake(passed_result(max_abs=0.5, status="unverified"), exit_code=1)
    result = CliRunner().invoke(app, ["export", RUN_ID, "--atol", "0.001", "--rtol", "0.002"])
    assert result.stdout == ""
    assert "verification unverified over 8 sample(s) (atol 0.001, rtol 0.002)" in result.stderr
    error = result.exception  # the CLI boundary (cli/app.py) prints it; CliRunner hands it over
    assert isinstance(error, PaddlectlError) and error.code == ExitCode.FAILED
    assert error.message.startswith(
        "verification failed: fetch_name_0 max abs diff 0.5, max rel diff 3e-06 exceeds atol 0.001 / rtol 0.002"
    )
