"""Metric points from two sources: the in-container helper's JSON lines and lines parsed from the log.

Zero-code capture (`LogMetricParser`) understands two shapes, both checked against real output:

- Paddle's high-level API (`paddle.Model.fit`): `Epoch 1/2` headers, progress lines
  `step 4/8 [=====>....] - loss: 2.3231 - acc: 0.0781 - ETA: 0.0755s - 19ms/step` (every redrawn state and
  the final one) and the eval block `Eval begin...` / step lines / `Eval samples: 64`.
- Trainer logs of PaddleOCR / PaddleDetection / PaddleClas and similar prints: `key: number` pairs, e.g.
  `epoch: [1/500], global_step: 10, lr: 0.001000, loss: 1.234567, avg_reader_cost: 0.01 s, ...`.

Values are floats; NaN and infinities are kept (a diverging loss is information) and written as JSON null.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from paddlectl.foundation.atomic import write_atomic

Source = Literal["helper", "log"]
_SOURCES: tuple[Source, ...] = ("helper", "log")


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One value of one metric; `step` is None when the source gave no step."""

    name: str
    value: float
    step: int | None
    time: float
    source: Source

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": _finite_or_none(self.value),
            "step": self.step,
            "time": self.time,
            "source": self.source,
        }


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?i:nan|inf)"
_NUMBER_ONLY = re.compile(rf"(?:{_NUMBER})\Z")

# hapi: `step 4/8 [===>...] - loss: 2.3 - acc: 0.07 - ETA: 0.07s - 19ms/step`; `step  12 - ...` (no total).
_HAPI_STEP = re.compile(r"step\s+(\d+)(?:/(\d+))?(?:\s+\[[=>.]*\])?((?:\s+-\s+.*)?)\Z")
_HAPI_FIELD = re.compile(r"([A-Za-z_][\w.]*):\s*(.+)\Z")
_HAPI_EPOCH = re.compile(r"Epoch\s+(\d+)/(\d+)\Z")
_HAPI_EVAL_END = re.compile(r"Eval samples:\s*\d+\Z")

# Trainer style. A key is a word (lr(PiecewiseDecay) counts as lr), joined with one lower-case word before it
# (`train loss: 0.5, val loss: 0.6` -> train_loss, val_loss); a value is a number, maybe with a glued unit
# (0.123s), that is not part of a time (0:10:00), a fraction (1/500) or a longer word.
_PAIR = re.compile(
    rf"(?<![\w.-])(?:([a-z][A-Za-z0-9_]*) )?([A-Za-z_][\w.]*)(?:\([^()]*\))?\s*:\s*({_NUMBER})"
    r"(?:s|ms|us|sec|[KMG]i?B|%)?(?![\w.:/])"
)
_COLON_NUMBER = re.compile(r":\s*[-+]?(?:\.?\d|(?i:nan|inf))")
# glog lines from Paddle's C++ core (`W0106 10:00:00.123456 12345 gpu_resources.cc:119] ... device: 0, ...`).
_GLOG = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ \S+:\d+\]")
_EPOCH = re.compile(
    r"\bepoch\s*:?\s*\[?\s*(\d+)(?:\s*/\s*(\d+))?\s*\]?(?:\s*\[\s*(\d+)\s*/\s*(\d+)\s*\])?", re.IGNORECASE
)
_ITER = re.compile(r"\b(?:iter|step)\s*:?\s*\[?\s*(\d+)(?:\s*/\s*(\d+))?(?![\w.])", re.IGNORECASE)
_GLOBAL_STEP_KEYS = ("global_step", "global_iter")
_STEP_KEYS = frozenset({*_GLOBAL_STEP_KEYS, "iter", "step"})
_NOT_METRICS = frozenset({*_STEP_KEYS, "eta", "epoch", "best_epoch"})
_EVAL_MARKERS = ("[eval]", "cur metric")
_BEST_MARKER = "best metric"


class _StepCounter:
    """Turn per-epoch step numbers into one monotonic global step."""

    def __init__(self) -> None:
        self.current: int | None = None
        self._offset = 0
        self._last_local: int | None = None
        self._last_total: int | None = None
        self._epoch: int | None = None

    def new_epoch(self) -> None:
        if self._last_local is not None:
            self._offset += max(self._last_total or 0, self._last_local)
            self._last_local = None

    def advance(self, local: int, total: int | None = None, epoch: int | None = None) -> int:
        """Record step `local` of this epoch; a step going back or a new epoch number starts an epoch."""
        epoch_changed = epoch is not None and self._epoch is not None and epoch != self._epoch
        if self._last_local is not None and (local < self._last_local or epoch_changed):
            self.new_epoch()
        if epoch is not None:
            self._epoch = epoch
        self._last_local, self._last_total = local, total
        self.current = self._offset + local
        return self.current

    def set_global(self, step: int) -> int:
        self.current = step
        self._offset, self._last_local = step, None
        return step


