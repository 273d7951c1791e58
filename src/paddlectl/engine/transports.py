"""How paddlectl reaches a remote engine: one paramiko login for ssh://, client certificates for tcp:// (TLS).

ssh: docker-py's own ssh transport either shells out to `ssh` for every request (a login each: 20 calls took 6.6 s
against 0.26 s here) or, with paramiko, reads ~/.ssh/config only in part: `ssh://alias` gets port 22 whatever the
config's Port says (compose#8265) and ProxyJump is ignored. So the login happens here, once per engine per command:
HostName, Port, User, IdentityFile, ProxyJump, ProxyCommand and UserKnownHostsFile come from ~/.ssh/config, and a
host key that known_hosts does not list is refused with the line that trusts it (never accepted silently). Every HTTP
connection is then a channel of that one login running `docker system dial-stdio` on the host, as the docker CLI does.

TLS: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace the engine's CA (docker-py#2433, #2598: the call fails
with CERTIFICATE_VERIFY_FAILED where the docker CLI works), so a TLS client ignores the environment
(`trust_env = False`) and asks the engine's API version only after that.

paramiko is an optional dependency (`pip install 'paddlectl[remote]'`), imported only when an ssh host is used.
"""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from paddlectl.engine.hosts import TLS_FILES, EngineHost
from paddlectl.errors import ExitCode, PaddlectlError, UnavailableError, UsageError

if TYPE_CHECKING:
    import paramiko

DIAL_COMMAND = "docker system dial-stdio"
SSH_PORT = 22


@dataclass(frozen=True)
class SshTarget:
    """Where one ssh hop goes, as ~/.ssh/config resolves it."""

    alias: str  # what the URL (or ProxyJump) names
    hostname: str
    port: int
    user: str
    identity_files: tuple[str, ...] = ()
    proxy_command: str | None = None
    known_hosts: tuple[str, ...] = ()  # UserKnownHostsFile entries (besides ~/.ssh/known_hosts)
    jumps: tuple[SshTarget, ...] = field(default=())  # ProxyJump hops, in order

    @property
    def address(self) -> str:
        return f"{self.user}@{self.hostname}:{self.port}"

    def keyscan(self) -> str:
        """The command that adds this host's key to known_hosts (after checking its fingerprint)."""
        port = f"-p {self.port} " if self.port != SSH_PORT else ""
        return f"ssh-keyscan {port}{self.hostname} >> ~/.ssh/known_hosts"


def ssh_config_text(home: Path | None = None) -> str:
    path = (home or Path.home()) / ".ssh" / "config"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def ssh_target(url: str, config_text: str = "", default_user: str | None = None) -> SshTarget:
    """Resolve `ssh://[user@]alias[:port]` through an ssh config: the URL's user and port win, then the config's.

    Raises UsageError for a ProxyJump chain that loops.
    """
    import paramiko

    config = paramiko.SSHConfig.from_text(config_text)
    parts = urlsplit(url)
    return _target(config, parts.hostname or "", parts.username, parts.port, default_user or _local_user(), ())


def _target(
    config: paramiko.SSHConfig,
    alias: str,
    user: str | None,
    port: int | None,
    default_user: str,
    seen: tuple[str, ...],
) -> SshTarget:
    if alias in seen:
        raise UsageError(f"ProxyJump in ~/.ssh/config loops: {' -> '.join((*seen, alias))}")
    found: dict[str, Any] = dict(config.lookup(alias))
    jumps: list[SshTarget] = []
    jump_text = str(found.get("proxyjump") or "").strip()
    if jump_text and jump_text.lower() != "none":
        for hop in jump_text.split(","):
            hop_user, _, hop_host = hop.strip().rpartition("@")
            hop_name, _, hop_port = hop_host.partition(":")
            jumps.append(
                _target(
                    config,
                    hop_name,
                    hop_user or None,
                    int(hop_port) if hop_port else None,
                    default_user,
                    (*seen, alias),
                )
            )
    command = found.get("proxycommand")
    return SshTarget(
        alias=alias,
        hostname=str(found.get("hostname") or alias),
        port=port or int(found.get("port") or SSH_PORT),
        user=user or str(found.get("user") or default_user),
        identity_files=tuple(str(path) for path in found.get("identityfile") or ()),
        proxy_command=str(command) if command and str(command).lower() != "none" else None,
        known_hosts=tuple(str(found.get("userknownhostsfile") or "").split()),
        jumps=tuple(jumps),
    )


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


