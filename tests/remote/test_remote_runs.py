"""Training on a remote Docker host over ssh and TLS, against a real second engine that cannot see this machine's
files (tests/remote/remote_site.py): nothing bind-mounted, outputs back after success, failure, SIGINT and a
kill -9 of the CLI, the run's host followed by every later command.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from engine.train_harness import Cli
from remote.conftest import RemoteProject, keep_probe_cache
from remote.remote_site import RemoteSite, run_cli, wait_for

pytestmark = [pytest.mark.engine, pytest.mark.paddle, pytest.mark.remote, pytest.mark.slow]

JOB = '''\
"""A remote job: reports what it sees, writes outputs (and helper metrics), then ends as --mode says."""
import argparse, os, sys, time
import paddlectl_metrics

parser = argparse.ArgumentParser()
parser.add_argument("--mode", default="ok")
parser.add_argument("--seconds", type=float, default=0)
args = parser.parse_args()
out = os.environ["PADDLECTL_OUTPUT_DIR"]
print("version:", open("version.txt").read().strip(), flush=True)
print("ignored present:", os.path.exists("data/big.bin"), flush=True)
print("untracked present:", os.path.exists("notes.txt"), flush=True)
if os.path.exists("/data/remote-only.txt"):
    print("remote data:", open("/data/remote-only.txt").read().strip(), flush=True)
os.makedirs(os.path.join(out, "sub"), exist_ok=True)
open(os.path.join(out, "result.txt"), "w").write("written on the remote host\\n")
open(os.path.join(out, "sub", "part.txt"), "w").write("a nested output\\n")
paddlectl_metrics.log_metrics({"acc": 0.75}, step=1)
print("ready", flush=True)
if args.seconds:
    time.sleep(args.seconds)
    open(os.path.join(out, "late.txt"), "w").write("written after the wait\\n")
    print("waited", flush=True)
if args.mode == "fail":
    print("failing on purpose", flush=True)
    sys.exit(3)
print("finished", flush=True)
'''


def _prepare(project: RemoteProject) -> None:
    """A project whose working tree differs from its commit: a change, an untracked file, an ignored one."""
    (project.root / "job.py").write_text(JOB, encoding="utf-8")
    (project.root / "version.txt").write_text("committed\n", encoding="utf-8")
    (project.root / ".gitignore").write_text("data/\n", encoding="utf-8")
    project.git("add", "-A")
    project.git("commit", "-q", "-m", "job")
    (project.root / "version.txt").write_text("uncommitted\n", encoding="utf-8")
    (project.root / "notes.txt").write_text("untracked\n", encoding="utf-8")
    (project.root / "data").mkdir()
    (project.root / "data" / "big.bin").write_bytes(b"\0" * 1024)


def _outputs(project: RemoteProject, run_id: str) -> dict[str, str]:
    outputs = project.runs_dir / run_id / "outputs"
    return {p.relative_to(outputs).as_posix(): p.read_text() for p in sorted(outputs.rglob("*")) if p.is_file()}


def test_an_ssh_run_gets_the_recorded_tree_mounts_nothing_and_its_outputs_come_back(
    remote_project: RemoteProject, remote: RemoteSite
) -> None:
    _prepare(remote_project)
    made = remote.engine.run_inside(
        "mkdir -p /tmp/remote-data && echo only-on-the-host > /tmp/remote-data/remote-only.txt"
    )
    assert made.returncode == 0, made.stderr
    assert not Path("/tmp/remote-data").exists()  # that folder exists on the engine's host only
    # and the client's folders do not exist there: a bind mount of the project would show an empty folder
    seen = remote.engine.docker("run", "--rm", "-v", f"{remote_project.root}:/x", remote.image, "ls", "-A", "/x")
    assert seen.returncode == 0 and seen.stdout == "", seen.stdout + seen.stderr
    logins = remote.sshd.logins()
    done = remote_project.cli(
        "train", "job.py", "--host", "ssh-box", "--keep", "--mount", "/tmp/remote-data:/data:ro", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert remote.sshd.logins() - logins == 1  # one ssh login for the whole command (the probe included)
    keep_probe_cache(remote_project)
    manifest = json.loads(done.stdout)
    log = (remote_project.runs_dir / manifest["id"] / "output.log").read_text()
    assert "version: uncommitted" in log and "untracked present: True" in log  # the tree the manifest records
    assert "ignored present: False" in log and "remote data: only-on-the-host" in log
    assert manifest["git"]["dirty"] and "version.txt" in manifest["git"]["changed"]
    assert _outputs(remote_project, manifest["id"]) == {
        "result.txt": "written on the remote host\n",
        "sub/part.txt": "a nested output\n",
    }
    assert manifest["metrics"]["summary"]["acc"]["last"] == 0.75  # the helper's file came back too
    assert {a["path"] for a in manifest["artifacts"]} == {"result.txt", "sub/part.txt"}
    engine = manifest["engine"]
    info = json.loads(remote.engine.docker("info", "--format", "{{json .}}").stdout)
    assert (engine["name"], engine["url"], engine["remote"]) == ("ssh-box", "ssh://remote-box", True)
    assert engine["id"] == info["ID"] and engine["version"] == info["ServerVersion"]
    remote_image = remote.engine.docker("image", "inspect", "-f", "{{.Id}}", remote.image).stdout.strip()
    assert manifest["image"]["id"] == remote_image
    # The proof: the kept container has no bind mount but the remote path asked for.
    (container,) = remote_project.left()
    mounts = json.loads(remote.engine.docker("inspect", "-f", "{{json .Mounts}}", container).stdout)
    assert [(m["Type"], m["Source"], m["Destination"]) for m in mounts] == [("bind", "/tmp/remote-data", "/data")]
    remote.engine.docker("rm", "-f", container)


def test_a_tls_run_works_with_the_ca_bundle_variables_set(remote_project: RemoteProject, remote: RemoteSite) -> None:
    _prepare(remote_project)
    bundles = {
        "REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt",
        "CURL_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt",
    }
    assert Path(bundles["REQUESTS_CA_BUNDLE"]).is_file()  # a bundle without the test CA: docker-py#2433 territory
    done = remote_project.cli("train", "job.py", "--host", "tls-box", "-q", **bundles)
    assert done.returncode == 0, done.stderr
    (run_id,) = remote_project.run_ids()
    assert _outputs(remote_project, run_id)["result.txt"] == "written on the remote host\n"
    assert remote_project.manifest(run_id)["engine"]["url"] == remote.tls.url
    doctor = remote_project.cli("doctor", "--host", "tls-box", "--json", **bundles)
    checks = {check["name"]: check for check in json.loads(doctor.stdout)["checks"]}
    assert checks["docker engine"]["ok"] and checks["cpu image"]["ok"], doctor.stdout
    # DOCKER_HOST + DOCKER_CERT_PATH reach it the same way, as the docker CLI does
    env = {"DOCKER_HOST": remote.tls.url, "DOCKER_CERT_PATH": str(remote.tls.client_dir), "DOCKER_TLS_VERIFY": "1"}
    listed = remote_project.cli("doctor", "--json", **bundles, **env)
    assert json.loads(listed.stdout)["checks"][0]["ok"], listed.stdout


def _ping(port: int, folder: Path) -> str:
    """GET /_ping over TLS with the CA (and the client certificate, if the folder has one) in `folder`."""
    context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    if (folder / "cert.pem").is_file():
        context.load_cert_chain(str(folder / "cert.pem"), str(folder / "key.pem"))
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            answer = tls.recv(200)  # TLS 1.3: a refused certificate shows at the first read
    except (ssl.SSLError, ConnectionError) as exc:
        return f"refused: {exc}"
    return f"answered: {answer.decode(errors='replace')}" if answer else "refused: closed without an answer"


def test_a_client_without_a_certificate_is_refused(remote: RemoteSite, tmp_path: Path) -> None:
    assert _ping(remote.tls.port, remote.tls.client_dir).startswith("answered: HTTP/1.0 200 OK")
    assert _ping(remote.tls.port, remote.tls.ca_only_dir).startswith("refused")
    # paddlectl never tries: a TLS host without a client certificate is a usage error, and no run is recorded
    (tmp_path / "paddlectl.yaml").write_text(
        f"hosts:\n  bare: {{url: '{remote.tls.url}', tls: '{remote.tls.ca_only_dir}'}}\n", encoding="utf-8"
    )
    (tmp_path / "hello.py").write_text("print('hello')\n", encoding="utf-8")
    refused = run_cli(remote, "train", "hello.py", "--host", "bare", cwd=tmp_path)
    assert refused.returncode == 2 and "has no cert.pem, key.pem" in refused.stderr, refused.stderr
    assert not (tmp_path / ".paddlectl" / "runs").exists() or not any((tmp_path / ".paddlectl" / "runs").iterdir())


def test_outputs_come_back_after_a_failure_and_after_sigint(remote_project: RemoteProject, remote: RemoteSite) -> None:
    _prepare(remote_project)
    failed = remote_project.cli("train", "job.py", "--host", "ssh-box", "-q", "--", "--mode", "fail")
    assert failed.returncode == 3, failed.stderr
    (failed_id,) = remote_project.run_ids()
    assert remote_project.manifest(failed_id)["status"] == "failed"
    assert "result.txt" in _outputs(remote_project, failed_id)
    cli = Cli(
        ["train", "job.py", "--host", "ssh-box", "--grace", "5", "--", "--seconds", "60"],
        remote_project.root,
        env=remote.cli_env(),
    )
    try:
        cli.wait_for_stdout("ready", timeout=120)
        cli.send(signal.SIGINT)
        assert cli.wait(60) == 130, cli.describe()
    finally:
        cli.close()
    interrupted = next(run for run in remote_project.run_ids() if run != failed_id)
    manifest = remote_project.manifest(interrupted)
    assert manifest["status"] == "interrupted" and manifest["signal"] == "SIGINT"
    outputs = _outputs(remote_project, interrupted)
    assert outputs["result.txt"] == "written on the remote host\n" and "late.txt" not in outputs
    assert not remote_project.left()


def test_after_kill9_reconciliation_fetches_the_outputs_then_removes_the_container(
    remote_project: RemoteProject, remote: RemoteSite
) -> None:
    _prepare(remote_project)
    cli = Cli(
        ["train", "job.py", "--host", "ssh-box", "--", "--seconds", "4"], remote_project.root, env=remote.cli_env()
    )
    try:
        cli.wait_for_stdout("ready", timeout=120)
        cli.send(signal.SIGKILL)
        cli.wait(30)
    finally:
        cli.close()
    (run_id,) = remote_project.run_ids()
    (container,) = wait_for(remote_project.left, 30, "the orphaned container")
    wait_for(
        lambda: remote.engine.docker("inspect", "-f", "{{.State.Status}}", container).stdout.strip() == "exited",
        60,
        "the orphaned container to end",
    )
    assert remote_project.left() == [container]  # kept: its outputs are not safe yet
    assert "late.txt" not in _outputs(remote_project, run_id)
    listing = remote_project.cli("runs", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    (row,) = json.loads(listing.stdout)
    assert row["status"] == "succeeded" and row["exit_code"] == 0, row
    outputs = _outputs(remote_project, run_id)
    assert outputs["late.txt"] == "written after the wait\n"  # written after the CLI died, fetched by reconciliation
    assert "waited" in (remote_project.runs_dir / run_id / "output.log").read_text()
    assert not remote_project.left()  # removed once its outputs were safe


def test_stop_logs_gc_and_reproduce_follow_the_run_to_its_host(
    remote_project: RemoteProject, remote: RemoteSite
) -> None:
    _prepare(remote_project)
    started = remote_project.cli("train", "job.py", "--host", "ssh-box", "--detach", "--", "--seconds", "60")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    wait_for(lambda: "ready" in remote.engine.docker("logs", remote_project.left()[0]).stdout, 60, "the job to start")
    stopped = remote_project.cli("runs", "stop", run_id, "--grace", "2", "--json")  # no --host: the manifest says where
    assert stopped.returncode == 0 and json.loads(stopped.stdout)["stopped"], stopped.stderr
    followed = remote_project.cli("runs", "logs", run_id, "-f", timeout=120)  # settles it (fetching) and ends
    assert followed.returncode == 0 and "ready" in followed.stdout, followed.stderr
    manifest = remote_project.manifest(run_id)
    assert manifest["status"] == "interrupted" and "runs stop" in manifest["reason"]
    assert "result.txt" in _outputs(remote_project, run_id) and not remote_project.left()
    # a kept container of an ended run is a leftover there: gc (no --host either) removes it on that host
    kept = remote_project.cli("train", "job.py", "--host", "ssh-box", "--keep", "-q")
    assert kept.returncode == 0 and len(remote_project.left()) == 1, kept.stderr
    gc = remote_project.cli("runs", "gc", "--json")
    assert gc.returncode == 0 and len(json.loads(gc.stdout)["containers"]) == 1, gc.stdout + gc.stderr
    assert not remote_project.left()
    again = remote_project.cli("reproduce", kept.stdout.strip(), "--json", timeout=300)
    assert again.returncode == 0, again.stderr
    reproduction = json.loads(again.stdout)["reproduction"]
    assert remote_project.manifest(reproduction)["engine"]["name"] == "ssh-box"  # ran there again
    assert _outputs(remote_project, reproduction)["result.txt"] == "written on the remote host\n"


def test_ssh_trust_and_config_are_honoured(remote_project: RemoteProject, remote: RemoteSite) -> None:
    remote.trust_host_key(False)
    refused = remote_project.cli("train", "hello.py", "--host", "ssh-box")
    assert refused.returncode == 3 and not remote_project.run_ids()
    assert "host key of 127.0.0.1 port" in refused.stderr and "is unknown" in refused.stderr
    assert f"ssh-keyscan -p {remote.sshd.port} 127.0.0.1 >> ~/.ssh/known_hosts" in refused.stderr
    remote.trust_host_key()
    logins = remote.sshd.logins()
    jumped = remote_project.cli("doctor", "--host", "jumped-box", "--json")  # ProxyJump: the jump, then the host
    assert json.loads(jumped.stdout)["checks"][0]["ok"], jumped.stdout + jumped.stderr
    assert remote.sshd.logins() - logins == 2
    down = remote_project.cli("doctor", "--host", f"ssh://root@127.0.0.1:{_closed_port()}")
    assert down.returncode == 1 and "cannot reach ssh://root@127.0.0.1" in down.stderr, down.stderr


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_digits_example_trains_remotely_then_exports_and_packages(remote: RemoteSite, tmp_path: Path) -> None:
    from conftest import REPO_ROOT

    digits = tmp_path / "digits"
    shutil.copytree(REPO_ROOT / "examples" / "digits", digits)
    config = (digits / "paddlectl.yaml").read_text(encoding="utf-8")
    project = f"pdctl-digits-{uuid.uuid4().hex[:8]}"
    config = config.replace("project: digits", f"project: {project}").replace(
        "cpu: paddlectl-test/paddle:3.2.0-cpu", f"cpu: {remote.image}"
    )
    (digits / "paddlectl.yaml").write_text(config + remote.hosts_yaml(), encoding="utf-8")
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "digits"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *command], cwd=digits, check=True)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(remote, *args, cwd=digits)

    started = time.monotonic()
    trained = cli("train", "train.py", "--host", "ssh-box", "-p", "epochs=3", "--json")
    assert trained.returncode == 0, trained.stderr
    manifest = json.loads(trained.stdout)
    assert manifest["engine"]["remote"] and "model.pdparams" in {a["path"] for a in manifest["artifacts"]}
    assert manifest["metrics"]["summary"]["val_acc"]["last"] > 0.5
    exported = cli("export", manifest["id"], "--json")  # no --host: in the run's image, on the run's host
    assert exported.returncode == 0, exported.stderr
    assert "on ssh-box" in exported.stderr
    record = json.loads(exported.stdout)
    assert record["verification"]["status"] == "passed" and record["image"]["id"] == manifest["image"]["id"]
    export_dir = digits / ".paddlectl" / "runs" / manifest["id"] / "export"
    assert {"model.json", "model.pdiparams", "export.yaml"} <= {path.name for path in export_dir.iterdir()}
    packaged = cli(
        "package", manifest["id"], "--name", "digits-cnn", "--version", "1.0.0", "-o", str(tmp_path), "--json"
    )
    assert packaged.returncode == 0, packaged.stderr
    verified = cli("verify", json.loads(packaged.stdout)["path"])
    assert verified.returncode == 0, verified.stderr
    print(f"\nremote digits: train (3 epochs) + export + package + verify in {time.monotonic() - started:.1f} s")
    assert not remote.containers(f"label=io.paddlectl.project={project}")
    assert not remote.containers("label=io.paddlectl.kind=export")


@pytest.mark.parametrize(("phase", "signum"), [("upload", signal.SIGINT), ("download", signal.SIGTERM)])
def test_a_signal_while_files_move_is_held_until_it_is_safe(
    remote_project: RemoteProject, remote: RemoteSite, phase: str, signum: int
) -> None:
    """Uploads and fetches run with stop signals held, like create and start: one that arrives during an upload
    removes the created container once the upload is over; one during the fetch lets the fetch finish first."""
    _prepare(remote_project)
    cli = Cli(
        ["train", "job.py", "--host", "ssh-box"],
        remote_project.root,
        env=remote.cli_env(PADDLECTL_TEST_PAUSE_AT=phase),
    )
    try:
        wait_for(lambda: f"paused at {phase}" in cli.stderr() or cli.process.poll() is not None, 120, phase)
        assert cli.process.poll() is None, cli.describe()
        cli.send(signum)
        assert cli.wait(60) == 128 + signum, cli.describe()
    finally:
        cli.close()
    (run_id,) = remote_project.run_ids()
    manifest = remote_project.manifest(run_id)
    if phase == "upload":
        assert manifest["status"] == "interrupted" and "before the container started" in manifest["reason"]
    else:  # the run had ended: it keeps its outcome, and its outputs are all here
        assert manifest["status"] == "succeeded", manifest
        assert set(_outputs(remote_project, run_id)) == {"result.txt", "sub/part.txt"}
    assert not remote_project.left()


def test_ctrl_c_during_a_hanging_ssh_login_ends_the_command_at_once(remote_project: RemoteProject) -> None:
    """A server that accepts the connection and never answers: the login would wait 60 s; Ctrl-C ends it now."""
    import threading

    accepted = threading.Event()
    held: list[socket.socket] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)

        def accept() -> None:
            connection, _ = server.accept()
            held.append(connection)  # never a banner
            accepted.set()

        threading.Thread(target=accept, daemon=True).start()
        port = server.getsockname()[1]
        cli = Cli(["train", "hello.py", "--host", f"ssh://root@127.0.0.1:{port}"], remote_project.root,
                  env=remote_project.site.cli_env())  # fmt: skip
        try:
            assert accepted.wait(60), cli.describe()  # the CLI is inside the ssh handshake now
            cli.send(signal.SIGINT)
            assert cli.wait(15) == 130, cli.describe()
        finally:
            cli.close()
            for connection in held:
                connection.close()
    assert not remote_project.run_ids()  # nothing recorded before the run could start