class LogMetricParser:
    """Parse metric points out of log lines, keeping epoch, eval mode and step counter between lines.

    Feed it every progress state (LineAssembler's `on_redraw`) and every final line, in order.

    hapi lines: training values keep their names (`loss`, `acc`), one point per progress update, `step` a
    global step counted across epochs; ETA and ms/step are skipped; a list `loss: [2.3]` or `loss: 2.3 1.1`
    gives `loss`, `loss_1`, ... Eval values are named `eval_<name>`, one point per eval block (the last step
    line's values, as Paddle prints them: the loss of the last batch, running-average metrics) at the global
    training step the eval followed (None for a standalone `evaluate`).

    Trainer lines: a line needs at least two `key: number` pairs; values with units keep the number and drop
    the unit (`avg_reader_cost: 0.01 s` and `batch_cost: 0.01s` -> 0.01, `ips: 34.1 samples/s` -> 34.1). The
    step comes from global_step, else iter/step (made global across epochs), else None. `eta`, `epoch` and
    step keys are not metrics. Lines with `[Eval]` or `cur metric` give `eval_<name>` (a running eval's
    per-iteration lines are skipped), `best metric` gives `best_<name>`, both at the last training step.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._mode: Literal["train", "eval", "predict"] = "train"
        self._train = _StepCounter()
        self._eval_values: list[tuple[str, float]] | None = None

    def parse(self, line: str) -> list[MetricPoint]:
        text = line.strip()
        if not text:
            return []
        # Every line of the log comes through here: dispatch on the first character and rule out lines
        # without two `: <number>` before running the expensive pattern.
        head = text[0]
        if head == "s" and text.startswith("step"):
            match = _HAPI_STEP.match(text)
            if match:
                return self._hapi_step(int(match[1]), int(match[2]) if match[2] else None, match[3])
        elif head in ("E", "P"):
            points = self._hapi_mode_line(text)
            if points is not None:
                return points
        if ":" not in text or len(_COLON_NUMBER.findall(text)) < 2:
            return []
        return self._trainer_line(text)

    def _hapi_mode_line(self, text: str) -> list[MetricPoint] | None:
        """hapi's lines that switch between training, eval and predict (an eval's end gives its values); None for
        any other line."""
        if _HAPI_EPOCH.match(text):
            self._mode = "train"
            self._train.new_epoch()
            return []
        if text == "Eval begin...":
            self._mode, self._eval_values = "eval", None
            return []
        if _HAPI_EVAL_END.match(text):
            self._mode = "train"
            return self._flush_eval()
        if text == "Predict begin...":
            self._mode = "predict"
            return []
        if text.startswith("Predict samples:"):
            self._mode = "train"
            return []
        return None

    def _hapi_step(self, local: int, total: int | None, fields: str) -> list[MetricPoint]:
        values = _hapi_values(fields)
        if not values or self._mode == "predict":
            return []
        if self._mode == "eval":
            self._eval_values = values
            return self._flush_eval() if total is not None and local >= total else []
        step = self._train.advance(local, total)
        now = self._clock()
        return [MetricPoint(name, value, step, now, "log") for name, value in values]

    def _flush_eval(self) -> list[MetricPoint]:
        values, self._eval_values = self._eval_values, None
        if not values:
            return []
        now = self._clock()
        return [MetricPoint(f"eval_{name}", value, self._train.current, now, "log") for name, value in values]

    def _trainer_line(self, text: str) -> list[MetricPoint]:
        if _GLOG.match(text):
            return []
        pairs = [(f"{m[1]}_{m[2]}" if m[1] else m[2], float(m[3])) for m in _PAIR.finditer(text)]
        metrics = [(name, value) for name, value in pairs if name.lower() not in _NOT_METRICS]
        if len(pairs) < 2 or not metrics:
            return []
        lowered = text.lower()
        prefix = ""
        if any(marker in lowered for marker in _EVAL_MARKERS):
            prefix = "eval_"
        elif _BEST_MARKER in lowered:
            prefix = "best_"
        if prefix == "eval_" and _ITER.search(text):
            return []  # a running eval's progress (PaddleClas `[Eval][Epoch 1][Iter: 3/10]`): wait for its result
        step = self._train.current if prefix else self._trainer_step(text, pairs)
        now = self._clock()
        return [MetricPoint(prefix + name, value, step, now, "log") for name, value in metrics]

    def _trainer_step(self, text: str, pairs: list[tuple[str, float]]) -> int | None:
        for name, value in pairs:
            if name.lower() in _GLOBAL_STEP_KEYS and value.is_integer() and value >= 0:
                return self._train.set_global(int(value))
        epoch_match = _EPOCH.search(text)
        epoch = int(epoch_match[1]) if epoch_match else None
        if epoch_match and epoch_match[3]:
            return self._train.advance(int(epoch_match[3]), int(epoch_match[4]), epoch)
        iter_match = _ITER.search(text)
        if iter_match:
            total = int(iter_match[2]) if iter_match[2] else None
            return self._train.advance(int(iter_match[1]), total, epoch)
        return None


def _hapi_values(fields: str) -> list[tuple[str, float]]:
    values: list[tuple[str, float]] = []
    for field in fields.split(" - "):
        match = _HAPI_FIELD.match(field.strip())
        if not match or match[1] == "ETA":
            continue
        raw = match[2].strip()
        if raw.startswith("[") and raw.endswith("]"):
            raw = raw[1:-1].replace(",", " ")
        numbers = raw.split()
        if not numbers or not all(_NUMBER_ONLY.match(number) for number in numbers):
            continue
        for index, number in enumerate(numbers):
            values.append((match[1] if index == 0 else f"{match[1]}_{index}", float(number)))
    return values


class MetricRecorder:
    """Collect points from the helper file and from the log; write the series and a summary.

    When the same metric name comes from both sources, the helper's series wins: the log-parsed points of that
    name are dropped from `series()`, `write_series()` and `summary()` (the script logged that value on
    purpose, with its own step, and at full precision rather than the 4 decimals a progress bar prints).
    """

    def __init__(self) -> None:
        self._points: list[MetricPoint] = []
        self._helper_names: set[str] = set()
        self._offsets: dict[Path, int] = {}
        self.bad_lines = 0

    def add(self, point: MetricPoint) -> None:
        self._points.append(point)
        if point.source == "helper":
            self._helper_names.add(point.name)

    def extend(self, points: Iterable[MetricPoint]) -> None:
        for point in points:
            self.add(point)

    def read_helper_file(self, path: Path) -> int:
        """Read the JSON lines appended to `path` since the last call; return how many points were added.

        A last line without its newline is left for the next call (the helper may be writing it). Malformed
        lines are skipped and counted in `bad_lines`. A missing file (nothing logged yet) adds nothing.
        """
        points, self._offsets[path], bad = read_helper_points(path, self._offsets.get(path, 0))
        self.bad_lines += bad
        self.extend(points)
        return len(points)

    def series(self) -> list[MetricPoint]:
        """All points in arrival order, without log-parsed points of names the helper also reported."""
        return [p for p in self._points if p.source == "helper" or p.name not in self._helper_names]

    def write_series(self, path: Path) -> None:
        """Write `series()` as JSON lines, atomically (a reader never sees a half-written file)."""
        text = "".join(json.dumps(point.to_json(), allow_nan=False) + "\n" for point in self.series())
        write_atomic(path, text)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per metric: last, min, max (finite values; None when there are none), count, last_step, source."""
        result: dict[str, dict[str, Any]] = {}
        for point in self.series():
            entry = result.setdefault(
                point.name,
                {"last": None, "min": None, "max": None, "count": 0, "last_step": None, "source": point.source},
            )
            value = _finite_or_none(point.value)
            entry["last"], entry["last_step"] = value, point.step
            entry["count"] += 1
            if value is not None:
                entry["min"] = value if entry["min"] is None else min(entry["min"], value)
                entry["max"] = value if entry["max"] is None else max(entry["max"], value)
        return result


