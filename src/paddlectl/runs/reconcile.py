"""Settle one run marked running whose CLI is gone: the container, found by label, is the truth.

Which runs need it, and when, is decided in one place: `runs/project_runs.py`.

An exited container gives the run its real exit code (and its complete log); a vanished one makes the run `lost`.
Each run is settled on the engine its manifest names (runs/run_engines.py); a remote run's outputs are fetched
first, and its container is removed only once they are safe (runs/remote_run.py).
A run whose owning CLI process is still alive on this host is left to that process, and one recorded by a newer
paddlectl (a newer manifest schema) is left as it is: rewriting it here would drop what this version does not know.
"""

from __future__ import annotations

import contextlib
import os
import socket

from paddlectl.engine.protocol import Container, ContainerEngine
from paddlectl.errors import PaddlectlError
from paddlectl.foundation import clock
from paddlectl.foundation.names import KIND_LABEL, KIND_RUN, PROJECT_LABEL, RUN_LABEL
from paddlectl.runs.manifest import Manifest, RunStatus, RuntimeRecord
from paddlectl.runs.private_files import PrivateFiles, private_files_of
from paddlectl.runs.remote_run import fetch_run_files, is_remote
from paddlectl.runs.settle import settle_from_state
from paddlectl.runs.store import RunPaths, RunStore

# A detached run's probe started with it; only one settled within seconds of its start can find it still busy.
PROBE_WAIT_SECONDS = 30.0


def owner_alive(manifest: Manifest) -> bool:
    """Is the CLI process that owns this run still alive here?"""
    return owner_process_alive(manifest.owner_pid, manifest.owner_host)


def owner_process_alive(pid: object, host: object) -> bool:
    """Is `pid` on `host` a live paddlectl process on this machine?

    Against pid reuse, the process's command line must name paddlectl as a program or module: an argument that
    is `paddlectl` or a path to it (`python -m paddlectl`, the console script). A path that merely passes through
    a folder called paddlectl (a virtual environment under ~/.cache/paddlectl) is some other program.
    """
    if not isinstance(pid, int) or host != socket.gethostname():
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            arguments = handle.read().split(b"\0")
        return any(argument.rsplit(b"/", 1)[-1] == b"paddlectl" for argument in arguments)
    except OSError:
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True


def settle_run(store: RunStore, engine: ContainerEngine, paths: RunPaths, manifest: Manifest) -> bool:
    """Settle one orphaned run from its container; False when it is still running."""
    container = _find_container(engine, manifest)
    private = private_files_of(manifest.container.private_dir)
    if container is None:
        manifest.status = RunStatus.LOST
        manifest.owner_pid = None
        manifest.reason = "its container is gone (removed, or the engine lost it) before the run's end was recorded"
        manifest.ended_at = clock.utc_now()
        _forget_private(manifest, private)
        store.write(manifest)
        return True
    state = container.state()
    if state.running:
        return False
    if is_remote(manifest):
        fetch_run_files(container, paths)  # before anything is settled: a failure leaves the run (and container)
    secret_values = private.secret_values() if private is not None else []
    _recover_log_and_metrics(container, paths, manifest, secret_values)
    if not manifest.runtime.probed and manifest.image.id:  # a detached run: its probe ran beside it
        manifest.runtime = _detached_runtime(
            store, engine, manifest, manifest.image.id, container.labels.get(PROJECT_LABEL)
        )
    previous_reason = manifest.reason
    settle_from_state(manifest, state, None, paths, secret_values)
    _forget_private(manifest, private)
    if previous_reason and "lost contact" in previous_reason and manifest.status is not RunStatus.SUCCEEDED:
        manifest.reason = f"{manifest.reason} (after the CLI {previous_reason})"
    finished = clock.parse_utc(state.finished_at)
    manifest.ended_at = clock.format_utc(finished) if finished is not None else clock.utc_now()
    manifest.duration_seconds = clock.seconds_between(manifest.started_at, manifest.ended_at)
    store.write(manifest)
    if not manifest.container.kept:
        with contextlib.suppress(PaddlectlError):
            container.remove()
    return True


def _detached_runtime(
    store: RunStore, engine: ContainerEngine, manifest: Manifest, image_id: str, project: str | None
) -> RuntimeRecord:
    from paddlectl.engine.gpus import parse_gpus
    from paddlectl.runs.runtime_probe import ProbeTarget, collect_run_probe

    gpus = parse_gpus(manifest.container.gpus)
    target = ProbeTarget.on(
        engine, image_id, store.runs_dir.parent, gpus, user=manifest.container.user, project=project
    )
    return collect_run_probe(engine, target, manifest.id, PROBE_WAIT_SECONDS)


def _forget_private(manifest: Manifest, private: PrivateFiles | None) -> None:
    """The container is done with the run's private files: remove them, and their path from the manifest."""
    if private is not None:
        private.remove()
    manifest.container.private_dir = None


def _find_container(engine: ContainerEngine, manifest: Manifest) -> Container | None:
    found = [c for c in engine.containers({RUN_LABEL: manifest.id}) if c.labels.get(KIND_LABEL, KIND_RUN) == KIND_RUN]
    if found:
        return found[0]
    return engine.container(manifest.container.id) if manifest.container.id else None


def _recover_log_and_metrics(
    container: Container, paths: RunPaths, manifest: Manifest, secret_values: list[str]
) -> None:
    """Rewrite the log from the engine's complete copy and re-read metrics from it and from the helper file."""
    from paddlectl.runs.logstream import OutputSink
    from paddlectl.runs.metric_recorder import RunMetrics

    try:
        output = container.output()
    except PaddlectlError:
        return
    metrics = RunMetrics(paths)
    with open(paths.log, "w", encoding="utf-8", newline="\n") as log:
        sink = OutputSink(log, None, metrics.parse_lines, metrics.parse_redraw, secret_values)
        sink.feed(output)
        sink.close()
    manifest.logs.lines = sink.lines
    manifest.logs.rebuilt_from_engine = True
    metrics.finish(manifest)
