"""Crash-safe file writes: a reader sees the old file or the new one, never a torn one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """Write `data` to `path` through a temporary file in the same folder, fsync, os.replace, fsync the folder.

    Raises OSError (e.g. ENOSPC) with the old file untouched and no temporary file left behind.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_dir(directory)


COPY_CHUNK = 1 << 20


def copy_verified(
    source: Path, dest: Path, sha256: str, mode: int = 0o644, partial_suffix: str = ".part"
) -> str | None:
    """Copy `source` to `dest` as `write_atomic` writes, hashing the bytes as they go; install it only when they
    hash to `sha256`.

    Returns None when the copy is in place, else the sha256 the bytes had (nothing written then: the source changed
    while it was read, or is not what it should be). Raises OSError with no temporary file left behind.
    """
    import hashlib

    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=partial_suffix, dir=dest.parent)
    try:
        digest = hashlib.sha256()
        with open(source, "rb") as reader, os.fdopen(fd, "wb") as writer:
            while chunk := reader.read(COPY_CHUNK):
                digest.update(chunk)
                writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
        if digest.hexdigest() != sha256:
            os.unlink(tmp_name)
            return digest.hexdigest()
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_dir(dest.parent)
    return None
