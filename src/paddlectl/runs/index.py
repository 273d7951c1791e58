"""The run summary index: one compact row per run, so listing 10,000 runs never parses 10,000 YAML files.

`.paddlectl/runs.index` holds, per run, the manifest's (mtime_ns, ctime_ns, size, inode) and a JSON summary row.
Each listing stats every manifest (one `os.stat` per run) and re-parses only new or changed ones. The index is
derived data: a missing, corrupt (CRC mismatch) or outdated index is rebuilt from the manifests. It is written
atomically; two processes refreshing it at once both write valid files and the last one wins, which is fine
because any stale row is caught by its stamp on the next read.

File layout (text, ASCII because the rows are ASCII-escaped JSON):
    paddlectl-runs-index <TAB> FORMAT <TAB> SCHEMA_VERSION <TAB> crc32(body) hex <NEWLINE>
    body: one line per run: id, mtime_ns, ctime_ns, size, inode, status, row JSON (tab-separated)
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paddlectl.foundation.enums import TextEnum
from paddlectl.foundation.names import MANIFEST_NAME
from paddlectl.runs.manifest import SCHEMA_VERSION

if TYPE_CHECKING:
    from paddlectl.runs.manifest import Manifest
    from paddlectl.runs.store import RunStore, StoredRun

INDEX_NAME = "runs.index"
INDEX_MAGIC = "paddlectl-runs-index"
INDEX_FORMAT = "5"  # bump when the row's shape changes: an index of another format is rebuilt
PARALLEL_MIN = 400  # below this many manifests to parse, a process pool costs more than it saves

Stamp = tuple[int, int, int, int]


class RowStatus(TextEnum):
    """A listed run's status: the manifest's (RunStatus), or `bad` for a manifest that could not be read."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    LOST = "lost"
    BAD = "bad"  # shown as one row with its problem; never settled, stopped by gc or removed by it

    @property
    def ended(self) -> bool:
        return self in ENDED_STATUSES


ENDED_STATUSES = frozenset({RowStatus.SUCCEEDED, RowStatus.FAILED, RowStatus.INTERRUPTED, RowStatus.LOST})
_BY_TEXT = {status.value: status for status in RowStatus}  # a dict lookup: listing 10,000 runs reads every entry


def row_status(text: str) -> RowStatus | None:
    """The status a row's text names, None for one this version does not know."""
    return _BY_TEXT.get(text)


@dataclass
class IndexEntry:
    """One run's summary: the fields listings touch without parsing, and the row JSON, parsed on first use."""

    id: str
    status: RowStatus
    raw: str  # the row as compact JSON, exactly what `runs list --json` prints
    stamp: Stamp | None = None  # None: no manifest to stamp (never cached)
    _row: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def row(self) -> dict[str, Any]:
        if self._row is None:
            self._row = json.loads(self.raw)
        return self._row

    @property
    def running(self) -> bool:
        return self.status is RowStatus.RUNNING

    @property
    def read_only(self) -> bool:
        return '"read_only":true' in self.raw  # without parsing the row: listing 10,000 runs reads every entry


def index_path(store: RunStore) -> Path:
    return store.runs_dir.parent / INDEX_NAME


def summarize(run_id: str, manifest: Manifest) -> dict[str, Any]:
    """The listing row for a readable manifest (folder name is the id: it is what paths resolve to)."""
    git = manifest.git
    metrics = {name: _finite(entry.last) for name, entry in manifest.metrics.summary.items()}
    return {
        "id": run_id,
        "name": manifest.name,
        "status": manifest.status.value,
        "image": manifest.image.reference,
        "image_id": manifest.image.id,
        "image_digest": manifest.image.digest,
        "commit": git.commit,
        "dirty": git.dirty if git.is_repository else None,
        "labels": _jsonable(manifest.labels),
        "params": _jsonable(manifest.params.values),
        "metrics": metrics,
        "started_at": _jsonable(manifest.started_at),
        "ended_at": _jsonable(manifest.ended_at),
        "duration_seconds": _finite(manifest.duration_seconds),
        "exit_code": manifest.exit_code,
        "reason": manifest.reason,  # why it ended as it did ("exited with code 2", "stopped by SIGINT")
        "owner_pid": manifest.owner_pid,
        "owner_host": manifest.owner_host,
        "read_only": manifest.read_only,  # recorded by a newer paddlectl: listed and shown, never rewritten
        "engine": _remote_engine(manifest),
        "problem": None,
    }


