"""Metric capture: the log parser on real and synthetic output, the recorder, and the in-container helper."""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from paddlectl.runs.logstream import LineAssembler
from paddlectl.runs.metrics import LogMetricParser, MetricPoint, MetricRecorder, load_series

DATA = Path(__file__).resolve().parents[2] / "data"
HELPER_DIR = Path(__file__).resolve().parents[3] / "src" / "paddlectl" / "incontainer"


def parse_stream(data: bytes, chunk: int = 4096) -> list[MetricPoint]:
    """What the CLI does: assembler redraws and final lines, in order, into one parser."""
    parser = LogMetricParser(clock=lambda: 0.0)
    points: list[MetricPoint] = []

    def take(line: str) -> None:
        points.extend(parser.parse(line))

    assembler = LineAssembler(take, on_line=take)
    for i in range(0, len(data), chunk):
        assembler.feed(data[i : i + chunk])
    assembler.close()
    return points


def series(points: list[MetricPoint], name: str) -> list[tuple[int | None, float]]:
    return [(p.step, p.value) for p in points if p.name == name]


def parse_lines(text: str) -> list[MetricPoint]:
    parser = LogMetricParser(clock=lambda: 0.0)
    return [point for line in text.splitlines() for point in parser.parse(line)]


# --- Paddle hapi, real captures -------------------------------------------------------------------------------

HAPI_LOSS = [(2, 2.4665), (4, 3.3892), (6, 2.8424), (8, 2.4673), (10, 2.1508), (12, 2.2027), (14, 2.4522), (16, 2.2202)]
HAPI_ACC = [(2, 0.0625), (4, 0.0625), (6, 0.0417), (8, 0.0469), (10, 0.125), (12, 0.2188), (14, 0.1875), (16, 0.1875)]


@pytest.mark.parametrize("chunk", [1, 5, 4096, 1 << 20])
def test_hapi_verbose1_real_capture(chunk: int) -> None:
    raw = (DATA / "hapi_fit_verbose1.log").read_bytes()
    points = parse_stream(raw, chunk)
    assert {p.name for p in points} == {"loss", "acc", "eval_loss", "eval_acc"}
    # one loss point per training progress update in the raw bytes (redraws and final states alike)
    updates = re.findall(rb"step \d+/8 \[", raw)
    assert len(series(points, "loss")) == len(updates) == 8
    assert series(points, "loss") == HAPI_LOSS
    assert series(points, "acc") == HAPI_ACC
    assert series(points, "eval_loss") == [(8, 2.2834), (16, 2.688)]
    assert series(points, "eval_acc") == [(8, 0.0625), (16, 0.0625)]
    assert all(p.source == "log" and p.time == 0.0 for p in points)


def test_hapi_verbose2_real_capture_gives_the_same_series() -> None:
    verbose1 = parse_stream((DATA / "hapi_fit_verbose1.log").read_bytes())
    verbose2 = parse_stream((DATA / "hapi_fit_verbose2.log").read_bytes())
    assert [(p.name, p.step, p.value) for p in verbose2] == [(p.name, p.step, p.value) for p in verbose1]


def test_hapi_steps_are_monotonic_per_metric() -> None:
    points = parse_stream((DATA / "hapi_fit_verbose1.log").read_bytes())
    for name in ("loss", "acc", "eval_loss"):
        steps = [p.step for p in points if p.name == name]
        assert all(isinstance(s, int) for s in steps)
        assert steps == sorted(steps) and len(set(steps)) == len(steps)


def test_hapi_loss_as_list_and_multi_value() -> None:
    points = parse_lines(
        "Epoch 1/1\n"
        "step 1/2 [====>....] - loss: [2.3] - acc: 0.5 - ETA: 1:05 - 10ms/step\n"
        "step 2/2 [=========] - loss: [2.1, 0.7] - acc: 0.6 - 9ms/step\n"
        "step 3/3 - loss: 1.9 0.5 - acc_top1: 1.2345e-04 - acc_top5: 0.9 - 9us/step\n"
    )
    assert series(points, "loss") == [(1, 2.3), (2, 2.1), (3, 1.9)]
    assert series(points, "loss_1") == [(2, 0.7), (3, 0.5)]
    assert series(points, "acc_top1") == [(3, 1.2345e-04)]
    assert not [p for p in points if p.name.lower().startswith(("eta", "ms", "us"))]


def test_hapi_nan_loss_is_recorded() -> None:
    points = parse_lines("step 1/4 [>...] - loss: nan - acc: 0.1000 - ETA: 0.1s - 1ms/step\n")
    assert [p.name for p in points] == ["loss", "acc"]
    assert math.isnan(points[0].value)


