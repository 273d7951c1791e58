"""`paddlectl train`: check the request, record the run, run its container, settle the manifest.

Stop signals are held for the whole flow (foundation/signals.py) and let through only where stopping is safe:
- before the run is recorded (connecting, the image lookup or pull, the git capture): nothing is kept, the
  signal propagates as Interrupted and the CLI exits 128+n (connecting, an ssh login included, is cut short);
- once it is recorded (create, attach, start, running): whatever was created is removed or stopped, and the
  run is recorded `interrupted` with the signal;
- after its container ended (the log rebuild, settling, waiting for the runtime probe): the run keeps the
  outcome it really had, and the CLI still exits 128+n.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from paddlectl.engine.protocol import Container, ContainerEngine, ContainerSpec, ImageInfo, PullProgress
from paddlectl.errors import ExitCode, PaddlectlError, UnavailableError
from paddlectl.foundation.clock import utc_now
from paddlectl.foundation.image_ref import PinnedImage
from paddlectl.foundation.names import NAMES_LOCK_NAME
from paddlectl.foundation.signals import Interrupted, signal_name, signals
from paddlectl.project.workspace import Project
from paddlectl.runs.manifest import (
    CommandRecord,
    ContainerRecord,
    GitRecord,
    HostRecord,
    ImageRecord,
    Manifest,
    MountRecord,
    ParamsRecord,
    RunStatus,
    RuntimeRecord,
)
from paddlectl.runs.private_files import PrivateFiles
from paddlectl.runs.runtime_probe import ProbeTarget
from paddlectl.runs.settle import exit_code_for, settle_from_state
from paddlectl.runs.store import RunPaths, RunStore
from paddlectl.train.prepare import PreparedRun, container_spec_for

if TYPE_CHECKING:
    from paddlectl.runs.metric_recorder import RunMetrics
    from paddlectl.runs.metrics import MetricPoint
    from paddlectl.runs.remote_run import ShippedRun
    from paddlectl.train.runner import ContainerRun


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
    signal: int | None = None  # a stop signal the CLI received during the run (its exit code is then 128+n)


@dataclass
class _Recorded:
    """What exists once the run is recorded: its folder, manifest, private files and container spec."""

    paths: RunPaths
    manifest: Manifest
    private: PrivateFiles
    spec: ContainerSpec
    image: ImageInfo
    shipped: ShippedRun | None = None  # a remote engine's uploads and fetches (None: bind mounts, as always)


def train(
    prepared: PreparedRun,
    project: Project,
    connect: Callable[[], ContainerEngine],
    events: TrainEvents,
    observer: RunObserver | None = None,
) -> TrainOutcome:
    """Run a prepared request to its end (or start it, with detach) and return the settled manifest.

    Raises Interrupted for a stop signal before the run is recorded (nothing is kept then); after that a signal
    is part of the outcome: its exit code is the signal's (130, 143, 129).
    """
    since = signals.mark()
    with signals.held():
        with signals.interruptible():  # connecting creates nothing: a slow ssh login to a remote host may be cut short
            engine = connect()
        signals.phase("connect")
        signals.checkpoint()
        pinned, image = _find_image(engine, prepared, project.config.name, events)
        store = RunStore(project.runs_dir)
        recorded = _record(prepared, project, engine, store, pinned, image, events)
        if prepared.request.detach:
            outcome = _detach(engine, recorded, store, _probe_target(recorded, project, prepared), events)
        else:
            outcome = _run_attached(prepared, engine, recorded, store, project, events, observer)
        outcome.signal = signals.consume(since)
        if outcome.signal is not None:
            outcome.exit_code = 128 + outcome.signal
        return outcome


def _find_image(
    engine: ContainerEngine, prepared: PreparedRun, project_name: str, events: TrainEvents
) -> tuple[PinnedImage, ImageInfo]:
    """The pinned image, pulled when asked (a pull may be cut short by a signal: nothing is recorded yet)."""
    from paddlectl.engine.image_lookup import resolve_image
    from paddlectl.runs.leftovers import reap_one_shots

    if prepared.gpus is not None and not engine.host.remote and not engine.info().gpu_capable:
        # Checked before the image: no point pulling a multi-GB GPU image that cannot run here.
        raise UnavailableError(
            "GPUs were requested but this Docker engine has no NVIDIA runtime or toolkit hook",
            hint="install the NVIDIA Container Toolkit and restart dockerd, or run with --gpus none",
        )
    signals.phase("image")
    with signals.interruptible():
        found = resolve_image(engine, prepared.image, pull=prepared.request.pull, on_progress=events.pull_progress)
    with contextlib.suppress(PaddlectlError):
        # Probes and exports of this project left by CLIs killed with SIGKILL: nobody else removes them.
        reap_one_shots(engine, project_name)
    signals.checkpoint()
    return found


def _record(
    prepared: PreparedRun,
    project: Project,
    engine: ContainerEngine,
    store: RunStore,
    pinned: PinnedImage,
    image: ImageInfo,
    events: TrainEvents,
) -> _Recorded:
    """Capture git, write the private files and the first manifest; before that write, nothing is kept."""
    from paddlectl.foundation.secrets import mask_mapping
    from paddlectl.runs.provenance import engine_record, host_record
    from paddlectl.runs.query import refuse_taken_name
    from paddlectl.runs.runtime_probe import lib_dir
    from paddlectl.runs.tag_history import TagHistory
    from paddlectl.train.git_capture import capture_git, outside_patch_warning, require_clean

    ensure_store(project.store)
    refuse_taken_name(store, prepared.request.name)  # before any work; checked again under the lock
    paths = store.create()
    private: PrivateFiles | None = None
    history = TagHistory(project.store)
    try:
        signals.phase("git")
        git = capture_git(prepared.code_root, paths.patch)
        if prepared.request.require_clean:
            require_clean(git)
        image_record = history.record_for(pinned, image)
        if prepared.request.image_tag:
            image_record.reference = prepared.request.image_tag
        private = PrivateFiles.create(paths.run_id, prepared.params, prepared.secret_values)
        spec = container_spec_for(prepared, project, paths.run_id, paths.root, lib_dir(), private.params_file)
        shipped = _shipped_if_remote(prepared, project, engine, spec, paths, events)
        manifest = _initial_manifest(
            prepared,
            project,
            paths,
            image_record,
            spec,
            git,
            host_record(engine.server_version()),
            mask_mapping(prepared.params),
            private,
        )
        manifest.engine = engine_record(engine)
        signals.phase("record")
        signals.checkpoint()
        _write_first_manifest(store, project, manifest, prepared)  # the run is recorded from here on
    except BaseException:
        shutil.rmtree(paths.root, ignore_errors=True)  # nothing happened yet: leave nothing half-written
        if private is not None:
            private.remove()
        raise
    history.remember(pinned, image_record, paths.run_id)
    for warning in (git.warning, outside_patch_warning(git)):
        if warning:
            events.warning(warning)
    if image_record.moved_from:
        events.warning(
            f"TAG MOVED: {pinned.reference} now resolves to {image.id[:19]}, "
            f"but earlier runs used {image_record.moved_from[:19]}: results may not be comparable"
        )
    return _Recorded(paths, manifest, private, shipped.spec if shipped else spec, image, shipped)


def _shipped_if_remote(
    prepared: PreparedRun,
    project: Project,
    engine: ContainerEngine,
    spec: ContainerSpec,
    paths: RunPaths,
    events: TrainEvents,
) -> ShippedRun | None:
    """On a remote engine nothing is bind-mounted: the code, helper library and params go in by upload, the
    outputs come back by fetch (runs/remote_run.py). None on a local engine: bind mounts, as always."""
    if not engine.host.remote:
        return None
    from paddlectl.foundation.source_tree import source_files
    from paddlectl.project.config import STORE_NAME
    from paddlectl.runs.remote_run import ShippedRun

    code = source_files(prepared.code_root, STORE_NAME)
    user_mounts = [mount.target for mount in prepared.mounts]
    return ShippedRun.plan(spec, code, user_mounts, paths, engine.host.label, events.warning)


def _write_first_manifest(store: RunStore, project: Project, manifest: Manifest, prepared: PreparedRun) -> None:
    """Write the run's first manifest; its name is checked (or, for a reproduction, chosen) under the project's
    names lock, so two runs never get one name. Raises UsageError for a name another run has."""
    from paddlectl.foundation.locks import held_lock
    from paddlectl.runs.query import refuse_taken_name, reproduction_name

    request = prepared.request
    if manifest.name is None and request.reproduction_of is None:
        store.write(manifest)
        return
    with held_lock(project.store / NAMES_LOCK_NAME):
        if request.reproduction_of is not None:
            manifest.name = reproduction_name(store, request.reproduction_of)
        else:
            refuse_taken_name(store, manifest.name)
        store.write(manifest)


def _run_attached(
    prepared: PreparedRun,
    engine: ContainerEngine,
    recorded: _Recorded,
    store: RunStore,
    project: Project,
    events: TrainEvents,
    observer: RunObserver | None,
) -> TrainOutcome:
    from paddlectl.runs.metric_recorder import RunMetrics

    paths, manifest = recorded.paths, recorded.manifest
    started = time.monotonic()
    probe = _RuntimeProbe(engine, _probe_target(recorded, project, prepared))
    probe.start()
    metrics = RunMetrics(paths, on_points=observer.metrics if observer is not None else None)
    if observer is not None:
        observer.started(manifest, paths)
    profile = f" (profile {manifest.profile.name})" if manifest.profile else ""
    events.status(f"run {paths.run_id} started in {manifest.image.reference}{profile}")

    result = _run_container(prepared, engine, recorded, metrics, events)
    if recorded.shipped is not None:
        manifest.engine.uploaded, manifest.engine.fetched = recorded.shipped.uploaded, recorded.shipped.fetched
    _apply_result(manifest, result, prepared, paths, started, metrics)
    if result.engine_error is not None or result.fetch_error is not None:
        _leave_for_reconciliation(manifest, result, store, engine)
    recorded.private.remove()  # the container is done with the params file
    manifest.container.private_dir = None
    if probe.done:  # the usual case (cached per image id): one write records outcome and runtime
        manifest.runtime = probe.result()
    signals.phase("settle")
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
    if not manifest.runtime.probed:
        # The probe may take seconds on a first run: only after the outcome is recorded, so a signal loses just this.
        manifest.runtime = _wait_for_the_probe(probe)
        store.write(manifest)
    return TrainOutcome(manifest, exit_code_for(manifest), paths)


def _run_container(
    prepared: PreparedRun, engine: ContainerEngine, recorded: _Recorded, metrics: RunMetrics, events: TrainEvents
) -> ContainerRun:
    """Run the container to its end, its output streamed to the log and the terminal; a failed start removes the
    run's folder and private files (the container never ran) and raises."""
    from paddlectl.train.runner import run_container

    paths, manifest, spec = recorded.paths, recorded.manifest, recorded.spec

    def record_container(container: Container) -> None:
        # Kept in memory only: until the run is settled, reconciliation finds the container by its run label.
        manifest.container.id = container.id

    def stopping(signum: int) -> None:
        events.status(
            f"stopping run {paths.run_id} (grace {prepared.request.grace_seconds}s); signal again to kill it now"
        )

    try:
        return run_container(
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
            secret_values=prepared.secret_values,
            before_start=recorded.shipped.before_start if recorded.shipped else None,
            after_end=recorded.shipped.after_end if recorded.shipped else None,
        )
    except PaddlectlError:
        shutil.rmtree(paths.root, ignore_errors=True)  # the container never ran
        recorded.private.remove()
        raise


