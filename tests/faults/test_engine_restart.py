"""The Docker engine stops and comes back during a run: a clear error in bounded time, never "succeeded".

The engine stopped here is a private dockerd this test starts (tests/engine/private_engine.py: its own socket, data
root, exec root and network namespace), with the small test base image loaded into it: the same binary and the same
shutdown behaviour as the shared engine, without breaking the other real-engine tests that run against the shared
one meanwhile, and without ending a process this test did not start.
Marked `engine_restart` and moved to the end of a run (faults/conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import IN_CI, PADDLE_IMAGE
from engine.private_engine import PrivateEngine, load_image
from engine.train_harness import CLI_ENV, RUN_LABEL, Cli, wait_until

pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.engine_restart]

SMALL_IMAGE = "paddlectl-test/debian:bookworm-minbase"  # python3 on Debian; scripts/build-paddle-image.sh makes it
SLEEPY = """\
import time
print("ready", flush=True)
time.sleep(20)
print("slept to the end", flush=True)
"""


def _host_bridges() -> str:
    return subprocess.run(
        ["ip", "-br", "link", "show", "type", "bridge"], capture_output=True, text=True, check=False
    ).stdout


@pytest.fixture
def engine() -> Iterator[PrivateEngine]:
    if os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("dockerd", "unshare", "ip")):
        message = "a private dockerd needs root, dockerd, unshare and ip"
        if IN_CI:
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    bridges = {line.split()[0] for line in _host_bridges().splitlines()}
    private = PrivateEngine(Path(tempfile.mkdtemp(prefix="pdctl-dockerd-", dir="/var/tmp")))
    try:
        private.start()
        yield private
    finally:
        private.remove()
    # The shared engine's bridges are untouched (the private one lives in its own network namespace).
    assert bridges <= {line.split()[0] for line in _host_bridges().splitlines()}


def _load_image(engine: PrivateEngine) -> str:
    """Copy a Python image from the shared engine into the private one; return its reference."""
    image = SMALL_IMAGE
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False).returncode != 0:
        image = PADDLE_IMAGE  # bigger (about 1.3 GB), but there wherever the Paddle tests run
    load_image(engine, image)
    return image


def test_engine_restart_during_a_run(engine: PrivateEngine, tmp_path: Path) -> None:
    image = _load_image(engine)
    project = tmp_path / "proj"
    project.mkdir()
    (project / "paddlectl.yaml").write_text(f"project: restart\nimages:\n  cpu: {image}\n", encoding="utf-8")
    (project / "sleepy.py").write_text(SLEEPY, encoding="utf-8")
    env = {"DOCKER_HOST": engine.host}
    cli = Cli(["train", "sleepy.py"], project, env=env)
    try:
        cli.wait_for_stdout("ready", timeout=120)
        stopped = time.monotonic()
        assert engine.process is not None
        engine.process.send_signal(signal.SIGTERM)
        wait_until(lambda: not engine.answers(), 60, "the engine to stop answering", interval=0.1)
        code = cli.wait(60)
        cli_seconds = time.monotonic() - stopped
        stderr = cli.stderr()
        engine.stop()  # the old dockerd is gone before the new one starts
        down_seconds = time.monotonic() - stopped
        back_seconds = engine.start()
    finally:
        cli.close()
    print(
        f"\nengine restart: CLI exited {code} {cli_seconds:.1f} s after SIGTERM to dockerd; dockerd exited after "
        f"{down_seconds:.1f} s; restarted, it answered again after {back_seconds:.1f} s"
    )

    assert code != 0 and cli_seconds < 60, cli.describe()
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "Docker engine" in errors[0], stderr
    runs = project / ".paddlectl" / "runs"
    (run_id,) = [p.name for p in runs.iterdir() if p.is_dir()]
    recorded = (runs / run_id / "manifest.yaml").read_text(encoding="utf-8")
    assert "status: succeeded" not in recorded, recorded

    # The next command settles it from the container: the engine stopped it (exit code kept), or it is gone (lost).
    listing = subprocess.run(
        [sys.executable, "-m", "paddlectl", "runs", "list", "--json"],
        cwd=project,
        env={**os.environ, **CLI_ENV, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listing.returncode == 0, listing.stderr
    document = json.loads(listing.stdout)
    (row,) = document["runs"] if isinstance(document, dict) else document
    print(f"engine restart: settled as {row['status']} (exit code {row['exit_code']})")
    assert row["id"] == run_id and row["status"] in ("failed", "lost"), row
    if row["status"] == "failed":
        assert row["exit_code"] not in (None, 0), row
    left = engine.docker("ps", "-a", "-q", "--filter", f"label={RUN_LABEL}={run_id}").stdout.split()
    assert not left, f"the settled run's container is still there: {left}"
