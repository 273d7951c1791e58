"""The examples end to end, on copies in a temporary folder: digits trains, records and reproduces; hapi's
printed metrics are captured; the digits run exports, packages and verifies; examples/pipeline.sh passes and
fails its gate as told."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT, run_cli

pytestmark = [pytest.mark.engine, pytest.mark.paddle, pytest.mark.slow]

EXAMPLES = REPO_ROOT / "examples"
DEFAULT_PARAMS = {"epochs": 10, "lr": 0.003, "batch_size": 32, "seed": 42, "dataset": "digits"}
DIGITS_METRICS = ("loss", "acc", "val_loss", "val_acc")
HAPI_EPOCHS = 2
SHA256 = re.compile(r"[0-9a-f]{64}")


def _has_command(module: str) -> bool:
    # A module lookup, not a subprocess: this runs at collection, also for runs that skip these tests.
    return importlib.util.find_spec(f"paddlectl.cli.{module}") is not None


needs_export = pytest.mark.skipif(
    not (_has_command("export") and _has_command("package") and _has_command("verify")),
    reason="paddlectl export / package / verify are not in this tree yet",
)
needs_gate = pytest.mark.skipif(
    not (_has_command("runs") and _has_command("export") and _has_command("package")),
    reason="paddlectl runs gate / export / package are not in this tree yet",
)


def _copy_example(name: str, dest: Path, image: str) -> Path:
    """A copy of examples/<name> without any runs, pinned to the test image."""
    target = dest / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns(".paddlectl", "outputs", "__pycache__"))
    config = target / "paddlectl.yaml"
    config.write_text(re.sub(r"(?m)^(  cpu: ).*$", rf"\g<1>{image}", config.read_text()))
    return target


def _timed_cli(label: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    result: subprocess.CompletedProcess[str] = run_cli(*args, cwd=cwd)
    print(f"\n[{label}] exit {result.returncode} in {time.monotonic() - started:.1f} s")
    return result


def _train(project: Path, *args: str) -> dict[str, Any]:
    result = _timed_cli(f"train {' '.join(args)}", "train", "train.py", "--json", *args, cwd=project)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest: dict[str, Any] = json.loads(result.stdout)
    return manifest


@pytest.fixture(scope="module")
def examples_dir(tmp_path_factory: pytest.TempPathFactory, paddle_image: str) -> Path:
    """examples/digits and examples/hapi side by side (hapi mounts ../digits), digits a fresh git repository."""
    root = tmp_path_factory.mktemp("examples")
    digits = _copy_example("digits", root, paddle_image)
    _copy_example("hapi", root, paddle_image)
    git = ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", "-c", "init.defaultBranch=main"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "digits example"]):
        subprocess.run([*git, *command], cwd=digits, check=True, capture_output=True)
    return root


@pytest.fixture(scope="module")
def digits(examples_dir: Path) -> Path:
    return examples_dir / "digits"


@pytest.fixture(scope="module")
def digits_runs(digits: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two runs of the digits example with the same (default) params and seed."""
    return _train(digits), _train(digits)


@pytest.fixture(scope="module")
def hapi_run(examples_dir: Path) -> dict[str, Any]:
    return _train(examples_dir / "hapi", "--mount", "../digits:/data:ro", "-p", f"epochs={HAPI_EPOCHS}")


