"""Pieces of incontainer/export_model.py that need neither paddle nor numpy (the rest runs in tests/engine)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "src" / "paddlectl" / "incontainer" / "export_model.py"


@pytest.fixture(scope="module")
def export_model() -> ModuleType:
    """The script as the container imports it: a top-level module, not part of paddlectl."""
    spec = importlib.util.spec_from_file_location("export_model_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Array:
    """What output_specs reads of a predictor output."""

    shape: tuple[int, ...]
    dtype: str = "float32"

    @property
    def ndim(self) -> int:
        return len(self.shape)


def test_output_specs_keep_declared_dynamic_dims_when_the_rank_matches(export_model: ModuleType) -> None:
    declared = [([-1, 10], "float32"), ([-1], "int64")]
    outputs = [Array((8, 10)), Array((8,), "int64")]
    assert export_model.output_specs(["logits", "label"], declared, outputs) == [
        {"name": "logits", "dtype": "float32", "shape": [-1, 10]},
        {"name": "label", "dtype": "int64", "shape": [-1]},
    ]


def test_output_specs_fall_back_to_the_predictors_shape(export_model: ModuleType) -> None:
    # Paddle declared fewer outputs, or another rank, than the predictor returns: what came back is the truth.
    declared = [([-1, 10, 1], "float32")]
    outputs = [Array((8, 10)), Array((8, 3))]
    assert export_model.output_specs(["a", "b"], declared, outputs) == [
        {"name": "a", "dtype": "float32", "shape": [8, 10]},
        {"name": "b", "dtype": "float32", "shape": [8, 3]},
    ]


def test_timed_records_only_blocks_that_finish(export_model: ModuleType) -> None:
    timings: dict[str, float] = {}
    with export_model._timed(timings, "ok_s"):
        pass
    with pytest.raises(ValueError), export_model._timed(timings, "failed_s"):
        raise ValueError("boom")
    assert list(timings) == ["ok_s"] and timings["ok_s"] >= 0
