"""Read a package once, strictly: every header, every content byte, every padding byte is accounted for.

Not tarfile's iterator: it stops silently at a damaged header after the first one, skips padding unseen, and
follows pax, GNU and link records this format never needs. Here a member is a ustar regular file with a plain
name, or it is refused; padding and the end of the archive must be zeros. Headers are parsed (and their
checksums checked) by tarfile.TarInfo.frombuf.
"""

from __future__ import annotations

import hashlib
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from paddlectl.errors import ExitCode, PaddlectlError, UsageError
from paddlectl.foundation.display import printable
from paddlectl.packaging.checksums import BackgroundSha256
from paddlectl.packaging.layout import CHUNK_SIZE, RESERVED_NAMES, unsafe_name_reason

BLOCK_SIZE = tarfile.BLOCKSIZE
POSIX_MAGIC = b"ustar\x0000"
NOT_USTAR = "not a POSIX ustar header"  # a member another tar wrote (GNU tar's default format)
SMALL_FILE_LIMIT = 16 << 20  # MODEL.yaml, SHA256SUMS, SHA256SUMS.sig are kept in memory
_KINDS = {
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.LNKTYPE: "a hard link",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a fifo",
    tarfile.DIRTYPE: "a folder",
    tarfile.CONTTYPE: "a contiguous file",
    tarfile.XHDTYPE: "a pax header",
    tarfile.XGLTYPE: "a pax global header",
    tarfile.SOLARIS_XHDTYPE: "a pax header",
    tarfile.GNUTYPE_LONGNAME: "a GNU long name",
    tarfile.GNUTYPE_LONGLINK: "a GNU long link",
    tarfile.GNUTYPE_SPARSE: "a sparse file",
}


@dataclass(frozen=True)
class Problem:
    file: str | None  # the member (or package file) at fault; None for the archive as a whole
    reason: str
    code: ExitCode = ExitCode.TAMPERED

    def __str__(self) -> str:
        """One line, whatever the member's name holds (a crafted archive may name one with line breaks)."""
        return f"{printable(self.file)}: {self.reason}" if self.file else self.reason


@dataclass(frozen=True)
class ScannedFile:
    name: str
    size: int
    sha256: str


@dataclass
class Scan:
    sha256: str = ""
    size: int = 0
    files: dict[str, ScannedFile] = field(default_factory=dict)  # accepted members, in archive order
    small: dict[str, bytes] = field(default_factory=dict)  # contents of the reserved files
    problems: list[Problem] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # every member's name, refused ones included
    complete: bool = False  # every header read intact, up to a clean end-of-archive marker


class MemberSink(Protocol):
    def write(self, data: bytes, /) -> object: ...

    def close(self) -> None: ...


class MemberStore(Protocol):
    """Where accepted members' contents go while they are read (unpack); verify reads without one."""

    def create(self, name: str) -> MemberSink: ...


class _HashingReader:
    """Reads the archive in order, feeding every byte to the archive's sha256 (on another core)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._digest = BackgroundSha256()
        self.offset = 0

    def read(self, size: int) -> bytes:
        parts = []
        wanted = size
        while wanted:
            data = self._handle.read(wanted)
            if not data:
                break
            parts.append(data)
            wanted -= len(data)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        self._digest.update(data)
        self.offset += len(data)
        return data

    def rest_is_zero(self) -> bool:
        zero = True
        while chunk := self.read(CHUNK_SIZE):
            zero = zero and chunk.count(0) == len(chunk)
        return zero

    def hexdigest(self) -> str:
        return self._digest.hexdigest()

    def close(self) -> None:
        self._digest.close()


def _canonical_checksum(header: bytes) -> bool:
    """Whether the checksum field reads exactly as tar writes it: six octal digits, NUL, space.

    Its bytes are outside the sum they hold, so a flip there (a NUL turned space, the trailing space) would
    otherwise go unnoticed.
    """
    unsigned_sum = 8 * 0x20 + sum(header[:148]) + sum(header[156:])  # the field counted as eight spaces
    return header[148:156] == b"%06o\x00 " % unsigned_sum


def _first_header_error(path: Path, header: bytes) -> UsageError:
    if header.startswith(b"\x1f\x8b"):
        return UsageError(f"{path} is gzip-compressed", hint="paddlectl packages are plain .tar: gunzip it first")
    if not header:
        return UsageError(f"{path} is empty", hint="pass a package built by paddlectl package")
    return UsageError(f"{path} is not a tar archive", hint="pass a package built by paddlectl package")


def _read_member(reader: _HashingReader, name: str, size: int, sink: MemberSink | None, scan: Scan) -> bool:
    """Stream one member's content; False when the archive ends inside it."""
    digest = hashlib.sha256()
    keep = name in RESERVED_NAMES
    kept: list[bytes] = []
    remaining = size
    while remaining:
        chunk = reader.read(min(CHUNK_SIZE, remaining))
        if chunk:
            digest.update(chunk)
            if sink is not None:
                sink.write(chunk)
            if keep and size <= SMALL_FILE_LIMIT:
                kept.append(chunk)
        if len(chunk) < min(CHUNK_SIZE, remaining):
            scan.problems.append(Problem(name, "the archive ends inside this file (truncated)"))
            return False
        remaining -= len(chunk)
    if keep:
        if size > SMALL_FILE_LIMIT:
            scan.problems.append(Problem(name, f"is {size} bytes, too large for what it should be"))
        else:
            scan.small[name] = b"".join(kept)
    scan.files[name] = ScannedFile(name, size, digest.hexdigest())
    return True