def test_digits_reaches_95_percent_and_fills_the_manifest(
    digits: Path, digits_runs: tuple[dict[str, Any], dict[str, Any]], paddle_image: str
) -> None:
    manifest = digits_runs[0]
    assert manifest["status"] == "succeeded"
    assert manifest["exit_code"] == 0
    assert manifest["project"] == "digits"
    assert manifest["started_at"] and manifest["ended_at"] and manifest["duration_seconds"] > 0
    assert manifest["command"]["script"] == "train.py"
    assert manifest["image"]["reference"] == paddle_image
    assert manifest["image"]["id"].startswith("sha256:")
    assert manifest["params"]["values"] == DEFAULT_PARAMS
    assert set(manifest["params"]["sources"].values()) == {"config"}

    summary = manifest["metrics"]["summary"]
    for name in DIGITS_METRICS:
        assert summary[name]["count"] == DEFAULT_PARAMS["epochs"], name
        assert summary[name]["last_step"] == DEFAULT_PARAMS["epochs"], name
        assert summary[name]["source"] == "helper", name
    assert summary["val_acc"]["last"] >= 0.95
    print(
        f"\n[digits] val_acc {summary['val_acc']['last']}, val_loss {summary['val_loss']['last']}, "
        f"run {manifest['duration_seconds']} s"
    )

    assert manifest["runtime"]["paddle_version"] == "3.2.0"
    assert manifest["runtime"]["python"]
    assert manifest["host"]["hostname"] and manifest["host"]["docker_version"] and manifest["host"]["paddlectl_version"]

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=digits, capture_output=True, text=True, check=True)
    assert manifest["git"]["commit"] == head.stdout.strip()
    assert manifest["git"]["dirty"] is False

    artifacts = {item["path"]: item for item in manifest["artifacts"]}
    weights = digits / ".paddlectl" / "runs" / manifest["id"] / "outputs" / "model.pdparams"
    assert SHA256.fullmatch(artifacts["model.pdparams"]["sha256"])
    assert artifacts["model.pdparams"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert artifacts["model.pdparams"]["size"] == weights.stat().st_size
    final = json.loads((weights.parent / "metrics.json").read_text())
    assert final["val_acc"] == summary["val_acc"]["last"]


def test_digits_same_seed_same_metrics_and_weights(digits_runs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    first, second = digits_runs
    assert first["id"] != second["id"]
    assert first["metrics"]["summary"] == second["metrics"]["summary"]
    weights = [{a["path"]: a["sha256"] for a in run["artifacts"]}["model.pdparams"] for run in digits_runs]
    assert weights[0] == weights[1]


def test_hapi_training_metrics_captured_from_its_output(examples_dir: Path, hapi_run: dict[str, Any]) -> None:
    assert hapi_run["status"] == "succeeded"
    summary = hapi_run["metrics"]["summary"]
    for name in ("loss", "acc"):
        assert summary[name]["source"] == "log", name
        assert summary[name]["count"] >= HAPI_EPOCHS, name
    assert 0.0 < summary["acc"]["last"] <= 1.0
    outputs = examples_dir / "hapi" / ".paddlectl" / "runs" / hapi_run["id"] / "outputs"
    assert (outputs / "lenet.pdparams").is_file()


def test_hapi_eval_metrics_captured_apart_from_training(examples_dir: Path, hapi_run: dict[str, Any]) -> None:
    summary = hapi_run["metrics"]["summary"]
    log = (examples_dir / "hapi" / ".paddlectl" / "runs" / hapi_run["id"] / "output.log").read_text()
    eval_lines = log.count("Eval begin...")
    train_lines = len(re.findall(r"(?m)^step \d+/\d+ ", log)) - eval_lines  # one step line per eval (5 of 5)
    assert eval_lines == HAPI_EPOCHS
    assert summary["loss"]["count"] == train_lines
    for name in ("eval_loss", "eval_acc"):
        assert summary[name]["count"] == HAPI_EPOCHS, name
    assert summary["eval_acc"]["last"] >= 0.9


@needs_export
def test_digits_export_package_verify(
    digits: Path, digits_runs: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    run_id = digits_runs[0]["id"]
    exported = _timed_cli("export", "export", run_id, cwd=digits)
    assert exported.returncode == 0, exported.stderr[-3000:]
    export_dir = digits / ".paddlectl" / "runs" / run_id / "export"
    assert {"model.json", "model.pdiparams"} <= {path.name for path in export_dir.iterdir()}

    packaged = _timed_cli(
        "package",
        "package",
        run_id,
        "--name",
        "digits-cnn",
        "--version",
        "1.0.0",
        "-o",
        str(tmp_path),
        "--json",
        cwd=digits,
    )
    assert packaged.returncode == 0, packaged.stderr[-3000:]
    archive = Path(json.loads(packaged.stdout)["path"])
    assert archive.parent == tmp_path
    with tarfile.open(archive) as tar:
        member = tar.extractfile("MODEL.yaml")
        assert member is not None
        card = yaml.safe_load(member.read())
    assert card["dataset"] == "digits"
    assert card["inputs"] == [{"name": "x", "dtype": "float32", "shape": [-1, 1, 8, 8]}]
    assert card["provenance"]["run_id"] == run_id
    assert card["metrics"]["val_acc"]["last"] == digits_runs[0]["metrics"]["summary"]["val_acc"]["last"]

    verified = _timed_cli("verify", "verify", str(archive), cwd=digits)
    assert verified.returncode == 0, verified.stderr


def _pipeline(digits: Path, baseline: str, out: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "PADDLECTL": f"{sys.executable} -m paddlectl",
        "PIPELINE_PROJECT": str(digits),
        "PIPELINE_BASELINE": baseline,
        "PIPELINE_OUT": str(out),
        "PIPELINE_EPOCHS": "3",
        **settings,
    }
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(EXAMPLES / "pipeline.sh")], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    print(f"\n[pipeline {settings}] exit {result.returncode} in {time.monotonic() - started:.1f} s")
    return result


def _summary(stdout: str) -> dict[str, str]:
    return {key: value.strip() for key, value in re.findall(r"(?m)^(\w+):\s+(.*)$", stdout)}


@needs_gate
def test_pipeline_sweeps_gates_exports_packages_and_verifies(
    digits: Path, digits_runs: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    result = _pipeline(digits, digits_runs[0]["id"], tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    summary = _summary(result.stdout)
    sweep_runs = re.findall(r"\d{8}-\d{6}-\w+", summary["sweep"].split("runs:")[1])
    assert len(sweep_runs) == 3
    assert summary["best"] in sweep_runs
    assert summary["baseline"] == digits_runs[0]["id"]
    package = Path(summary["package"].split(" (sha256")[0])
    assert package == tmp_path / "digits-cnn-1.0.0.tar"
    assert package.is_file()
    assert (digits / ".paddlectl" / "runs" / summary["best"] / "export" / "model.json").is_file()

    listed = run_cli("runs", "list", "--json", "--label", f"sweep={summary['sweep'].split()[0]}", cwd=digits)
    runs = json.loads(listed.stdout)
    assert {run["params"]["lr"] for run in runs} == {0.001, 0.003, 0.01}
    best = max(runs, key=lambda run: run["metrics"]["val_acc"])
    assert best["metrics"]["val_acc"] == next(r for r in runs if r["id"] == summary["best"])["metrics"]["val_acc"]


@needs_gate
def test_pipeline_fails_when_the_gate_fails(
    digits: Path, digits_runs: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    result = _pipeline(digits, digits_runs[0]["id"], tmp_path, PIPELINE_REQUIRE="val_acc>=1.01", PIPELINE_LRS="0.003")
    assert result.returncode == 1, result.stderr[-4000:]
    assert "gate failed" in result.stderr
    assert "FAIL" in result.stderr
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []
    best = re.search(r"best run: (\S+)", result.stderr)
    assert best is not None
    assert not (digits / ".paddlectl" / "runs" / best[1] / "export").exists()


def _with_registry(registry: Path, *args: str, cwd: Path) -> Any:
    """Run a paddlectl command against `registry` with --json; it must succeed; its JSON document."""
    started = time.monotonic()
    result = run_cli(*args, "--json", cwd=cwd, env={"PADDLECTL_REGISTRY": str(registry)})
    print(f"\n[{' '.join(args[:3])}] exit {result.returncode} in {time.monotonic() - started:.1f} s")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@needs_export
def test_digits_release_through_the_registry(
    digits: Path, digits_runs: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path, paddle_image: str
) -> None:
    """train -> export -> package -> register -> promote -> a second version -> promote -> rollback: the first is
    production again, `image build prod --model digits@production` serves it, and it reproduces from its package."""
    from engine.test_images_build import docker, free_port, http, stage_images, wait_for

    registry = tmp_path / "registry"

    def paddlectl(*args: str) -> Any:
        return _with_registry(registry, *args, cwd=digits)

    shas = []
    for index, run in enumerate(digits_runs):
        if not (digits / ".paddlectl" / "runs" / run["id"] / "export" / "export.yaml").is_file():
            paddlectl("export", run["id"])
        version = f"1.{index}.0"
        package = paddlectl("package", run["id"], "--name", "digits", "--version", version, "-o", str(tmp_path))
        registered = paddlectl("registry", "register", package["path"])
        assert registered["created"] and registered["run_id"] == run["id"] and registered["run_status"] == "succeeded"
        shas.append(registered["sha256"])
        promoted = paddlectl("registry", "promote", "digits", version, "--to", "production")
        assert promoted["status"] == "production" and promoted["replaced"] == (None if index == 0 else "1.0.0")
    back = paddlectl("registry", "rollback", "digits")
    assert back["version"] == "1.0.0" and back["replaced"] == "1.1.0" and back["status"] == "production"
    shown = paddlectl("registry", "show", "digits@production")
    assert shown["sha256"] == shas[0] and shown["card"]["provenance"]["run_status"] == "succeeded"
    history = paddlectl("registry", "history", "digits")
    assert [e["action"] for e in history["events"]] == ["register", "promote", "register", "promote", "rollback"]
    assert paddlectl("registry", "verify")["ok"] is True

    import io

    import numpy as np

    stages_before = set(stage_images())
    image = paddlectl("image", "build", "prod", "--model", "digits@production", "--paddle-image", paddle_image)["image"]
    container = None
    try:
        labels = json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}", image["tag"]))
        assert labels["io.paddlectl.package.sha256"] == shas[0]
        port = free_port()
        container = docker("run", "-d", "-p", f"127.0.0.1:{port}:8080", image["tag"])
        ready = wait_for(f"http://127.0.0.1:{port}/health", 60)
        print(f"\n[prod --model digits@production] /health answered after {ready:.1f} s")
        samples = digits / ".paddlectl" / "runs" / digits_runs[0]["id"] / "export" / "samples.npz"
        status, body = http(f"http://127.0.0.1:{port}/predict", samples.read_bytes())
        assert status == 200
        with np.load(samples) as expected, np.load(io.BytesIO(body)) as answer:
            outputs = [key for key in expected.files if key.startswith("output/")]
            assert outputs
            for key in outputs:
                np.testing.assert_allclose(answer[key.removeprefix("output/")], expected[key], rtol=1e-6, atol=1e-6)
    finally:
        if container:
            docker("rm", "-f", container, check=False)
        if not image["reused"]:  # a tag that was there before belongs to someone else
            docker("rmi", image["tag"], check=False)
        leftover = sorted(set(stage_images()) - stages_before)  # the classic builder keeps the verify stage
        if leftover:
            docker("rmi", "-f", *leftover, check=False)

    verdict = paddlectl("reproduce", "digits@1.0.0")
    assert verdict["original"] == digits_runs[0]["id"] and verdict["verdict"] == "identical", verdict