def _leave_for_reconciliation(
    manifest: Manifest, result: ContainerRun, store: RunStore, engine: ContainerEngine
) -> NoReturn:
    """The engine went away, or a remote run's outputs could not be fetched: the container is kept, the run stays
    marked running (never recorded as succeeded) for the next command to settle; raises UnavailableError."""
    manifest.status = RunStatus.RUNNING
    manifest.owner_pid = None
    manifest.ended_at = None
    if result.engine_error is None and result.fetch_error is not None:
        manifest.reason = f"its outputs could not be fetched: {result.fetch_error.message}"
        store.write(manifest)
        raise UnavailableError(
            f"run {manifest.id} ended, but its outputs could not be fetched from {engine.host.label}: "
            f"{result.fetch_error.message}",
            hint="the container is kept there; the next paddlectl command (runs list) fetches them and settles the run",
        )
    message = result.engine_error.message if result.engine_error is not None else "?"
    manifest.reason = f"lost contact with the Docker engine: {message}"
    store.write(manifest)
    raise UnavailableError(
        f"run {manifest.id}: lost contact with the Docker engine during the run",
        hint="restart the engine; the next paddlectl command settles the run from its container",
    )


def _wait_for_the_probe(probe: _RuntimeProbe) -> RuntimeRecord:
    """The first run of an image waits for its runtime probe; a stop signal ends the wait (the run is recorded)."""
    try:
        signals.phase("probe")
        with signals.interruptible():
            return probe.result()
    except Interrupted as interrupt:
        signals.handled(interrupt)
        return RuntimeRecord(probe_error=f"not waited for: the CLI got {signal_name(interrupt.signum)}")


