"""`paddlectl mlflow push` against a real MLflow server, every check read back over plain HTTP.

The round trip compares everything with the run folder (zero differences); pushing twice, or again after a push
killed at a chosen request, must leave exactly what one push leaves.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli
from http_proxy import SeenRequest, forwarding_proxy, refusing_server
from mlflow_server import MlflowServer, free_port
from paddlectl.runs.store import RunPaths, RunStore
from s3_server import S3Server
from tracking.run_folder import LONG_VALUE, rich_run
from unit.runs.runs_factory import IMAGE, IMAGE_ID

pytestmark = pytest.mark.mlflow


def push(
    project: Path, server_uri: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli("mlflow", "push", *args, "--tracking-uri", server_uri, "--json", cwd=project, env=env, timeout=300)


def ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def expected_metrics(paths: RunPaths) -> dict[str, list[tuple[int, int, str]]]:
    """Every point of metrics.jsonl as MLflow must hold it: (step, timestamp ms, value), steps by position if none."""
    series: dict[str, list[tuple[int, int, str]]] = {}
    for line in paths.metrics.read_text().splitlines():
        point = json.loads(line)
        points = series.setdefault(point["name"], [])
        step = point["step"] if point["step"] is not None else len(points)
        value = "NaN" if point["value"] is None else str(float(point["value"]))
        points.append((step, round(point["time"] * 1000), value))
    return {name: sorted(points) for name, points in series.items()}


def server_metrics(state: dict[str, Any]) -> dict[str, list[tuple[int, int, str]]]:
    return {
        key: sorted((step, stamp, value if value == "NaN" else str(float(value))) for step, stamp, value in points)
        for key, points in state["metrics"].items()
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "proj"
    folder.mkdir()
    return folder


def test_round_trip_has_zero_differences(project: Path, mlflow_server: MlflowServer) -> None:
    paths = rich_run(project, steps=120)
    manifest = RunStore(paths.root.parent).read(paths.run_id)
    result = push(project, mlflow_server.uri, "last", "--experiment", "round-trip")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["runs"][0]["points_sent"] == document["runs"][0]["points"] == 10 * 120 + 5
    state = mlflow_server.state("round-trip", paths.run_id)
    differences: list[str] = []

    def same(what: str, got: Any, wanted: Any) -> None:
        if got != wanted:
            differences.append(f"{what}: server {got!r} != local {wanted!r}")

    long_digest = sha(LONG_VALUE.encode())
    same(
        "params",
        state["params"],
        {
            "lr": "0.001",
            "epochs": "3",
            "use_amp": "true",
            "optimizer": "adam",
            "layers": "[64, 32]",
            "warmup": "null",
            "api_token": "****",
            "notes": f"sha256:{long_digest}",
        },
    )
    wanted_tags = {
        "paddlectl.run_id": paths.run_id,
        "paddlectl.project": "proj",
        "paddlectl.status": "failed",
        "paddlectl.reason": "exit code 1",
        "paddlectl.exit_code": "1",
        "paddlectl.version": "0.1.0",
        "paddlectl.image.reference": IMAGE,
        "paddlectl.image.id": IMAGE_ID,
        "paddlectl.git.commit": "a" * 40,
        "paddlectl.git.branch": "main",
        "paddlectl.git.dirty": "true",
        "paddlectl.git.remote": "https://example.com/team/repo.git",
        "paddlectl.label.team": "vision",
        "paddlectl.label.sweep": "lr",
        "paddlectl.export.verification": "passed",
        "mlflow.runName": "sweep-a",
        "mlflow.source.name": "train.py",
        "mlflow.source.git.commit": "a" * 40,
    }
    same("tags", {key: state["tags"].get(key) for key in wanted_tags}, wanted_tags)
    same("status", state["status"], "FAILED")
    same("start_time", state["start_time"], ms(manifest.started_at))
    same("end_time", state["end_time"], ms(manifest.ended_at or ""))
    local_metrics = expected_metrics(paths)
    remote_metrics = server_metrics(state)
    same("metric names", sorted(remote_metrics), sorted(local_metrics))
    for name, points in local_metrics.items():
        same(f"metric {name}", remote_metrics.get(name), points)
    wanted_artifacts = {
        name: sha((paths.root / name).read_bytes())
        for name in ("manifest.yaml", "output.log", "metrics.jsonl", "uncommitted.patch")
    }
    same("patch sha256 against the manifest", wanted_artifacts["uncommitted.patch"], manifest.git.patch_sha256)
    wanted_artifacts.update({f"outputs/{item.path}": item.sha256 for item in manifest.artifacts})
    wanted_artifacts.update(
        {f"export/{file.name}": sha(file.read_bytes()) for file in (paths.root / "export").iterdir()}
    )
    wanted_artifacts[f"paddlectl/oversized/{long_digest}.txt"] = long_digest
    same("artifacts", state["artifacts"], wanted_artifacts)
    assert differences == []


@pytest.mark.parametrize("location", ["folder", "served"])
def test_a_second_push_leaves_the_server_as_one_push_did(
    project: Path, mlflow_server: MlflowServer, location: str
) -> None:
    experiment = f"twice-{location}"
    if location == "served":
        mlflow_server.create_experiment(experiment, f"mlflow-artifacts:/{experiment}")
    paths = rich_run(project, steps=30)
    first = push(project, mlflow_server.uri, "last", "--experiment", experiment)
    assert first.returncode == 0, first.stderr
    once = mlflow_server.state(experiment, paths.run_id)
    second = push(project, mlflow_server.uri, "last", "--experiment", experiment)
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)["runs"][0]
    assert (report["created"], report["points_sent"], report["artifacts_uploaded"]) == (False, 0, 0)
    assert mlflow_server.state(experiment, paths.run_id) == once  # the_run() also asserts a single MLflow run
    if location == "served":
        assert list((mlflow_server.served_root / experiment).rglob("metrics.jsonl"))


class KillAt:
    """Kill the push (SIGKILL) at one request: the Nth matching one, before it goes on or once it was answered.

    Requests run concurrently (push keeps two batches in flight), so each one's number is taken when it arrives.
    """

    def __init__(self, method: str, fragment: str, nth: int, *, answered: bool) -> None:
        self.method, self.fragment, self.nth, self.answered = method, fragment, nth, answered
        self.numbers: dict[int, int] = {}
        self.lock = threading.Lock()
        self.process: subprocess.Popen[str] | None = None
        self.ready = threading.Event()
        self.killed = threading.Event()

    def _kill(self) -> None:
        self.ready.wait(30)
        assert self.process is not None
        self.process.kill()
        self.process.wait(30)
        self.killed.set()
        raise ConnectionAbortedError("the client is dead")  # the proxy drops this request's answer

    def before(self, request: SeenRequest) -> None:
        if request.method != self.method or self.fragment not in request.path:
            return
        with self.lock:
            self.numbers[id(request)] = number = len(self.numbers) + 1
        if number == self.nth and not self.answered:
            self._kill()

    def after(self, request: SeenRequest) -> None:
        if self.answered and self.numbers.get(id(request)) == self.nth:
            self._kill()


@pytest.mark.parametrize(
    ("method", "fragment", "nth", "answered"),
    [
        ("POST", "runs/log-batch", 6, True),  # the 6th batch of points is on the server, its answer never arrives
        ("POST", "runs/log-batch", 7, False),  # killed while the 7th (last) batch of points is on its way
        ("PUT", "mlflow-artifacts", 3, False),  # killed in the middle of the artifacts
    ],
    ids=["after-a-metric-batch", "before-a-metric-batch", "during-artifacts"],
)
def test_a_push_killed_midway_then_pushed_again_equals_one_push(
    tmp_path: Path, mlflow_server: MlflowServer, method: str, fragment: str, nth: int, answered: bool
) -> None:
    killed, clean = f"killed-{fragment[:4]}-{nth}-{answered}", f"clean-{fragment[:4]}-{nth}-{answered}"
    for experiment in (killed, clean):
        mlflow_server.create_experiment(experiment, f"mlflow-artifacts:/{experiment}")
    project = tmp_path / "proj"
    project.mkdir()
    paths = rich_run(project, steps=600)  # 6,005 points: 7 batches, then the artifacts, then params and tags
    trigger = KillAt(method, fragment, nth, answered=answered)
    with forwarding_proxy(mlflow_server.uri) as proxy:
        proxy.before, proxy.after = trigger.before, trigger.after
        env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        trigger.process = subprocess.Popen(
            [sys.executable, "-m", "paddlectl", "mlflow", "push", "last", "--tracking-uri", proxy.uri,
             "--experiment", killed],
            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        trigger.ready.set()
        trigger.process.wait(120)
    assert trigger.killed.is_set() and trigger.process.returncode == -signal.SIGKILL
    cut_short = mlflow_server.the_run(killed, paths.run_id)
    assert cut_short["info"]["status"] == "RUNNING"  # the status comes last: a cut push never looks complete
    again = push(project, mlflow_server.uri, "last", "--experiment", killed)
    assert again.returncode == 0, again.stderr
    reference = push(project, mlflow_server.uri, "last", "--experiment", clean)
    assert reference.returncode == 0, reference.stderr
    assert mlflow_server.state(killed, paths.run_id) == mlflow_server.state(clean, paths.run_id)
    if fragment == "runs/log-batch":
        resumed = json.loads(again.stdout)["runs"][0]
        assert 0 < resumed["points_sent"] < resumed["points"]  # resumed from the progress tag, not from zero


def _tree(folder: Path) -> dict[str, tuple[int, int, str]]:
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns, sha(path.read_bytes()))
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_a_server_that_is_down_is_one_line_exit_3_and_nothing_local_changes(project: Path) -> None:
    rich_run(project, steps=5)
    before = _tree(project)
    uri = f"http://ana:pw-0d9e3b77@127.0.0.1:{free_port()}"
    result = run_cli("mlflow", "push", "last", "--tracking-uri", uri, cwd=project)
    assert result.returncode == 3
    assert result.stdout == ""
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "cannot reach the MLflow server" in error[0] and "connection refused" in error[0]
    assert "ana:****@127.0.0.1" in error[0] and "pw-0d9e3b77" not in result.stderr
    assert "Traceback" not in result.stderr
    assert _tree(project) == before


@pytest.mark.parametrize(
    ("credentials", "header", "secret"),
    [
        ({"MLFLOW_TRACKING_TOKEN": "tok-4f9a77e1c2"}, "Bearer tok-4f9a77e1c2", "tok-4f9a77e1c2"),
        (
            {"MLFLOW_TRACKING_USERNAME": "ana", "MLFLOW_TRACKING_PASSWORD": "pw-88c1d0e6"},
            "Basic YW5hOnB3LTg4YzFkMGU2",
            "pw-88c1d0e6",
        ),
    ],
    ids=["token", "username-password"],
)
def test_a_refusing_server_is_exit_3_and_the_credentials_are_sent_but_never_shown(
    project: Path, credentials: dict[str, str], header: str, secret: str
) -> None:
    rich_run(project, steps=5)
    before = _tree(project)
    with refusing_server() as server:
        result = run_cli(
            "mlflow", "push", "last", "--tracking-uri", server.uri, "--json", cwd=project, env=credentials
        )  # fmt: skip
    assert result.returncode == 3
    assert server.received[:1] == [header]
    assert "refused" in json.loads(result.stdout)["error"]
    assert secret not in result.stdout + result.stderr
    assert _tree(project) == before


def test_an_object_store_without_the_mlflow_client_says_what_to_install(
    tmp_path: Path, project: Path, mlflow_server: MlflowServer
) -> None:
    mlflow_server.create_experiment("in-s3", "s3://team-bucket/mlflow")
    rich_run(project, steps=5)
    blocked = tmp_path / "blocked"
    (blocked / "mlflow").mkdir(parents=True)
    (blocked / "mlflow" / "__init__.py").write_text("raise ImportError('mlflow is not installed here')\n")
    path = os.pathsep.join([str(blocked), os.environ.get("PYTHONPATH", "")])
    result = run_cli(
        "mlflow", "push", "last", "--tracking-uri", mlflow_server.uri, "--experiment", "in-s3", cwd=project,
        env={"PYTHONPATH": path},
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert "s3://" in result.stderr
    assert "hint: pip install 'paddlectl[mlflow]'" in result.stderr


def test_nan_points_and_positions_survive_as_mlflow_stores_them(project: Path, mlflow_server: MlflowServer) -> None:
    paths = rich_run(project, metrics=1, steps=3)
    assert push(project, mlflow_server.uri, "last", "--experiment", "nan").returncode == 0
    points = mlflow_server.state("nan", paths.run_id)["metrics"]["eval_acc"]
    assert [step for step, _, _ in points] == [0, 1, 2, 3, 4]
    assert [value for _, _, value in points][2] == "NaN"
    assert not any(value != "NaN" and math.isnan(float(value)) for _, _, value in points)


def test_an_object_store_is_written_through_the_mlflow_client(
    project: Path, mlflow_server: MlflowServer, s3_server: S3Server
) -> None:
    s3, bucket, root = s3_server.client(), s3_server.bucket, f"mlflow-{secrets.token_hex(4)}"
    mlflow_server.create_experiment("in-seaweed", f"s3://{bucket}/{root}")
    paths = rich_run(project, steps=5)
    result = push(project, mlflow_server.uri, "last", "--experiment", "in-seaweed", env=s3_server.environment())
    assert result.returncode == 0, result.stderr
    mlflow_run_id = json.loads(result.stdout)["runs"][0]["mlflow_run_id"]
    prefix = f"{root}/{mlflow_run_id}/artifacts/"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    on_s3 = {
        item["Key"].removeprefix(prefix): sha(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        for item in listed
    }
    manifest = RunStore(paths.root.parent).read(paths.run_id)
    assert on_s3["manifest.yaml"] == sha(paths.manifest.read_bytes())
    assert on_s3["outputs/model.pdparams"] == manifest.artifacts[0].sha256
    assert on_s3[f"paddlectl/oversized/{sha(LONG_VALUE.encode())}.txt"] == sha(LONG_VALUE.encode())
    assert sorted(on_s3) == sorted(
        [
            "manifest.yaml", "output.log", "metrics.jsonl", "uncommitted.patch", "outputs/model.pdparams",
            "outputs/sub/notes.txt", "export/export.yaml", "export/model.json", "export/model.pdiparams",
            f"paddlectl/oversized/{sha(LONG_VALUE.encode())}.txt",
        ]
    )  # fmt: skip
