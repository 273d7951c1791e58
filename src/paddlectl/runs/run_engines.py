"""The engines a command's runs live on: the default one, and the host each run's manifest names.

A run trained on `gpu-box` is stopped, reconciled, fetched from and cleaned up on `gpu-box`, whatever DOCKER_HOST
says today. `RunEngines` connects to each engine the first time a run needs it and keeps that connection for the
rest of the command (one ssh login per host per command); an engine that could not be reached is not tried again.
It is callable, giving the default engine, so it goes wherever an engine factory does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paddlectl.engine.hosts import EngineHost, HostEntry, host_of_record, resolve_host
from paddlectl.errors import PaddlectlError, UnavailableError

if TYPE_CHECKING:
    from paddlectl.engine.protocol import ContainerEngine
    from paddlectl.project.workspace import Project
    from paddlectl.runs.manifest import Manifest

_DEFAULT = "<default>"


def host_entries(project: Project) -> dict[str, HostEntry]:
    """paddlectl.yaml's `hosts:` as engine entries (a certificate folder relative to the project's root)."""
    entries = {}
    for name, entry in project.config.document.hosts.items():
        tls = Path(entry.tls).expanduser() if entry.tls else None
        if tls is not None and not tls.is_absolute():
            tls = project.root / tls
        gpus = str(entry.gpus) if entry.gpus is not None else None
        entries[name] = HostEntry(url=entry.url, tls=tls, gpus=gpus)
    return entries


class RunEngines:
    """One connection per engine for a command: the default engine and the hosts runs were recorded on."""

    def __init__(
        self,
        connect: Callable[[EngineHost], ContainerEngine] | None,
        entries: Mapping[str, HostEntry] | None = None,
        default: Callable[[], ContainerEngine] | None = None,
        default_host: Callable[[], EngineHost] | None = None,
    ) -> None:
        """`connect` reaches a host (None: only the default engine is reachable, as with a plain factory)."""
        self._connect = connect
        self._entries = dict(entries or {})
        self._default = default
        self._default_host = default_host or (lambda: resolve_host(None, self._entries))
        self._engines: dict[str, ContainerEngine] = {}
        self._failures: dict[str, PaddlectlError] = {}

    @classmethod
    def of(cls, engines: RunEngines | Callable[[], ContainerEngine] | ContainerEngine) -> RunEngines:
        """`engines` itself, or a RunEngines around a plain engine factory or engine (its runs: local ones only)."""
        if isinstance(engines, RunEngines):
            return engines
        if callable(engines):
            return cls(None, default=engines)
        engine = engines
        return cls(None, default=lambda: engine)

    def __call__(self) -> ContainerEngine:
        """The default engine (DOCKER_HOST, the docker context, the local socket)."""
        if self._default is not None:
            return self._get(_DEFAULT, self._default)
        host = self._default_host()
        return self._get(host.url, lambda: self._reach(host))

    def for_record(self, record: Mapping[str, Any] | None, run_id: str = "") -> ContainerEngine:
        """The engine a manifest's `engine` record names (the default one for runs recorded before hosts).

        Raises PaddlectlError when that engine cannot be reached (once per engine: later calls raise it again).
        """
        host = host_of_record(record or {}, self._entries)
        if host is None:
            return self()
        if self._connect is None:  # a plain engine (factory): the run's engine only if it is that one
            engine = self()
            if engine.host.public_url != host.public_url:
                raise UnavailableError(f"run {run_id} ran on {host.label}, not on {engine.host.label}")
            return engine
        return self._get(host.url, lambda: self._reach(host))

    def for_manifest(self, manifest: Manifest) -> ContainerEngine:
        return self.for_record(manifest.engine.address(), manifest.id)

    def hosts(self) -> Mapping[str, HostEntry]:
        return self._entries

    def forget_failures(self) -> None:
        """Try unreachable engines again (a follower that checks every few seconds, after an engine restart)."""
        self._failures.clear()

    def _reach(self, host: EngineHost) -> ContainerEngine:
        if self._connect is None:
            raise UnavailableError(f"{host.label}: this command does not connect to other engines")
        return self._connect(host)

    def _get(self, key: str, make: Callable[[], ContainerEngine]) -> ContainerEngine:
        if key in self._failures:
            raise self._failures[key]
        engine = self._engines.get(key)
        if engine is None:
            try:
                engine = self._engines[key] = make()
            except PaddlectlError as error:
                self._failures[key] = error
                raise
        return engine


def remote_hosts_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The distinct remote engine records among index rows (their `engine`), in the order first seen."""
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        record = row.get("engine")
        if isinstance(record, dict) and record.get("remote") and record.get("url"):
            seen.setdefault(str(record["url"]), record)
    return list(seen.values())
