"""What runtime an image holds (Paddle, CUDA, cuDNN, GPUs, Python), found by a short probe container.

Results are cached per image id and GPU request: an image id names fixed bytes, so its Paddle cannot change.
An attached run probes in a one-shot container while it runs; a detached run starts its probe beside it, and
the run's settlement reads the answer, so settling (and so listing) never starts a container.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from paddlectl.engine.gpus import GpuRequest
from paddlectl.engine.oneshot import read_marked_json, run_oneshot
from paddlectl.engine.protocol import ContainerEngine, ContainerSpec, Mount
from paddlectl.engine.shipping import owner_of, shipment_for, upload
from paddlectl.foundation.atomic import write_atomic
from paddlectl.foundation.names import (
    FOR_RUN_LABEL,
    HOME_DIR,
    KIND_LABEL,
    KIND_PROBE,
    LIB_DIR,
    PROJECT_LABEL,
    RUNTIME_PROBE_MARK,
    STORE_LABEL,
    store_value,
)
from paddlectl.runs.manifest import RuntimeRecord

CACHE_DIR = "runtime-cache"


def lib_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "incontainer"


@dataclass(frozen=True)
class ProbeTarget:
    """What is probed (an image, with the run's GPUs and user) and where the answer is cached (the store)."""

    image_id: str
    store: Path
    gpus: GpuRequest | None
    user: str | None = None
    project: str | None = None
    host: str | None = None  # a remote engine's URL: the same image sees other GPUs and drivers there

    @classmethod
    def on(
        cls, engine: ContainerEngine, image_id: str, store: Path, gpus: GpuRequest | None, **more: str | None
    ) -> ProbeTarget:
        """The target of probing `image_id` on `engine` (its own cache when the engine is remote)."""
        return cls(image_id, store, gpus, host=engine.host.public_url if engine.host.remote else None, **more)

    @property
    def cache(self) -> Path:
        gpu_key = "cpu" if self.gpus is None else ("all" if self.gpus.all else "-".join(self.gpus.device_ids))
        host_key = f"-{hashlib.sha256(self.host.encode()).hexdigest()[:12]}" if self.host else ""
        return self.store / CACHE_DIR / f"{self.image_id.replace('sha256:', '')[:32]}-{gpu_key}{host_key}.json"

    def spec(self, labels: dict[str, str] | None = None) -> ContainerSpec:
        return ContainerSpec(
            image=self.image_id,
            command=["python3", f"{LIB_DIR}/probe_runtime.py"],
            environment={"HOME": HOME_DIR, "GLOG_minloglevel": "3"},
            mounts=[Mount(str(lib_dir()), LIB_DIR, read_only=True)],
            user=self.user,
            gpus=self.gpus,
            network_mode="none",
            labels=labels or {},
        )


def cached_runtime(target: ProbeTarget) -> RuntimeRecord | None:
    """The cached answer for this image and GPU request, or None."""
    with contextlib.suppress(OSError, ValueError):
        return _record(json.loads(target.cache.read_text(encoding="utf-8")))
    return None


def probe_runtime(engine: ContainerEngine, target: ProbeTarget) -> RuntimeRecord:
    """The runtime record for an image; never raises for a probe that fails (the record says what failed)."""
    cached = cached_runtime(target)
    if cached is not None:
        return cached
    try:
        result = run_oneshot(engine, target.spec(), KIND_PROBE, timeout=120, project=target.project)
    except Exception as exc:
        return RuntimeRecord(probe_error=str(exc))
    return _answer(target, result.output, result.exit_code)


def start_run_probe(engine: ContainerEngine, target: ProbeTarget, run_id: str) -> bool:
    """Start the probe of a detached run in its own container and return (False when the cache already answers).

    Nobody waits for it: the run's settlement reads its answer and removes it (`collect_run_probe`); gc removes
    one whose run ended without it. Raises PaddlectlError when the engine refuses it.
    """
    if cached_runtime(target) is not None:
        return False
    labels = {KIND_LABEL: KIND_PROBE, FOR_RUN_LABEL: run_id, STORE_LABEL: store_value(target.store)}
    if target.project is not None:
        labels[PROJECT_LABEL] = target.project
    spec = target.spec(labels)
    shipment = shipment_for(spec) if engine.host.remote else None  # the helper library goes in, not a bind mount
    container = engine.create(shipment.spec if shipment is not None else spec)
    try:
        if shipment is not None:
            upload(container, shipment.uploads, owner_of(spec.user))
        engine.start(container)
    except BaseException:
        with contextlib.suppress(Exception):
            container.remove()
        raise
    return True


def collect_run_probe(engine: ContainerEngine, target: ProbeTarget, run_id: str, wait_seconds: float) -> RuntimeRecord:
    """The runtime of a detached run: the cache, or the answer of the probe `start_run_probe` started for it.

    Never starts a container: one still probing is waited for up to `wait_seconds`, then left to finish for gc.
    """
    cached = cached_runtime(target)
    if cached is not None:
        return cached
    probes = engine.containers({KIND_LABEL: KIND_PROBE, FOR_RUN_LABEL: run_id})
    if not probes:
        return RuntimeRecord(probe_error="no runtime probe ran for this run (its image was not probed)")
    probe = probes[0]
    deadline = time.monotonic() + wait_seconds
    state = probe.state()
    while state.running and time.monotonic() < deadline:
        time.sleep(0.2)
        state = probe.state()
    if state.running:
        return RuntimeRecord(probe_error=f"the runtime probe had not answered {wait_seconds:.0f} s after the run ended")
    record = _answer(target, probe.output().decode("utf-8", errors="replace"), state.exit_code or 0)
    with contextlib.suppress(Exception):
        probe.remove()
    return record


def _answer(target: ProbeTarget, output: str, exit_code: int) -> RuntimeRecord:
    """The record a probe's output gives; a complete one is cached for the image."""
    found = read_marked_json(output, RUNTIME_PROBE_MARK)
    if found is None:
        return RuntimeRecord(probe_error=f"probe exited {exit_code}: {output.strip()[-300:]}")
    record = _record(found)
    if record.paddle_error is None and record.probe_error is None:
        with contextlib.suppress(OSError):  # only a cache: a full disk costs the next run a probe
            target.cache.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target.cache, json.dumps(found))
    return record


def _record(found: object) -> RuntimeRecord:
    """The probe's JSON as the manifest's record; one that does not read as one says so (never raises)."""
    from paddlectl.foundation.records import RecordError, load

    try:
        return load(RuntimeRecord, found)
    except RecordError as exc:
        return RuntimeRecord(probe_error=f"the probe's answer does not read as a runtime record: {exc}")
