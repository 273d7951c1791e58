"""Log metrics from a training script run by paddlectl: `import paddlectl_metrics`.

    import paddlectl_metrics as pm
    pm.log_metric("loss", loss, step=step)          # numbers, numpy scalars, 1-element paddle tensors
    pm.log_metrics({"loss": loss, "acc": acc}, step=step)
    lr = pm.params().get("lr", 0.001)
    paddle.save(state, os.path.join(pm.output_dir(), "model.pdparams"))

Each call appends one JSON line per metric, `{"name", "value", "step", "time"}`, to the file named by
PADDLECTL_METRICS_FILE, with a single unbuffered O_APPEND write: lines from several processes (DataLoader
workers, distributed ranks) never interleave half-written. Outside paddlectl (the variable unset) logging does
nothing but warn once on stderr, so the same script runs anywhere.

Under paddle.distributed.launch only rank 0 records (every rank computes the same averaged metrics, and
one series per run is what comparisons need); set PADDLECTL_METRICS_ALL_RANKS=1 to record every rank's values,
each named with a `rankN/` prefix.

NaN and infinities are recorded as null and logging goes on: a diverging loss is information. A file that
cannot be written (disk full, folder gone) is warned about once on stderr and training goes on: a metrics
call must never be what stops a run. A value of the wrong type (a string, a multi-element tensor) raises
TypeError at once, since that is a bug in the script and would otherwise go unnoticed.

Standard library only, Python 3.8+: this file runs inside the training container.
"""

import json
import math
import os
import sys
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Set

__all__ = ["log_metric", "log_metrics", "output_dir", "params"]

METRICS_ENV = "PADDLECTL_METRICS_FILE"
PARAMS_ENV = "PADDLECTL_PARAMS_FILE"
OUTPUT_ENV = "PADDLECTL_OUTPUT_DIR"

_lock = threading.Lock()
_warned: Set[str] = set()
_fd: Optional[int] = None
_fd_path: Optional[str] = None


def log_metric(name: str, value: Any, step: Optional[int] = None) -> None:
    """Record one value of metric `name` (at `step`, if given).

    Raises TypeError for a name that is not a non-empty string, a value that float() cannot convert (a
    multi-element tensor, a string) or a step that is not an integer.
    """
    _write([_record(name, value, step)])


def log_metrics(values: Mapping[str, Any], step: Optional[int] = None) -> None:
    """Record several metrics at the same step in one write (they land together or not at all)."""
    if not isinstance(values, Mapping):
        raise TypeError(f"log_metrics takes a dict of name -> value, got {type(values).__name__}")
    _write([_record(name, value, step) for name, value in values.items()])


def params() -> Dict[str, Any]:
    """The run's parameters (the JSON file named by PADDLECTL_PARAMS_FILE); {} outside paddlectl."""
    path = os.environ.get(PARAMS_ENV)
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            loaded = json.load(handle)
    except FileNotFoundError:
        _warn_once(f"paddlectl_metrics: params file {path} is missing; using no params")
        return {}
    if not isinstance(loaded, dict):
        raise ValueError(f"paddlectl params file {path} does not hold a JSON object")
    return loaded


def output_dir() -> str:
    """Where the run's outputs (weights, exports) belong: PADDLECTL_OUTPUT_DIR, or "." outside paddlectl."""
    return os.environ.get(OUTPUT_ENV) or "."


def _record(name: Any, value: Any, step: Any) -> str:
    if not isinstance(name, str) or not name:
        raise TypeError(f"metric name must be a non-empty string, got {name!r}")
    if isinstance(value, (str, bytes)):
        raise TypeError(f"metric {name} must be a number, got {type(value).__name__}")
    number = _to_float(name, value)
    if step is not None:
        if isinstance(step, bool) or not hasattr(step, "__index__"):
            raise TypeError(f"step of metric {name} must be an integer, got {step!r}")
        step = int(step.__index__())  # numpy and paddle integer scalars too
    record = {
        "name": name,
        "value": number if math.isfinite(number) else None,
        "step": step,
        "time": time.time(),
    }
    return json.dumps(record, allow_nan=False)


def _to_float(name: str, value: Any) -> float:
    """float() for numbers, numpy scalars and 0-d arrays; .item() for 1-element arrays and paddle tensors."""
    # Paddle asserts (AssertionError) where numpy raises TypeError: any failure to convert is the caller's.
    item = getattr(value, "item", None)
    tries = [item, lambda: value] if getattr(value, "ndim", 0) and callable(item) else [lambda: value, item]
    problem: Optional[Exception] = None
    for get in tries:  # a shape-[1] array: .item() first (numpy 1.25 deprecates float() of it, numpy 2 refuses)
        if not callable(get):
            continue
        try:
            return float(get())
        except Exception as exc:
            problem = exc
    raise TypeError(f"metric {name} must be a number or a 1-element tensor: {problem}")


def _rank() -> int:
    for variable in ("PADDLE_TRAINER_ID", "PADDLE_GLOBAL_RANK", "PADDLE_RANK_IN_NODE"):
        value = os.environ.get(variable)
        if value is not None and value.strip().isdigit():
            return int(value)
    return 0


def _write(lines: List[str]) -> None:
    rank = _rank()
    if rank != 0:
        if not os.environ.get("PADDLECTL_METRICS_ALL_RANKS"):
            return
        lines = [_prefix_rank(line, rank) for line in lines]
    path = os.environ.get(METRICS_ENV)
    if not path:
        _warn_once(
            f"paddlectl_metrics: {METRICS_ENV} is not set (not running under paddlectl); metrics are not recorded"
        )
        return
    if not lines:
        return
    data = ("\n".join(lines) + "\n").encode("utf-8")
    with _lock:
        try:
            fd = _open(path)
            # One write() of the whole batch on an O_APPEND descriptor: the kernel puts it at the end
            # atomically, so concurrent writers cannot tear each other's lines. os.write is unbuffered.
            written = os.write(fd, data)
            while written < len(data):  # only on ENOSPC-like trouble; finish rather than leave half a line
                written += os.write(fd, data[written:])
        except OSError as exc:
            _warn_once(f"paddlectl_metrics: cannot write {path}: {exc}; metrics are not recorded")


def _prefix_rank(line: str, rank: int) -> str:
    record = json.loads(line)
    record["name"] = "rank{}/{}".format(rank, record["name"])
    return json.dumps(record)


def _open(path: str) -> int:
    global _fd, _fd_path
    if _fd is None or _fd_path != path:
        if _fd is not None:
            os.close(_fd)
        _fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        _fd_path = path
    return _fd


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
