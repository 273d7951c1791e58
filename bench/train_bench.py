"""paddlectl train overhead and log throughput, each against plain `docker run` measured in the same run.

Figures (targets from the train issue):
- a no-op script: `paddlectl train` vs `docker run --rm` of the same image and command: <= 1.25x
- a container printing 1,000,000 lines: paddlectl vs `docker run` with output to /dev/null: <= 1.2x,
  and every line in the saved log.
Runs alternate between paddlectl and the baseline so machine noise hits both alike; medians are compared.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMAGE = os.environ.get("PADDLECTL_TEST_IMAGE", "paddlectl-test/paddle:3.2.0-cpu")
MILLION = 1_000_000


def _timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def _project(root: Path) -> Path:
    project = root / "bench-project"
    project.mkdir()
    (project / "paddlectl.yaml").write_text(f"project: bench\nimages:\n  cpu: {IMAGE}\n", encoding="utf-8")
    (project / "noop.py").write_text("pass\n", encoding="utf-8")
    (project / "million.py").write_text(
        f"import sys\nw = sys.stdout.write\nfor i in range({MILLION}):\n    w('line %d\\n' % i)\n", encoding="utf-8"
    )
    return project


def _compare(project: Path, script: str, runs: int) -> tuple[float, float]:
    paddlectl = [sys.executable, "-m", "paddlectl", "train", script, "-q"]
    docker = [
        "docker",
        "run",
        "--rm",
        "-v",
        f"{project}:/workspace:ro",
        "-w",
        "/workspace",
        IMAGE,
        "python3",
        "-u",
        script,
    ]
    _timed(paddlectl, project)  # warm-up: fills the runtime-probe cache, page cache
    _timed(docker, project)
    ours, theirs = [], []
    for _ in range(runs):
        ours.append(_timed(paddlectl, project))
        theirs.append(_timed(docker, project))
    return statistics.median(ours), statistics.median(theirs)


def _import_floor(project: Path, runs: int) -> float:
    """What any Python CLI on docker-py pays before its first API call: the interpreter and the imports."""
    command = [sys.executable, "-c", "import docker, typer, yaml"]
    _timed(command, project)
    return statistics.median(_timed(command, project) for _ in range(runs))


def _last_log_lines(project: Path) -> int:
    runs = sorted((project / ".paddlectl" / "runs").iterdir())
    with open(runs[-1] / "output.log", "rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))


def run(quick: bool = False) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory(prefix="paddlectl-bench-") as tmp:
        project = _project(Path(tmp))
        noop_ours, noop_docker = _compare(project, "noop.py", 3 if quick else 9)
        floor = _import_floor(project, 3 if quick else 9)
        lines_ours, lines_docker = _compare(project, "million.py", 1 if quick else 3)
        saved = _last_log_lines(project)
        shutil.rmtree(project / ".paddlectl", ignore_errors=True)
    return [
        {
            "figure": "train no-op vs docker run --rm",
            "paddlectl": noop_ours,
            "baseline": noop_docker,
            "ratio": noop_ours / noop_docker,
            "target": 1.25,
        },
        {
            "figure": "  floor: docker run + python/docker-py import alone",
            "paddlectl": noop_docker + floor,
            "baseline": noop_docker,
            "ratio": (noop_docker + floor) / noop_docker,
            "target": None,
        },
        {
            "figure": "1,000,000 log lines vs docker run >/dev/null",
            "paddlectl": lines_ours,
            "baseline": lines_docker,
            "ratio": lines_ours / lines_docker,
            "target": 1.2,
        },
        {
            "figure": "lines in the saved log (of 1,000,000)",
            "paddlectl": float(saved),
            "baseline": float(MILLION),
            "ratio": saved / MILLION,
            "target": 1.0,
            "exact": True,
        },
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(
            f"{row['figure']:48s} {row['paddlectl']:10.3f} {row['baseline']:10.3f} "
            f"{row['ratio']:6.2f}x (target {row['target']})"
        )
