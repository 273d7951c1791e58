"""The content-addressed blob store: `blobs/sha256/ab/<sha256>`, each written whole or not at all.

A blob is copied to a temporary name in its final folder while its sha256 is computed, fsynced, made read-only,
renamed into place, and the folder fsynced: a crash leaves either no blob or the whole one (plus, at worst, a
`.part` file that `registry verify --fix` sweeps).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

from paddlectl.errors import UsageError
from paddlectl.foundation.atomic import copy_verified, fsync_dir
from paddlectl.packaging.errors import TamperedError

CHUNK = 1 << 20
PARTIAL_SUFFIX = ".part"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root  # .../blobs

    def path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise UsageError(f"not a sha256: {sha256!r}", hint="64 lower-case hex digits")
        return self.root / "sha256" / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def _folder(self, sha256: str) -> Path:
        folder = self.path(sha256).parent
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            fsync_dir(folder.parent)  # the new folder's own entry must survive a crash too
        return folder

    def put(self, source: Path, sha256: str) -> None:
        """Copy `source` in as blob `sha256`; TamperedError when its bytes hash to something else.

        An existing blob of that name is replaced rather than trusted: a damaged copy never survives a new put.
        """
        self._folder(sha256)  # made, and its entry synced, before the copy lands in it
        # Read-only (0444): blobs are never edited in place.
        found = copy_verified(source, self.path(sha256), sha256, mode=0o444, partial_suffix=PARTIAL_SUFFIX)
        if found is not None:
            raise TamperedError(
                f"{source} changed while it was being copied into the registry (sha256 {found})",
                hint="do not change a package while it is registered; register it again",
            )

    def remove(self, sha256: str) -> None:
        path = self.path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        fsync_dir(path.parent)

    def stored(self) -> Iterator[str]:
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for folder in sorted(base.iterdir()):
            if folder.is_dir():
                for entry in sorted(folder.iterdir()):
                    if _SHA256.fullmatch(entry.name) and entry.name.startswith(folder.name):
                        yield entry.name

    def sweep_partial(self, older_than_seconds: float) -> list[str]:
        base = self.root / "sha256"
        removed: list[str] = []
        if not base.is_dir():
            return removed
        cutoff = time.time() - older_than_seconds
        for partial in sorted(base.glob(f"*/.*{PARTIAL_SUFFIX}")):
            with contextlib.suppress(FileNotFoundError):
                if partial.stat().st_mtime < cutoff:
                    partial.unlink()
                    removed.append(str(partial.relative_to(self.root)))
        return removed