def test_hapi_without_total_and_without_epoch_headers_stays_monotonic() -> None:
    points = parse_lines(
        "step  10 - loss: 1.0 - 5ms/step\nstep  20 - loss: 0.9 - 5ms/step\n"
        "step  10 - loss: 0.8 - 5ms/step\nstep  20 - loss: 0.7 - 5ms/step\n"
    )
    assert series(points, "loss") == [(10, 1.0), (20, 0.9), (30, 0.8), (40, 0.7)]


def test_hapi_standalone_evaluate_and_predict() -> None:
    points = parse_lines(
        "Eval begin...\nstep 1/2 - loss: 2.5 - acc: 0.1 - 1ms/step\nstep 2/2 - loss: 2.4 - acc: 0.2 - 1ms/step\n"
        "Eval samples: 16\nPredict begin...\nstep 2/2 - loss: 9.9 - 1ms/step\nPredict samples: 16\n"
    )
    assert [(p.name, p.step, p.value) for p in points] == [("eval_loss", None, 2.4), ("eval_acc", None, 0.2)]


def test_hapi_eval_without_known_total_flushes_at_eval_samples() -> None:
    points = parse_lines(
        "Epoch 1/1\nstep 4/4 - loss: 1.0 - 1ms/step\nEval begin...\nstep  1 - loss: 3.0 - 1ms/step\n"
        "step  2 - loss: 2.0 - 1ms/step\nEval samples: 8\n"
    )
    assert series(points, "eval_loss") == [(4, 2.0)]
    assert series(points, "loss") == [(4, 1.0)]


# --- trainer style (synthetic, see tests/data/README.md) ----------------------------------------------------------


def test_paddleocr_style() -> None:
    points = parse_lines((DATA / "ppocr_train.log").read_text(encoding="utf-8"))
    names = {p.name for p in points}
    assert names == {
        "lr",
        "loss",
        "loss_shrink_maps",
        "loss_threshold_maps",
        "avg_reader_cost",
        "avg_batch_cost",
        "avg_samples",
        "ips",
        "eval_precision",
        "eval_recall",
        "eval_hmean",
        "eval_fps",
        "best_hmean",
        "best_precision",
        "best_recall",
        "best_fps",
    }
    assert series(points, "loss") == [(10, 0.2), (20, 0.1), (30, 0.066667), (40, 0.05)]
    assert series(points, "avg_reader_cost") == [(s, 0.01234) for s in (10, 20, 30, 40)]
    assert series(points, "ips") == [(s, 34.10567) for s in (10, 20, 30, 40)]
    assert series(points, "eval_hmean") == [(20, 0.12), (40, 0.22)]
    assert series(points, "best_hmean") == [(20, 0.12), (40, 0.22)]


def test_paddledetection_style() -> None:
    points = parse_lines((DATA / "ppdet_train.log").read_text(encoding="utf-8"))
    assert {p.name for p in points} == {
        "learning_rate",
        "loss",
        "loss_cls",
        "loss_bbox",
        "batch_cost",
        "data_cost",
        "ips",
    }
    assert series(points, "loss") == [(0, 3.0), (20, 2.8), (40, 2.6), (50, 2.0), (70, 1.8), (90, 1.6)]
    assert series(points, "data_cost") == [(s, 0.001) for s in (0, 20, 40, 50, 70, 90)]


def test_paddleclas_style() -> None:
    points = parse_lines((DATA / "ppcls_train.log").read_text(encoding="utf-8"))
    assert {p.name for p in points} == {
        "lr",
        "top1",
        "top5",
        "CELoss",
        "loss",
        "batch_cost",
        "reader_cost",
        "ips",
        "eval_CELoss",
        "eval_loss",
        "eval_top1",
        "eval_top5",
    }
    assert series(points, "loss") == [(0, 5.9), (10, 4.9), (20, 3.9), (25, 4.9), (35, 3.9), (45, 2.9)]
    assert series(points, "batch_cost") == [(s, 0.12345) for s in (0, 10, 20, 25, 35, 45)]
    assert series(points, "lr") == [(s, 0.1) for s in (0, 10, 20, 25, 35, 45)]
    # the running eval's per-iteration line is skipped; its [Avg] result counts
    assert series(points, "eval_loss") == [(20, 6.71), (45, 6.72)]


