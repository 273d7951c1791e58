"""`kill -9` at random moments of a manifest write leaves the old or the new manifest, never a broken one.

A forked child rewrites one large manifest (5,000 metric summaries, ~0.3 MB; a write takes ~0.1 s)
through RunStore.write, alternating two versions, until it is SIGKILLed at a random moment. After every kill the
manifest must parse and equal one of the two versions. SIGKILL leaves the page cache as it was, so this proves the
write never touches the manifest in place (temporary file + rename); power loss is what the fsyncs are for.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paddlectl.foundation.yamlio import dump_yaml
from paddlectl.runs.manifest import CommandRecord, ImageRecord, Manifest, MetricSummary, RunStatus
from paddlectl.runs.store import RunPaths, RunStore

MIN_TRIALS = 100  # always, however busy the machine (a count, never a time, decides what is enough)
TRIALS = 200  # more while the time budget lasts
TIME_BUDGET_SECONDS = 30.0
MAX_TRIALS = 600  # on past the budget while the dangerous window was hit fewer than twice
SLOW_DISK_SECONDS = 0.005  # the child's fsync also sleeps this long: a slow disk, where the window matters most
RUN_ID = "20261122-103000-000ab12cd"


def _versions() -> tuple[Manifest, Manifest]:
    old = Manifest(
        id=RUN_ID,
        project="crash",
        status=RunStatus.RUNNING,
        started_at="2026-11-22T10:30:00.000Z",
        image=ImageRecord("paddlectl-test/paddle:3.2.0-cpu"),
        command=CommandRecord("train.py", None),
    )
    old.metrics.summary = {f"layer{i}.grad_norm": MetricSummary(last=-0.5 * i, max=2.0) for i in range(5000)}
    new = copy.deepcopy(old)
    new.status, new.exit_code, new.ended_at = RunStatus.SUCCEEDED, 0, "2026-11-22T10:31:00.000Z"
    new.metrics.summary = {
        name: dataclasses.replace(entry, last=(entry.last or 0) + 1) for name, entry in old.metrics.summary.items()
    }
    return old, new


def _write_forever(store: RunStore, versions: tuple[Manifest, Manifest], first: int, signals: int) -> None:
    """The child: rewrite the manifest until killed, starting with `first`; one byte to the parent per write.

    Its fsync is that of a slow disk: the window between the temporary file's creation and its rename, the one
    a kill must not break, is widened from about a millisecond to about 10 ms, so random kills reach it often.
    """
    import paddlectl.foundation.atomic as atomic

    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        real_fsync(fd)
        time.sleep(SLOW_DISK_SECONDS)

    atomic.os.fsync = slow_fsync  # type: ignore[assignment]  # the child process only
    index = first
    while True:
        os.write(signals, b"w")
        store.write(versions[index])
        index = 1 - index


def _start_writer(store: RunStore, versions: tuple[Manifest, Manifest], first: int) -> tuple[int, int]:
    """Fork the writing child; return its pid and the pipe end its per-write bytes arrive on."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        try:
            os.close(read_end)
            _write_forever(store, versions, first, write_end)
        finally:
            os._exit(0)
    os.close(write_end)
    return pid, read_end


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def _child_write_seconds(store: RunStore, versions: tuple[Manifest, Manifest]) -> float:
    """How long a forked child's first write takes (slower than later ones and the parent's: copy-on-write)."""
    durations = []
    for _ in range(3):
        pid, signals = _start_writer(store, versions, 1)
        assert os.read(signals, 1) == b"w"
        started = time.perf_counter()
        assert os.read(signals, 1) == b"w"
        durations.append(time.perf_counter() - started)
        _kill(pid)
        os.close(signals)
    return statistics.median(durations)


def _temporary_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name != "manifest.yaml"}


@pytest.mark.slow
def test_sigkill_during_manifest_writes_leaves_a_valid_manifest(tmp_path: Path) -> None:
    store = RunStore(tmp_path / ".paddlectl" / "runs")
    paths = RunPaths(store.runs_dir / RUN_ID)
    paths.root.mkdir(parents=True)
    versions = _versions()
    expected = [dump_yaml(manifest.to_dict()).encode("utf-8") for manifest in versions]
    store.write(versions[0])
    write_seconds = _child_write_seconds(store, versions)
    rng = random.Random(20261122)
    outcomes = {"old": 0, "new": 0, "temporary file left": 0}
    trials = 0
    end_fraction = 1.0
    begin = time.monotonic()

    def go_on() -> bool:
        if trials < MIN_TRIALS:
            return True
        if outcomes["temporary file left"] < 2:
            return trials < MAX_TRIALS
        return trials < TRIALS and time.monotonic() - begin < TIME_BUDGET_SECONDS

    while go_on():
        on_disk = expected.index(paths.manifest.read_bytes())
        before = _temporary_files(paths.root)
        pid, signals = _start_writer(store, versions, 1 - on_disk)
        assert os.read(signals, 1) == b"w"
        # Half the kills land anywhere in the next writes (mostly YAML dumping). The other half track the end of the
        # first write, where the temporary file is written, fsynced and renamed: a staircase on the delay, later
        # after a kill that left the old manifest, earlier after one that left the new.
        near_end = trials % 2 == 0
        delay = (
            (end_fraction + rng.uniform(-0.02, 0.02)) * write_seconds if near_end else rng.uniform(0, 2 * write_seconds)
        )
        time.sleep(delay)
        _kill(pid)
        os.close(signals)
        trials += 1
        data = paths.manifest.read_bytes()
        assert data in expected, f"trial {trials}: the manifest is neither version ({len(data)} bytes)"
        kept_old = expected.index(data) == on_disk
        outcomes["old" if kept_old else "new"] += 1
        if near_end:
            end_fraction += 0.02 if kept_old else -0.02
        outcomes["temporary file left"] += len(_temporary_files(paths.root) - before)
        if trials % 25 == 0:  # the bytes are one of the two versions; that they load is checked now and then
            assert RunStore.load(paths).manifest is not None
    elapsed = time.monotonic() - begin
    leftovers = sorted(_temporary_files(paths.root))
    print(
        f"\nmanifest kill -9: {trials} trials in {elapsed:.1f} s (one write {write_seconds * 1000:.0f} ms): "
        f"{outcomes}, broken 0"
    )
    assert outcomes["old"] and outcomes["new"], f"the kills did not land in different writes: {outcomes}"
    # A kill between the temporary file's creation and its rename leaves that file: proof the dangerous window was
    # hit. Only such files may be left, and nothing reads them.
    assert outcomes["temporary file left"] >= 2, f"too few kills landed inside the file write: {outcomes}"
    assert all(name.startswith(".manifest.yaml.") and name.endswith(".tmp") for name in leftovers), leftovers
    _listing_ignores_temporary_files(tmp_path, versions)


def _listing_ignores_temporary_files(project: Path, versions: tuple[Manifest, Manifest]) -> None:
    """`paddlectl runs list` sees one run, read from manifest.yaml, whatever temporary files lie beside it."""
    import json

    (project / "paddlectl.yaml").write_text("project: crash\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "paddlectl", "runs", "list", "--json"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "DOCKER_HOST": "unix:///nonexistent"},
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    rows = rows["runs"] if isinstance(rows, dict) else rows
    assert [row["id"] for row in rows] == [RUN_ID], rows
    assert rows[0]["status"] in {manifest.status.value for manifest in versions}
