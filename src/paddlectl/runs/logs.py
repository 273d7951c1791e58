"""`runs logs`: a run's saved output, and following it while the run is marked running."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paddlectl.runs.query import EngineFactory
    from paddlectl.runs.run_engines import RunEngines
    from paddlectl.runs.store import RunPaths, RunStore

CHUNK = 1 << 16
POLL_SECONDS = 0.5


def read_log(paths: RunPaths) -> Iterator[bytes]:
    """The saved log in chunks (bytes: it is copied as written, whatever its encoding)."""
    try:
        handle = paths.log.open("rb")
    except FileNotFoundError:
        return
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def follow_log(
    paths: RunPaths,
    still_running: Callable[[], bool],
    poll_seconds: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[bytes]:
    """The log so far, then new output as it is written, until `still_running()` says the run ended.

    The end is checked before the last read, so output written just before the run ended is not lost.
    """
    offset = 0
    while True:
        running = still_running()
        try:
            with paths.log.open("rb") as handle:
                handle.seek(offset)
                while chunk := handle.read(CHUNK):
                    offset += len(chunk)
                    yield chunk
        except FileNotFoundError:
            pass
        if not running:
            return
        sleep(poll_seconds)


class RunWatch:
    """Answers "is this run still marked running?" for `follow_log`, settling it when its owner is gone.

    A run whose owning CLI was killed stays marked running until reconciliation settles it, so a follower would
    wait forever: at the start and every `settle_every` seconds, a run with no live owner is reconciled (the
    engine is contacted only then). An unreachable engine is reported once through `warn` and following goes on.
    """

    def __init__(
        self,
        store: RunStore,
        paths: RunPaths,
        engine_factory: EngineFactory | None,
        warn: Callable[[str], None],
        settle_every: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.paths, self.engine_factory = store, paths, engine_factory
        self.warn, self.settle_every, self.clock = warn, settle_every, clock
        self._next_settle = clock()
        self._engines: RunEngines | None = None
        self._warned = False

    def __call__(self) -> bool:
        from paddlectl.runs.reconcile import owner_alive
        from paddlectl.runs.store import RunStore

        manifest = RunStore.load(self.paths).manifest
        if manifest is None or manifest.status.value != "running":
            return False
        if self.engine_factory is None or self.clock() < self._next_settle or owner_alive(manifest):
            return True
        self._next_settle = self.clock() + self.settle_every
        from paddlectl.runs.query import settle_running

        if self._engines is None:  # one connection per engine for the whole follow (the run's own host)
            from paddlectl.runs.run_engines import RunEngines

            self._engines = RunEngines.of(self.engine_factory)
        self._engines.forget_failures()
        changed, warning = settle_running(self.store, [self.paths.run_id], self._engines)
        if warning and not self._warned:
            self._warned = True
            self.warn(warning)
        return not changed