class SshSession:
    """One ssh login (plus one per ProxyJump hop) that every HTTP connection to the engine rides on."""

    def __init__(self, host: EngineHost, target: SshTarget, clients: list[paramiko.SSHClient]) -> None:
        self.host = host
        self.target = target
        self._clients = clients  # jump hosts first: closing one would cut the tunnel of the next

    @property
    def client(self) -> paramiko.SSHClient:
        return self._clients[-1]

    def diagnose(self, timeout: float = 15.0) -> str | None:
        """Why the engine does not answer through this login: `docker` missing there, or not allowed (None: unknown)."""
        with contextlib.suppress(Exception):
            _, stdout, stderr = self.client.exec_command(
                "docker version --format '{{.Server.Version}}'", timeout=timeout
            )
            status = stdout.channel.recv_exit_status()
            if status != 0:
                text = " ".join(stderr.read().decode("utf-8", "replace").split())[:300]
                return f"'docker version' there exited {status}: {text or 'no output'}"
        return None

    def close(self) -> None:
        for client in reversed(self._clients):
            with contextlib.suppress(Exception):
                client.close()


def open_ssh(host: EngineHost, timeout: float, home: Path | None = None) -> SshSession:
    """Log in to an ssh:// host once (through its ProxyJump hops); raises PaddlectlError naming the host and the fix."""
    try:
        import paramiko
    except ImportError as exc:
        raise PaddlectlError(
            f"{host.label} is an ssh:// host, and talking to it needs paramiko, which is not installed",
            hint="pip install 'paddlectl[remote]'",
            code=ExitCode.UNAVAILABLE,
        ) from exc
    import logging

    logging.getLogger("paramiko").setLevel(logging.CRITICAL)  # its own tracebacks would go to stderr
    target = ssh_target(host.url, ssh_config_text(home))
    clients: list[paramiko.SSHClient] = []
    sock: Any = None
    hops = [*target.jumps, target]
    try:
        for index, hop in enumerate(hops):
            if sock is None and hop.proxy_command:
                sock = paramiko.ProxyCommand(hop.proxy_command)
            clients.append(_login(host, hop, sock, timeout, home))
            if index + 1 < len(hops):
                following = hops[index + 1]
                transport = clients[-1].get_transport()
                assert transport is not None
                sock = transport.open_channel("direct-tcpip", (following.hostname, following.port), ("127.0.0.1", 0))
    except BaseException:
        for client in reversed(clients):
            with contextlib.suppress(Exception):
                client.close()
        raise
    return SshSession(host, target, clients)


