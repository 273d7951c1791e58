"""Which Docker engine a command talks to: `--host`, a `hosts:` entry, DOCKER_HOST, the docker context, the socket.

The order is the docker CLI's: an explicit `--host` (a name from paddlectl.yaml's `hosts:` or a URL), else
DOCKER_HOST (with DOCKER_CERT_PATH / DOCKER_TLS_VERIFY), else DOCKER_CONTEXT or `currentContext` in
~/.docker/config.json (its endpoint in ~/.docker/contexts/meta/*/meta.json, its certificates under
contexts/tls/), else the local socket. Pure: reads the environment and those files, never the network.

An engine is *remote* unless it is reached over a unix socket: its containers cannot see this machine's files, so
paddlectl ships files in and out instead of bind-mounting them (engine/shipping.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from paddlectl.errors import UsageError
from paddlectl.foundation.urls import read_url

DEFAULT_SOCKET_URL = "unix:///var/run/docker.sock"
TLS_PORT = 2376  # the engine's TLS port by convention; plain tcp:// is 2375
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")
SCHEMES = ("unix", "ssh", "tcp")


@dataclass(frozen=True)
class HostEntry:
    """One `hosts:` entry of paddlectl.yaml, its paths resolved."""

    url: str
    tls: Path | None = None  # a folder with ca.pem, cert.pem and key.pem
    gpus: str | None = None  # the --gpus a run on this host gets by default


@dataclass(frozen=True)
class EngineHost:
    """A Docker engine to talk to, and how it was chosen."""

    url: str  # unix:///var/run/docker.sock, ssh://user@host[:port], tcp://host:2376
    name: str | None = None  # the hosts: entry or docker context that names it
    tls_dir: Path | None = None  # client certificate folder (tcp:// only)
    tls_verify: bool = True  # check the engine's certificate against ca.pem (a docker context may skip it)
    gpus: str | None = None
    source: str = "default"  # --host, paddlectl.yaml, DOCKER_HOST, docker context NAME, default

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def remote(self) -> bool:
        """Not reached over a unix socket: its containers do not see this machine's files."""
        return self.scheme != "unix"

    @property
    def tls(self) -> bool:
        return self.scheme == "tcp" and (self.tls_dir is not None or urlsplit(self.url).port == TLS_PORT)

    @property
    def public_url(self) -> str:
        """The URL without a password (a user name is not a secret and says whose login it is)."""
        return strip_password(self.url)

    @property
    def label(self) -> str:
        """How messages name it: `gpu-box (ssh://me@10.0.0.5)`, or the URL alone."""
        return f"{self.name} ({self.public_url})" if self.name else self.public_url

    def record(self) -> dict[str, Any]:
        """What a run's manifest keeps to find this engine again (no secret: paths and a URL without password)."""
        return {
            "name": self.name,
            "url": self.public_url,
            "remote": self.remote,
            "tls_dir": str(self.tls_dir) if self.tls_dir else None,
        }


def strip_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}@" if parts.username else ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, parts.query, parts.fragment))


def check_url(url: str, where: str) -> str:
    """A Docker engine URL paddlectl can use; raises UsageError saying which forms work."""
    text = url.strip()
    hint = "use ssh://user@host[:port], tcp://host:2376 (TLS) or unix:///path/to/docker.sock"
    parts, port = read_url(text, f"{where}: the Docker host URL", hint)
    problem = None
    if parts.scheme not in SCHEMES:
        problem = f"unsupported scheme '{parts.scheme or text}'"
    elif parts.scheme == "unix" and not (parts.path or parts.netloc):
        problem = "no socket path"
    elif parts.scheme in ("ssh", "tcp") and not parts.hostname:
        problem = "no host name"
    elif parts.scheme == "ssh" and parts.path not in ("", "/"):
        problem = "an ssh:// URL has no path (the engine is the remote user's default one)"
    elif parts.scheme == "tcp" and port is None:
        problem = f"no port (the engine's TLS port is {TLS_PORT})"
    if problem:
        raise UsageError(f"{where}: {problem} in the Docker host URL '{strip_password(text)}'", hint=hint)
    return text.rstrip("/") if parts.scheme != "unix" else text


