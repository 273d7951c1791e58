"""`paddlectl train`: check the request, record the run, run its container, settle the manifest."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from paddlectl.engine.protocol import Container, ContainerEngine, ContainerSpec, GpuRequest, PullProgress
from paddlectl.errors import ExitCode, PaddlectlError, UnavailableError
from paddlectl.project.workspace import Project
from paddlectl.runs.manifest import CommandRecord, ContainerRecord, ImageRecord, Manifest, RunStatus
from paddlectl.runs.settle import exit_code_for, settle_from_state
from paddlectl.runs.store import RunPaths, RunStore, utc_now
from paddlectl.train.prepare import PreparedRun, container_spec_for

if TYPE_CHECKING:
    from paddlectl.runs.metrics import MetricPoint


class TrainEvents(Protocol):
    """What the CLI shows while a run goes on (core code never prints)."""

    def status(self, message: str) -> None: ...

    def warning(self, message: str) -> None: ...

    def output(self, text: str) -> None: ...

    def pull_progress(self, progress: PullProgress) -> None: ...


class RunObserver(Protocol):
    """Follows an attached run as it goes (MLflow live tracking); every call must return at once and never raise."""

    def started(self, manifest: Manifest, paths: RunPaths) -> None: ...

    def metrics(self, points: list[MetricPoint]) -> None: ...

    def finished(self, manifest: Manifest) -> None: ...


@dataclass
class TrainOutcome:
    manifest: Manifest
    exit_code: int
    paths: RunPaths


def train(
    prepared: PreparedRun,
    project: Project,
    connect: Callable[[], ContainerEngine],
    events: TrainEvents,
    observer: RunObserver | None = None,
) -> TrainOutcome:
    """Run a prepared request to its end (or start it, with detach) and return the settled manifest."""
    from paddlectl.engine.image_lookup import resolve_image
    from paddlectl.foundation.secrets import mask_mapping
    from paddlectl.runs.provenance import host_record
    from paddlectl.runs.reconcile import reap_orphaned_probes
    from paddlectl.runs.runtime_probe import lib_dir
    from paddlectl.runs.tag_history import TagHistory
    from paddlectl.train.git_capture import capture_git, require_clean

    engine = connect()
    if prepared.gpus is not None and not engine.info().gpu_capable:
        # Checked before the image: no point pulling a multi-GB GPU image that cannot run here.
        raise UnavailableError(
            "GPUs were requested but this Docker engine has no NVIDIA runtime or toolkit hook",
            hint="install the NVIDIA Container Toolkit and restart dockerd, or run with --gpus none",
        )
    pinned, image = resolve_image(engine, prepared.image, pull=prepared.request.pull, on_progress=events.pull_progress)
    with contextlib.suppress(PaddlectlError):
        reap_orphaned_probes(engine)  # probes left by CLIs killed mid-probe: no other command would remove them
    store = RunStore(project.runs_dir)
    ensure_store(project.store)
    paths = store.create()
    try:
        git = capture_git(prepared.code_root, paths.patch)
        if prepared.request.require_clean:
            require_clean(git)
        image_record = TagHistory(project.store).record(pinned, image, paths.run_id)
        if prepared.request.image_tag:
            image_record.reference = prepared.request.image_tag
        paths.params_file.write_text(json.dumps(prepared.params, indent=1, default=str), encoding="utf-8")
    except BaseException:
        shutil.rmtree(paths.root, ignore_errors=True)  # nothing happened yet: leave nothing half-written
        raise
    if git.warning:
        events.warning(git.warning)
    if image_record.moved_from:
        events.warning(
            f"TAG MOVED: {pinned.reference} now resolves to {image.id[:19]}, "
            f"but earlier runs used {image_record.moved_from[:19]}: results may not be comparable"
        )
    spec = container_spec_for(prepared, project, paths.run_id, paths.root, lib_dir())
    manifest = _initial_manifest(
        prepared,
        project,
        paths,
        image_record,
        spec,
        git.as_dict(),
        host_record(engine.server_version()),
        mask_mapping(prepared.params),
    )
    store.write(manifest)
    started = time.monotonic()
    if prepared.request.detach:
        return _detach(engine, spec, manifest, store, paths, events)  # reconciliation probes the runtime
    if observer is not None:
        observer.started(manifest, paths)
    probe = _RuntimeProbe(engine, image.id, project.store, prepared.gpus, spec.user)
    probe.start()
    return _run_attached(prepared, engine, spec, manifest, store, paths, probe, events, started, observer)


def _run_attached(
    prepared: PreparedRun,
    engine: ContainerEngine,
    spec: ContainerSpec,
    manifest: Manifest,
    store: RunStore,
    paths: RunPaths,
    probe: _RuntimeProbe,
    events: TrainEvents,
    started: float,
    observer: RunObserver | None,
) -> TrainOutcome:
    from paddlectl.runs.metric_recorder import RunMetrics
    from paddlectl.train.runner import run_container, stop_signals_deferred

    metrics = RunMetrics(paths, on_points=observer.metrics if observer is not None else None)
    events.status(f"run {paths.run_id} started in {manifest.image.reference}")

    def record_container(container: Container) -> None:
        # Kept in memory only: until the run is settled, reconciliation finds the container by its run label.
        manifest.container.id = container.id

    def stopping(signum: int) -> None:
        events.status(
            f"stopping run {paths.run_id} (grace {prepared.request.grace_seconds}s); signal again to kill it now"
        )

    with stop_signals_deferred():  # from the container's end to the manifest write, a signal must wait
        try:
            result = run_container(
                engine,
                spec,
                log_path=paths.log,
                grace_seconds=prepared.request.grace_seconds,
                keep=prepared.request.keep,
                on_created=record_container,
                on_output=events.output,
                on_lines=metrics.parse_lines,
                on_redraw=metrics.parse_redraw,
                on_stopping=stopping,
                on_warning=_recorded_warning(manifest, events),
            )
        except PaddlectlError:
            shutil.rmtree(paths.root, ignore_errors=True)  # the container never ran
            raise
        manifest.duration_seconds = round(time.monotonic() - started, 3)
        manifest.ended_at = utc_now()
        manifest.logs["lines"] = result.lines
        manifest.logs["rebuilt_from_engine"] = result.log_rebuilt
        manifest.container.kept = prepared.request.keep
        metrics.finish(manifest)
        settle_from_state(manifest, result.state, result.interrupted_by, paths)
        if result.log_error is not None:  # a run whose output was not kept is not recorded as succeeded
            manifest.logs["error"] = result.log_error
            if manifest.status is RunStatus.SUCCEEDED:
                manifest.status = RunStatus.FAILED
                manifest.reason = f"paddlectl could not save the whole log ({result.log_error})"
        if result.engine_error is not None:
            manifest.status = RunStatus.RUNNING  # settled later by reconciliation, never recorded as succeeded
            manifest.owner_pid = None
            manifest.reason = f"lost contact with the Docker engine: {result.engine_error.message}"
            manifest.ended_at = None
            store.write(manifest)
            raise UnavailableError(
                f"run {paths.run_id}: lost contact with the Docker engine during the run",
                hint="restart the engine; the next paddlectl command settles the run from its container",
            )
        if probe.done:  # the usual case (cached per image id): one write records outcome and runtime
            manifest.runtime = probe.result()
        store.write(manifest)
        if observer is not None:
            observer.finished(manifest)  # the recorded end; the observer's work overlaps the container's removal
        result.finish_cleanup()  # the container's removal, started in the background: done before we exit
        if result.log_error is not None:
            raise PaddlectlError(
                f"run {paths.run_id} ended, but its log could not be saved in full: {result.log_error}",
                hint=f"free space in {paths.root.parent}; the run is recorded with what was saved",
                code=ExitCode.FAILED,
            )
    if not manifest.runtime:
        # The probe may take seconds on a first run: only after the outcome is recorded, so a signal loses just this.
        manifest.runtime = probe.result()
        store.write(manifest)
    return TrainOutcome(manifest, exit_code_for(manifest), paths)


def _recorded_warning(manifest: Manifest, events: TrainEvents) -> Callable[[str], None]:
    """A warning about the container (a refused ulimit, ...): shown now and kept in the run's manifest."""

    def warn(message: str) -> None:
        manifest.container.warnings.append(message)
        events.warning(message)

    return warn


