"""One signal trial: start a paddlectl command, signal it at a chosen instant, and collect what it left behind.

The instant is either an offset from spawn (a sweep) or a named phase the command pauses at
(PADDLECTL_TEST_PAUSE_AT, foundation/signals.py), so a boundary is hit on purpose, never by luck. The oracle is the
docker CLI and the files on disk, never paddlectl's own code.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.train_harness import CLI_ENV, TrainProject, docker, wait_until

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SECRET = "pw-sweep-4b1d"  # passed as a secret param to every trial: it must never rest in the store


@dataclass
class Trial:
    """What one signalled command did and left."""

    signum: int
    exit_code: int
    stderr: str
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> manifest (None: unreadable)
    run_folders: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)  # every container of the project or owned by the CLI
    private_left: list[str] = field(default_factory=list)  # files left in the private-files base
    secret_hits: list[str] = field(default_factory=list)  # files in the store holding the secret value

    def describe(self) -> str:
        return (
            f"signal {signal.Signals(self.signum).name}, exit {self.exit_code}, runs {self.manifests}, "
            f"folders {self.run_folders}, containers {self.containers}, private {self.private_left}, "
            f"secret in {self.secret_hits}\n--- stderr\n{self.stderr[-3000:]}"
        )


def run_trial(
    project: TrainProject,
    args: list[str],
    signum: int,
    *,
    offset: float | None = None,
    pause_at: str | None = None,
    timeout: float = 90,
) -> Trial:
    """Run `paddlectl ARGS` in the project, send `signum` at `offset` seconds or at phase `pause_at`."""
    private_base = Path(tempfile.mkdtemp(prefix="pdctl-private-"))
    os.chmod(private_base, 0o700)
    # The private files and every temporary folder of the command land here, so the trial can check none is left.
    env = {**os.environ, **CLI_ENV, "XDG_RUNTIME_DIR": str(private_base), "TMPDIR": str(private_base)}
    if pause_at:
        env["PADDLECTL_TEST_PAUSE_AT"] = pause_at
    folder = Path(tempfile.mkdtemp(prefix="pdctl-trial-"))
    stderr_path = folder / "stderr"
    try:
        with open(stderr_path, "wb") as stderr, open(folder / "stdout", "wb") as stdout:
            process = subprocess.Popen(
                [sys.executable, "-m", "paddlectl", *args],
                cwd=project.root,
                env=env,
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
            )
        try:
            if pause_at:
                marker = f"paddlectl-test: paused at {pause_at.split(',')[-1]}\n"
                wait_until(
                    lambda: marker in stderr_path.read_text(errors="replace") or process.poll() is not None,
                    60,
                    f"the CLI to pause at {pause_at}",
                    interval=0.02,
                )
                assert process.poll() is None, f"the CLI ended before {pause_at}:\n{stderr_path.read_text()}"
            else:
                time.sleep(offset or 0.0)
            if process.poll() is None:
                process.send_signal(signum)
            code = process.wait(timeout)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(30)
        owner = f"{socket.gethostname()}:{process.pid}"
        trial = Trial(signum, code, stderr_path.read_text(errors="replace"))
        trial.containers = sorted(
            set(
                docker("ps", "-a", "-q", "--no-trunc", "--filter", f"label=io.paddlectl.project={project.name}").split()
            )
            | set(docker("ps", "-a", "-q", "--no-trunc", "--filter", f"label=io.paddlectl.owner={owner}").split())
        )
        trial.run_folders = project.run_ids()
        for run_id in trial.run_folders:
            path = project.runs_dir / run_id / "manifest.yaml"
            trial.manifests[run_id] = yaml.safe_load(path.read_text()) if path.is_file() else None
        trial.private_left = sorted(str(p.relative_to(private_base)) for p in private_base.rglob("*") if p.is_file())
        store = project.root / ".paddlectl"
        trial.secret_hits = sorted(
            str(p.relative_to(store)) for p in store.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()
        )
        return trial
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(private_base, ignore_errors=True)


def assert_clean_interruption(trial: Trial, *, ended_by_itself: bool = False) -> None:
    """The three promises: the signal's exit code, no container left, and an honest record (or none at all)."""
    name = signal.Signals(trial.signum).name
    # 128+n, or killed by the signal itself when it lands during the interpreter's own start-up, before paddlectl
    # handles signals (cli/entry.py): a shell reports both as $? = 128+n.
    assert trial.exit_code in (128 + trial.signum, -trial.signum), trial.describe()
    assert "internal error" not in trial.stderr and "Traceback" not in trial.stderr, trial.describe()
    assert trial.containers == [], trial.describe()
    assert trial.private_left == [], trial.describe()
    assert trial.secret_hits == [], trial.describe()
    assert len(trial.manifests) <= 1, trial.describe()
    for manifest in trial.manifests.values():
        assert manifest is not None, f"a run folder without a manifest:\n{trial.describe()}"
        if ended_by_itself:
            assert manifest["status"] == "succeeded", trial.describe()
        else:
            assert manifest["status"] == "interrupted", trial.describe()
            assert manifest["signal"] == name and name in manifest["reason"], trial.describe()
        assert manifest["owner_pid"] is None and manifest["ended_at"], trial.describe()
        assert manifest["container"]["private_dir"] is None, trial.describe()


def fresh_project(root: Path, image: str, cache: Path | None) -> TrainProject:
    project = TrainProject(root, image)
    project.seed_probe_cache(cache)
    return project