def test_custom_prints() -> None:
    points = parse_lines(
        "Epoch 1, step 100, loss: 0.5, acc: 0.8\n"
        "Epoch 1, step 200, loss: 0.4, acc: 0.85\n"
        "Epoch 2, step 100, train loss: 0.3, val loss: 0.35\n"
        "2024-01-01 10:00:00,123 INFO global_step: 7, loss: 0.2\n"
    )
    assert series(points, "loss") == [(100, 0.5), (200, 0.4), (7, 0.2)]
    assert series(points, "train_loss") == [(300, 0.3)]
    assert series(points, "val_loss") == [(300, 0.35)]


NON_METRIC_LINES = [
    "The loss value printed in the log is the current step, and the metric is the average value of previous steps.",
    "Epoch 1/2",
    "Eval begin...",
    "Eval samples: 32",
    "save checkpoint at /home/output/0",
    "step 2/8 [======>.......................] - ETA: 0.13s - 22ms/step",
    "/usr/local/lib/python3.11/dist-packages/paddle/utils/cpp_extension/extension_utils.py:718: UserWarning: x",
    "  warnings.warn(warning_message)",
    'Traceback (most recent call last):\n  File "train.py", line 12, in <module>',
    "[2025/01/06 10:00:00] ppocr INFO:     batch_size_per_card : 8",
    "connecting to http://10.0.0.1:8080/api at 10:00:01",
    "eta: 0:10:00, time: 12:00:01",
    "ratio: 1/2, shape: [1, 3, 224, 224]",
    "W0106 10:00:00.123456 12345 gpu_resources.cc:119] Please NOTE: device: 0, GPU Compute Capability: 8.0, "
    "Driver API Version: 12.2, Runtime API Version: 11.8",
    "I0106 10:00:00.5 99 init.cc:233] ENV [CUSTOM_DEVICE_ROOT]=/usr/local/lib/paddle_custom_device, size: 3",
    '{"loss": 0.5, "acc": 0.9}',
    "version: 3.2.0, commit: a1b2c3d4",
    "",
    "   ",
]


@pytest.mark.parametrize("line", NON_METRIC_LINES)
def test_non_metric_lines_give_nothing(line: str) -> None:
    parser = LogMetricParser()
    assert parser.parse(line) == []


# --- recorder -------------------------------------------------------------------------------------------------


def helper_line(name: str, value: float | None, step: int | None = None, stamp: float = 1.0) -> bytes:
    return (json.dumps({"name": name, "value": value, "step": step, "time": stamp}) + "\n").encode()


