"""Run one container to its end: attach before start, stream and save every line, wait, honour signals.

The first SIGINT/SIGTERM/SIGHUP stops the container with a grace period; a second one kills it at once.
The final state always comes from the engine (wait/inspect), never from the output stream ending.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO, TypeVar

from paddlectl.engine.protocol import Container, ContainerEngine, ContainerSpec, ContainerState
from paddlectl.errors import PaddlectlError
from paddlectl.runs.logstream import OutputSink, log_file, make_room

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class RunInterrupted(Exception):
    """The first stop signal arrived."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _ForceKill(Exception):
    """A second stop signal arrived: kill now."""


class SignalGuard:
    """Turns stop signals into exceptions in the main thread: first RunInterrupted, then _ForceKill, then nothing."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._armed = True
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if not self._armed:
            return
        if len(self.received) == 1:
            raise RunInterrupted(signum)
        self._armed = False
        raise _ForceKill

    def disarm(self) -> None:
        self._armed = False

    @property
    def first_signal(self) -> int | None:
        return self.received[0] if self.received else None

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]


@contextlib.contextmanager
def stop_signals_deferred() -> Iterator[None]:
    """Hold stop signals while a finished run is recorded, then deliver the first one.

    Without this, Ctrl-C between the container's end and the manifest write leaves the run marked running with
    its container already removed, and reconciliation then records a finished run as lost.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda signum, frame: received.append(signum)) for signum in HANDLED_SIGNALS
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            signal.raise_signal(received[0])


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
) -> ContainerRun:
    """Create, attach, start and follow a container to its end; save its whole output to `log_path`.

    Raises PaddlectlError only when the container could not be created or started (nothing is left behind then).
    An engine that goes away mid-run comes back as `engine_error`, with the container left for reconciliation.
    """
    with SignalGuard() as guard, log_file(log_path) as log:
        sink = OutputSink(log, on_output, on_lines, on_redraw)
        try:
            container, stream = without_refused_ulimits(
                spec, lambda attempt: _create_and_start(engine, attempt, on_created), on_warning
            )
        except (RunInterrupted, _ForceKill):
            return ContainerRun(None, None, guard.first_signal, None, 0, False)
        state: ContainerState | None = None
        engine_error: PaddlectlError | None = None
        stream_complete = False
        try:
            try:
                _follow(stream, sink)
                stream_complete = True
            except PaddlectlError:
                pass  # the stream broke; whether the engine is gone, wait() tells
            state = container.wait()
        except RunInterrupted as interrupt:
            if on_stopping is not None:
                with contextlib.suppress(RunInterrupted, _ForceKill):
                    on_stopping(interrupt.signum)
            state, engine_error = _stop(container, guard, grace_seconds)
        except _ForceKill:
            state, engine_error = _kill(container, guard)
        except PaddlectlError as error:
            engine_error = error
        finally:
            guard.disarm()
        rebuilt = False
        if engine_error is None and not stream_complete and sink.log_error is None:
            rebuilt = _rebuild_log(container, log, sink)
        else:
            sink.close()
        cleanup = None
        if engine_error is None and not keep:
            # Removal takes the engine a while; the caller settles the manifest meanwhile, then joins.
            # Not a daemon thread: the process waits for it rather than leave the container behind.
            cleanup = threading.Event()
            threading.Thread(target=_remove_quietly, args=(container, cleanup), name="paddlectl-remove").start()
    if sink.log_error is not None:
        make_room(log_path)
    return ContainerRun(
        container_id=container.id,
        state=state,
        interrupted_by=guard.first_signal,
        engine_error=engine_error,
        lines=sink.lines,
        log_rebuilt=rebuilt,
        cleanup=cleanup,
        log_error=sink.log_error,
    )


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
    engine: ContainerEngine, spec: ContainerSpec, on_warning: Callable[[str], None] | None = None
) -> Container:
    """Create and start a container without following it (paddlectl train --detach)."""

    def start(attempt: ContainerSpec) -> Container:
        container = engine.create(attempt)
        engine.start(container)
        return container

    return without_refused_ulimits(spec, start, on_warning)


def _create_and_start(
    engine: ContainerEngine, spec: ContainerSpec, on_created: Callable[[Container], None] | None
) -> tuple[Container, Iterator[bytes]]:
    """Create, attach (so no early line is missed), start; on any failure remove what was created."""
    container = engine.create(spec)
    try:
        if on_created is not None:
            on_created(container)
        stream = container.stream_output()
        engine.start(container)
    except BaseException:
        with contextlib.suppress(Exception):
            container.remove()
        raise
    return container, stream


def _follow(stream: Iterator[bytes], sink: OutputSink) -> None:
    for chunk in stream:
        sink.feed(chunk)


def _stop(
    container: Container, guard: SignalGuard, grace_seconds: int
) -> tuple[ContainerState | None, PaddlectlError | None]:
    try:
        container.stop(grace_seconds)
        return container.wait(), None
    except (_ForceKill, RunInterrupted):
        return _kill(container, guard)
    except PaddlectlError as error:
        return None, error


def _kill(container: Container, guard: SignalGuard) -> tuple[ContainerState | None, PaddlectlError | None]:
    guard.disarm()
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
    fresh = OutputSink(log, None, None, None)
    fresh.feed(output)
    fresh.close()
    sink.lines, sink.log_error = fresh.lines, fresh.log_error
    return True
