"""No secret value at rest: after a run, an interrupted run and a kill -9 + reconciliation, neither the secret
param nor the secret env value is anywhere in the run store (the script prints both on purpose), nor in a private
file left behind; the container still got the real values (it printed them, masked in the saved log)."""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.train_harness import Cli, TrainProject, labelled_containers, wait_until

pytestmark = pytest.mark.engine

PASSWORD = "pw-at-rest-93c1"
TOKEN = "tok-at-rest-77ad"
SECRET_ARGS = ["-p", f"db_password={PASSWORD}", "-e", f"API_TOKEN={TOKEN}"]


@pytest.fixture
def private_base(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The private-files folder for this test (XDG_RUNTIME_DIR), so what is left in it can be checked."""
    base = Path(tempfile.mkdtemp(prefix="pdctl-xdg-"))
    os.chmod(base, 0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    yield base


def secrets_in(folder: Path) -> list[str]:
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and (PASSWORD.encode() in path.read_bytes() or TOKEN.encode() in path.read_bytes())
    )


def check(project: TrainProject, private_base: Path, run_id: str) -> None:
    assert secrets_in(project.root / ".paddlectl") == []
    assert [p for p in private_base.rglob("*") if p.is_file()] == [], "the private params file outlived the run"
    log = project.log(run_id)
    assert "password from argv: ****" in log and "password from the params file: ****" in log, log
    assert "token from env: ****" in log, log
    manifest = project.manifest(run_id)
    assert manifest["params"]["values"]["db_password"] == "****" and manifest["container"]["private_dir"] is None


def test_a_finished_run_keeps_no_secret(project: TrainProject, private_base: Path) -> None:
    cli = Cli(["train", *SECRET_ARGS, "print_secrets.py"], project.root)
    try:
        assert cli.wait(120) == 0, cli.describe()
        assert PASSWORD not in cli.stdout() + cli.stderr() and TOKEN not in cli.stdout() + cli.stderr()
    finally:
        cli.close()
    check(project, private_base, project.wait_for_run_id())


def test_an_interrupted_run_keeps_no_secret(project: TrainProject, private_base: Path) -> None:
    cli = Cli(["train", *SECRET_ARGS, "-p", "seconds=60", "print_secrets.py"], project.root)
    try:
        cli.wait_for_stdout("ready")
        cli.send(signal.SIGINT)
        assert cli.wait(60) == 130, cli.describe()
    finally:
        cli.close()
    run_id = project.wait_for_run_id()
    assert project.manifest(run_id)["status"] == "interrupted"
    check(project, private_base, run_id)


def test_kill9_then_reconcile_keeps_no_secret(project: TrainProject, private_base: Path) -> None:
    cli = Cli(["train", *SECRET_ARGS, "-p", "seconds=3", "print_secrets.py"], project.root)
    try:
        cli.wait_for_stdout("ready")
        cli.send(signal.SIGKILL)
        cli.wait(10)
    finally:
        cli.close()
    run_id = project.wait_for_run_id()
    [private] = list(private_base.rglob("params.json"))
    assert private.stat().st_mode & 0o777 == 0o600, "the params file is private while the run goes on"
    [container] = labelled_containers("io.paddlectl.run", run_id)
    wait_until(lambda: "done" in os.popen(f"docker logs {container} 2>&1").read(), 60, "the orphaned run to end")
    assert project.reconcile() == [run_id]  # rebuilds the log from the engine: masked with the recorded secrets
    assert project.manifest(run_id)["status"] == "succeeded"
    check(project, private_base, run_id)


def test_no_secret_args_keeps_the_secret_off_docker_inspect(project: TrainProject, private_base: Path) -> None:
    cli = Cli(["train", "--no-secret-args", *SECRET_ARGS, "-p", "seconds=30", "print_secrets.py"], project.root)
    try:
        cli.wait_for_stdout("ready")
        run_id = project.wait_for_run_id()
        [container] = labelled_containers("io.paddlectl.run", run_id)
        inspected = os.popen(f"docker inspect -f '{{{{json .Config.Cmd}}}}' {container}").read()
        assert "--db_password" not in inspected and PASSWORD not in inspected, inspected
        cli.send(signal.SIGTERM)
        assert cli.wait(60) == 143, cli.describe()
    finally:
        cli.close()
    log = project.log(run_id)
    assert "password from argv: " in log.splitlines(), "the secret param was not on the command line"
    assert "password from the params file: ****" in log
    assert project.manifest(run_id)["command"]["secret_args"] is False
    assert secrets_in(project.root / ".paddlectl") == []
