"""Which engine a command talks to (engine/hosts.py) and how ~/.ssh/config resolves an ssh host (transports.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from paddlectl.engine.hosts import EngineHost, HostEntry, host_of_record, resolve_host, strip_password
from paddlectl.engine.transports import ssh_target, tls_files
from paddlectl.errors import UsageError

ENTRIES = {
    "gpu-box": HostEntry(url="ssh://me@10.0.0.5:2222", gpus="all"),
    "tls-box": HostEntry(url="tcp://tls.example:2376", tls=Path("/certs/tls-box")),
}


def test_an_explicit_host_beats_docker_host_and_the_context(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": "ssh://other@elsewhere", "DOCKER_CONTEXT": "ctx"}
    host = resolve_host("gpu-box", ENTRIES, env, tmp_path)
    assert (host.url, host.name, host.gpus, host.remote) == ("ssh://me@10.0.0.5:2222", "gpu-box", "all", True)
    assert host.label == "gpu-box (ssh://me@10.0.0.5:2222)"
    by_url = resolve_host("tcp://10.0.0.9:2376", ENTRIES, {"DOCKER_CERT_PATH": "/c"}, tmp_path)
    assert by_url.tls and by_url.tls_dir == Path("/c") and by_url.name is None


def test_a_url_a_hosts_entry_has_gets_its_name_and_certificates(tmp_path: Path) -> None:
    host = resolve_host("tcp://tls.example:2376", ENTRIES, {}, tmp_path)
    assert host.name == "tls-box" and host.tls_dir == Path("/certs/tls-box")
    from_env = resolve_host(None, ENTRIES, {"DOCKER_HOST": "ssh://me@10.0.0.5:2222"}, tmp_path)
    assert from_env.name == "gpu-box" and from_env.source == "DOCKER_HOST"


def test_an_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        resolve_host("gpu-bx", ENTRIES, {}, tmp_path)
    assert "gpu-box, tls-box" in caught.value.message and "ssh://user@host" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://x:2375", "unsupported scheme"),
        ("tcp://x", "no port"),
        ("ssh://me@host/var/run/docker.sock", "no path"),
        ("ssh://", "no host name"),
        ("ssh://nobody@127.0.0.1:99999", "malformed: Port out of range"),
        ("tcp://127.0.0.1:abc", "malformed: Port could not be cast"),
        ("ssh://[::1", "malformed: Invalid IPv6 URL"),
        ("tcp://127.0.0.1:0", "port 0"),
    ],
)
def test_malformed_urls_say_what_works(tmp_path: Path, url: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem) as caught:
        resolve_host(url, {}, {}, tmp_path)
    assert "tcp://host:2376" in (caught.value.hint or "")


def test_a_malformed_docker_host_or_hosts_entry_is_a_usage_error_naming_where(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="DOCKER_HOST"):
        resolve_host(None, {}, {"DOCKER_HOST": "tcp://127.0.0.1:abc"}, tmp_path)
    with pytest.raises(UsageError, match=r"hosts\.gpu\.url.*Port out of range"):
        resolve_host("gpu", {"gpu": HostEntry("ssh://127.0.0.1:99999")}, {}, tmp_path)


def test_a_hosts_entry_that_cannot_work_names_its_key(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"hosts\.gpu\.tls: a certificate folder is for a tcp:// engine"):
        resolve_host("gpu", {"gpu": HostEntry("ssh://me@gpu-box", tls=tmp_path)}, {}, tmp_path)
    with pytest.raises(UsageError, match=r"hosts\.gpu\.gpus: invalid --gpus 'bogus'"):
        resolve_host("gpu", {"gpu": HostEntry("ssh://me@gpu-box", gpus="bogus")}, {}, tmp_path)


def test_docker_host_with_the_tls_port_takes_certificates_from_the_docker_folder(tmp_path: Path) -> None:
    host = resolve_host(None, {}, {"DOCKER_HOST": "tcp://h:2376"}, tmp_path)
    assert host.tls and host.tls_dir == tmp_path / ".docker"
    plain = resolve_host(None, {}, {"DOCKER_HOST": "tcp://h:2375"}, tmp_path)
    assert not plain.tls and plain.remote
    local = resolve_host(None, {}, {"DOCKER_HOST": "unix:///run/x.sock"}, tmp_path)
    assert not local.remote and local.url == "unix:///run/x.sock"


def _context(home: Path, name: str, host: str, *, tls: bool = False, skip_verify: bool = False) -> None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = home / ".docker" / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    endpoint = {"Host": host, "SkipTLSVerify": skip_verify}
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Endpoints": {"docker": endpoint}}), encoding="utf-8")
    if tls:
        (home / ".docker" / "contexts" / "tls" / digest / "docker").mkdir(parents=True)


def test_the_active_docker_context_is_the_default(tmp_path: Path) -> None:
    _context(tmp_path, "remote", "tcp://ctx.example:2376", tls=True, skip_verify=True)
    _context(tmp_path, "other", "ssh://me@other")
    (tmp_path / ".docker" / "config.json").write_text(json.dumps({"currentContext": "remote"}), encoding="utf-8")
    host = resolve_host(None, {}, {}, tmp_path)
    assert (host.url, host.name, host.source) == ("tcp://ctx.example:2376", "remote", "docker context remote")
    assert host.tls_dir is not None and host.tls_dir.name == "docker" and host.tls_verify is False
    assert resolve_host(None, {}, {"DOCKER_CONTEXT": "other"}, tmp_path).url == "ssh://me@other"
    # DOCKER_HOST beats the context, as for the docker CLI; `default` is the local socket
    assert resolve_host(None, {}, {"DOCKER_HOST": "ssh://x@y"}, tmp_path).url == "ssh://x@y"
    assert not resolve_host(None, {}, {"DOCKER_CONTEXT": "default"}, tmp_path).remote
    with pytest.raises(UsageError, match="docker context 'gone'"):
        resolve_host(None, {}, {"DOCKER_CONTEXT": "gone"}, tmp_path)


def test_urls_are_recorded_without_passwords() -> None:
    assert strip_password("tcp://me:s3cret@h:2376") == "tcp://me@h:2376"
    host = EngineHost("tcp://me:s3cret@h:2376", tls_dir=Path("/c"))
    assert "s3cret" not in json.dumps(host.record()) and "s3cret" not in host.label


def test_a_recorded_host_is_found_again_through_the_project_entry(tmp_path: Path) -> None:
    record = {"name": "tls-box", "url": "tcp://tls.example:2376", "remote": True, "tls_dir": "/old/certs"}
    assert host_of_record(record, ENTRIES) == resolve_host("tls-box", ENTRIES, {}, tmp_path)
    gone = host_of_record(record, {})
    assert gone is not None and gone.tls_dir == Path("/old/certs") and gone.url == record["url"]
    assert host_of_record({}, ENTRIES) is None  # recorded before hosts: the default engine
    local = host_of_record({"url": "unix:///var/run/docker.sock", "remote": False}, ENTRIES)
    assert local is not None and not local.remote


CONFIG = """
Host gpu
  HostName 127.0.0.1
  Port 2222
  User bob
  IdentityFile ~/.ssh/gpu_key
  ProxyJump jumper
