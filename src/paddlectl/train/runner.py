"""Run one container to its end: attach before start, stream and save every line, wait, honour stop signals.

Called with stop signals held (foundation/signals.py; `train` holds them from the moment the run is recorded).
A signal before the container starts removes whatever was created and comes back as `interrupted_by` with no
state; one while it runs stops it with a grace period, and a further one kills it at once. The final state always
comes from the engine (wait/inspect), never from the output stream ending.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO, TypeVar

from paddlectl.engine.protocol import Container, ContainerEngine, ContainerSpec, ContainerState
from paddlectl.errors import PaddlectlError
from paddlectl.foundation.signals import ForceKill, Interrupted, signals
from paddlectl.runs.logstream import OutputSink, log_file, make_room


@dataclass
class ContainerRun:
    """How a container run ended, as far as the engine could tell."""

    container_id: str | None
    state: ContainerState | None
    interrupted_by: int | None
    engine_error: PaddlectlError | None
    lines: int
    log_rebuilt: bool
    cleanup: threading.Event | None = None  # set once the background removal is done
    log_error: str | None = None  # why the saved log stops early (a full disk); None when it is complete
    fetch_error: PaddlectlError | None = None  # after_end failed (outputs not fetched): the container is kept

    def finish_cleanup(self) -> None:
        """Wait for the container's removal (started in the background while the caller settles the run).

        Waits on an Event, not Thread.join: on Python 3.11 a KeyboardInterrupt inside join marks the thread
        finished, and the interpreter would then exit without waiting for the removal.
        """
        if self.cleanup is not None:
            self.cleanup.wait()


def run_container(
    engine: ContainerEngine,
    spec: ContainerSpec,
    *,
    log_path: Path,
    grace_seconds: int = 10,
    keep: bool = False,
    on_created: Callable[[Container], None] | None = None,
    on_output: Callable[[str], None] | None = None,
    on_lines: Callable[[list[str]], None] | None = None,
    on_redraw: Callable[[str], None] | None = None,
    on_stopping: Callable[[int], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    secret_values: Sequence[str] = (),
    before_start: Callable[[Container], None] | None = None,
    after_end: Callable[[Container], None] | None = None,
) -> ContainerRun:
    """Create, attach, start and follow a container to its end; save its whole output to `log_path`.

    `before_start` runs between create and start (a remote run's upload), `after_end` once the container has
    ended, before it is removed (the fetch of its outputs); both with signals held.
    Raises PaddlectlError only when the container could not be created or started (nothing is left behind then).
    An engine that goes away mid-run comes back as `engine_error`, with the container left for reconciliation;
    an `after_end` that fails comes back as `fetch_error`, the container kept likewise.
    """
    with log_file(log_path) as log:
        sink = OutputSink(log, on_output, on_lines, on_redraw, secret_values)
        try:
            container, stream = without_refused_ulimits(
                spec,
                lambda attempt: _create_and_start(engine, attempt, on_created, before_start=before_start),
                on_warning,
            )
        except Interrupted as interrupt:  # before the container started: nothing of it is left
            signals.handled(interrupt)
            return ContainerRun(None, None, interrupt.signum, None, 0, False)
        state: ContainerState | None = None
        engine_error: PaddlectlError | None = None
        interrupted_by: int | None = None
        stream_complete = False
        try:
            with signals.interruptible():
                signals.phase("running")
                try:
                    _follow(stream, sink)
                    stream_complete = True
                except PaddlectlError:
                    pass  # the stream broke; whether the engine is gone, wait() tells
                state = container.wait()
        except Interrupted as interrupt:
            signals.handled(interrupt)
            interrupted_by = interrupt.signum
            if on_stopping is not None:
                on_stopping(interrupt.signum)
            state, engine_error = _stop(container, grace_seconds)
        except PaddlectlError as error:
            engine_error = error
        signals.phase("rebuild")
        rebuilt = False
        if engine_error is None and not stream_complete and sink.log_error is None:
            rebuilt = _rebuild_log(container, log, sink)
        else:
            sink.close()
        fetch_error = _after_end(container, after_end) if engine_error is None else None
        cleanup = None
        if engine_error is None and fetch_error is None and not keep:
            # Removal takes the engine a while; the caller settles the manifest meanwhile, then joins.
            # Not a daemon thread: the process waits for it rather than leave the container behind.
            cleanup = threading.Event()
            threading.Thread(target=_remove_quietly, args=(container, cleanup), name="paddlectl-remove").start()
    if sink.log_error is not None:
        make_room(log_path)
    return ContainerRun(
        container_id=container.id,
        state=state,
        interrupted_by=interrupted_by,
        engine_error=engine_error,
        lines=sink.lines,
        log_rebuilt=rebuilt,
        cleanup=cleanup,
        log_error=sink.log_error,
        fetch_error=fetch_error,
    )


def _after_end(container: Container, after_end: Callable[[Container], None] | None) -> PaddlectlError | None:
    if after_end is None:
        return None
    try:
        with signals.held():
            after_end(container)
    except PaddlectlError as error:
        return error
    return None


def _remove_quietly(container: Container, done: threading.Event) -> None:
    try:
        with contextlib.suppress(PaddlectlError):
            container.remove()
    finally:
        done.set()


_T = TypeVar("_T")


def without_refused_ulimits(
    spec: ContainerSpec, start: Callable[[ContainerSpec], _T], on_warning: Callable[[str], None] | None
) -> _T:
    """Start a container; if the engine refuses its ulimits (memlock, on some daemons), start it without them.

    A refused limit is a warning, not a failed run: NCCL asks for unlimited locked memory, but many daemons
    (rootless, some cgroup setups) cannot grant it, and the run can still work. `start` must leave nothing behind
    when it fails (engine.start removes a container that did not start).
    """
    try:
        return start(spec)
    except PaddlectlError as error:
        if not spec.ulimits or "rlimit" not in error.message:
            raise
    refused = ", ".join(limit.name for limit in spec.ulimits)
    if on_warning is not None:
        on_warning(f"the Docker engine refused ulimit {refused} (operation not permitted); running without it")
    return start(dataclasses.replace(spec, ulimits=[]))


def start_detached(
    engine: ContainerEngine,
    spec: ContainerSpec,
    on_warning: Callable[[str], None] | None = None,
    before_start: Callable[[Container], None] | None = None,
) -> Container:
    """Create and start a container without following it (paddlectl train --detach).

    Raises Interrupted when a stop signal arrived before the container started (it is removed then).
    """

    def start(attempt: ContainerSpec) -> Container:
        return _create_and_start(engine, attempt, None, attach=False, before_start=before_start)[0]

    return without_refused_ulimits(spec, start, on_warning)


def _create_and_start(
    engine: ContainerEngine,
    spec: ContainerSpec,
    on_created: Callable[[Container], None] | None,
    *,
    attach: bool = True,
    before_start: Callable[[Container], None] | None = None,
) -> tuple[Container, Iterator[bytes]]:
    """Create, attach (so no early line is missed), start; on any failure or stop signal remove what was created.

    Each step runs with signals held, so a signal never tears a request in two (a create cut short can leave a
    container the client never heard of); between the steps a held signal raises Interrupted.
    """
    signals.phase("create")
    signals.checkpoint()
    container = engine.create(spec)
    try:
        if on_created is not None:
            on_created(container)
        if before_start is not None:
            before_start(container)
        signals.phase("attach")
        signals.checkpoint()
        stream: Iterator[bytes] = container.stream_output() if attach else iter(())
        signals.phase("start")
        signals.checkpoint()
        engine.start(container)
        signals.checkpoint()
    except BaseException:
        with contextlib.suppress(Exception):
            container.remove()
        raise
    return container, stream


def _follow(stream: Iterator[bytes], sink: OutputSink) -> None:
    for chunk in stream:
        sink.feed(chunk)


def _stop(container: Container, grace_seconds: int) -> tuple[ContainerState | None, PaddlectlError | None]:
    """Stop with a grace period; a further stop signal meanwhile kills at once."""
    try:
        with signals.killable():
            container.stop(grace_seconds)
            return container.wait(), None
    except ForceKill as again:
        signals.handled(again)
        return _kill(container)
    except PaddlectlError as error:
        return None, error


def _kill(container: Container) -> tuple[ContainerState | None, PaddlectlError | None]:
    try:
        container.kill()
        return container.wait(), None
    except PaddlectlError as error:
        return None, error


def _rebuild_log(container: Container, log: TextIO, sink: OutputSink) -> bool:
    """After an interrupted stream, rewrite the log from the engine's complete copy so no line is lost."""
    try:
        output = container.output()
    except PaddlectlError:
        sink.close()
        return False
    try:
        log.seek(0)
        log.truncate()
    except OSError as exc:  # the part still buffered could not be written: a full disk
        sink._log_failed(exc)
        return False
    fresh = OutputSink(log, None, None, None, sink.mask.values)
    fresh.feed(output)
    fresh.close()
    sink.lines, sink.log_error = fresh.lines, fresh.log_error
    return True
