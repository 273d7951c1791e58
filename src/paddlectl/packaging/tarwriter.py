"""A tar writer whose bytes depend only on the names, the contents and one fixed mtime.

Headers are plain ustar (names are checked to fit, so no pax or GNU records), uid/gid 0, no user or group
names, mode 0644; the archive ends with two zero blocks padded to tar's 10240-byte record, as GNU tar does.
"""

from __future__ import annotations

import hashlib
import tarfile
from typing import BinaryIO, Protocol

from paddlectl.errors import UsageError
from paddlectl.packaging.checksums import BackgroundSha256
from paddlectl.packaging.layout import CHUNK_SIZE

BLOCK_SIZE = tarfile.BLOCKSIZE
RECORD_SIZE = tarfile.RECORDSIZE


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class ArchiveSink:
    """Where the archive's bytes go: the output file, and the archive's own sha256 computed on another core."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._digest = BackgroundSha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._handle.write(data)
        self._digest.update(data)
        self.size += len(data)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()

    def close(self) -> None:
        self._digest.close()


class DeterministicTarWriter:
    def __init__(self, sink: ArchiveSink, mtime: int) -> None:
        self._sink = sink
        self._mtime = mtime

    def _header(self, name: str, size: int) -> bytes:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = self._mtime
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.type = tarfile.REGTYPE
        return info.tobuf(tarfile.USTAR_FORMAT, "ascii", "strict")

    def _pad(self, size: int) -> None:
        remainder = size % BLOCK_SIZE
        if remainder:
            self._sink.write(bytes(BLOCK_SIZE - remainder))

    def add_bytes(self, name: str, data: bytes) -> str:
        """Add a small in-memory file; return its sha256."""
        self._sink.write(self._header(name, len(data)))
        self._sink.write(data)
        self._pad(len(data))
        return hashlib.sha256(data).hexdigest()

    def add_stream(self, name: str, handle: Readable, size: int) -> str:
        """Stream exactly `size` bytes of `handle` into the archive, hashing them on the way; return the sha256.

        Raises UsageError when the file turns out shorter or longer than `size` (it changed while packaging).
        """
        digest = hashlib.sha256()
        self._sink.write(self._header(name, size))
        remaining = size
        while remaining:
            chunk = handle.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                raise UsageError(f"{name} shrank while being packaged", hint="wait for the export to finish")
            digest.update(chunk)
            self._sink.write(chunk)
            remaining -= len(chunk)
        if handle.read(1):
            raise UsageError(f"{name} grew while being packaged", hint="wait for the export to finish")
        self._pad(size)
        return digest.hexdigest()

    def close(self) -> None:
        """Write the end-of-archive blocks and pad to a whole record."""
        end = self._sink.size + 2 * BLOCK_SIZE
        self._sink.write(bytes(2 * BLOCK_SIZE + (-end % RECORD_SIZE)))