def _remote_engine(manifest: Manifest) -> dict[str, Any] | None:
    """Where a run on a remote engine ran (name, url, certificate folder), for gc; None for the local engine."""
    return manifest.engine.address() if manifest.engine.remote else None


def bad_row(run_id: str, problem: str) -> dict[str, Any]:
    """The one row a run with an unreadable manifest gets: same keys, status `bad`, the problem said."""
    return {
        "id": run_id,
        "name": None,
        "status": RowStatus.BAD.value,
        "image": None,
        "image_id": None,
        "image_digest": None,
        "commit": None,
        "dirty": None,
        "labels": {},
        "params": {},
        "metrics": {},
        "started_at": None,
        "ended_at": None,
        "duration_seconds": None,
        "exit_code": None,
        "reason": None,
        "owner_pid": None,
        "owner_host": None,
        "read_only": False,
        "engine": None,
        "problem": problem,
    }


def entry_from_stored(stored: StoredRun, stamp: Stamp | None) -> IndexEntry:
    run_id = stored.paths.run_id
    if stored.manifest is None:
        row = bad_row(run_id, stored.problem or "unreadable manifest")
    else:
        row = summarize(run_id, stored.manifest)
    # The parsed row is not kept: thousands of live dicts during a rebuild make the garbage collector's
    # full passes grow with the store (measured: 10k cold rebuild 1.6x slower per run than 1k). It is
    # parsed again from `raw` (cheap) when a filter needs it.
    status = row_status(row["status"]) or RowStatus.BAD
    return IndexEntry(run_id, status, json.dumps(row, separators=(",", ":"), default=str), stamp)


