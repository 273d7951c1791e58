"""Small records for a run's manifest: the host it ran on, the engine that ran it and the artifacts it left."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paddlectl import __version__
from paddlectl.foundation.hashing import sha256_file

if TYPE_CHECKING:
    from paddlectl.engine.protocol import ContainerEngine


def artifact_records(outputs: Path) -> list[dict[str, Any]]:
    """Every regular file under the run's outputs/, with its size and sha256, sorted by path."""
    records = []
    for folder, _, files in os.walk(outputs):
        for name in files:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            records.append(
                {"path": path.relative_to(outputs).as_posix(), "size": path.stat().st_size, "sha256": sha256_file(path)}
            )
    return sorted(records, key=lambda record: str(record["path"]))


def host_record(docker_version: str | None) -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()}",
        "platform": platform.platform(terse=True),
        "docker_version": docker_version,
        "paddlectl_version": __version__,
        "python": platform.python_version(),
    }


def engine_record(engine: ContainerEngine) -> dict[str, Any]:
    """Which engine ran the container: how to reach it again (runs/run_engines.py) and what it was."""
    info = engine.info()
    return {**engine.host.record(), "id": info.id or None, "version": info.server_version}
