"""MLflow: push speed and the cost of live tracking, each against a baseline measured in the same run.

Figures (targets from the MLflow issue), against a local `mlflow server` (sqlite, one worker) started here:
- `paddlectl mlflow push` of a run with 10 metrics x 1,000 steps, end to end (a new process, a new experiment each
  time): <= 2 s. Baseline: the naive way, one `runs/log-metric` request per point, timed over 1,000 points in the
  same session and scaled to the 10,000 points.
- `paddlectl train` of the 1,000,000-line script with `--mlflow` against the same run without it: <= 1.05x
  (the live mirror, its final push with the 1,000,000-line output.log, and the CLI's extra work included).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from tests.mlflow_server import mlflow_server

from bench.train_bench import _project

METRICS, STEPS = 10, 1000
PUSH_TARGET_SECONDS = 2.0


def _run_with_points(project: Path) -> str:
    from paddlectl.foundation.clock import utc_now
    from paddlectl.runs.manifest import CommandRecord, ImageRecord, Manifest, ParamsRecord, RunStatus
    from paddlectl.runs.store import RunStore

    store = RunStore(project / ".paddlectl" / "runs")
    paths = store.create()
    start = time.time() - 3600
    with paths.metrics.open("w", encoding="utf-8") as handle:
        for step in range(STEPS):
            for index in range(METRICS):
                point = {"name": f"metric_{index}", "value": 1 / (step + 1) + index, "step": step,
                         "time": start + step + index / 100, "source": "helper"}  # fmt: skip
                handle.write(json.dumps(point) + "\n")
    paths.log.write_text("".join(f"step {step}\n" for step in range(STEPS)), encoding="utf-8")
    manifest = Manifest(
        id=paths.run_id,
        project="bench",
        status=RunStatus.SUCCEEDED,
        started_at=utc_now(),
        ended_at=utc_now(),
        image=ImageRecord("paddlectl-test/paddle:3.2.0-cpu", "sha256:" + "1" * 64),
        command=CommandRecord("train.py", None, [], ["python", "-u", "train.py"]),
        params=ParamsRecord({"lr": 0.001, "epochs": 10, "batch_size": 32}),
    )
    store.write(manifest)
    return paths.run_id


def _push_seconds(project: Path, run_id: str, uri: str, experiment: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "paddlectl",
            "mlflow",
            "push",
            run_id,
            "--tracking-uri",
            uri,
            "--experiment",
            experiment,
        ],
        cwd=project,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def _naive_seconds(uri: str, points: int) -> float:
    """One request per point, as a `log_metric` loop makes them (same server, same HTTP session reuse)."""
    api = f"{uri}/api/2.0/mlflow"
    session = requests.Session()
    experiment = session.post(f"{api}/experiments/create", json={"name": f"naive-{time.time_ns()}"}).json()
    run = session.post(f"{api}/runs/create", json={"experiment_id": experiment["experiment_id"]}).json()["run"]
    now = int(time.time() * 1000)
    start = time.perf_counter()
    for step in range(points):
        body = {"run_id": run["info"]["run_id"], "key": "loss", "value": 1 / (step + 1), "timestamp": now, "step": step}
        session.post(f"{api}/runs/log-metric", json=body).raise_for_status()
    return time.perf_counter() - start


def _train_seconds(project: Path, mlflow: bool) -> float:
    command = [sys.executable, "-m", "paddlectl", "train", "million.py", "-q", *(["--mlflow"] if mlflow else [])]
    start = time.perf_counter()
    subprocess.run(command, cwd=project, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def run(quick: bool = False) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory(prefix="paddlectl-bench-mlflow-") as tmp:
        root = Path(tmp)
        # One worker: on a 2-core VM MLflow's default four over sqlite answer each request ~7x slower (55 vs 8 ms).
        with mlflow_server(root / "server", workers=1) as server:
            project = _project(root)
            run_id = _run_with_points(project)
            _push_seconds(project, run_id, server.uri, "warm-up")  # page cache, first-request costs on the server
            pushes = [_push_seconds(project, run_id, server.uri, f"push-{n}") for n in range(3 if quick else 5)]
            naive = _naive_seconds(server.uri, 1000) * (METRICS * STEPS / 1000)
            os.environ["MLFLOW_TRACKING_URI"] = server.uri
            try:
                _train_seconds(project, False)  # warm-up: runtime-probe cache, page cache
                _train_seconds(project, True)
                plain, live = [], []
                for _ in range(2 if quick else 5):
                    plain.append(_train_seconds(project, False))
                    live.append(_train_seconds(project, True))
            finally:
                del os.environ["MLFLOW_TRACKING_URI"]
    push = statistics.median(pushes)
    plain_median, live_median = statistics.median(plain), statistics.median(live)
    return [
        {
            "figure": f"mlflow push {METRICS} metrics x {STEPS:,} steps, end to end (s)",
            "paddlectl": push,
            "baseline": naive,
            "ratio": push / naive,
            "target": None,
            "ok": push <= PUSH_TARGET_SECONDS,
            "note": "baseline: one log-metric request per point (1,000 timed, scaled to 10,000); target <= 2 s",
            "samples": pushes,
        },
        {
            "figure": "1,000,000 log lines: train --mlflow vs without",
            "paddlectl": live_median,
            "baseline": plain_median,
            "ratio": live_median / plain_median,
            "target": 1.05,
            "samples": {"with": live, "without": plain},
        },
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(f"{row['figure']:56s} {row['paddlectl']:8.3f} {row['baseline']:8.3f} {row['ratio']:6.3f}x")
