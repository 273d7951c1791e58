"""A dockerd of a test's own: its socket, data root, exec root and network namespace; optionally its own files.

Used by tests/faults/test_engine_restart.py (an engine to stop and restart) and tests/remote (the "remote" engine).
The network namespace matters: a second dockerd in the host's namespace touches the host's bridges (with
--bridge=none it deletes docker0, breaking the shared engine's networking). With `hidden` it also gets a mount
namespace in which those folders are empty tmpfs: a bind mount of a path there (the client's project, run store,
private files, paddlectl's own source) finds nothing, as on another machine, so no client path can pass by accident.
Started and stopped by process id; never touches a process it did not start.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from engine.train_harness import wait_until


class PrivateEngine:
    """A dockerd of this test's own, started and stopped by process id."""

    def __init__(self, root: Path, *, data_root: Path | None = None, hidden: Sequence[str] = ()) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.log = root / "dockerd.log"
        self.data_root = data_root or root / "data"
        self.hidden = [path for path in hidden if Path(path).is_dir()]
        self.process: subprocess.Popen[bytes] | None = None

    def docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "-H", self.host, *args], capture_output=True, text=True, timeout=timeout, check=False
        )

    def answers(self) -> bool:
        try:
            return self.docker("info", timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _command(self) -> list[str]:
        dockerd = [
            "dockerd",
            "--host",
            self.host,
            "--data-root",
            str(self.data_root),
            "--exec-root",
            str(self.root / "exec"),
            "--pidfile",
            str(self.root / "docker.pid"),
            "--iptables=false",
            "--ip-masq=false",
        ]
        if not self.hidden:
            return ["unshare", "--net", "--", *dockerd]  # unshare execs dockerd: the pid is dockerd's
        mounts = " && ".join(f"mount -t tmpfs -o size=1g,mode=0755 pdctl-hidden {shlex.quote(p)}" for p in self.hidden)
        script = f"{mounts} && exec {shlex.join(dockerd)}"  # exec: the pid stays dockerd's
        return ["unshare", "--net", "--mount", "--propagation", "private", "--", "sh", "-c", script]

    def start(self, timeout: float = 60) -> float:
        """Start dockerd; return the seconds until it answers."""
        started = time.monotonic()
        self.root.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (self.root / "docker.pid").unlink()  # a stale one (a killed session) would stop dockerd from starting
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self._command(), stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
            )
        wait_until(lambda: self.answers() or self._died(), timeout, "the private dockerd to answer", interval=0.2)
        assert not self._died(), f"dockerd exited:\n{self.log.read_text()[-2000:]}"
        return time.monotonic() - started

    def run_inside(self, script: str) -> subprocess.CompletedProcess[str]:
        """Run a shell script in dockerd's mount namespace (to make files only the engine's host has)."""
        assert self.process is not None
        return subprocess.run(
            ["nsenter", "-t", str(self.process.pid), "-m", "--", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def _died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM to dockerd (as systemctl stop does); SIGKILL to its process group if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # dockerd and the containerd it started
            self.process.wait(30)

    def remove(self, *, keep_data: bool = False) -> None:
        """Stop it and remove its folders (the data root too unless `keep_data`), unmounting what a hard stop left."""
        self.stop()
        roots = [str(self.root)] if keep_data else [str(self.root), str(self.data_root)]
        with open("/proc/mounts", encoding="utf-8") as mounts:
            points = [line.split()[1] for line in mounts if line.split()[1].startswith(tuple(roots))]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        if not keep_data:
            shutil.rmtree(self.data_root, ignore_errors=True)


def load_image(engine: PrivateEngine, image: str) -> float:
    """Copy `image` from the shared engine into the private one unless it has that image id already; the seconds."""
    wanted = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Id}}", image], capture_output=True, text=True, check=False
    ).stdout.strip()
    present = engine.docker("image", "inspect", "-f", "{{.Id}}", image).stdout.strip()
    if wanted and present == wanted:
        return 0.0
    started = time.monotonic()
    save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
    load = subprocess.run(
        ["docker", "-H", engine.host, "load"],
        stdin=save.stdout,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert save.wait(900) == 0 and load.returncode == 0, load.stderr
    return time.monotonic() - started