def ensure_store(store: Path) -> None:
    """The run store, with its own .gitignore so runs are never committed (or captured in patches) by accident."""
    from paddlectl.project.create import STORE_GITIGNORE

    ignore = store / ".gitignore"
    if not ignore.exists():
        store.mkdir(parents=True, exist_ok=True)
        ignore.write_text(STORE_GITIGNORE, encoding="utf-8")


def _initial_manifest(
    prepared: PreparedRun,
    project: Project,
    paths: RunPaths,
    image: ImageRecord,
    spec: ContainerSpec,
    git: dict[str, Any],
    host: dict[str, Any],
    masked_params: dict[str, Any],
) -> Manifest:
    request = prepared.request
    return Manifest(
        id=paths.run_id,
        project=project.config.name,
        status=RunStatus.RUNNING,
        started_at=utc_now(),
        image=image,
        command=CommandRecord(
            script=prepared.script, module=prepared.module, args=list(request.script_args), argv=prepared.masked_command
        ),
        container=ContainerRecord(
            user=spec.user,
            working_dir=spec.working_dir,
            shm_size=spec.shm_size if spec.ipc_mode != "host" else None,
            mem_limit=spec.mem_limit,
            gpus=prepared.gpus_text,
            ipc_mode=spec.ipc_mode,
            nproc=request.nproc,
            code_read_only=not request.code_writable,
            mounts=[{"source": m.source, "target": m.target, "read_only": m.read_only} for m in prepared.mounts],
            env_names=sorted(prepared.env),
            env=prepared.masked_env,
        ),
        name=request.name,
        labels=prepared.labels,
        detached=request.detach,
        owner_pid=None if request.detach else os.getpid(),
        owner_host=socket.gethostname(),
        reproduces=request.reproduces,
        params={"values": masked_params, "sources": prepared.param_sources},
        git=git,
        host=host,
    )


