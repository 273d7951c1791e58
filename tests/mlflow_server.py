"""A real MLflow tracking server on 127.0.0.1 for the tests, and plain-HTTP readers of what it holds.

Everything is read back through MLflow's REST API with urllib, never through the code that wrote it.
Starting on a fresh database runs MLflow's migrations (10-14 s here); the template database is migrated once per
MLflow version (`mlflow db upgrade`, kept in ~/.cache/paddlectl-tests) and each session starts on a copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _mlflow_version() -> str:
    from importlib.metadata import version

    return version("mlflow")


def template_database() -> Path:
    """A migrated, empty MLflow database for this MLflow version (made once, atomically)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "paddlectl-tests"
    cache.mkdir(parents=True, exist_ok=True)
    template = cache / f"mlflow-{_mlflow_version()}.sqlite"
    if template.is_file():
        return template
    scratch = cache / f".{template.name}.{os.getpid()}"
    subprocess.run(["mlflow", "db", "upgrade", f"sqlite:///{scratch}"], check=True, capture_output=True, timeout=300)
    os.replace(scratch, template)
    return template


@dataclass
class MlflowServer:
    uri: str
    database: Path
    artifact_root: Path  # --default-artifact-root: experiments without a location keep artifacts in this folder
    served_root: Path  # --artifacts-destination: experiments at mlflow-artifacts:/... (the server's proxy)
    process: subprocess.Popen[bytes]
    log: Path

    # ---- plain HTTP ------------------------------------------------------------------------------------

    def http(self, method: str, location: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.uri + location + suffix, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            content = response.read()
        return json.loads(content) if content else {}

    def api(self, method: str, endpoint: str, body: Any = None, **params: Any) -> Any:
        return self.http(method, f"/api/2.0/mlflow/{endpoint}", body, params)

    def download(self, run_id: str, path: str) -> bytes:
        query = urllib.parse.urlencode({"run_id": run_id, "path": path})
        with urllib.request.urlopen(f"{self.uri}/get-artifact?{query}", timeout=60) as response:
            return bytes(response.read())

    # ---- what the server holds -------------------------------------------------------------------------

    def experiment_id(self, name: str) -> str | None:
        try:
            return str(self.api("GET", "experiments/get-by-name", experiment_name=name)["experiment"]["experiment_id"])
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def create_experiment(self, name: str, artifact_location: str | None = None) -> str:
        body = {"name": name} if artifact_location is None else {"name": name, "artifact_location": artifact_location}
        return str(self.api("POST", "experiments/create", body)["experiment_id"])

    def runs_tagged(self, experiment: str, run_id: str) -> list[dict[str, Any]]:
        experiment_id = self.experiment_id(experiment)
        if experiment_id is None:
            return []
        body = {
            "experiment_ids": [experiment_id],
            "filter": f"tags.`paddlectl.run_id` = '{run_id}'",
            "max_results": 100,
        }
        return list(self.api("POST", "runs/search", body).get("runs") or [])

    def the_run(self, experiment: str, run_id: str) -> dict[str, Any]:
        runs = self.runs_tagged(experiment, run_id)
        assert len(runs) == 1, f"{len(runs)} MLflow runs carry paddlectl.run_id={run_id} in {experiment}"
        return dict(self.api("GET", "runs/get", run_id=runs[0]["info"]["run_id"])["run"])

    def history(self, mlflow_run_id: str, key: str) -> list[dict[str, Any]]:
        points: list[dict[str, Any]] = []
        token = None
        while True:
            params: dict[str, Any] = {"run_id": mlflow_run_id, "metric_key": key, "max_results": 25000}
            if token:
                params["page_token"] = token
            answer = self.api("GET", "metrics/get-history", **params)
            points.extend(answer.get("metrics") or [])
            token = answer.get("next_page_token")
            if not token:
                return points

    def artifact_paths(self, mlflow_run_id: str, path: str = "") -> list[tuple[str, int]]:
        params: dict[str, Any] = {"run_id": mlflow_run_id}
        if path:
            params["path"] = path
        found = []
        for entry in self.api("GET", "artifacts/list", **params).get("files") or []:
            if entry["is_dir"]:
                found.extend(self.artifact_paths(mlflow_run_id, entry["path"]))
            else:
                found.append((entry["path"], int(entry.get("file_size", -1))))
        return sorted(found)

    def artifact_digests(self, mlflow_run_id: str) -> dict[str, str]:
        return {
            path: hashlib.sha256(self.download(mlflow_run_id, path)).hexdigest()
            for path, _ in self.artifact_paths(mlflow_run_id)
        }

    def state(self, experiment: str, run_id: str) -> dict[str, Any]:
        """Everything the server holds for one paddlectl run, without the ids it chose itself."""
        run = self.the_run(experiment, run_id)
        info, data = run["info"], run["data"]
        mlflow_run_id = info["run_id"]
        keys = sorted({metric["key"] for metric in data.get("metrics") or []})
        return {
            "status": info["status"],
            "start_time": info.get("start_time"),
            "end_time": info.get("end_time"),
            "run_name": info.get("run_name"),
            "params": {param["key"]: param["value"] for param in data.get("params") or []},
            "tags": {tag["key"]: tag["value"] for tag in data.get("tags") or []},
            "metrics": {
                key: sorted(
                    (point["step"], point["timestamp"], str(point["value"]))
                    for point in self.history(mlflow_run_id, key)
                )
                for key in keys
            },
            "artifacts": self.artifact_digests(mlflow_run_id),
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)  # its own group, started with start_new_session
                self.process.wait(timeout=10)


@contextlib.contextmanager
def mlflow_server(root: Path, workers: int = 1) -> Iterator[MlflowServer]:
    """Start `mlflow server` on a copy of the template database; stop it by pid afterwards.

    One worker starts in about half the time of MLflow's default four, which the benchmark uses.
    """
    root.mkdir(parents=True, exist_ok=True)
    database = root / "mlflow.sqlite"
    shutil.copyfile(template_database(), database)
    artifact_root, served_root = root / "artifacts", root / "served"
    artifact_root.mkdir()
    served_root.mkdir()
    port = free_port()
    log = root / "server.log"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                "mlflow", "server",
                "--backend-store-uri", f"sqlite:///{database}",
                "--default-artifact-root", str(artifact_root),
                "--artifacts-destination", str(served_root),
                "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
            start_new_session=True,
        )  # fmt: skip
    server = MlflowServer(f"http://127.0.0.1:{port}", database, artifact_root, served_root, process, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{server.uri}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not answer within 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield server
    finally:
        server.stop()


def mlflow_available() -> bool:
    return shutil.which("mlflow") is not None and sys.version_info >= (3, 10)