def read_helper_points(path: Path, offset: int = 0) -> tuple[list[MetricPoint], int, int]:
    """The helper's points in `path` after byte `offset`: (points, the offset to pass next time, bad lines).

    A last line without its newline is left for the next call (the helper may be writing it); a file now shorter
    than `offset` was replaced and is read from the start; a missing file gives nothing.
    """
    try:
        with path.open("rb") as handle:
            if handle.seek(0, 2) < offset:
                offset = 0
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return [], offset, 0
    end = data.rfind(b"\n") + 1
    points: list[MetricPoint] = []
    bad = 0
    for raw in data[:end].splitlines():
        if not raw.strip():
            continue
        point = _helper_point(raw)
        if point is None:
            bad += 1
        else:
            points.append(point)
    return points, offset + end, bad


def load_series(path: Path) -> list[MetricPoint]:
    """Read a series written by `MetricRecorder.write_series`; a missing file is an empty series."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return list(_parse_series(text.splitlines()))


def _parse_series(lines: Iterable[str]) -> Iterator[MetricPoint]:
    for line in lines:
        record = _json_object(line)
        source = record.get("source") if record else None
        if record is None or source not in _SOURCES:
            continue
        point = _point_from_record(record, "helper" if source == "helper" else "log")
        if point is not None:
            yield point


def _helper_point(raw: bytes) -> MetricPoint | None:
    record = _json_object(raw)
    return None if record is None else _point_from_record(record, "helper")


def _json_object(raw: str | bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None
    return record if isinstance(record, dict) else None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _point_from_record(record: dict[str, Any], source: Source) -> MetricPoint | None:
    name, value, step, stamp = record.get("name"), record.get("value"), record.get("step"), record.get("time")
    if not isinstance(name, str) or not name:
        return None
    if value is not None and not _is_number(value):
        return None
    if step is not None and (not isinstance(step, int) or isinstance(step, bool)):
        return None
    if not isinstance(stamp, int | float) or isinstance(stamp, bool):
        return None
    return MetricPoint(name, math.nan if value is None else float(value), step, float(stamp), source)
