"""A "remote" Docker host on this machine, reached only through the transports a real one would be: ssh and TLS.

- the engine: a private dockerd (tests/engine/private_engine.py) in its own network and mount namespace, where this
  machine's client folders (the temp folder, the home folders, the checkout) are empty: a bind mount of a client
  path finds nothing, as on another machine. Its data root lives in /var/lib/paddlectl-test-remote so the Paddle
  image, loaded once (docker save | docker load), is still there for the next session (CI keeps /var/lib);
- sshd (Debian's openssh-server) on 127.0.0.1 and a free port, a host key and a user key made here, its sessions
  pointed at that engine's socket (`docker system dial-stdio` runs there, as on a real host);
- a TLS endpoint: socat on 127.0.0.1 and a free port, demanding a client certificate signed by a CA made here, in
  front of the same socket;
- a client home: ~/.ssh/config (an alias whose Port and User only the config knows), known_hosts, the user key, and
  the TLS client folder.
Everything is started by this session and stopped by process id at its end; traffic stays on loopback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from conftest import REPO_ROOT
from engine.private_engine import PrivateEngine, load_image
from engine.train_harness import CLI_ENV, wait_until

PERSISTENT_DATA_ROOT = Path("/var/lib/paddlectl-test-remote")
SSH_ALIAS = "remote-box"  # in the client's ~/.ssh/config only: HostName 127.0.0.1, Port <sshd's>, User root


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def hidden_client_folders() -> list[str]:
    """What the remote engine must not see: everywhere a client keeps files (tests, runs, private files, lib)."""
    candidates = {
        tempfile.gettempdir(),
        "/tmp",
        "/var/tmp",
        "/root",
        "/home",
        "/work",
        str(REPO_ROOT),
        str(Path.home()),
    }
    found = sorted(str(Path(path).resolve()) for path in candidates if Path(path).is_dir())
    return [path for path in found if not any(path.startswith(other + "/") for other in found)]  # /work hides below


class Sshd:
    """sshd -D on 127.0.0.1:port, keys made here, sessions sent to `socket`'s engine; counts its logins."""

    def __init__(self, root: Path, engine_socket: Path) -> None:
        self.root = root
        self.port = free_port()
        self.log = root / "sshd.log"
        self.host_key = root / "host_key"
        self.user_key = root / "user_key"
        root.mkdir(parents=True, exist_ok=True)
        for key in (self.host_key, self.user_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        shutil.copy(self.user_key.with_suffix(".pub"), root / "authorized_keys")
        (root / "sshd_config").write_text(
            f"ListenAddress 127.0.0.1\nPort {self.port}\nHostKey {self.host_key}\n"
            f"AuthorizedKeysFile {root / 'authorized_keys'}\nPidFile {root / 'sshd.pid'}\n"
            "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\nAllowTcpForwarding yes\nLogLevel INFO\nMaxSessions 64\n"
            f"SetEnv DOCKER_HOST=unix://{engine_socket}\n",
            encoding="utf-8",
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege separation folder (no package start-up)
        self.process = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-f", str(self.root / "sshd_config"), "-E", str(self.log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(lambda: _listening(self.port) or self.process.poll() is not None, 20, "sshd to listen")  # type: ignore[union-attr]
        assert self.process.poll() is None, self.log.read_text(errors="replace")

    def host_key_line(self) -> str:
        """The known_hosts line that trusts this sshd (what `ssh-keyscan -p PORT 127.0.0.1` prints)."""
        kind, key = self.host_key.with_suffix(".pub").read_text(encoding="utf-8").split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {key}\n"

    def logins(self) -> int:
        """How many ssh logins sshd has accepted so far."""
        return self.log.read_text(errors="replace").count("Accepted publickey for")

    def stop(self) -> None:
        _stop(self.process)


class TlsEndpoint:
    """socat OPENSSL-LISTEN on 127.0.0.1:port (client certificates required) in front of a unix socket."""

    def __init__(self, root: Path, engine_socket: Path) -> None:
        self.root = root
        self.port = free_port()
        self.engine_socket = engine_socket
        self.client_dir = root / "client"  # ca.pem, cert.pem, key.pem: what DOCKER_CERT_PATH points at
        self.ca_only_dir = root / "ca-only"  # a client that trusts the server but has no certificate
        self.log = root / "socat.log"
        _make_certificates(root, self.client_dir, self.ca_only_dir)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> None:
        listen = (
            f"OPENSSL-LISTEN:{self.port},bind=127.0.0.1,reuseaddr,fork,cert={self.root / 'server-cert.pem'},"
            f"key={self.root / 'server-key.pem'},cafile={self.root / 'ca.pem'},verify=1"
        )
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                ["socat", listen, f"UNIX-CONNECT:{self.engine_socket}"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        wait_until(lambda: _listening(self.port) or self.process.poll() is not None, 20, "socat to listen")  # type: ignore[union-attr]
        assert self.process.poll() is None, self.log.read_text(errors="replace")

    def stop(self) -> None:
        _stop(self.process, group=True)  # socat forks one child per connection, in its own process group


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _stop(process: subprocess.Popen[bytes] | None, *, group: bool = False) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(process.pid, signal.SIGTERM)  # the group this session started (start_new_session)
        else:
            process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _make_certificates(root: Path, client_dir: Path, ca_only_dir: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, written as docker's file names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    def pem_key(key: Any) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("paddlectl test CA"))
        .issuer_name(name("paddlectl test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def issue(common_name: str, usage: Any, san: Any = None) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(common_name))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM), pem_key(key)

    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    server_cert, server_key = issue(
        "127.0.0.1",
        ExtendedKeyUsageOID.SERVER_AUTH,
        x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
    )
    client_cert, client_key = issue("paddlectl test client", ExtendedKeyUsageOID.CLIENT_AUTH)
    root.mkdir(parents=True, exist_ok=True)
    (root / "ca.pem").write_bytes(ca_pem)
    (root / "server-cert.pem").write_bytes(server_cert)
    (root / "server-key.pem").write_bytes(server_key)
    for folder in (client_dir, ca_only_dir):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "ca.pem").write_bytes(ca_pem)
    (client_dir / "cert.pem").write_bytes(client_cert)
    (client_dir / "key.pem").write_bytes(client_key)
    (client_dir / "key.pem").chmod(0o600)


class RemoteSite:
    """The remote engine, its sshd and TLS endpoint, and a client home that reaches them; one per test session."""

    def __init__(self, image: str) -> None:
        self.image = image
        self.root = Path(tempfile.mkdtemp(prefix="pdctl-remote-", dir="/run"))  # not hidden from the engine
        self._lock: IO[str] | None = None
        data_root = self._persistent_data_root()
        self.engine = PrivateEngine(self.root / "engine", data_root=data_root, hidden=hidden_client_folders())
        self.sshd = Sshd(self.root / "sshd", self.engine.socket)
        self.tls = TlsEndpoint(self.root / "tls", self.engine.socket)
        self.home = Path(tempfile.mkdtemp(prefix="pdctl-remote-home-"))
        self.image_load_seconds = 0.0

    def _persistent_data_root(self) -> Path:
        """The shared data root when no other session holds it (a second one at once gets a fresh, slower one)."""
        PERSISTENT_DATA_ROOT.parent.mkdir(parents=True, exist_ok=True)
        lock = open(f"{PERSISTENT_DATA_ROOT}.lock", "a", encoding="utf-8")  # noqa: SIM115 - held for the session
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            return self.root / "data"
        self._lock = lock
        return PERSISTENT_DATA_ROOT

    def start(self) -> None:
        self.engine.start()
        leftovers = self.engine.docker("ps", "-aq").stdout.split()  # of an earlier session killed mid-way: ours
        if leftovers:
            self.engine.docker("rm", "-f", *leftovers)
        self.image_load_seconds = load_image(self.engine, self.image)
        self.sshd.start()
        self.tls.start()
        self._write_home()

    def _write_home(self) -> None:
        ssh = self.home / ".ssh"
        ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copy(self.sshd.user_key, ssh / "id_ed25519")
        (ssh / "id_ed25519").chmod(0o600)
        (ssh / "config").write_text(
            f"Host {SSH_ALIAS}\n  HostName 127.0.0.1\n  Port {self.sshd.port}\n  User root\n"
            f"  IdentityFile ~/.ssh/id_ed25519\n"
            f"Host jumped-box\n  HostName 127.0.0.1\n  Port {self.sshd.port}\n  User root\n"
            f"  ProxyJump root@127.0.0.1:{self.sshd.port}\n",
            encoding="utf-8",
        )
        self.trust_host_key()

    def trust_host_key(self, trusted: bool = True) -> None:
        (self.home / ".ssh" / "known_hosts").write_text(self.sshd.host_key_line() if trusted else "", encoding="utf-8")

    def cli_env(self, **extra: str) -> dict[str, str]:
        """The environment a CLI on the client gets: its home (ssh config, keys), no agent, no DOCKER_HOST."""
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DOCKER_HOST", "SSH_AUTH_SOCK", "DOCKER_CONTEXT")
        }
        env.update(CLI_ENV)
        env["HOME"] = str(self.home)
        env.update(extra)
        return env

    def hosts_yaml(self) -> str:
        """The `hosts:` section naming the ssh alias and the TLS endpoint."""
        return (
            "hosts:\n"
            f"  ssh-box: {{url: 'ssh://{SSH_ALIAS}'}}\n"
            f"  tls-box: {{url: '{self.tls.url}', tls: '{self.tls.client_dir}'}}\n"
            "  jumped-box: {url: 'ssh://jumped-box'}\n"
        )

    def containers(self, *filters: str) -> list[str]:
        """Ids of the remote engine's containers (all states) matching docker ps filters (label=...)."""
        args = ["ps", "-aq", "--no-trunc"]
        for item in filters:
            args += ["--filter", item]
        return self.engine.docker(*args).stdout.split()

    def stop(self) -> None:
        self.tls.stop()
        self.sshd.stop()
        left = self.engine.docker("ps", "-aq").stdout.split()
        if left:
            self.engine.docker("rm", "-f", *left)
        self.engine.remove(keep_data=self.engine.data_root == PERSISTENT_DATA_ROOT)
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)
        if self._lock is not None:
            self._lock.close()


def run_cli(
    site: RemoteSite, *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`python -m paddlectl ARGS` on the client, to its end."""
    return subprocess.run(
        [sys.executable, "-m", "paddlectl", *args],
        cwd=cwd,
        env=site.cli_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    return wait_until(predicate, timeout, what, interval=0.2)
