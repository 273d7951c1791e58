"""`runs gate --baseline mlflow:models:/NAME@ALIAS` against a real MLflow server (the session's), every version
made either by paddlectl's registry (`registry.backend: mlflow`) or by plain REST calls, and every value the gate
compares with read back from the server over plain HTTP, never through the code under test.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli
from mlflow_server import MlflowServer, free_port
from paddlectl.foundation.yamlio import dump_yaml
from paddlectl.packaging import PackageRequest, build_package
from unit.packaging.test_packaging_fakes import make_export
from unit.runs.runs_factory import IMAGE, IMAGE_ID, make_run

pytestmark = pytest.mark.mlflow

PROFILE = {"name": "ci", "params": {"epochs": 5, "data_limit": 600}, "gpus": "none"}
PARAMS = {"dataset": "digits", "lr": 0.003, "epochs": 5, "seed": 42}


@dataclass
class GateProject:
    """A project whose registry is on the session's server, with its own model name and package experiment."""

    server: MlflowServer
    root: Path
    name: str
    experiment: str

    def run(self, minutes: int, name: str, val_acc: float, **extra: Any) -> str:
        paths = make_run(
            self.root, minutes=minutes, name=name, params=PARAMS, metrics={"val_acc": val_acc}, profile=PROFILE, **extra
        )
        return paths.run_id

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=self.root, env=env, timeout=300)

    def gate(
        self, run: str, alias_or_version: str, *options: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        baseline = f"mlflow:models:/{self.name}{alias_or_version}"
        return self.cli(
            "runs", "gate", run, "--baseline", baseline, "--metric", "val_acc:max-drop=1%", *options, env=env
        )

    def gated(self, run: str, alias_or_version: str, *options: str, code: int) -> dict[str, Any]:
        result = self.gate(run, alias_or_version, *options, "--json")
        assert result.returncode == code, result.stderr + result.stdout
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    # ---- what the server holds, over plain HTTP --------------------------------------------------------

    def alias_target(self, alias: str) -> dict[str, Any]:
        return dict(self.server.api("GET", "registered-models/alias", name=self.name, alias=alias)["model_version"])

    def plain_version(self, run_id: str, alias: str | None = None) -> str:
        """A model version made by plain REST calls, as MLflow's own client would register a run's model."""
        try:
            self.server.api("POST", "registered-models/create", {"name": self.name})
        except urllib.error.HTTPError as error:
            if error.code != 400:  # RESOURCE_ALREADY_EXISTS
                raise
        body = {"name": self.name, "source": f"runs:/{run_id}/model", "run_id": run_id}
        number = str(self.server.api("POST", "model-versions/create", body)["model_version"]["version"])
        if alias is not None:
            self.server.api("POST", "registered-models/alias", {"name": self.name, "alias": alias, "version": number})
        return number


@pytest.fixture
def project(mlflow_server: MlflowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GateProject]:
    for variable in ("PADDLECTL_REGISTRY", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("PADDLECTL_GATE_HISTORY", str(tmp_path / "gate-history.jsonl"))
    token = secrets.token_hex(4)
    root = tmp_path / "gated"
    root.mkdir()
    gated = GateProject(mlflow_server, root, f"digits-{token}", f"registry-{token}")
    registry = {"backend": "mlflow", "mlflow": {"uri": mlflow_server.uri, "experiment": gated.experiment}}
    (root / "paddlectl.yaml").write_text(dump_yaml({"project": "gated", "registry": registry}))
    yield gated
    try:
        mlflow_server.api("DELETE", "registered-models/delete", {"name": gated.name})
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise


def _metric_check(document: dict[str, Any]) -> dict[str, Any]:
    return next(check for check in document["checks"] if check["kind"] == "metric")


def test_a_version_paddlectl_registered_and_promoted_gates_a_local_run(project: GateProject) -> None:
    base = project.run(1, "base", 0.95, labels={"dataset": "digits"})
    export = make_export(
        project.root, run_id=base, with_manifest=False, record_overrides={"image": {"reference": IMAGE, "id": IMAGE_ID}}
    )
    request = PackageRequest(export_dir=export, name=project.name, version="1.0.0", output_dir=project.root.parent)
    package = build_package(request).path
    for command in (("register", str(package)), ("promote", project.name, "1.0.0", "--to", "production")):
        done = project.cli("registry", *command)
        assert done.returncode == 0, done.stderr
    project.run(2, "same", 0.948, labels={"dataset": "digits"})
    project.run(3, "worse", 0.90, labels={"dataset": "digits"})  # the regression, on purpose

    production = project.alias_target("production")
    shown = {tag["key"]: tag["value"] for tag in production["tags"]}["paddlectl.metric.val_acc"]
    passed = project.gated("same", "@production", code=0)
    detail = passed["baseline_detail"]
    assert (detail["model_version"], detail["paddlectl_version"]) == (production["version"], "1.0.0")
    assert detail["metrics_from"] == "card" and passed["differences"] == []
    assert _metric_check(passed)["baseline"] == float(shown) == 0.95
    same_version = ("--baseline", f"registry:{project.name}@production", "--metric", "val_acc:max-drop=1%", "--json")
    registry = project.cli("runs", "gate", "same", *same_version)
    assert registry.returncode == 0, registry.stderr
    by_registry = json.loads(registry.stdout)
    for key in ("run_id", "image", "profile", "dataset"):  # one version, read alike through either reference
        assert detail[key] == by_registry["baseline_detail"][key], key

    failed = project.gated("worse", "@production", code=1)
    check = _metric_check(failed)
    assert (check["passed"], check["actual"], check["baseline"]) == (False, 0.90, 0.95)
    assert failed["verdict"] == "failed"


def test_a_missing_alias_or_version_follows_the_policy_and_a_dead_server_is_exit_3(project: GateProject) -> None:
    project.run(1, "same", 0.948)
    project.plain_version(_plain_run(project.server, f"missing-{project.name}", [0.95]))  # version 1, no alias
    failed = project.gated("same", "@champion", code=1)
    assert failed["checks"][0]["kind"] == "baseline" and failed["checks"][0]["outcome"] == "fail"
    assert f"model '{project.name}' on MLflow at {project.server.uri} has no alias 'champion'" in str(
        failed["missing_baseline"]
    )
    warned = project.gate("same", "/7", "--on-missing-baseline", "warn")
    assert warned.returncode == 0, warned.stderr
    assert "has no version 7" in warned.stderr and "the comparisons are skipped" in warned.stderr

    dead = f"http://127.0.0.1:{free_port()}"
    down = project.gate("same", "@production", env={"MLFLOW_TRACKING_URI": dead})  # over registry.mlflow.uri
    assert down.returncode == 3, down.stderr
    lines = down.stderr.strip().splitlines()
    assert lines[0] == f"error: cannot reach the MLflow server at {dead}: connection refused", lines
    assert "--tracking-uri" in lines[1] and "Traceback" not in down.stderr
    option = ("--tracking-uri", project.server.uri, "--allow-different", "image,profile")
    assert project.gate("same", "/1", *option, env={"MLFLOW_TRACKING_URI": dead}).returncode == 0  # the option wins
    reserved = project.gate("same", "@latest")
    assert reserved.returncode == 2 and "'latest' is reserved by MLflow" in reserved.stderr


def _plain_run(server: MlflowServer, experiment: str, val_acc: list[float]) -> str:
    """A run logged by plain REST calls (no paddlectl tags): a val_acc series, two params, a dataset tag."""
    experiment_id = server.experiment_id(experiment) or server.create_experiment(experiment)
    run_id = str(
        server.api("POST", "runs/create", {"experiment_id": experiment_id, "start_time": 1})["run"]["info"]["run_id"]
    )
    metrics = [
        {"key": "val_acc", "value": value, "timestamp": 1000 + step, "step": step} for step, value in enumerate(val_acc)
    ]
    params = [{"key": "lr", "value": "0.003"}, {"key": "dataset", "value": "digits"}]
    tags = [{"key": "dataset", "value": "digits"}]
    server.api("POST", "runs/log-batch", {"run_id": run_id, "metrics": metrics, "params": params, "tags": tags})
    server.api("POST", "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 2000})
    return run_id


def test_a_version_registered_by_plain_rest_calls_is_read_from_its_run(project: GateProject) -> None:
    run_id = _plain_run(project.server, f"plain-{project.name}", [0.5, 0.93, 0.95])
    number = project.plain_version(run_id, alias="production")
    project.run(1, "same", 0.948)
    project.run(2, "worse", 0.90)
    latest = {
        m["key"]: m["value"] for m in project.server.api("GET", "runs/get", run_id=run_id)["run"]["data"]["metrics"]
    }

    # A plain MLflow run records no image or profile: the gate says so (exit 7) until told they may differ.
    incomparable = project.gated("same", "@production", code=7)
    assert sorted(d["key"] for d in incomparable["differences"]) == ["image", "profile"]
    allowed = ("--allow-different", "image,profile")
    passed = project.gated("same", "@production", *allowed, code=0)
    detail = passed["baseline_detail"]
    assert (detail["model_version"], detail["mlflow_run_id"], detail["metrics_from"]) == (number, run_id, "run")
    assert detail["dataset"] == "digits" and _metric_check(passed)["baseline"] == latest["val_acc"] == 0.95
    failed = project.gated("worse", f"/{number}", *allowed, code=1)
    assert _metric_check(failed)["actual"] == 0.90 and failed["baseline_reference"].endswith(f"/{number}")


def test_a_run_mlflow_push_wrote_carries_what_makes_it_comparable(project: GateProject) -> None:
    base = project.run(1, "base", 0.95, labels={"dataset": "digits"})
    points = [
        {"name": "val_acc", "value": value, "step": step, "time": 1.0, "source": "helper"}
        for step, value in enumerate([0.5, 0.95])
    ]
    (project.root / ".paddlectl" / "runs" / base / "metrics.jsonl").write_text(
        "".join(json.dumps(p) + "\n" for p in points)
    )
    experiment = f"pushed-{project.name}"
    pushed = project.cli("mlflow", "push", base, "--tracking-uri", project.server.uri, "--experiment", experiment)
    assert pushed.returncode == 0, pushed.stderr
    (run,) = project.server.runs_tagged(experiment, base)
    project.plain_version(run["info"]["run_id"], alias="production")
    project.run(2, "same", 0.948, labels={"dataset": "digits"})
    project.run(3, "worse", 0.90, labels={"dataset": "digits"})

    passed = project.gated("same", "@production", "--tracking-uri", project.server.uri, code=0)
    detail = passed["baseline_detail"]
    assert passed["differences"] == [] and detail["run_id"] == base and detail["profile"] == PROFILE
    assert detail["image"] == IMAGE_ID and detail["dataset"] == "digits"
    failed = project.gated("worse", "@production", code=1)
    assert _metric_check(failed)["baseline"] == 0.95