def _refusal(info: tarfile.TarInfo, header: bytes, seen: dict[str, ScannedFile]) -> str | None:
    if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
        return f"unsafe member: {_KINDS.get(info.type, f'type {info.type!r}')}, only regular files are allowed"
    reason = unsafe_name_reason(info.name)
    if reason:
        return f"unsafe member: {reason}"
    if header[257:265] != POSIX_MAGIC:
        return NOT_USTAR
    if info.name in seen:
        return "appears twice in the archive"
    return None


def _skip(reader: _HashingReader, size: int) -> bool:
    while size:
        chunk = reader.read(min(CHUNK_SIZE, size))
        if not chunk:
            return False
        size -= len(chunk)
    return True


def scan_archive(path: Path, store: MemberStore | None = None) -> Scan:
    """Read the package at `path` once; accepted members go to `store` when given.

    Raises UsageError when the file cannot be read or is not a tar archive at all; everything wrong inside a
    tar archive is collected as a Problem instead, so verify can name every bad file.
    """
    try:
        handle = open(path, "rb", buffering=0)  # noqa: SIM115 - closed below, after the reader
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", hint="check the path") from exc
    scan = Scan()
    reader = _HashingReader(handle)
    try:
        with handle:
            _scan_members(path, reader, store, scan)
            scan.size = reader.offset
            scan.sha256 = reader.hexdigest()
    except IsADirectoryError as exc:
        raise UsageError(f"{path} is a folder", hint="pass the package's .tar file") from exc
    except OSError as exc:  # a read the system refused half-way (an I/O error, a special file)
        raise PaddlectlError(
            f"cannot read {path}: {exc.strerror or exc}", hint="check the file and the disk", code=ExitCode.IO
        ) from exc
    finally:
        reader.close()
    return scan


def _parse_header(path: Path, reader: _HashingReader, header: bytes, last: str, scan: Scan) -> tarfile.TarInfo | None:
    """The header's TarInfo; None (with a problem recorded, the rest of the archive read) when it is damaged."""
    try:
        info = tarfile.TarInfo.frombuf(header, "ascii", "strict")
        if not _canonical_checksum(header):
            raise tarfile.HeaderError("checksum field not in canonical form")
    except (tarfile.HeaderError, UnicodeDecodeError, ValueError):
        if reader.offset == BLOCK_SIZE and header[257:262] != b"ustar":
            raise _first_header_error(path, header) from None
        name = header[:100].split(b"\0", 1)[0].decode("ascii", "replace")
        scan.problems.append(
            Problem(name if unsafe_name_reason(name) is None else None, f"damaged tar header (after {last})")
        )
        reader.rest_is_zero()  # read to the end so the archive's sha256 is still complete
        return None
    if info.size < 0:
        scan.problems.append(Problem(info.name, "negative size in its header"))
        return None
    return info


def _scan_members(path: Path, reader: _HashingReader, store: MemberStore | None, scan: Scan) -> None:
    last = "the start"
    while True:
        header = reader.read(BLOCK_SIZE)
        if _archive_ends(path, reader, header, last, scan):
            return
        info = _parse_header(path, reader, header, last, scan)
        if info is None or not _take_member(reader, info, header, store, scan) or not _read_padding(reader, info, scan):
            return
        last = info.name


def _archive_ends(path: Path, reader: _HashingReader, header: bytes, last: str, scan: Scan) -> bool:
    """Is `header` where the archive ends (cut short, or the end-of-archive zero blocks)? Records what is wrong.

    Raises UsageError (_first_header_error) when that is its first block: then the file is not an archive at all.
    """
    if len(header) < BLOCK_SIZE:
        if reader.offset == len(header):
            raise _first_header_error(path, header)
        scan.problems.append(Problem(None, f"the archive ends after {last} without an end marker (truncated)"))
        return True
    if header.count(0) != BLOCK_SIZE:
        return False
    if reader.offset == BLOCK_SIZE:
        raise _first_header_error(path, b"\0")
    if reader.rest_is_zero():
        scan.complete = True
    else:
        scan.problems.append(Problem(None, f"data after the end-of-archive marker (after {last})"))
    return True


def _take_member(
    reader: _HashingReader, info: tarfile.TarInfo, header: bytes, store: MemberStore | None, scan: Scan
) -> bool:
    """Read an acceptable member (into `store` when given), skip a refused one; False when the archive ends inside."""
    scan.names.append(info.name)
    reason = _refusal(info, header, scan.files)
    if reason:
        scan.problems.append(Problem(info.name, reason))
        if _skip(reader, info.size):
            return True
        scan.problems.append(Problem(info.name, "the archive ends inside this member (truncated)"))
        return False
    sink = store.create(info.name) if store is not None else None
    try:
        return _read_member(reader, info.name, info.size, sink, scan)
    finally:
        if sink is not None:
            sink.close()


def _read_padding(reader: _HashingReader, info: tarfile.TarInfo, scan: Scan) -> bool:
    """Read the zeros after a member up to the next block; False when the archive ends inside them."""
    padding = reader.read(-info.size % BLOCK_SIZE)
    if len(padding) < -info.size % BLOCK_SIZE:
        scan.problems.append(Problem(None, f"the archive ends after {info.name} (truncated)"))
        return False
    if padding.count(0) != len(padding):
        scan.problems.append(Problem(info.name, "the padding after this file is not zero"))
    return True