def _login(host: EngineHost, hop: SshTarget, sock: Any, timeout: float, home: Path | None) -> paramiko.SSHClient:
    """One ssh login (a hop of the way to the host); raises UnavailableError saying what failed and what to do."""
    import paramiko

    client = paramiko.SSHClient()
    for known in _known_hosts_files(hop, home):
        with contextlib.suppress(OSError):
            client.load_system_host_keys(known)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    keys = [path for path in (os.path.expanduser(name) for name in hop.identity_files) if os.path.isfile(path)]
    where = f"cannot reach {host.label}"
    via = f" (ssh {hop.address})" if hop.alias != urlsplit(host.url).hostname or hop.jumps else ""
    try:
        client.connect(
            hop.hostname,
            hop.port,
            username=hop.user,
            key_filename=keys or None,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            sock=sock,
            allow_agent=True,
            look_for_keys=True,
        )
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise UnavailableError(
            f"{where}{via}: the host key of {hop.hostname} port {hop.port} is not the one in known_hosts "
            "(the server was reinstalled, or someone is in between)",
            hint=f"ask the server's admin for its key fingerprint; if it changed on purpose: "
            f"ssh-keygen -R '[{hop.hostname}]:{hop.port}', then {hop.keyscan()}",
        ) from exc
    except paramiko.PasswordRequiredException as exc:
        client.close()
        raise UnavailableError(
            f"{where}{via}: the ssh key needs its passphrase", hint="load it into your agent first: ssh-add KEYFILE"
        ) from exc
    except paramiko.AuthenticationException as exc:
        client.close()
        raise UnavailableError(
            f"{where}{via}: ssh login as {hop.user} refused ({exc})",
            hint=f"check User and IdentityFile for {hop.alias} in ~/.ssh/config; 'ssh -p {hop.port} "
            f"{hop.user}@{hop.hostname} true' must work without a password",
        ) from exc
    except paramiko.SSHException as exc:
        client.close()
        if "not found in known_hosts" in str(exc):
            raise UnavailableError(
                f"{where}{via}: the host key of {hop.hostname} port {hop.port} is unknown (not in ~/.ssh/known_hosts)",
                hint=f"check its fingerprint with the server's admin, then trust it: {hop.keyscan()}",
            ) from exc
        raise UnavailableError(f"{where}{via}: ssh failed: {exc}", hint=_ssh_hint(hop)) from exc
    except (OSError, EOFError) as exc:
        client.close()
        reason = "timed out" if isinstance(exc, TimeoutError) else _os_reason(exc)
        raise UnavailableError(f"{where}{via}: {reason}", hint=_ssh_hint(hop)) from exc
    return client


def _known_hosts_files(hop: SshTarget, home: Path | None) -> Iterator[str]:
    yield "/etc/ssh/ssh_known_hosts"
    yield str((home or Path.home()) / ".ssh" / "known_hosts")
    for name in hop.known_hosts:
        if name.lower() != "none":
            yield os.path.expanduser(name)


def _os_reason(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)  # paramiko's NoValidConnectionsError: one OSError per address tried
    if isinstance(errors, dict) and errors:
        exc = next(iter(errors.values()))
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text[0].lower() + text[1:] if text else "connection failed"


def _ssh_hint(hop: SshTarget) -> str:
    return f"check that sshd runs on {hop.hostname} port {hop.port}: 'ssh -p {hop.port} {hop.user}@{hop.hostname} true'"


def ssh_adapter(session: SshSession, timeout: float) -> Any:
    """A requests adapter whose connections are `docker system dial-stdio` channels of the session's one login."""
    from docker.transport.basehttpadapter import BaseHTTPAdapter
    from docker.transport.sshconn import SSHConnectionPool

    class SshAdapter(BaseHTTPAdapter):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.pool: Any = None

        def get_connection(self, url: Any, proxies: Any = None) -> Any:
            if self.pool is None:
                self.pool = SSHConnectionPool(ssh_client=session.client, timeout=timeout, maxsize=16)
            return self.pool

        def close(self) -> None:
            super().close()
            if self.pool is not None:
                self.pool.close()
            session.close()

    return SshAdapter()


def tls_files(host: EngineHost) -> tuple[str, str, str]:
    """ca.pem, cert.pem and key.pem of a TLS host's certificate folder; UsageError naming what is missing.

    paddlectl never talks TLS to an engine without a client certificate (the engine must refuse such clients).
    """
    folder = host.tls_dir
    if folder is None:
        raise UsageError(
            f"{host.label} is a TLS engine (port 2376) but no client certificate folder is set",
            hint="set DOCKER_CERT_PATH (with ca.pem, cert.pem, key.pem), or tls: FOLDER in the host's "
            "paddlectl.yaml entry",
        )
    missing = [name for name in TLS_FILES if not (folder / name).is_file()]
    if missing:
        raise UsageError(
            f"{host.label}: the certificate folder {folder} has no {', '.join(missing)}",
            hint="put the CA (ca.pem) and your client certificate and key (cert.pem, key.pem) there",
        )
    ca, cert, key = (str(folder / name) for name in TLS_FILES)
    return ca, cert, key
