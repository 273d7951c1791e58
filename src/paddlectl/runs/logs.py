"""`runs logs`: a run's saved output, and following it while the run is marked running."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paddlectl.runs.project_runs import ProjectRuns
    from paddlectl.runs.store import RunPaths

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
        runs: ProjectRuns,
        paths: RunPaths,
        warn: Callable[[str], None],
        settle_every: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runs, self.paths = runs, paths
        self.warn, self.settle_every, self.clock = warn, settle_every, clock
        self._next_settle = clock()
        self._warned = False

    def __call__(self) -> bool:
        from paddlectl.runs.manifest import RunStatus
        from paddlectl.runs.project_runs import needs_settling

        manifest = self.runs.store.load(self.paths).manifest
        if manifest is None or manifest.status is not RunStatus.RUNNING:
            return False
        if self.clock() < self._next_settle or not needs_settling(manifest):
            return True
        self._next_settle = self.clock() + self.settle_every
        settlement = self.runs.settle([self.paths.run_id], retry_unreachable=True)  # after an engine restart too
        if settlement.warning and not self._warned:
            self._warned = True
            self.warn(settlement.warning)
        return not settlement.changed
