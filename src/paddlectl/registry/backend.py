"""The storage a registry stands on: versions, statuses, the event log and blobs, behind two small protocols.

Commands, policy and verification live above this line and never touch SQL, files or an HTTP API directly;
`sqlite_backend.SqliteBackend` (one folder) and `mlflow_backend.MlflowBackend` (an MLflow Model Registry) implement
them. What an implementation must guarantee is written on each method; where MLflow cannot (it has no
transactions and no compare-and-set), mlflow_backend.py says what it does instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from paddlectl.packaging.layout import ModelStatus
from paddlectl.registry.model import Event, EventDraft, EventLog, ListedRow, Storage, VersionRecord


class BlobStore(Protocol):
    """Package archives by sha256. A blob is written completely or not at all."""

    def has(self, sha256: str) -> bool: ...

    def put(self, source: Path, sha256: str) -> None:
        """Store the bytes of `source` as blob `sha256`, checking the digest while copying.

        Raises TamperedError (leaving nothing behind) when the bytes copied do not hash to `sha256`.
        """
        ...

    def path(self, sha256: str) -> Path:
        """A local file holding the blob's bytes (it may not exist: check `has`, or handle the OSError)."""
        ...

    def remove(self, sha256: str) -> None:
        """Remove the blob; nothing when it is not there."""
        ...

    def stored(self) -> Iterator[str]:
        """Every blob held, by sha256 (to find garbage: blobs no version points to)."""
        ...

    def sweep_partial(self, older_than_seconds: float) -> list[str]:
        """Remove unfinished writes older than that (a writer killed mid-copy); return what was removed."""
        ...


class RegistryTransaction(Protocol):
    """Reads and writes that commit together or not at all, serialised with every other writer."""

    def get(self, name: str, version: str) -> VersionRecord | None: ...

    def by_sha256(self, sha256: str) -> VersionRecord | None: ...

    def production(self, name: str) -> VersionRecord | None: ...

    def insert(self, record: VersionRecord) -> None:
        """Add a version; its blob must already be stored (a row never points to a missing blob)."""
        ...

    def set_status(self, name: str, version: str, status: ModelStatus) -> None:
        """Change a status. A second production version of one model is refused (IntegrityError-like)."""
        ...

    def set_storage(self, name: str, version: str, storage: Storage, location: str | None) -> None: ...

    def append(self, draft: EventDraft) -> Event:
        """Append an event: the next sequence number, the time now in ns, and the previous event's hash."""
        ...

    def referenced_blobs(self) -> set[str]:
        """The sha256 of every hot version (what a garbage sweep must keep), read under the write lock."""
        ...


class RegistryBackend(Protocol):
    """One registry: where it is, its blobs, and its records."""

    @property
    def location(self) -> str:
        """Where it is, for messages (a folder, a URL without credentials)."""
        ...

    @property
    def blobs(self) -> BlobStore: ...

    def transaction(self) -> AbstractContextManager[RegistryTransaction]:
        """A write transaction. Raises UnavailableError when another writer holds the registry too long."""
        ...

    def get(self, name: str, version: str) -> VersionRecord | None: ...

    def find(self, name: str | None = None, status: ModelStatus | None = None) -> list[VersionRecord]:
        """Versions by name, then by registration order (oldest first)."""
        ...

    def listing(self, name: str | None = None, status: ModelStatus | None = None) -> list[ListedRow]:
        """find()'s rows as stored for listings (VersionRecord.listing_json at insert), in the same order."""
        ...

    def events(self, name: str | None = None) -> list[Event]:
        """The event log in sequence order (never clock order), optionally one model's events only."""
        ...

    def event_logs(self) -> list[EventLog]:
        """Every hash chain with its head as recorded apart from it (a deleted last event shows)."""
        ...

    def close(self) -> None: ...