def _apply_result(
    manifest: Manifest,
    result: ContainerRun,
    prepared: PreparedRun,
    paths: RunPaths,
    started: float,
    metrics: RunMetrics,
) -> None:
    """The manifest's outcome from how the container run ended (not yet written)."""
    manifest.duration_seconds = round(time.monotonic() - started, 3)
    manifest.ended_at = utc_now()
    manifest.logs.lines = result.lines
    manifest.logs.rebuilt_from_engine = result.log_rebuilt
    manifest.container.kept = prepared.request.keep
    metrics.finish(manifest)
    settle_from_state(manifest, result.state, result.interrupted_by, paths, prepared.secret_values)
    if result.state is None and result.interrupted_by is not None:
        manifest.reason = f"stopped by {signal_name(result.interrupted_by)} before the container started"
    if result.log_error is not None:  # a run whose output was not kept is not recorded as succeeded
        manifest.logs.error = result.log_error
        if manifest.status is RunStatus.SUCCEEDED:
            manifest.status = RunStatus.FAILED
            manifest.reason = f"paddlectl could not save the whole log ({result.log_error})"


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
    git: GitRecord,
    host: HostRecord,
    masked_params: dict[str, Any],
    private: PrivateFiles,
) -> Manifest:
    request = prepared.request
    return Manifest(
        id=paths.run_id,
        project=project.config.name,
        status=RunStatus.RUNNING,
        started_at=utc_now(),
        image=image,
        command=CommandRecord(
            script=prepared.script,
            module=prepared.module,
            args=list(request.script_args),
            argv=prepared.masked_command,
            secret_args=request.secret_args,
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
            mounts=[MountRecord(m.source, m.target, m.read_only) for m in prepared.mounts],
            env_names=sorted(prepared.env),
            env=prepared.masked_env,
            private_dir=str(private.root),
        ),
        name=request.name,
        labels=prepared.labels,
        detached=request.detach,
        owner_pid=None if request.detach else os.getpid(),
        owner_host=socket.gethostname(),
        reproduces=request.reproduces,
        profile=prepared.profile,
        params=ParamsRecord(masked_params, prepared.param_sources, prepared.param_types),
        git=git,
        host=host,
    )


