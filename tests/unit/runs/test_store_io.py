"""A run-store write the file system refuses: exit code 74 (EX_IOERR), the path and the reason named, nothing torn."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from paddlectl.errors import ExitCode, PaddlectlError
from paddlectl.runs.manifest import CommandRecord, ImageRecord, Manifest, RunStatus
from paddlectl.runs.store import RunStore


def _manifest(run_id: str, status: RunStatus) -> Manifest:
    return Manifest(
        id=run_id,
        project="p",
        status=status,
        started_at="2026-11-22T10:30:00.000Z",
        image=ImageRecord("paddle:3.2.0"),
        command=CommandRecord("train.py", None),
    )


def test_io_has_its_own_exit_code() -> None:
    assert ExitCode.IO == 74 and ExitCode.IO not in (ExitCode.USAGE, ExitCode.INTERNAL)


def test_a_full_disk_while_writing_a_manifest_is_an_io_error_and_keeps_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path / "runs")
    paths = store.create()
    store.write(_manifest(paths.run_id, RunStatus.RUNNING))
    before = paths.manifest.read_bytes()

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(PaddlectlError) as caught:
        store.write(_manifest(paths.run_id, RunStatus.SUCCEEDED))
    monkeypatch.undo()
    error = caught.value
    assert error.code is ExitCode.IO
    assert str(paths.manifest) in error.message and "No space left on device" in error.message
    assert "\n" not in error.message
    assert error.hint and "free space" in error.hint and "intact" in error.hint
    assert paths.manifest.read_bytes() == before
    assert sorted(p.name for p in paths.root.iterdir()) == ["container", "manifest.yaml", "outputs"]


def test_a_run_folder_that_cannot_be_made_is_an_io_error(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    runs_dir.write_text("a file where the run store should be")
    with pytest.raises(PaddlectlError) as caught:
        RunStore(runs_dir).create()
    assert caught.value.code is ExitCode.IO
    assert str(runs_dir) in caught.value.message and "exists" in caught.value.message.lower()
