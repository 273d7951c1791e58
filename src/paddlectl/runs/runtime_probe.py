"""What runtime an image holds (Paddle, CUDA, cuDNN, GPUs, Python), found by a short probe container.

Results are cached per image id and GPU request: an image id names fixed bytes, so its Paddle cannot change.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from paddlectl.engine.oneshot import run_oneshot
from paddlectl.engine.protocol import ContainerEngine, ContainerSpec, GpuRequest, Mount
from paddlectl.foundation.atomic import write_atomic
from paddlectl.foundation.names import HOME_DIR, KIND_PROBE, LIB_DIR

PROBE_MARK = "PADDLECTL_PROBE "
CACHE_DIR = "runtime-cache"


def lib_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "incontainer"


def _cache_path(store: Path, image_id: str, gpus: GpuRequest | None, host: str | None = None) -> Path:
    gpu_key = "cpu" if gpus is None else ("all" if gpus.all else "-".join(gpus.device_ids))
    # The same image sees other GPUs and drivers on another host: a remote engine's results are its own.
    host_key = f"-{hashlib.sha256(host.encode()).hexdigest()[:12]}" if host else ""
    return store / CACHE_DIR / f"{image_id.replace('sha256:', '')[:32]}-{gpu_key}{host_key}.json"


def probe_runtime(
    engine: ContainerEngine, image_id: str, store: Path, gpus: GpuRequest | None, user: str | None = None
) -> dict[str, Any]:
    """The runtime record for an image; never raises for a probe that fails (the record says what failed)."""
    cache = _cache_path(store, image_id, gpus, engine.host.public_url if engine.host.remote else None)
    try:
        return dict(json.loads(cache.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        pass
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
        result = run_oneshot(engine, spec, KIND_PROBE, timeout=120)
    except Exception as exc:
        return {"probe_error": str(exc)}
    for line in result.output.splitlines():
        if line.startswith(PROBE_MARK):
            record: dict[str, Any] = json.loads(line[len(PROBE_MARK) :])
            if "paddle_error" not in record:
                with contextlib.suppress(OSError):  # only a cache: a full disk costs the next run a probe
                    cache.parent.mkdir(parents=True, exist_ok=True)
                    write_atomic(cache, json.dumps(record))
            return record
    return {"probe_error": f"probe exited {result.exit_code}: {result.output.strip()[-300:]}"}