def _finite(value: Any) -> Any:
    """Numbers as JSON can carry them: NaN and infinities become None (JSON has no spelling for them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # YAML dates and timestamps


def _stamp(manifest: str) -> Stamp:
    info = os.stat(manifest)
    return (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino)


def _parse_one(runs_dir: str, run_id: str) -> IndexEntry:
    """Stat, then read: a manifest replaced in between is newer than its stamp, so it is re-read next time."""
    from paddlectl.runs.store import RunPaths, RunStore

    try:
        stamp: Stamp | None = _stamp(f"{runs_dir}/{run_id}/{MANIFEST_NAME}")
    except OSError:
        stamp = None
    return entry_from_stored(RunStore.load(RunPaths(Path(runs_dir) / run_id)), stamp)


def _parse_chunk(runs_dir: str, run_ids: list[str]) -> list[tuple[str, str, str, Stamp | None]]:
    """Worker side of a parallel rebuild: plain tuples cross the process boundary cheaply."""
    result = []
    for run_id in run_ids:
        entry = _parse_one(runs_dir, run_id)
        result.append((entry.id, entry.status.value, entry.raw, entry.stamp))
    return result


def _parse_many(runs_dir: str, run_ids: list[str]) -> list[IndexEntry]:
    """Parse many manifests, in a forked process pool when there are enough of them and several cores.

    Forked workers need no re-import and send back only names and rows. Not while other threads are alive:
    a forked child could inherit their locks held.
    """
    import threading

    workers = min(os.cpu_count() or 1, 8)
    if len(run_ids) < PARALLEL_MIN or workers < 2 or not hasattr(os, "fork") or threading.active_count() > 1:
        return [_parse_one(runs_dir, run_id) for run_id in run_ids]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    size = max(50, len(run_ids) // (workers * 4))
    chunks = [run_ids[start : start + size] for start in range(0, len(run_ids), size)]
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            parts = list(pool.map(_parse_chunk, [runs_dir] * len(chunks), chunks))
    except (OSError, RuntimeError):  # no processes to be had (limits, sandbox): do it here
        return [_parse_one(runs_dir, run_id) for run_id in run_ids]
    return [
        IndexEntry(run_id, row_status(status) or RowStatus.BAD, raw, stamp)
        for part in parts
        for run_id, status, raw, stamp in part
    ]


class RunIndex:
    """Reads, refreshes and writes the summary index of one run store."""

    def __init__(self, runs_dir: Path, path: Path | None = None) -> None:
        self.runs_dir = runs_dir
        self.path = path or runs_dir.parent / INDEX_NAME

    @classmethod
    def of(cls, store: RunStore) -> RunIndex:
        return cls(store.runs_dir, index_path(store))

    def read(self) -> dict[str, IndexEntry]:
        """The cached entries; empty when the file is missing, from another format, or fails its CRC."""
        try:
            data = self.path.read_bytes()
        except OSError:
            return {}
        head, _, body = data.partition(b"\n")
        fields = head.decode("ascii", "replace").split("\t")
        if len(fields) != 4 or fields[0] != INDEX_MAGIC or fields[1] != INDEX_FORMAT:
            return {}
        if fields[2] != str(SCHEMA_VERSION) or fields[3] != f"{zlib.crc32(body):08x}":
            return {}
        entries: dict[str, IndexEntry] = {}
        for line in body.decode("utf-8", "replace").splitlines():
            parts = line.split("\t", 6)
            if len(parts) != 7:
                continue
            run_id, mtime, ctime, size, inode, status, raw = parts
            known = row_status(status)
            try:
                stamp = (int(mtime), int(ctime), int(size), int(inode))
            except ValueError:
                continue
            if known is not None:  # else parsed again from its manifest
                entries[run_id] = IndexEntry(run_id, known, raw, stamp)
        return entries

    def write(self, entries: Iterable[IndexEntry]) -> None:
        """Write atomically; a store we cannot write to (read-only, full) just goes without an index."""
        from paddlectl.foundation.atomic import write_atomic

        lines = [
            f"{e.id}\t{e.stamp[0]}\t{e.stamp[1]}\t{e.stamp[2]}\t{e.stamp[3]}\t{e.status.value}\t{e.raw}\n"
            for e in entries
            if e.stamp is not None
        ]
        body = "".join(lines).encode("utf-8")
        head = f"{INDEX_MAGIC}\t{INDEX_FORMAT}\t{SCHEMA_VERSION}\t{zlib.crc32(body):08x}\n".encode("ascii")
        with contextlib.suppress(OSError):
            write_atomic(self.path, head + body)

    def run_ids(self) -> list[str]:
        """Every run folder's name, oldest first (the same selection as RunStore.run_dirs)."""
        try:
            with os.scandir(self.runs_dir) as scan:
                names = [entry.name for entry in scan if not entry.name.startswith(".") and entry.is_dir()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        names.sort()
        return names

    def refresh(self) -> list[IndexEntry]:
        """Every run's entry, oldest first: cached rows whose manifest is unchanged, fresh ones otherwise."""
        cached = self.read()
        run_ids = self.run_ids()
        runs_dir = str(self.runs_dir)
        entries: list[IndexEntry | None] = []
        stale: list[tuple[int, str]] = []
        reused = 0
        for position, run_id in enumerate(run_ids):
            entry = cached.get(run_id)
            try:
                stamp: Stamp | None = _stamp(f"{runs_dir}/{run_id}/{MANIFEST_NAME}")
            except OSError:
                stamp = None
            if entry is not None and stamp is not None and entry.stamp == stamp:
                entries.append(entry)
                reused += 1
            else:
                entries.append(None)
                stale.append((position, run_id))
        cacheable = False
        if stale:
            fresh = _parse_many(runs_dir, [run_id for _, run_id in stale])
            for (position, _), entry in zip(stale, fresh, strict=True):
                entries[position] = entry
                cacheable = cacheable or entry.stamp is not None
        result = [entry for entry in entries if entry is not None]
        # Folders without a manifest are parsed every time anyway: rewriting the index for them alone is waste.
        if cacheable or reused != len(cached):
            self.write(result)
        return result

    def entry(self, run_id: str) -> IndexEntry:
        """One run's entry, read straight from its manifest (for commands that touch a single run)."""
        return _parse_one(str(self.runs_dir), run_id)
