"""Re-capture real Paddle output through the engine's attach stream and check it against tests/data.

One container runs tests/data/capture_hapi.py (verbose=1) and then logs through the in-container helper with
paddle tensors. Its merged output, in the real frames docker delivers (PYTHONUNBUFFERED, as paddlectl runs
scripts), goes through LineAssembler and LogMetricParser exactly as in `paddlectl train`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from paddlectl.engine.protocol import ContainerEngine, ContainerSpec, Mount
from paddlectl.runs.logstream import LineAssembler
from paddlectl.runs.metrics import LogMetricParser, MetricPoint, MetricRecorder

pytestmark = [pytest.mark.engine, pytest.mark.paddle, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
HELPER_DIR = REPO / "src" / "paddlectl" / "incontainer"

DRIVER = """
import runpy, sys
sys.argv = ["capture_hapi.py", "1"]
runpy.run_path("/data/capture_hapi.py", run_name="__main__")
import numpy as np, paddle, paddlectl_metrics as pm
pm.log_metric("tensor_0d", paddle.to_tensor(1.5), step=paddle.to_tensor(3))
pm.log_metrics({"tensor_1": paddle.to_tensor([2.5]), "np32": np.float32(0.25), "diverged": float("nan")},
               step=np.int64(4))
try:
    pm.log_metric("two_elements", paddle.to_tensor([1.0, 2.0]))
except TypeError:
    print("two_elements refused")
print("params", pm.params()["lr"], "output_dir", pm.output_dir())
"""


@dataclass
class Capture:
    lines: list[str]
    points: list[MetricPoint]
    chunks: int
    exit_code: int | None
    out_dir: Path


def parse_file(path: Path) -> list[MetricPoint]:
    parser = LogMetricParser(clock=lambda: 0.0)
    points: list[MetricPoint] = []

    def take(line: str) -> None:
        points.extend(parser.parse(line))

    assembler = LineAssembler(take, on_line=take)
    assembler.feed(path.read_bytes())
    assembler.close()
    return points


@pytest.fixture(scope="module")
def capture(docker_engine: ContainerEngine, paddle_image: str, tmp_path_factory: pytest.TempPathFactory) -> Capture:
    out_dir = tmp_path_factory.mktemp("capture")
    (out_dir / "params.json").write_text(json.dumps({"lr": 0.01}))
    spec = ContainerSpec(
        image=paddle_image,
        command=["python3", "-c", DRIVER],
        labels={"paddlectl.test": "capture_real_output"},
        environment={
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": "/opt/paddlectl_lib",
            "PADDLECTL_METRICS_FILE": "/out/metrics.jsonl",
            "PADDLECTL_PARAMS_FILE": "/out/params.json",
            "PADDLECTL_OUTPUT_DIR": "/out",
        },
        mounts=[
            Mount(str(DATA), "/data", read_only=True),
            Mount(str(HELPER_DIR), "/opt/paddlectl_lib", read_only=True),
            Mount(str(out_dir), "/out"),
        ],
    )
    parser = LogMetricParser(clock=lambda: 0.0)
    points: list[MetricPoint] = []
    lines: list[str] = []

    def redrawn(state: str) -> None:
        points.extend(parser.parse(state))

    def final(line: str) -> None:
        lines.append(line)
        points.extend(parser.parse(line))

    assembler = LineAssembler(redrawn, on_line=final)
    container = docker_engine.create(spec)
    try:
        stream = container.stream_output()
        docker_engine.start(container)
        chunks = 0
        for chunk in stream:
            chunks += 1
            assembler.feed(chunk)
        assembler.close()
        state = container.wait(timeout=300)
    finally:
        container.remove()
    return Capture(lines=lines, points=points, chunks=chunks, exit_code=state.exit_code, out_dir=out_dir)


def test_container_succeeded_and_every_line_arrived(capture: Capture) -> None:
    assert capture.exit_code == 0
    assert capture.chunks > 1  # real frames, not one blob
    stored = _final_lines(DATA / "hapi_fit_verbose1.log")
    # stdout and stderr are merged: Paddle's UserWarnings (a location line, then an indented source line)
    # arrive as whole lines of their own; without them, the script's lines are all there, in order, once.
    script_lines = [line for line in capture.lines if "Warning: " not in line and not line.startswith("  ")]
    assert untimed(script_lines) == untimed([*stored, "two_elements refused", "params 0.01 output_dir /out"])
    assert len(script_lines) < len(capture.lines)  # the warnings did arrive (stderr is part of the stream)


def test_live_stream_parses_to_the_stored_series(capture: Capture) -> None:
    stored = parse_file(DATA / "hapi_fit_verbose1.log")
    assert len(stored) == 20
    assert [(p.name, p.step, p.value) for p in capture.points] == [(p.name, p.step, p.value) for p in stored]


def test_helper_records_paddle_and_numpy_values(capture: Capture) -> None:
    recorder = MetricRecorder()
    recorder.read_helper_file(capture.out_dir / "metrics.jsonl")
    assert recorder.bad_lines == 0
    got = [(p.name, p.step, None if math.isnan(p.value) else p.value) for p in recorder.series()]
    assert got == [("tensor_0d", 3, 1.5), ("tensor_1", 4, 2.5), ("np32", 4, 0.25), ("diverged", 4, None)]


def untimed(lines: list[str]) -> list[str]:
    """Blank the only parts that differ between runs: the per-step timings."""
    return [re.sub(r"\d+(?:ms|us|s)/step", "T/step", line) for line in lines]


def _final_lines(path: Path) -> list[str]:
    assembler = LineAssembler()
    return assembler.feed(path.read_bytes()) + assembler.close()
