"""paddlectl export against the real engine and the local Paddle image: exports that verify, and clear failures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import run_cli
from paddlectl.engine.oneshot import run_oneshot
from paddlectl.engine.protocol import ContainerEngine, ContainerSpec, Mount
from paddlectl.errors import ExitCode
from paddlectl.foundation.yamlio import dump_yaml, load_yaml
from paddlectl.runs.manifest import CommandRecord, ImageRecord, Manifest, RunStatus

pytestmark = [pytest.mark.engine, pytest.mark.paddle]

FIXTURES = Path(__file__).parent / "fixtures"
CONVNET_INPUT = "x:float32:-1,1,8,8"
RUN_ID = "20261122-103000-ab12cd"


def image_id(image: str) -> str:
    return subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Id}}", image], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, paddle_image: str, docker_engine: ContainerEngine) -> Path:
    """A project with the fixture models, their weights (written by Paddle in the image) and a recorded run."""
    root = tmp_path_factory.mktemp("export") / "proj"
    root.mkdir()
    for name in ("convnet.py", "unconvertible.py", "drifting.py", "make_weights.py"):
        shutil.copy(FIXTURES / name, root / name)
    (root / "paddlectl.yaml").write_text(dump_yaml({"project": "proj", "images": {"cpu": paddle_image}}))
    result = run_oneshot(
        docker_engine,
        ContainerSpec(
            image=paddle_image,
            command=["python3", "-W", "ignore", "make_weights.py", "/w"],
            mounts=[Mount(str(root), "/w")],
            working_dir="/w",
            user=f"{os.getuid()}:{os.getgid()}",
            environment={"HOME": "/tmp", "GLOG_minloglevel": "2"},
            network_mode="none",
        ),
        "export",
        timeout=300,
    )
    assert result.exit_code == 0, result.output
    run_dir = root / ".paddlectl" / "runs" / RUN_ID
    (run_dir / "outputs").mkdir(parents=True)
    shutil.copy(root / "model.pdparams", run_dir / "outputs" / "model.pdparams")
    manifest = Manifest(
        id=RUN_ID,
        project="p",
        status=RunStatus.SUCCEEDED,
        started_at="2026-11-22T10:30:00.000Z",
        image=ImageRecord(paddle_image, image_id(paddle_image), None),
        command=CommandRecord("train.py", None),
        params={"values": {"lr": 0.1}, "sources": {"lr": "cli"}},
    )
    (run_dir / "manifest.yaml").write_text(dump_yaml(manifest.to_dict()))
    return root


def export(project: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = run_cli("export", *args, cwd=project)
    elapsed = time.monotonic() - started
    print(f"\n[export {' '.join(args[:3])}...] exit {result.returncode} in {elapsed:.1f} s")
    return result, elapsed


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_convnet_export_verifies(project: Path) -> None:
    result, _ = export(
        project,
        "--weights",
        "model.pdparams",
        "--model",
        "convnet:build_model",
        "--model-arg",
        "num_classes=10",
        "--input",
        CONVNET_INPUT,
        "-o",
        "out",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    record: dict[str, Any] = json.loads(result.stdout)
    assert record == load_yaml((project / "out" / "export.yaml").read_text(), "export.yaml")
    assert record["format"] == "pir-json"
    assert record["files"] == ["model.json", "model.pdiparams"]
    assert record["verification"]["status"] == "passed"
    assert record["verification"]["samples"] == 8
    diffs = record["verification"]["outputs"]
    assert [d["name"] for d in diffs] == [o["name"] for o in record["outputs"]] and diffs
    assert all(d["max_abs_diff"] < 1e-5 for d in diffs)
    assert record["outputs"][0]["shape"] == [-1, 10]
    assert record["latency_ms"]["runs"] == 50 and 0 < record["latency_ms"]["p50"] <= record["latency_ms"]["p95"]
    assert record["size_bytes"] == sum((project / "out" / f).stat().st_size for f in record["files"])
    assert record["paddle_version"].startswith("3.") and record["paddle_commit"]
    assert record["model"]["args"] == {"num_classes": 10}
    for name in (*record["files"], "samples.npz", "export.yaml"):
        assert (project / "out" / name).stat().st_uid == os.getuid()  # written as the user, not root
    with np.load(project / "out" / "samples.npz", allow_pickle=False) as samples:
        assert sorted(samples.files) == ["input/x", "output/fetch_name_0"]
        assert samples["input/x"].shape == (1, 1, 8, 8) and samples["output/fetch_name_0"].shape == (1, 10)


def test_run_export_goes_to_the_run_and_updates_its_manifest(project: Path) -> None:
    run_dir = project / ".paddlectl" / "runs" / RUN_ID
    # Three user-supplied samples of batch 2 (float64 on purpose: cast to the declared float32).
    inputs = np.random.default_rng(3).standard_normal((3, 2, 1, 8, 8))
    np.savez(project / "inputs.npz", x=inputs)
    result, _ = export(
        project,
        RUN_ID,
        "--model",
        "convnet:build_model",
        "--input",
        CONVNET_INPUT,
        "--inputs-file",
        "inputs.npz",
        "--latency-runs",
        "5",
    )
    assert result.returncode == 0, result.stderr
    assert "verification passed" in result.stderr and result.stdout == ""
    record = load_yaml((run_dir / "export" / "export.yaml").read_text(), "export.yaml")
    assert record["verification"]["samples"] == 3
    with np.load(run_dir / "export" / "samples.npz", allow_pickle=False) as samples:
        assert np.array_equal(samples["input/x"], inputs[0].astype("float32"))
    assert record["run_id"] == RUN_ID and record["model"]["weights"] == "outputs/model.pdparams"
    assert record["image"]["id"] == image_id(record["image"]["reference"])
    manifest = load_yaml((run_dir / "manifest.yaml").read_text(), "manifest.yaml")
    assert manifest["params"]["values"] == {"lr": 0.1} and manifest["status"] == "succeeded"
    assert manifest["export"]["verification"] == "passed"
    assert manifest["export"]["max_abs_diff"] == max(o["max_abs_diff"] for o in record["verification"]["outputs"])


@pytest.mark.slow
@pytest.mark.parametrize("factory", ["paddle.vision.models:resnet18", "paddle.vision.models:mobilenet_v2"])
def test_vision_models_export_with_random_init(project: Path, factory: str) -> None:
    out = factory.rsplit(":", 1)[1]
    result, elapsed = export(
        project,
        "--random-init",
        "--model",
        factory,
        "--input",
        "x:float32:-1,3,224,224",
        "--samples",
        "1",
        "--latency-runs",
        "3",
        "-o",
        out,
        "--json",
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["verification"]["status"] == "passed", record["verification"]
    assert record["model"]["weights"] is None
    assert record["outputs"][0]["shape"] == [-1, 1000]
    assert record["size_bytes"] > 1_000_000
    print(
        f"[{factory}] export took {elapsed:.1f} s, latency p50 {record['latency_ms']['p50']} ms, "
        f"max abs diff {record['verification']['outputs'][0]['max_abs_diff']:.2e}"
    )


def test_input_spec_mismatch_names_the_shape(project: Path) -> None:
    result, _ = export(
        project,
        "--weights",
        "model.pdparams",
        "--model",
        "convnet:build_model",
        "--input",
        "x:float32:-1,3,8,8",
        "-o",
        "mismatch",
    )
    assert result.returncode == ExitCode.USAGE, result.stderr
    line = error_line(result)
    assert "[1, 3, 8, 8]" in line and "channels" in line
    assert not (project / "mismatch" / "export.yaml").exists()


def test_weights_with_a_missing_key_are_listed(project: Path) -> None:
    result, _ = export(
        project,
        "--weights",
        "missing-bias.pdparams",
        "--model",
        "convnet:build_model",
        "--input",
        CONVNET_INPUT,
        "-o",
        "missing",
    )
    assert result.returncode == ExitCode.USAGE, result.stderr
    line = error_line(result)
    assert "missing 1 key: fc.bias" in line and "missing-bias.pdparams" in line


def test_a_factory_that_does_not_exist_is_one_line(project: Path) -> None:
    result, _ = export(
        project,
        "--weights",
        "model.pdparams",
        "--model",
        "convnet:build_nothing",
        "--input",
        CONVNET_INPUT,
        "-o",
        "nofactory",
    )
    assert result.returncode == ExitCode.USAGE, result.stderr
    line = error_line(result)
    assert "build_nothing" in line and "build_model" in line  # says what is there instead
    assert "Traceback" not in result.stderr


def test_a_conversion_error_shows_paddles_reason_and_the_spec(project: Path) -> None:
    result, _ = export(
        project,
        "--random-init",
        "--model",
        "unconvertible:build_model",
        "--input",
        "x:float32:-1,8",
        "-o",
        "unconvertible",
    )
    assert result.returncode == ExitCode.FAILED, result.stderr
    line = error_line(result)
    assert "tolist" in line and "x:float32:[-1, 8]" in line and "unconvertible.py:" in line
    assert "Traceback" not in result.stderr


def test_outputs_beyond_tolerance_keep_the_export_marked_unverified(project: Path) -> None:
    result, _ = export(
        project,
        "--random-init",
        "--model",
        "drifting:build_model",
        "--input",
        "x:float32:-1,8",
        "--samples",
        "2",
        "--latency-runs",
        "2",
        "-o",
        "drifting",
    )
    assert result.returncode == ExitCode.FAILED, result.stderr
    line = error_line(result)
    assert "verification failed" in line and "max abs diff 0.01" in line
    record = load_yaml((project / "drifting" / "export.yaml").read_text(), "export.yaml")
    assert record["verification"]["status"] == "unverified"
    assert abs(record["verification"]["outputs"][0]["max_abs_diff"] - 0.01) < 1e-6
    assert (project / "drifting" / "model.json").is_file()
