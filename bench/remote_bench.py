"""Training on a remote host: ssh logins per run, the overhead over the same run on the local engine, upload speed.

The remote host is the one the tests use (tests/remote/remote_site.py): a second dockerd on this machine that cannot
see its files, behind sshd and a TLS endpoint on 127.0.0.1. Figures (targets from issue 16):
- ssh logins per `paddlectl train --host` (its runtime probe included): 1;
- a 30 s script over ssh against the same script on the local engine, both in this run: at most 2 s more;
- put_archive of the same 32 MiB tarball (random bytes) over ssh, and over TLS, against the remote engine's own unix
  socket: a ratio (the transport's cost, same daemon and disk).
Needs root, dockerd, sshd, socat and the Paddle test image.
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
IMAGE = os.environ.get("PADDLECTL_TEST_IMAGE", "paddlectl-test/paddle:3.2.0-cpu")
TARBALL_MIB = 32


def _train(project: Path, env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "paddlectl", "train", *args, "-q"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"paddlectl train {' '.join(args)} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def _tarball(folder: Path) -> Path:
    path = folder / "upload.tar"
    payload = os.urandom(TARBALL_MIB * 1024 * 1024)
    with tarfile.open(path, "w") as archive:
        info = tarfile.TarInfo("upload/data.bin")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return path


def _upload_seconds(host: Any, tarball: Path, repeats: int) -> float:
    """The median time of put_archive of `tarball` into a created container on `host` (paddlectl's own client)."""
    from paddlectl.engine.docker_engine import connect
    from paddlectl.engine.protocol import ContainerSpec

    engine = connect(host)
    container = engine.create(ContainerSpec(image=IMAGE, command=["true"], labels={"io.paddlectl.bench": "1"}))
    try:
        times = []
        for _ in range(repeats):
            with open(tarball, "rb") as handle:
                started = time.perf_counter()
                container.put_archive("/tmp", handle)  # noqa: S108 - a path in the container
                times.append(time.perf_counter() - started)
        return statistics.median(times)
    finally:
        container.remove()


def run(quick: bool = False) -> list[dict[str, Any]]:
    sys.path.insert(0, str(HERE.parent / "tests"))
    from paddlectl.engine.hosts import EngineHost
    from remote.remote_site import SSH_ALIAS, RemoteSite

    seconds = 5 if quick else 30
    repeats = 1 if quick else 3
    site = RemoteSite(IMAGE)
    try:
        site.start()
        with tempfile.TemporaryDirectory(prefix="paddlectl-bench-remote-") as tmp:
            project = Path(tmp) / "proj"
            project.mkdir()
            (project / "paddlectl.yaml").write_text(
                f"project: bench-remote\nimages:\n  cpu: {IMAGE}\n{site.hosts_yaml()}", encoding="utf-8"
            )
            (project / "noop.py").write_text("pass\n", encoding="utf-8")
            (project / "sleep.py").write_text(f"import time\ntime.sleep({seconds})\n", encoding="utf-8")
            env = site.cli_env()  # no DOCKER_HOST: without --host, the local engine
            _train(project, env, "noop.py")  # warm-ups: fill each engine's runtime-probe cache
            _train(project, env, "noop.py", "--host", "ssh-box")
            logins = site.sshd.logins()
            _train(project, env, "noop.py", "--host", "ssh-box")
            logins_per_run = site.sshd.logins() - logins
            local = _train(project, env, "sleep.py")
            over_ssh = _train(project, env, "sleep.py", "--host", "ssh-box")
            over_tls = _train(project, env, "sleep.py", "--host", "tls-box")
            tarball = _tarball(Path(tmp))
            socket_time = _upload_seconds(EngineHost(site.engine.host), tarball, repeats)
            home, os.environ["HOME"] = os.environ.get("HOME"), str(site.home)  # its ~/.ssh: config, key, known_hosts
            try:
                ssh_time = _upload_seconds(EngineHost(f"ssh://{SSH_ALIAS}"), tarball, repeats)
            finally:
                if home is None:
                    del os.environ["HOME"]
                else:
                    os.environ["HOME"] = home
            tls_time = _upload_seconds(EngineHost(site.tls.url, tls_dir=site.tls.client_dir), tarball, repeats)
    finally:
        site.stop()
    mib = float(TARBALL_MIB)
    return [
        {"figure": "ssh logins per train --host (probe included)", "paddlectl": float(logins_per_run),
         "baseline": 1.0, "ratio": logins_per_run / 1.0, "target": 1.0},
        {"figure": f"{seconds} s script: train --host (ssh) vs the local engine", "paddlectl": over_ssh,
         "baseline": local, "ratio": over_ssh / local, "target": None},
        {"figure": "  overhead of the remote run (s) vs a 2 s budget", "paddlectl": over_ssh - local,
         "baseline": 2.0, "ratio": (over_ssh - local) / 2.0, "target": 1.0},
        {"figure": f"{seconds} s script: train --host (TLS) vs the local engine", "paddlectl": over_tls,
         "baseline": local, "ratio": over_tls / local, "target": None},
        {"figure": f"put_archive {TARBALL_MIB} MiB: ssh vs the engine's unix socket (s)", "paddlectl": ssh_time,
         "baseline": socket_time, "ratio": ssh_time / socket_time, "target": None},
        {"figure": "  the same in MiB/s (ssh, unix socket)", "paddlectl": mib / ssh_time,
         "baseline": mib / socket_time, "ratio": socket_time / ssh_time, "target": None},
        {"figure": f"put_archive {TARBALL_MIB} MiB: TLS vs the engine's unix socket (s)", "paddlectl": tls_time,
         "baseline": socket_time, "ratio": tls_time / socket_time, "target": None},
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(f"{row['figure']:60s} {row['paddlectl']:10.3f} {row['baseline']:10.3f} {row['ratio']:6.2f}x")