def resolve_host(
    option: str | None,
    entries: Mapping[str, HostEntry],
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> EngineHost:
    """The engine a command talks to (see the module docstring for the order).

    Raises UsageError for an unknown host name, a malformed URL or a docker context that does not exist.
    """
    env = os.environ if environ is None else environ
    home = home or Path.home()
    if option:
        if option in entries:
            return _from_entry(option, entries[option], "paddlectl.yaml")
        if "://" not in option:
            known = ", ".join(sorted(entries)) or "none defined"
            raise UsageError(
                f"--host {option}: no such host in paddlectl.yaml (hosts: {known})",
                hint=f"add it under hosts: ({option}: {{url: ssh://user@host}}), or give a URL: "
                "--host ssh://user@host[:port] or --host tcp://host:2376",
            )
        return _from_url(check_url(option, "--host"), entries, env, home, "--host")
    docker_host = env.get("DOCKER_HOST", "").strip()
    if docker_host:
        return _from_url(check_url(docker_host, "DOCKER_HOST"), entries, env, home, "DOCKER_HOST")
    context = _context_host(env, home)
    if context is not None:
        return context
    return EngineHost(DEFAULT_SOCKET_URL)


def host_of_record(record: Mapping[str, Any], entries: Mapping[str, HostEntry]) -> EngineHost | None:
    """The engine a run's manifest says it ran on; None for a run recorded before engines were (the default one).

    The project's entry of the same name (and URL) wins, so a renewed certificate folder is used; else the URL and
    certificate folder recorded.
    """
    if not record or not record.get("url"):
        return None
    url, name = str(record["url"]), record.get("name")
    if not record.get("remote"):
        return EngineHost(url, source="the run's manifest")
    if isinstance(name, str) and name in entries and strip_password(entries[name].url) == url:
        return _from_entry(name, entries[name], "paddlectl.yaml")
    tls_dir = record.get("tls_dir")
    return EngineHost(
        url, name if isinstance(name, str) else None, Path(tls_dir) if tls_dir else None, source="the run's manifest"
    )


def _from_entry(name: str, entry: HostEntry, source: str) -> EngineHost:
    """The engine a `hosts:` entry names; UsageError naming the entry's key for what cannot work."""
    from paddlectl.engine.gpus import parse_gpus

    url = check_url(entry.url, f"paddlectl.yaml hosts.{name}.url")
    if entry.tls is not None and not url.startswith("tcp://"):
        raise UsageError(
            f"paddlectl.yaml hosts.{name}.tls: a certificate folder is for a tcp:// engine, and {url} is not one",
            hint=f"remove hosts.{name}.tls (ssh:// logs in with your ssh keys), or give a tcp://HOST:2376 url",
        )
    if entry.gpus is not None:
        try:
            parse_gpus(entry.gpus)
        except UsageError as error:
            raise UsageError(f"paddlectl.yaml hosts.{name}.gpus: {error.message}", hint=error.hint) from None
    return EngineHost(url, name, entry.tls, gpus=entry.gpus, source=source)


def _from_url(
    url: str, entries: Mapping[str, HostEntry], env: Mapping[str, str], home: Path, source: str
) -> EngineHost:
    for name, entry in entries.items():  # a URL that a hosts: entry has gets its name and certificates
        if entry.url.strip().rstrip("/") == url:
            return _from_entry(name, entry, source)
    return EngineHost(url, None, _env_tls_dir(url, env, home), source=source)


def _env_tls_dir(url: str, env: Mapping[str, str], home: Path) -> Path | None:
    """DOCKER_CERT_PATH, else ~/.docker when DOCKER_TLS_VERIFY is set or the port is the TLS port (tcp:// only)."""
    if urlsplit(url).scheme != "tcp":
        return None
    if env.get("DOCKER_CERT_PATH"):
        return Path(env["DOCKER_CERT_PATH"]).expanduser()
    if env.get("DOCKER_TLS_VERIFY") or urlsplit(url).port == TLS_PORT:
        return _docker_config_dir(env, home)
    return None


def _docker_config_dir(env: Mapping[str, str], home: Path) -> Path:
    return Path(env["DOCKER_CONFIG"]).expanduser() if env.get("DOCKER_CONFIG") else home / ".docker"


def _context_host(env: Mapping[str, str], home: Path) -> EngineHost | None:
    """The active docker context's engine (DOCKER_CONTEXT, else config.json's currentContext), if not `default`."""
    config_dir = _docker_config_dir(env, home)
    name = env.get("DOCKER_CONTEXT", "").strip() or _current_context(config_dir / "config.json")
    if not name or name == "default":
        return None
    for meta_file in sorted((config_dir / "contexts" / "meta").glob("*/meta.json")):
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(meta, dict) or meta.get("Name") != name:
            continue
        endpoint = (meta.get("Endpoints") or {}).get("docker") or {}
        url = str(endpoint.get("Host") or "")
        if not url:
            break
        url = check_url(url, f"docker context {name}")
        tls_dir = config_dir / "contexts" / "tls" / meta_file.parent.name / "docker"
        return EngineHost(
            url,
            name,
            tls_dir if tls_dir.is_dir() else None,
            tls_verify=not endpoint.get("SkipTLSVerify", False),
            source=f"docker context {name}",
        )
    raise UsageError(
        f"the docker context '{name}' (the active one) has no engine endpoint in {config_dir / 'contexts'}",
        hint="list contexts with 'docker context ls'; choose one with 'docker context use NAME', or set DOCKER_HOST",
    )


def _current_context(config_file: Path) -> str:
    try:
        document = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    value = document.get("currentContext") if isinstance(document, dict) else None
    return value.strip() if isinstance(value, str) else ""
