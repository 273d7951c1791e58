"""Unpack a package: verify while extracting into a private folder, publish it with one rename only when clean.

Reading and verifying happen in the same single pass, so the bytes written are the bytes verified (no window to
swap the archive between a check and an extraction). Members are written by this code with O_EXCL|O_NOFOLLOW
into a fresh folder next to DIR; links, devices, paths and '..' are never created, only refused.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from paddlectl.errors import UsageError
from paddlectl.foundation.atomic import fsync_dir
from paddlectl.packaging import signing
from paddlectl.packaging.errors import TamperedError
from paddlectl.packaging.layout import unsafe_name_reason
from paddlectl.packaging.reader import scan_archive
from paddlectl.packaging.verify import VerifyReport, evaluate


@dataclass(frozen=True)
class UnpackResult:
    directory: Path
    report: VerifyReport


class _DirectoryStore:
    """Creates each member as a new regular file directly inside one folder, relative to its descriptor."""

    def __init__(self, directory: Path) -> None:
        self._fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)

    def create(self, name: str) -> BinaryIO:
        if unsafe_name_reason(name):  # the reader refuses these first; never trust one check alone
            raise TamperedError(f"refusing to write {name!r}", hint="do not use this package")
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=self._fd)
        return os.fdopen(fd, "wb")

    def close(self) -> None:
        os.close(self._fd)


def _check_destination(dest: Path) -> None:
    # DIR is replaced by a rename at the end: never the working folder itself (its shell would be left behind).
    if dest.name in ("", ".", "..") or dest.resolve() == Path.cwd().resolve():
        raise UsageError(f"cannot unpack into {dest}", hint="name a new folder, e.g. ./model")
    if dest.is_symlink():
        raise UsageError(f"{dest} is a symbolic link", hint="name a new folder")
    if dest.exists():
        if not dest.is_dir():
            raise UsageError(f"{dest} exists and is not a folder", hint="name a new or empty folder")
        if any(dest.iterdir()):
            raise UsageError(f"{dest} is not empty", hint="name a new or empty folder")
    if dest.parent.exists() and not dest.parent.is_dir():
        raise UsageError(f"{dest.parent} is a file, not a folder", hint="name a folder whose parent is a folder")
    if not dest.parent.is_dir():
        raise UsageError(f"{dest.parent} does not exist", hint=f"create it first: mkdir -p {dest.parent}")


def unpack_package(path: Path, dest: Path, key: Path | None = None) -> UnpackResult:
    """Verify and extract the package at `path` into the new or empty folder `dest`.

    Raises UsageError for an unusable destination or unreadable package, TamperedError for any mismatch or
    unsafe member, UnsignedError when `key` is given and the package is unsigned; then `dest` is as it was.
    """
    public_key = signing.load_public_key(key) if key is not None else None
    _check_destination(dest)
    dest = Path.cwd() / dest
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".unpacking", dir=dest.parent))
    try:
        store = _DirectoryStore(staging)
        try:
            scan = scan_archive(path, store)
        finally:
            store.close()
        report = evaluate(path, scan, public_key)
        report.raise_for_problems()
        os.chmod(staging, 0o755)  # noqa: S103 - mkdtemp's 0700 would hide the model from its users
        try:
            os.rename(staging, dest)  # replaces an empty folder in one step; fails if it filled up meanwhile
        except OSError as exc:
            raise UsageError(f"cannot create {dest}: {exc.strerror}", hint="name a new or empty folder") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    fsync_dir(dest.parent)
    return UnpackResult(directory=dest, report=report)
