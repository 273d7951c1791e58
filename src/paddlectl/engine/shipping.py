"""Files into and out of a container whose engine cannot see this machine's files (a remote host).

On a remote engine a bind mount of a local path is resolved on the engine's host, where the daemon silently
creates an empty folder (docker/for-linux#1043) and the run trains on nothing. So there, every mount of a local
path becomes an upload: one tar archive, written to a temporary file and extracted at `/` with `put_archive`
between create and start; a writable folder (outputs) also becomes a download, fetched with `get_archive` once the
container has ended (engines copy out of stopped containers too). Mounts whose source names a path on the engine's
host (`train --mount` there) stay bind mounts.

Ownership follows the bind mounts' behaviour: everything belongs to the container's user (the invoking user's
uid:gid); a read-only mount becomes files and folders without write permission. Downloads are extracted without
trusting the archive: absolute paths, `..`, links and devices are skipped, never written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import stat
import tarfile
import tempfile
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from paddlectl.engine.protocol import Container, ContainerSpec, Mount
from paddlectl.errors import ExitCode, PaddlectlError

WARN_UPLOAD_BYTES = 100 * 1024**2  # a code upload over this is said (datasets belong on the host, --mount)
_COPY_CHUNK = 1 << 20


@dataclass(frozen=True)
class Upload:
    """A local file or folder that a container gets at `target` (what a bind mount would have shown)."""

    source: Path
    target: str
    read_only: bool = True
    files: tuple[str, ...] | None = None  # a folder's files to send (a source tree); None: all of it


@dataclass(frozen=True)
class Download:
    """A folder of the container fetched into a local folder when the container has ended."""

    target: str
    destination: Path


@dataclass(frozen=True)
class Shipment:
    """A container spec without its local mounts, and the files that replace them."""

    spec: ContainerSpec
    uploads: tuple[Upload, ...]
    downloads: tuple[Download, ...]


@dataclass
class Transfer:
    """What one upload or download moved."""

    files: int = 0
    bytes: int = 0
    largest: list[tuple[int, str]] = field(default_factory=list)  # (size, path) of the biggest files sent
    skipped: list[str] = field(default_factory=list)  # archive members not written (links, devices, unsafe names)


def shipment_for(
    spec: ContainerSpec, *, keep: Collection[str] = (), trees: Mapping[str, Iterable[str]] | None = None
) -> Shipment:
    """Turn every mount of `spec` whose target is not in `keep` into an upload (and a writable folder into a
    download); `trees` names, per target, the only files of that folder to send (a source tree, never fetched)."""
    trees = dict(trees or {})
    kept: list[Mount] = []
    uploads: list[Upload] = []
    downloads: list[Download] = []
    for mount in spec.mounts:
        if mount.target in keep:
            kept.append(mount)
            continue
        tree = trees.get(mount.target)
        uploads.append(
            Upload(Path(mount.source), mount.target, mount.read_only, tuple(tree) if tree is not None else None)
        )
        if not mount.read_only and tree is None:
            downloads.append(Download(mount.target, Path(mount.source)))
    return Shipment(dataclasses.replace(spec, mounts=kept, labels=dict(spec.labels)), tuple(uploads), tuple(downloads))


def owner_of(user: str | None) -> tuple[int, int]:
    """The numeric uid and gid a container runs as (`uid:gid`); root for a name or none."""
    uid, _, gid = (user or "").partition(":")
    if not uid.isdigit():
        return 0, 0
    return int(uid), int(gid) if gid.isdigit() else int(uid)


def write_archive(uploads: Iterable[Upload], owner: tuple[int, int], sink: BinaryIO) -> Transfer:
    """Write one tar archive (rooted at `/`) holding every upload, owned by `owner`; return what it holds.

    Raises PaddlectlError (exit 74) when a local file cannot be read.
    """
    transfer = Transfer()
    made: set[str] = set()
    with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for upload in uploads:
            target = PurePosixPath(upload.target).relative_to("/")
            for parent in reversed(target.parents[:-1]):  # /paddlectl for /paddlectl/lib: root's, as docker makes it
                _add_dir(archive, str(parent), (0, 0), 0o755, made)
            try:
                if upload.source.is_dir():
                    _add_tree(archive, upload, str(target), owner, made, transfer)
                else:
                    _add_file(archive, upload.source, str(target), owner, upload.read_only, transfer)
            except OSError as exc:
                raise PaddlectlError(
                    f"cannot read {exc.filename or upload.source} to send it to the container: {exc.strerror}",
                    hint="check the file's permissions",
                    code=ExitCode.IO,
                ) from exc
    transfer.largest.sort(reverse=True)
    del transfer.largest[5:]
    return transfer


def _add_dir(archive: tarfile.TarFile, name: str, owner: tuple[int, int], mode: int, made: set[str]) -> None:
    if name in made:
        return
    made.add(name)
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.uid, info.gid = owner
    info.mode = mode
    archive.addfile(info)


def _add_tree(
    archive: tarfile.TarFile,
    upload: Upload,
    target: str,
    owner: tuple[int, int],
    made: set[str],
    transfer: Transfer,
) -> None:
    folder_mode = 0o555 if upload.read_only else 0o755
    _add_dir(archive, target, owner, folder_mode, made)
    names = upload.files if upload.files is not None else _all_files(upload.source)
    for name in names:
        relative = PurePosixPath(name)
        for parent in reversed(relative.parents[:-1]):
            _add_dir(archive, f"{target}/{parent}", owner, folder_mode, made)
        source = upload.source / relative
        if source.is_symlink():
            info = tarfile.TarInfo(f"{target}/{relative}")
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(source)
            info.uid, info.gid = owner
            archive.addfile(info)
        elif source.is_file():
            _add_file(archive, source, f"{target}/{relative}", owner, upload.read_only, transfer, name)


def _all_files(folder: Path) -> list[str]:
    found: list[str] = []
    for current, dirs, files in os.walk(folder):
        dirs[:] = [name for name in dirs if name != "__pycache__"]
        found.extend((Path(current) / name).relative_to(folder).as_posix() for name in files)
    return sorted(found)


def _add_file(
    archive: tarfile.TarFile,
    source: Path,
    name: str,
    owner: tuple[int, int],
    read_only: bool,
    transfer: Transfer,
    shown: str | None = None,
) -> None:
    with open(source, "rb") as handle:
        status = os.fstat(handle.fileno())
        info = tarfile.TarInfo(name)
        info.size = status.st_size
        info.mtime = int(status.st_mtime)
        mode = stat.S_IMODE(status.st_mode) & 0o777
        info.mode = mode & ~0o222 if read_only else mode
        info.uid, info.gid = owner
        archive.addfile(info, handle)
    transfer.files += 1
    transfer.bytes += status.st_size
    transfer.largest.append((status.st_size, shown or source.name))


def upload(container: Container, uploads: Iterable[Upload], owner: tuple[int, int]) -> Transfer:
    """Send every upload into a created container in one archive; raises PaddlectlError when it fails."""
    with tempfile.TemporaryFile(prefix="paddlectl-upload-") as spool:
        transfer = write_archive(uploads, owner, spool)
        container.put_archive("/", spool)
    return transfer


def download(container: Container, item: Download) -> Transfer:
    """Fetch a folder of an ended container into its local destination (files there of the same name are replaced).

    Raises PaddlectlError when the engine cannot send it (the container is kept by the caller then) or the local
    folder cannot be written (exit 74).
    """
    transfer = Transfer()
    stream = container.get_archive(item.target)
    if stream is None:  # the script removed the folder: nothing to fetch
        return transfer
    item.destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=_ChunkReader(stream), mode="r|") as archive:
        for member in archive:
            relative = _inside(member.name)
            if relative is None:
                continue  # the folder itself
            if relative == "" or not (member.isdir() or member.isreg()):
                transfer.skipped.append(member.name)
                continue
            _extract(archive, member, item.destination / relative, transfer)
    return transfer


def _inside(name: str) -> str | None:
    """A member's path below the archive's top folder; "" for a name that must not be written; None for the top."""
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or ".." in parts:
        return ""
    return "/".join(parts[1:]) if len(parts) > 1 else None


def _extract(archive: tarfile.TarFile, member: tarfile.TarInfo, path: Path, transfer: Transfer) -> None:
    try:
        if member.isdir():
            path.mkdir(parents=True, exist_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        source = archive.extractfile(member)
        assert source is not None
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as sink:
                while chunk := source.read(_COPY_CHUNK):
                    sink.write(chunk)
            os.chmod(temporary, stat.S_IMODE(member.mode) & 0o777)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        raise PaddlectlError(
            f"cannot write {path} fetched from the container: {exc.strerror}",
            hint=f"free space or fix permissions in {path.parent}; the container is kept until it is fetched",
            code=ExitCode.IO,
        ) from exc
    transfer.files += 1
    transfer.bytes += member.size


class _ChunkReader(io.RawIOBase):
    """A readable stream over an iterator of byte chunks (get_archive's), for tarfile's streaming mode."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def size_warning(transfer: Transfer, where: str, limit: int = WARN_UPLOAD_BYTES) -> str | None:
    """The warning for an upload over `limit`: how big, the biggest files, and what to do (None under it)."""
    if transfer.bytes <= limit:
        return None
    from paddlectl.foundation.sizes import human_size

    biggest = ", ".join(f"{name} ({human_size(size)})" for size, name in transfer.largest[:3])
    return (
        f"sent {human_size(transfer.bytes)} in {transfer.files} files to {where} (largest: {biggest}): git-ignore "
        "what the run does not need, and keep datasets on the host (--mount names paths there)"
    )