def _detach(
    engine: ContainerEngine,
    spec: ContainerSpec,
    manifest: Manifest,
    store: RunStore,
    paths: RunPaths,
    events: TrainEvents,
) -> TrainOutcome:
    from paddlectl.train.runner import start_detached

    try:
        # A failed start removes the container.
        manifest.container.id = start_detached(engine, spec, _recorded_warning(manifest, events)).id
    except PaddlectlError:
        shutil.rmtree(paths.root, ignore_errors=True)  # the container never ran: leave no run marked running
        raise
    store.write(manifest)
    events.status(f"run {paths.run_id} started detached; follow it with 'paddlectl runs logs {paths.run_id} -f'")
    return TrainOutcome(manifest, 0, paths)


class _RuntimeProbe:
    """Probes the image's runtime in a thread while the run goes on (cached per image id after the first)."""

    def __init__(
        self, engine: ContainerEngine, image_id: str, store: Path, gpus: GpuRequest | None, user: str | None
    ) -> None:
        self._args = (engine, image_id, store, gpus, user)
        self._result: dict[str, Any] = {}
        self._done = threading.Event()
        # Not a daemon: a CLI that exits early (an error, Ctrl-C) still lets the probe remove its container.
        self._thread = threading.Thread(target=self._run, name="paddlectl-probe", daemon=False)

    def _run(self) -> None:
        from paddlectl.runs.runtime_probe import probe_runtime

        try:
            self._result = probe_runtime(*self._args)
        finally:
            self._done.set()

    def start(self) -> None:
        self._thread.start()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def result(self, timeout: float = 120) -> dict[str, Any]:
        # An Event, not Thread.join: Ctrl-C inside join() marks the thread finished (Python 3.11), and the
        # interpreter would then exit without letting the probe remove its container.
        self._done.wait(timeout)
        return self._result or {"probe_error": "the runtime probe did not finish"}