def test_read_helper_file_is_incremental_and_waits_for_a_complete_line(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    recorder = MetricRecorder()
    assert recorder.read_helper_file(path) == 0  # not created yet
    line = helper_line("loss", 0.5, 1)
    path.write_bytes(helper_line("loss", 0.9, 0) + line[:10])
    assert recorder.read_helper_file(path) == 1
    with path.open("ab") as handle:
        handle.write(line[10:] + b"not json\n" + b'["a list"]\n' + b'{"name": "x", "value": "1", "time": 1}\n' + b"\n")
    assert recorder.read_helper_file(path) == 1
    assert recorder.bad_lines == 3
    assert recorder.read_helper_file(path) == 0
    assert [(p.name, p.value, p.step, p.source) for p in recorder.series()] == [
        ("loss", 0.9, 0, "helper"),
        ("loss", 0.5, 1, "helper"),
    ]


def test_read_helper_file_starts_over_after_truncation(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    recorder = MetricRecorder()
    path.write_bytes(helper_line("a", 1.0) + helper_line("a", 2.0))
    assert recorder.read_helper_file(path) == 2
    path.write_bytes(helper_line("b", 3.0))
    assert recorder.read_helper_file(path) == 1


def test_helper_series_wins_over_log_series_of_the_same_name() -> None:
    recorder = MetricRecorder()
    recorder.extend([MetricPoint("loss", 2.0, 1, 0.0, "log"), MetricPoint("acc", 0.1, 1, 0.0, "log")])
    recorder.add(MetricPoint("loss", 1.999, 1, 0.0, "helper"))
    recorder.add(MetricPoint("loss", 2.5, 2, 0.0, "log"))
    assert [(p.name, p.value, p.source) for p in recorder.series()] == [("acc", 0.1, "log"), ("loss", 1.999, "helper")]
    summary = recorder.summary()
    assert summary["loss"] == {
        "last": 1.999,
        "min": 1.999,
        "max": 1.999,
        "count": 1,
        "last_step": 1,
        "source": "helper",
    }
    assert summary["acc"]["source"] == "log"


def test_summary_ignores_non_finite_in_min_max() -> None:
    recorder = MetricRecorder()
    for step, value in enumerate([3.0, 1.0, 2.0, math.nan]):
        recorder.add(MetricPoint("loss", value, step, 0.0, "log"))
    assert recorder.summary()["loss"] == {
        "last": None,
        "min": 1.0,
        "max": 3.0,
        "count": 4,
        "last_step": 3,
        "source": "log",
    }


def test_write_and_load_series_round_trip(tmp_path: Path) -> None:
    recorder = MetricRecorder()
    points = [
        MetricPoint("loss", 0.5, 1, 10.0, "log"),
        MetricPoint("lr", math.inf, None, 11.5, "helper"),
        MetricPoint("acc", 0.25, 3, 12.0, "helper"),
    ]
    recorder.extend(points)
    path = tmp_path / "metrics.jsonl"
    recorder.write_series(path)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[1] == {"name": "lr", "value": None, "step": None, "time": 11.5, "source": "helper"}
    loaded = load_series(path)
    assert [(p.name, p.step, p.time, p.source) for p in loaded] == [(p.name, p.step, p.time, p.source) for p in points]
    assert loaded[0].value == 0.5 and math.isnan(loaded[1].value) and loaded[2].value == 0.25


def test_load_series_missing_file_and_bad_lines(tmp_path: Path) -> None:
    assert load_series(tmp_path / "none.jsonl") == []
    path = tmp_path / "m.jsonl"
    path.write_text(
        '{"name": "a", "value": 1, "step": 1, "time": 0, "source": "log"}\n'
        '{"name": "a", "value": 2, "step": 2, "time": 0, "source": "elsewhere"}\n{broken\n'
    )
    assert [(p.name, p.value) for p in load_series(path)] == [("a", 1.0)]


# --- the in-container helper -------------------------------------------------------------------------------------


@pytest.fixture
def helper(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A fresh copy of paddlectl_metrics (module state: the one-time warning, the open descriptor)."""
    for name in ("PADDLECTL_METRICS_FILE", "PADDLECTL_PARAMS_FILE", "PADDLECTL_OUTPUT_DIR"):
        monkeypatch.delenv(name, raising=False)
    module = importlib.import_module("paddlectl.incontainer.paddlectl_metrics")
    module = importlib.reload(module)
    yield module
    if module._fd is not None:
        os.close(module._fd)


def read_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_helper_without_env_warns_once_and_writes_nothing(
    helper: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    helper.log_metric("loss", 1.0)
    helper.log_metrics({"loss": 1.0, "acc": 0.5}, step=3)
    err = capsys.readouterr().err
    assert err.count("PADDLECTL_METRICS_FILE is not set") == 1
    assert not list(tmp_path.iterdir())
    assert helper.params() == {}
    assert helper.output_dir() == "."


def test_helper_appends_json_lines(helper: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "metrics.jsonl"
    monkeypatch.setenv("PADDLECTL_METRICS_FILE", str(target))
    helper.log_metric("loss", 2.5, step=1)
    helper.log_metric("lr", 1)
    helper.log_metrics({"loss": 2.25, "acc": 0.5}, step=2)
    helper.log_metric("loss", float("nan"), step=3)
    records = read_records(target)
    assert [(r["name"], r["value"], r["step"]) for r in records] == [
        ("loss", 2.5, 1),
        ("lr", 1.0, None),
        ("loss", 2.25, 2),
        ("acc", 0.5, 2),
        ("loss", None, 3),
    ]
    assert all(isinstance(r["time"], float) for r in records)
    assert set(records[0]) == {"name", "value", "step", "time"}


def test_helper_writes_each_call_in_one_write(
    helper: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PADDLECTL_METRICS_FILE", str(tmp_path / "m.jsonl"))
    writes: list[bytes] = []
    real_write = os.write

    def counting_write(fd: int, data: bytes) -> int:
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(helper.os, "write", counting_write)
    helper.log_metrics({f"m{i}": i for i in range(50)}, step=1)
    assert len(writes) == 1 and writes[0].count(b"\n") == 50


def test_helper_converts_numpy_scalars(helper: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    np = pytest.importorskip("numpy")
    target = tmp_path / "m.jsonl"
    monkeypatch.setenv("PADDLECTL_METRICS_FILE", str(target))
    helper.log_metric("a", np.float32(0.5), step=np.int64(4))
    helper.log_metric("b", np.array(1.5))
    helper.log_metric("c", np.array([2.5]))
    assert [(r["name"], r["value"], r["step"]) for r in read_records(target)] == [
        ("a", 0.5, 4),
        ("b", 1.5, None),
        ("c", 2.5, None),
    ]


@pytest.mark.parametrize(
    ("name", "value", "step"),
    [
        ("", 1.0, None),
        (3, 1.0, None),
        ("x", "1.0", None),
        ("x", [1.0, 2.0], None),
        ("x", None, None),
        ("x", 1.0, 2.5),
        ("x", 1.0, True),
        ("x", 1.0, "3"),
    ],
)
def test_helper_rejects_bad_input(
    helper: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: object, value: object, step: object
) -> None:
    target = tmp_path / "m.jsonl"
    monkeypatch.setenv("PADDLECTL_METRICS_FILE", str(target))
    with pytest.raises(TypeError):
        helper.log_metric(name, value, step=step)
    with pytest.raises(TypeError):
        helper.log_metrics({"ok": 1.0, name: value} if isinstance(name, str) else [("x", 1)], step=step)
    assert not target.exists()  # nothing half-logged


def test_helper_params_and_output_dir(
    helper: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    params_file = tmp_path / "params.json"
    params_file.write_text(json.dumps({"lr": 0.01, "layers": [1, 2], "name": "x"}))
    monkeypatch.setenv("PADDLECTL_PARAMS_FILE", str(params_file))
    monkeypatch.setenv("PADDLECTL_OUTPUT_DIR", "/outputs")
    assert helper.params() == {"lr": 0.01, "layers": [1, 2], "name": "x"}
    assert helper.output_dir() == "/outputs"
    monkeypatch.setenv("PADDLECTL_PARAMS_FILE", str(tmp_path / "missing.json"))
    assert helper.params() == {}
    assert "missing.json is missing" in capsys.readouterr().err


def test_helper_lines_from_concurrent_processes_never_interleave(tmp_path: Path) -> None:
    """Four processes log 2,000 batches each into one file; the recorder reads it while they write."""
    target = tmp_path / "m.jsonl"
    script = (
        "import sys, paddlectl_metrics as pm\n"
        "for i in range(2000):\n"
        "    pm.log_metrics({'loss_' + sys.argv[1]: i * 0.5, 'padding_' + 'x' * 200: i}, step=i)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(HELPER_DIR), "PADDLECTL_METRICS_FILE": str(target)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(n)], env=env) for n in range(4)]
    recorder = MetricRecorder()
    added = 0
    while any(p.poll() is None for p in procs):
        added += recorder.read_helper_file(target)
    added += recorder.read_helper_file(target)
    assert [p.returncode for p in procs] == [0, 0, 0, 0]
    assert recorder.bad_lines == 0
    assert added == 4 * 2000 * 2
    for n in range(4):
        assert [p.step for p in recorder.series() if p.name == f"loss_{n}"] == list(range(2000))


def test_helper_write_failure_warns_once_and_training_goes_on(
    helper: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PADDLECTL_METRICS_FILE", str(tmp_path / "no-such-dir" / "m.jsonl"))
    helper.log_metric("loss", 1.0)
    helper.log_metric("loss", 2.0)
    assert capsys.readouterr().err.count("cannot write") == 1


def test_helper_is_stdlib_only_and_python38_compatible() -> None:
    """The helper runs in any Paddle image (Python 3.8+): stdlib imports, no 3.9+/3.10+ annotation syntax."""
    import ast

    source = (HELPER_DIR / "paddlectl_metrics.py").read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 8))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= sys.stdlib_module_names, imported - sys.stdlib_module_names
    annotations = [
        node.annotation
        for node in ast.walk(tree)
        if isinstance(node, ast.arg | ast.AnnAssign)
        if node.annotation is not None
    ]
    annotations += [node.returns for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.returns]
    for annotation in annotations:
        for node in ast.walk(annotation):
            assert not isinstance(node, ast.BinOp), ast.unparse(annotation)  # X | Y needs 3.10
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
                assert node.value.id not in {"list", "dict", "set", "tuple", "type"}, ast.unparse(annotation)


def test_helper_records_only_rank_zero_unless_asked(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import importlib
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src" / "paddlectl" / "incontainer"))
    try:
        helper = importlib.import_module("paddlectl_metrics")
    finally:
        sys.path.pop(0)
    target = tmp_path / "m.jsonl"
    monkeypatch.setenv("PADDLECTL_METRICS_FILE", str(target))
    monkeypatch.setenv("PADDLE_TRAINER_ID", "1")
    helper.log_metric("loss", 0.5, step=1)
    assert not target.exists() or target.read_text() == ""
    monkeypatch.setenv("PADDLECTL_METRICS_ALL_RANKS", "1")
    helper.log_metric("loss", 0.5, step=1)
    monkeypatch.setenv("PADDLE_TRAINER_ID", "0")
    helper.log_metric("loss", 0.25, step=1)
    names = [json.loads(line)["name"] for line in target.read_text().splitlines()]
    assert names == ["rank1/loss", "loss"]
