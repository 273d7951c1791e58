"""`paddlectl train --mlflow` with the real engine and a real MLflow server: live, interrupted, server down."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli
from engine.train_harness import Cli, TrainProject, wait_until
from mlflow_server import MlflowServer, free_port

pytestmark = [pytest.mark.engine, pytest.mark.mlflow]

SECRET_PARAM, SECRET_ENV = "tok-secret-7f3a91c4", "pw-secret-19c2e0b8"


def _points(server: MlflowServer, experiment: str, run_id: str, key: str) -> list[dict[str, Any]]:
    runs = server.runs_tagged(experiment, run_id)
    return server.history(runs[0]["info"]["run_id"], key) if runs else []


def _everything_the_server_keeps(server: MlflowServer) -> list[Path]:
    files = [path for path in server.database.parent.glob("mlflow.sqlite*") if path.is_file()]
    for root in (server.artifact_root, server.served_root):
        files.extend(path for path in root.rglob("*") if path.is_file())
    return files


def test_train_mlflow_mirrors_the_run_while_it_trains_and_no_secret_reaches_the_server(
    project: TrainProject, mlflow_server: MlflowServer
) -> None:
    args = ["train", "--mlflow", "-p", f"api_token={SECRET_PARAM}", "-e", f"DB_PASSWORD={SECRET_ENV}", "wait_for_go.py"]
    cli = Cli(args, project.root, env={"MLFLOW_TRACKING_URI": mlflow_server.uri})
    try:
        run_id = project.wait_for_run_id()
        cli.wait_for_stdout("waiting")
        wait_until(lambda: len(_points(mlflow_server, project.name, run_id, "loss")) == 3, 60, "live log points")
        wait_until(lambda: _points(mlflow_server, project.name, run_id, "val_acc"), 60, "the helper's point, live")
        live = mlflow_server.the_run(project.name, run_id)
        assert live["info"]["status"] == "RUNNING" and cli.process.poll() is None  # the script is still waiting
        (project.runs_dir / run_id / "outputs" / "go").touch()
        assert cli.wait(120) == 0, cli.describe()
    finally:
        cli.close()
    state = mlflow_server.state(project.name, run_id)
    assert state["status"] == "FINISHED" and state["tags"]["paddlectl.status"] == "succeeded"
    assert state["params"]["api_token"] == "****"
    assert [value for _, _, value in state["metrics"]["loss"]] == ["1.0", "0.5", "0.33"]
    assert {"manifest.yaml", "output.log", "metrics.jsonl", "outputs/go"} <= set(state["artifacts"])
    again = run_cli("mlflow", "push", run_id, "--tracking-uri", mlflow_server.uri, "--json", cwd=project.root)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["runs"][0]["points_sent"] == 0
    assert mlflow_server.state(project.name, run_id) == state
    leaks = [
        (str(path), secret)
        for path in _everything_the_server_keeps(mlflow_server)
        for secret in (SECRET_PARAM, SECRET_ENV)
        if secret.encode() in path.read_bytes()
    ]
    assert leaks == []


def test_an_interrupted_run_ends_killed_on_the_server(project: TrainProject, mlflow_server: MlflowServer) -> None:
    cli = Cli(["train", "--mlflow", "wait_for_go.py"], project.root, env={"MLFLOW_TRACKING_URI": mlflow_server.uri})
    try:
        run_id = project.wait_for_run_id()
        cli.wait_for_stdout("waiting")
        wait_until(lambda: mlflow_server.runs_tagged(project.name, run_id), 60, "the run on the server")
        cli.send(signal.SIGINT)
        assert cli.wait(60) == 130, cli.describe()
    finally:
        cli.close()
    state = mlflow_server.state(project.name, run_id)
    assert (state["status"], state["tags"]["paddlectl.status"]) == ("KILLED", "interrupted")
    assert "SIGINT" in state["tags"]["paddlectl.reason"]


def test_a_dead_server_never_fails_the_run_and_push_sends_it_later(
    project: TrainProject, mlflow_server: MlflowServer
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    completed = run_cli("train", "--mlflow", "hello.py", cwd=project.root, env={"MLFLOW_TRACKING_URI": dead})
    assert completed.returncode == 0, completed.stderr
    assert "hello from the container" in completed.stdout
    assert "cannot reach the MLflow server" in completed.stderr and "training goes on" in completed.stderr
    run_id = project.run_ids()[-1]
    assert f"paddlectl mlflow push {run_id}" in completed.stderr
    assert project.manifest(run_id)["status"] == "succeeded"
    pushed = run_cli("mlflow", "push", run_id, "--tracking-uri", mlflow_server.uri, cwd=project.root)
    assert pushed.returncode == 0, pushed.stderr
    assert mlflow_server.state(project.name, run_id)["status"] == "FINISHED"
