"""A full disk under .paddlectl: clear errors, the previous manifest intact, no container left behind.

The run store sits on a small tmpfs (mounting one needs root: the tests skip otherwise, and fail under CI=true).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import IN_CI
from paddlectl.errors import ExitCode, PaddlectlError
from paddlectl.runs.manifest import CommandRecord, ImageRecord, Manifest, MetricSummary, RunStatus
from paddlectl.runs.store import RunPaths, RunStore

RUN_ID = "20261122-103000-000ab12cd"


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A folder backed by a 1 MiB tmpfs."""
    with _mounted_tmpfs(tmp_path / "small", "1m") as folder:
        yield folder


def _fill(folder: Path) -> int:
    """Write until the file system says ENOSPC; return the bytes written."""
    written = 0
    with open(folder / "filler", "wb", buffering=0) as handle:
        block = b"\0" * 4096
        while True:
            try:
                written += handle.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                return written


def _manifest(status: RunStatus) -> Manifest:
    return Manifest(
        id=RUN_ID,
        project="full",
        status=status,
        started_at="2026-11-22T10:30:00.000Z",
        image=ImageRecord("paddlectl-test/paddle:3.2.0-cpu"),
        command=CommandRecord("train.py", None),
    )


def test_manifest_write_on_a_full_disk_keeps_the_previous_manifest(small_tmpfs: Path) -> None:
    store = RunStore(small_tmpfs / "runs")
    paths = RunPaths(store.runs_dir / RUN_ID)
    paths.root.mkdir(parents=True)
    store.write(_manifest(RunStatus.RUNNING))
    before = paths.manifest.read_bytes()
    _fill(small_tmpfs)
    finished = _manifest(RunStatus.SUCCEEDED)
    finished.metrics.summary = {f"m{i}": MetricSummary(last=float(i)) for i in range(2000)}  # more than is left
    with pytest.raises(PaddlectlError) as caught:
        store.write(finished)
    error = caught.value
    assert error.code is ExitCode.IO  # 74, not 2 ("bad input")
    assert f"cannot write {paths.manifest}: No space left on device" == error.message
    assert error.hint and "free space" in error.hint and "intact" in error.hint
    assert paths.manifest.read_bytes() == before
    assert RunStore.load(paths).manifest == _manifest(RunStatus.RUNNING)
    assert sorted(p.name for p in paths.root.iterdir()) == ["manifest.yaml"], "a temporary file was left"


LOUD_SCRIPT = """\
import sys
line = "x" * 200
for i in range(40000):  # 8 MB of output: far more than the 2 MB the run store has
    print(f"{i:06d} {line}")
print("epoch: 1, step: 1, loss: 0.5")
print("the end", flush=True)
"""


@pytest.mark.engine
def test_run_that_fills_the_disk_with_its_log(tmp_path: Path, paddle_image: str) -> None:
    from engine.train_harness import PROJECT_LABEL, TrainProject, labelled_containers, run_train, warm_probe_cache

    project = TrainProject(tmp_path / "proj", paddle_image)
    (project.root / "loud.py").write_text(LOUD_SCRIPT, encoding="utf-8")
    store = project.root / ".paddlectl"
    store.mkdir()
    with _mounted_tmpfs(store, "2m"):
        project.seed_probe_cache(warm_probe_cache(paddle_image))
        started = time.monotonic()
        result = run_train(project, "--quiet", "loud.py", timeout=180)
        elapsed = time.monotonic() - started
        output = result.stdout + result.stderr
        print(f"\nfull disk: exit {result.returncode} after {elapsed:.1f} s; stderr: {result.stderr.strip()!r}")
        left = labelled_containers(PROJECT_LABEL, project.name)
        with contextlib.suppress(Exception):
            project.cleanup()
        assert not left, f"containers left behind: {left}"
        assert result.returncode != 0, output
        assert "Traceback" not in output and "internal error" not in output, output
        errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
        assert len(errors) == 1 and "space" in errors[0], result.stderr
        run_ids = project.run_ids()
        assert len(run_ids) == 1, run_ids
        document = yaml.safe_load((project.runs_dir / run_ids[0] / "manifest.yaml").read_text(encoding="utf-8"))
        manifest = Manifest.from_dict(document)  # the manifest that exists is a valid one
        # Settled, never "succeeded" with a lost log; the script itself ran to its end (exit 0) and was followed
        # past the full disk: every line counted, the metric printed after it parsed.
        assert manifest.status is RunStatus.FAILED, document
        assert "No space left on device" in str(manifest.logs.error) and "log" in str(manifest.reason)
        assert manifest.exit_code == 0 and manifest.logs.lines == 40002
        assert manifest.metrics.last("loss") == 0.5
        log = (project.runs_dir / run_ids[0] / "output.log").read_bytes()
        assert log.endswith(b"\n") and log.startswith(b"000000 "), "the saved part of the log ends on a whole line"


@contextlib.contextmanager
def _mounted_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("CI=true but mounting a tmpfs needs root")
        pytest.skip("mounting a tmpfs needs root")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
