"""Small records for a run's manifest: the host it ran on and the artifacts it left."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path
from typing import Any

from paddlectl import __version__
from paddlectl.foundation.hashing import sha256_file


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
