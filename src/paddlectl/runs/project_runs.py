"""A project's runs: the store, its summary index, and the settlement of runs whose owner is gone, in one object.

Every command that reads runs goes through `ProjectRuns`, so none has to remember to settle: a run marked
running whose paddlectl process is gone (killed, or a detached run) is settled from its container before it is
read. The engine is contacted only when some run needs that, once per object, and settling never starts a
container (a detached run's runtime probe was started beside it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from paddlectl.errors import PaddlectlError, UsageError
from paddlectl.runs.index import IndexEntry, RunIndex
from paddlectl.runs.manifest import Manifest, RunStatus
from paddlectl.runs.reconcile import owner_alive, owner_process_alive, settle_run
from paddlectl.runs.run_engines import RunEngines
from paddlectl.runs.store import RunPaths, RunStore, StoredRun

if TYPE_CHECKING:
    from paddlectl.engine.protocol import EngineFactory
    from paddlectl.runs.query import Listing, RunQuery


@dataclass
class Settlement:
    """What settling changed: the runs settled, and why some could not be checked (the engine is down)."""

    changed: list[str] = field(default_factory=list)
    warning: str | None = None


def needs_settling(manifest: Manifest) -> bool:
    """Marked running, written by this paddlectl, and its owner is no longer alive here."""
    return manifest.status is RunStatus.RUNNING and not manifest.read_only and not owner_alive(manifest)


def entry_needs_settling(entry: IndexEntry) -> bool:
    """The same test from an index row, without parsing the manifest (listing thousands of runs)."""
    row = entry.row
    return (
        entry.running and not entry.read_only and not owner_process_alive(row.get("owner_pid"), row.get("owner_host"))
    )


class ProjectRuns:
    """The runs of one store, settled before they are read."""

    def __init__(
        self,
        store: RunStore,
        engines: RunEngines | EngineFactory | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        """`engines`: where runs are settled, each on the engine its manifest names (a plain factory: the default
        engine only); None: nothing is settled (a read that must not touch any engine). `warn` hears why runs
        could not be settled (an engine is down), once per distinct reason."""
        self.store = store
        self.index = RunIndex.of(store)
        self.engines = RunEngines.of(engines) if engines is not None else None
        self._warn = warn
        self._warned: set[str] = set()

    def resolve(self, target: str) -> RunPaths:
        """The run a user means (id, prefix, `last~N`, name); raises UsageError as `resolve_run` does."""
        from paddlectl.runs.query import resolve_run

        return resolve_run(self.store, target)

    def load(self, paths: RunPaths) -> StoredRun:
        """The run as stored, settled first if it needs it (a run that cannot be read is returned as it is)."""
        stored = self.store.load(paths)
        if stored.manifest is None or not needs_settling(stored.manifest):
            return stored
        return self.store.load(paths) if self.settle([paths.run_id]).changed else stored

    def read(self, target: str) -> Manifest:
        """The manifest of the run `target` names, settled first; raises UsageError when it cannot be read."""
        stored = self.load(self.resolve(target))
        if stored.manifest is None:
            raise UsageError(f"run {stored.paths.run_id}: {stored.problem}", hint=f"look at {stored.paths.manifest}")
        return stored.manifest

    def settle(self, run_ids: Iterable[str], *, retry_unreachable: bool = False) -> Settlement:
        """Settle those of `run_ids` that need it, each on its own engine; engines are reached only for those.

        Without engines nothing is settled. An engine that cannot be reached (or a remote run whose outputs
        cannot be fetched) is a warning, not an error: those runs stay marked running until a command can reach
        it, and the others are settled. `retry_unreachable` tries engines that failed earlier in this command again
        (a follower checking every few seconds, across an engine restart).
        """
        candidates: list[tuple[RunPaths, Manifest]] = []
        for run_id in run_ids:
            paths = self.store.paths(run_id)
            manifest = self.store.load(paths).manifest
            if manifest is not None and needs_settling(manifest):
                candidates.append((paths, manifest))
        if not candidates or self.engines is None:
            return Settlement()
        if retry_unreachable:
            self.engines.forget_failures()
        changed, problems = [], []
        for paths, manifest in candidates:
            try:
                if settle_run(self.store, self.engines.for_manifest(manifest), paths, manifest):
                    changed.append(manifest.id)
            except PaddlectlError as error:
                problems.append(error.message)
        if not problems:
            return Settlement(changed)
        reasons = "; ".join(dict.fromkeys(problems))
        warning = f"{len(problems)} run(s) marked running could not be checked: {reasons}"
        if self._warn is not None and warning not in self._warned:
            self._warned.add(warning)
            self._warn(warning)
        return Settlement(changed, warning)

    def settle_all(self) -> Settlement:
        """Settle every run that needs it (found through the index, one stat per run)."""
        return self.settle(entry.id for entry in self.index.refresh() if entry_needs_settling(entry))

    def listing(self, query: RunQuery) -> Listing:
        """The runs `query` selects, after settling those that need it."""
        from paddlectl.runs.query import select_entries

        entries = self.index.refresh()
        settlement = self.settle(entry.id for entry in entries if entry_needs_settling(entry))
        if settlement.changed:
            entries = self.index.refresh()
        listing = select_entries(entries, query)
        listing.reconciled = settlement.changed
        return listing