Host jumper
  HostName 127.0.0.2
  Port 2200
Host loop
  ProxyJump loop2
Host loop2
  ProxyJump loop
"""


def test_ssh_config_port_user_key_and_jump_are_honoured() -> None:
    target = ssh_target("ssh://gpu", CONFIG, default_user="me")
    # docker-py would connect to port 22 here (compose#8265)
    assert (target.hostname, target.port, target.user) == ("127.0.0.1", 2222, "bob")
    assert target.identity_files[0].endswith("/.ssh/gpu_key")
    (jump,) = target.jumps
    assert (jump.hostname, jump.port, jump.user) == ("127.0.0.2", 2200, "me")
    explicit = ssh_target("ssh://alice@gpu:2300", CONFIG, default_user="me")
    assert (explicit.port, explicit.user) == (2300, "alice")
    plain = ssh_target("ssh://somewhere", CONFIG, default_user="me")
    assert (plain.hostname, plain.port, plain.jumps) == ("somewhere", 22, ())
    assert plain.keyscan() == "ssh-keyscan somewhere >> ~/.ssh/known_hosts"
    assert target.keyscan() == "ssh-keyscan -p 2222 127.0.0.1 >> ~/.ssh/known_hosts"
    with pytest.raises(UsageError, match="loops"):
        ssh_target("ssh://loop", CONFIG)


def test_a_tls_host_without_a_client_certificate_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no client certificate folder"):
        tls_files(EngineHost("tcp://h:2376"))
    (tmp_path / "ca.pem").write_text("x", encoding="utf-8")
    with pytest.raises(UsageError, match=r"cert\.pem, key\.pem"):
        tls_files(EngineHost("tcp://h:2376", tls_dir=tmp_path))


def _lost_engine_errors() -> list[BaseException]:
    import docker.errors
    import requests.exceptions

    return [
        requests.exceptions.ConnectionError("('Connection aborted.', FileNotFoundError(2, 'No such file'))"),
        ConnectionRefusedError(111, "Connection refused"),
        docker.errors.DockerException("Error while fetching server API version"),
    ]


@pytest.mark.parametrize("index", range(3))
def test_a_lost_engine_is_an_unavailable_error_naming_it(index: int) -> None:
    from paddlectl.engine.docker_engine import translated_errors
    from paddlectl.errors import UnavailableError

    error = _lost_engine_errors()[index]
    local = pytest.raises(UnavailableError, match="cannot reach the Docker engine at unix://")
    with local, translated_errors("waiting for the container"):
        raise error
    remote = EngineHost("ssh://me@gpu", name="gpu-box")
    named = pytest.raises(UnavailableError, match=r"cannot reach gpu-box \(ssh://me@gpu\)")
    with named, translated_errors("waiting for the container", remote):
        raise error
    with pytest.raises(FileNotFoundError), translated_errors("building"):  # a local file's error is not the engine's
        raise FileNotFoundError(2, "no such file", "Dockerfile")


def test_paramiko_is_imported_only_for_an_ssh_host() -> None:
    """paramiko is the `remote` extra: the local engine's paths must work without it installed."""
    import subprocess
    import sys

    probe = (
        "import sys, paddlectl.engine.docker_engine, paddlectl.train.launch, paddlectl.runs.reconcile, "
        "paddlectl.runs.cleanup, paddlectl.engine.hosts\n"
        "from paddlectl.engine.hosts import resolve_host\n"
        "resolve_host('tcp://h:2376', {}, {}, None)\n"
        "print('paramiko' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
