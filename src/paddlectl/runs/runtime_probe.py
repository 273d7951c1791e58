"""What runtime an image holds (Paddle, CUDA, cuDNN, GPUs, Python), found by a short probe container.

Results are cached per image id and GPU request: an image id names fixed bytes, so its Paddle cannot change.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from paddlectl.engine.oneshot import read_marked_json, run_oneshot
from paddlectl.engine.protocol import ContainerEngine, ContainerSpec, GpuRequest, Mount
from paddlectl.foundation.atomic import write_atomic
from paddlectl.foundation.names import HOME_DIR, KIND_PROBE, LIB_DIR, RUNTIME_PROBE_MARK
from paddlectl.runs.manifest import RuntimeRecord

CACHE_DIR = "runtime-cache"


def lib_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "incontainer"


def _cache_path(store: Path, image_id: str, gpus: GpuRequest | None) -> Path:
    gpu_key = "cpu" if gpus is None else ("all" if gpus.all else "-".join(gpus.device_ids))
    return store / CACHE_DIR / f"{image_id.replace('sha256:', '')[:32]}-{gpu_key}.json"


def probe_runtime(
    engine: ContainerEngine,
    image_id: str,
    store: Path,
    gpus: GpuRequest | None,
    user: str | None = None,
    project: str | None = None,
) -> RuntimeRecord:
    """The runtime record for an image; never raises for a probe that fails (the record says what failed)."""
    cache = _cache_path(store, image_id, gpus)
    with contextlib.suppress(OSError, ValueError):
        return _record(json.loads(cache.read_text(encoding="utf-8")))
    spec = ContainerSpec(
        image=image_id,
        command=["python3", f"{LIB_DIR}/probe_runtime.py"],
        environment={"HOME": HOME_DIR, "GLOG_minloglevel": "3"},
        mounts=[Mount(str(lib_dir()), LIB_DIR, read_only=True)],
        user=user,
        gpus=gpus,
        network_mode="none",
    )
    try:
        result = run_oneshot(engine, spec, KIND_PROBE, timeout=120, project=project)
    except Exception as exc:
        return RuntimeRecord(probe_error=str(exc))
    found = read_marked_json(result.output, RUNTIME_PROBE_MARK)
    if found is None:
        return RuntimeRecord(probe_error=f"probe exited {result.exit_code}: {result.output.strip()[-300:]}")
    record = _record(found)
    if record.paddle_error is None and record.probe_error is None:
        with contextlib.suppress(OSError):  # only a cache: a full disk costs the next run a probe
            cache.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(cache, json.dumps(found))
    return record


def _record(found: object) -> RuntimeRecord:
    """The probe's JSON as the manifest's record; one that does not read as one says so (never raises)."""
    from paddlectl.foundation.records import RecordError, load

    try:
        return load(RuntimeRecord, found)
    except RecordError as exc:
        return RuntimeRecord(probe_error=f"the probe's answer does not read as a runtime record: {exc}")
