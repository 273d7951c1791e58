"""The run summary index: rows match the manifests, stale rows are caught, a broken index is rebuilt."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from paddlectl.runs.index import INDEX_NAME, RowStatus, RunIndex
from paddlectl.runs.manifest import SCHEMA_VERSION, RunStatus
from paddlectl.runs.store import RunStore
from tests.unit.runs.runs_factory import make_run, update


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "proj" / ".paddlectl" / "runs")


def _project(store: RunStore) -> Path:
    return store.runs_dir.parent.parent


def test_rows_summarise_manifests(store: RunStore) -> None:
    paths = make_run(
        _project(store),
        minutes=1,
        name="base",
        params={"lr": 0.1, "opt": "adam"},
        metrics={"acc": 0.91, "loss": 0.3},
        labels={"team": "cv"},
        dirty=True,
    )
    [entry] = RunIndex.of(store).refresh()
    row = entry.row
    assert entry.id == paths.run_id == row["id"]
    assert row["name"] == "base" and row["status"] == "succeeded"
    assert row["params"] == {"lr": 0.1, "opt": "adam"}
    assert row["metrics"] == {"acc": 0.91, "loss": 0.3}
    assert row["labels"] == {"team": "cv"}
    assert row["commit"] == "a" * 40 and row["dirty"] is True
    assert row["duration_seconds"] == 90.0 and row["problem"] is None
    assert json.loads(entry.raw) == row


def test_index_written_once_and_reused(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    for minute in range(3):
        make_run(_project(store), minutes=minute, metrics={"acc": minute / 10})
    index = RunIndex.of(store)
    assert len(index.refresh()) == 3
    assert index.path.name == INDEX_NAME and index.path.is_file()
    before = index.path.stat().st_mtime_ns
    parsed: list[str] = []
    import paddlectl.runs.index as runindex

    real = runindex._parse_one
    monkeypatch.setattr(runindex, "_parse_one", lambda d, r: parsed.append(r) or real(d, r))
    entries = RunIndex.of(store).refresh()
    assert parsed == []  # nothing re-parsed: every stamp matched
    assert [e.row["metrics"]["acc"] for e in entries] == [0.0, 0.1, 0.2]
    assert index.path.stat().st_mtime_ns == before  # and nothing rewritten


def test_edited_manifest_is_reparsed(store: RunStore) -> None:
    paths = make_run(_project(store), minutes=1, metrics={"acc": 0.5})
    RunIndex.of(store).refresh()
    update(paths, status=RunStatus.FAILED, name="renamed")
    [entry] = RunIndex.of(store).refresh()
    assert entry.status == "failed" and entry.row["name"] == "renamed"


def test_in_place_edit_of_same_size_is_caught(store: RunStore) -> None:
    paths = make_run(_project(store), minutes=1, metrics={"acc": 0.5})
    RunIndex.of(store).refresh()
    text = paths.manifest.read_text()
    with paths.manifest.open("r+") as handle:  # in place: same inode, same size, new mtime/ctime
        handle.write(text.replace("last: 0.5", "last: 0.7"))
    [entry] = RunIndex.of(store).refresh()
    assert entry.row["metrics"]["acc"] == 0.7


def test_deleted_or_corrupt_index_is_rebuilt(store: RunStore) -> None:
    for minute in range(2):
        make_run(_project(store), minutes=minute, name=f"r{minute}")
    index = RunIndex.of(store)
    index.refresh()
    index.path.unlink()
    assert [e.row["name"] for e in index.refresh()] == ["r0", "r1"]
    assert index.path.is_file()
    data = bytearray(index.path.read_bytes())
    data[-5] ^= 0x01  # one flipped byte fails the CRC: the whole index is distrusted
    index.path.write_bytes(bytes(data))
    assert index.read() == {}
    assert [e.row["name"] for e in index.refresh()] == ["r0", "r1"]
    index.path.write_text("garbage\n")
    assert [e.row["name"] for e in index.refresh()] == ["r0", "r1"]


def test_index_of_an_older_format_is_ignored(store: RunStore) -> None:
    make_run(_project(store), minutes=1)
    index = RunIndex.of(store)
    index.refresh()
    text = index.path.read_text().replace(f"\t{SCHEMA_VERSION}\t", f"\t{SCHEMA_VERSION + 1}\t", 1)
    index.path.write_text(text)
    assert index.read() == {}


def test_removed_run_drops_out(store: RunStore) -> None:
    keep = make_run(_project(store), minutes=1)
    gone = make_run(_project(store), minutes=2)
    index = RunIndex.of(store)
    index.refresh()
    import shutil

    shutil.rmtree(gone.root)
    assert [e.id for e in index.refresh()] == [keep.run_id]
    assert list(index.read()) == [keep.run_id]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("schema_version: 1\nid: '20261101-0800", "corrupt manifest"),  # cut short mid-write
        ("schema_version: 1\nid: x\nstatus: succ", "malformed"),  # cut short, still YAML
        ("", "bad manifest: empty"),
        ("!!python/object/apply:os.system ['echo pwned']\n", "corrupt manifest"),
        (f"schema_version: {SCHEMA_VERSION + 1}\nid: x\n", "newer than this paddlectl reads"),
        ("- just\n- a list\n", "not a mapping"),
    ],
)
def test_unreadable_manifest_is_one_bad_row(store: RunStore, content: str, problem: str) -> None:
    good = make_run(_project(store), minutes=1, name="good")
    bad = make_run(_project(store), minutes=2)
    bad.manifest.write_text(content)
    entries = RunIndex.of(store).refresh()
    assert [e.id for e in entries] == [good.run_id, bad.run_id]
    assert entries[0].row["name"] == "good"
    assert entries[1].status is RowStatus.BAD
    assert problem in entries[1].row["problem"]
    # cached like any row: a second listing gives the same without re-reading
    assert RunIndex.of(store).refresh()[1].row == entries[1].row


def test_folder_without_manifest_is_bad_and_not_cached(store: RunStore) -> None:
    make_run(_project(store), minutes=1)
    (store.runs_dir / "20261101-090000-000abcdef").mkdir()
    entries = RunIndex.of(store).refresh()
    assert entries[-1].status is RowStatus.BAD and entries[-1].row["problem"] == "no manifest.yaml"
    assert "20261101-090000-000abcdef" not in RunIndex.of(store).read()


def test_nan_metric_keeps_the_index_valid_json(store: RunStore) -> None:
    make_run(_project(store), minutes=1, metrics={"loss": float("nan"), "acc": 0.5})
    [entry] = RunIndex.of(store).refresh()
    assert entry.row["metrics"] == {"loss": None, "acc": 0.5}
    json.loads(entry.raw, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))


def test_store_without_runs(tmp_path: Path) -> None:
    index = RunIndex(tmp_path / "nothing" / "runs")
    assert index.refresh() == []
    assert not index.path.exists()


def test_concurrent_refreshes_leave_a_valid_index(store: RunStore) -> None:
    for minute in range(30):
        make_run(_project(store), minutes=minute)
    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            for _ in range(5):
                RunIndex.of(store).path.unlink(missing_ok=True)
                assert len(RunIndex.of(store).refresh()) == 30
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(RunIndex.of(store).read()) == 30  # the last writer's index is complete and passes its CRC


def test_parallel_rebuild_matches_serial(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import paddlectl.runs.index as runindex

    for minute in range(12):
        make_run(_project(store), minutes=minute, params={"i": minute})
    serial = [(e.id, e.raw) for e in RunIndex.of(store).refresh()]
    RunIndex.of(store).path.unlink()
    monkeypatch.setattr(runindex, "PARALLEL_MIN", 2)
    monkeypatch.setattr(runindex.os, "cpu_count", lambda: 2)
    assert [(e.id, e.raw) for e in RunIndex.of(store).refresh()] == serial