def _probe_target(recorded: _Recorded, project: Project, prepared: PreparedRun) -> ProbeTarget:
    return ProbeTarget(recorded.image.id, project.store, prepared.gpus, recorded.spec.user, project.config.name)


def _detach(
    engine: ContainerEngine, recorded: _Recorded, store: RunStore, probe: ProbeTarget, events: TrainEvents
) -> TrainOutcome:
    """Start the container, and its runtime probe beside it, and return; the run's settlement (reconciliation)
    reads the probe's answer and removes the run's private files."""
    from paddlectl.runs.runtime_probe import start_run_probe
    from paddlectl.train.runner import start_detached

    paths, manifest = recorded.paths, recorded.manifest
    try:
        # A failed or interrupted start removes the container.
        before_start = recorded.shipped.before_start if recorded.shipped else None
        manifest.container.id = start_detached(
            engine, recorded.spec, _recorded_warning(manifest, events), before_start=before_start
        ).id
    except PaddlectlError:
        shutil.rmtree(paths.root, ignore_errors=True)  # the container never ran: leave no run marked running
        recorded.private.remove()
        raise
    except Interrupted as interrupt:
        signals.handled(interrupt)
        recorded.private.remove()
        manifest.container.private_dir = None
        settle_from_state(manifest, None, interrupt.signum, paths)
        manifest.reason = f"stopped by {signal_name(interrupt.signum)} before the container started"
        manifest.ended_at = utc_now()
        store.write(manifest)
        return TrainOutcome(manifest, interrupt.exit_code, paths)
    if recorded.shipped is not None:
        manifest.engine.uploaded, manifest.engine.fetched = recorded.shipped.uploaded, recorded.shipped.fetched
    store.write(manifest)
    try:
        with signals.held():  # a create cut in two would leave a probe nobody knows of
            start_run_probe(engine, probe, paths.run_id)
    except PaddlectlError as error:
        events.warning(f"the run's runtime (Paddle, CUDA) will not be recorded: its probe did not start: {error}")
    events.status(f"run {paths.run_id} started detached; follow it with 'paddlectl runs logs {paths.run_id} -f'")
    return TrainOutcome(manifest, 0, paths)


class _RuntimeProbe:
    """Probes the image's runtime in a thread while the run goes on (cached per image id after the first)."""

    def __init__(self, engine: ContainerEngine, target: ProbeTarget) -> None:
        self._engine, self._target = engine, target
        self._result: RuntimeRecord | None = None
        self._done = threading.Event()
        # Not a daemon: a CLI that exits early (an error, Ctrl-C) still lets the probe remove its container.
        self._thread = threading.Thread(target=self._run, name="paddlectl-probe", daemon=False)

    def _run(self) -> None:
        from paddlectl.runs.runtime_probe import probe_runtime

        try:
            self._result = probe_runtime(self._engine, self._target)
        finally:
            self._done.set()

    def start(self) -> None:
        self._thread.start()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def result(self, timeout: float = 120) -> RuntimeRecord:
        # An Event, not Thread.join: Ctrl-C inside join() marks the thread finished (Python 3.11), and the
        # interpreter would then exit without letting the probe remove its container.
        self._done.wait(timeout)
        return self._result or RuntimeRecord(probe_error="the runtime probe did not finish")
