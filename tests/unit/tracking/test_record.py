"""What a manifest becomes on MLflow: status, param text, tags, oversized values, refused names, steps."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pytest

from paddlectl.runs.manifest import RunStatus
from paddlectl.runs.metrics import MetricPoint
from paddlectl.runs.store import RunStore
from paddlectl.tracking.batches import MAX_PARAM_VALUE, MAX_TAG_VALUE
from paddlectl.tracking.record import artifact_files, metric_points, param_text, run_record
from unit.runs.runs_factory import make_run


@pytest.mark.parametrize(
    ("status", "mlflow"),
    [
        (RunStatus.RUNNING, "RUNNING"),
        (RunStatus.SUCCEEDED, "FINISHED"),
        (RunStatus.FAILED, "FAILED"),
        (RunStatus.INTERRUPTED, "KILLED"),
        (RunStatus.LOST, "KILLED"),
    ],
)
def test_status_and_times(tmp_path: Path, status: RunStatus, mlflow: str) -> None:
    paths = make_run(tmp_path, minutes=3, status=status)
    record = run_record(RunStore(paths.root.parent).read(paths.run_id))
    assert record.status == mlflow
    assert record.start_time == 1_793_520_180_000  # 2026-11-01 08:03 UTC
    assert record.end_time == (None if status is RunStatus.RUNNING else record.start_time + 90_000)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("adam", "adam"),
        (3, "3"),
        (0.001, "0.001"),
        (1e-05, "1e-05"),
        (True, "true"),
        (None, "null"),
        ([1, 2], "[1, 2]"),
    ],
)
def test_typed_params_become_text(value: object, text: str) -> None:
    assert param_text(value) == text


def test_values_over_the_limits_go_to_artifacts_with_their_sha256(tmp_path: Path) -> None:
    long_param, long_label = "p" * (MAX_PARAM_VALUE + 1), "t" * (MAX_TAG_VALUE + 1)
    paths = make_run(tmp_path, minutes=1, params={"fits": "x" * MAX_PARAM_VALUE, "long": long_param},
                     labels={"big": long_label})  # fmt: skip
    record = run_record(RunStore(paths.root.parent).read(paths.run_id))
    params = {param.key: param.value for param in record.params}
    tags = {tag.key: tag.value for tag in record.tags}
    param_digest = hashlib.sha256(long_param.encode()).hexdigest()
    tag_digest = hashlib.sha256(long_label.encode()).hexdigest()
    assert params == {"fits": "x" * MAX_PARAM_VALUE, "long": f"sha256:{param_digest}"}
    assert tags["paddlectl.label.big"] == f"sha256:{tag_digest}"
    assert record.oversized == {
        f"paddlectl/oversized/{param_digest}.txt": long_param.encode(),
        f"paddlectl/oversized/{tag_digest}.txt": long_label.encode(),
    }
    assert len(record.warnings) == 2 and all("over MLflow's" in warning for warning in record.warnings)
    files = {item.path for item in artifact_files(paths, RunStore(paths.root.parent).read(paths.run_id), record)}
    assert set(record.oversized) <= files


def test_names_mlflow_refuses_are_left_out_with_a_warning(tmp_path: Path) -> None:
    paths = make_run(tmp_path, minutes=1, params={"ok": 1, "a=b": 2}, labels={"bad,label": "x"})
    record = run_record(RunStore(paths.root.parent).read(paths.run_id))
    assert [param.key for param in record.params] == ["ok"]
    assert "paddlectl.label.bad,label" not in {tag.key for tag in record.tags}
    assert len(record.warnings) == 2


def test_secret_looking_values_are_masked_even_if_the_manifest_held_them(tmp_path: Path) -> None:
    paths = make_run(tmp_path, minutes=1, params={"db_password": "hunter2-real"}, labels={"api_key": "k-123456"})
    record = run_record(RunStore(paths.root.parent).read(paths.run_id))
    assert {param.key: param.value for param in record.params} == {"db_password": "****"}
    assert {tag.key: tag.value for tag in record.tags}["paddlectl.label.api_key"] == "****"


def test_points_without_a_step_get_their_position_and_non_finite_values_are_nan() -> None:
    points = [
        MetricPoint("loss", 1.0, None, 10.0, "log"),
        MetricPoint("acc", 0.5, 7, 10.5, "helper"),
        MetricPoint("loss", math.inf, None, 11.0004, "log"),
        MetricPoint("bad name!", 1.0, 1, 12.0, "helper"),
        MetricPoint("loss", 0.5, None, 12.0, "log"),
    ]
    warnings: list[str] = []
    metrics = metric_points(points, warnings)
    assert [(m.key, m.step, m.value, m.timestamp) for m in metrics] == [
        ("loss", 0, 1.0, 10_000),
        ("acc", 7, 0.5, 10_500),
        ("loss", 1, None, 11_000),
        ("loss", 2, 0.5, 12_000),
    ]
    assert len(warnings) == 1 and "bad name!" in warnings[0]
