"""Small records for a run's manifest: the host it ran on, the engine that ran it and the artifacts it left."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from paddlectl import __version__
from paddlectl.foundation.hashing import sha256_file
from paddlectl.runs.manifest import ArtifactRecord, EngineRecord, HostRecord

if TYPE_CHECKING:
    from paddlectl.engine.protocol import ContainerEngine


def artifact_records(outputs: Path) -> list[ArtifactRecord]:
    """Every regular file under the run's outputs/, with its size and sha256, sorted by path."""
    records = []
    for folder, _, files in os.walk(outputs):
        for name in files:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            records.append(ArtifactRecord(path.relative_to(outputs).as_posix(), path.stat().st_size, sha256_file(path)))
    return sorted(records, key=lambda record: record.path)


def host_record(docker_version: str | None) -> HostRecord:
    return HostRecord(
        hostname=socket.gethostname(),
        os=f"{platform.system()} {platform.release()}",
        platform=platform.platform(terse=True),
        docker_version=docker_version,
        paddlectl_version=__version__,
        python=platform.python_version(),
    )


def engine_record(engine: ContainerEngine) -> EngineRecord:
    """Which engine ran the container: how to reach it again (runs/run_engines.py) and what it was."""
    info = engine.info()
    host = engine.host
    return EngineRecord(
        name=host.name,
        url=host.public_url,
        remote=host.remote,
        tls_dir=str(host.tls_dir) if host.tls_dir else None,
        id=info.id or None,
        version=info.server_version,
    )
