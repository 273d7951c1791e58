"""The embedded backend: one SQLite database (WAL) and a content-addressed blob store in one folder.

Every state change is one `BEGIN IMMEDIATE` transaction, so concurrent writers (other processes) queue on the
database's write lock (up to BUSY_TIMEOUT_SECONDS) instead of interleaving. At most one production version per
model is enforced twice: by the commands inside the transaction, and by a partial unique index. The event log
is append-only (triggers refuse UPDATE and DELETE), and the last sequence number and hash are kept apart from
it, in `meta`, in the same transaction.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from paddlectl.errors import ExitCode, PaddlectlError, UnavailableError, UsageError
from paddlectl.packaging.layout import ModelStatus
from paddlectl.registry.blobs import LocalBlobStore
from paddlectl.registry.model import (
    GENESIS,
    Event,
    EventDraft,
    EventLog,
    ListedRow,
    SignatureCheck,
    Storage,
    VersionRecord,
)

DB_NAME = "registry.db"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_SECONDS = 120.0  # 64 concurrent registers on 2 cores queue well under this

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('staging', 'production', 'archived')),
    storage TEXT NOT NULL CHECK (storage IN ('hot', 'cold')),
    signature TEXT NOT NULL,
    key_fingerprint TEXT,
    registered_by TEXT NOT NULL,
    registered_at_ns INTEGER NOT NULL,
    summary TEXT NOT NULL,
    listing TEXT NOT NULL,
    card TEXT NOT NULL,
    run TEXT,
    cold_location TEXT,
    PRIMARY KEY (name, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS one_production_per_model ON versions (name) WHERE status = 'production';
CREATE INDEX IF NOT EXISTS versions_by_name ON versions (name);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT,
    replaced TEXT,
    note TEXT,
    sha256 TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_model ON events (name, seq);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the registry event log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the registry event log is append-only'); END;
INSERT OR IGNORE INTO meta (key, value) VALUES
    ('schema_version', '{SCHEMA_VERSION}'), ('head_seq', '0'), ('head_hash', '{GENESIS}');
PRAGMA user_version = {SCHEMA_VERSION};
"""

_VERSION_COLUMNS = (
    "name, version, sha256, size, status, storage, signature, key_fingerprint, registered_by, registered_at_ns, "
    "summary, card, run, cold_location"
)
_EVENT_COLUMNS = (
    "seq, time_ns, actor, action, name, version, from_status, to_status, replaced, note, sha256, prev_hash, hash"
)


def _record(row: tuple[Any, ...]) -> VersionRecord:
    return VersionRecord(
        name=row[0],
        version=row[1],
        sha256=row[2],
        size=row[3],
        status=ModelStatus(row[4]),
        storage=Storage(row[5]),
        signature=SignatureCheck(row[6]),
        key_fingerprint=row[7],
        registered_by=row[8],
        registered_at_ns=row[9],
        summary_json=row[10],
        card_json=row[11],
        run_json=row[12],
        cold_location=row[13],
    )


def _event(row: tuple[Any, ...]) -> Event:
    return Event(*row)


class _Transaction:
    def __init__(self, connection: sqlite3.Connection, clock: Callable[[], int] = time.time_ns) -> None:
        self._db = connection
        self._clock = clock

    def _one(self, where: str, *args: object) -> VersionRecord | None:
        row = self._db.execute(f"SELECT {_VERSION_COLUMNS} FROM versions WHERE {where}", args).fetchone()
        return _record(row) if row else None

    def get(self, name: str, version: str) -> VersionRecord | None:
        return self._one("name = ? AND version = ?", name, version)

    def by_sha256(self, sha256: str) -> VersionRecord | None:
        return self._one("sha256 = ?", sha256)

    def production(self, name: str) -> VersionRecord | None:
        return self._one("name = ? AND status = 'production'", name)

    def insert(self, record: VersionRecord) -> None:
        self._db.execute(
            f"INSERT INTO versions ({_VERSION_COLUMNS}, listing) VALUES ({', '.join('?' * 15)})",
            (
                record.name,
                record.version,
                record.sha256,
                record.size,
                record.status.value,
                record.storage.value,
                record.signature.value,
                record.key_fingerprint,
                record.registered_by,
                record.registered_at_ns,
                record.summary_json,
                record.card_json,
                record.run_json,
                record.cold_location,
                record.listing_json(),
            ),
        )

    def set_status(self, name: str, version: str, status: ModelStatus) -> None:
        try:
            self._db.execute(
                "UPDATE versions SET status = ? WHERE name = ? AND version = ?", (status.value, name, version)
            )
        except sqlite3.IntegrityError as exc:
            raise PaddlectlError(
                f"the registry refused a second production version of {name} ({version})",
                hint="this is a bug in paddlectl: report it",
                code=ExitCode.INTERNAL,
            ) from exc

    def set_storage(self, name: str, version: str, storage: Storage, location: str | None) -> None:
        self._db.execute(
            "UPDATE versions SET storage = ?, cold_location = ? WHERE name = ? AND version = ?",
            (storage.value, location, name, version),
        )

    def append(self, draft: EventDraft) -> Event:
        meta = dict(self._db.execute("SELECT key, value FROM meta WHERE key IN ('head_seq', 'head_hash')"))
        event = draft.event(int(meta["head_seq"]) + 1, self._clock(), meta["head_hash"])
        self._db.execute(
            f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES ({', '.join('?' * 13)})",
            (*event.fields().values(), event.hash),
        )
        self._db.execute("UPDATE meta SET value = ? WHERE key = 'head_seq'", (str(event.seq),))
        self._db.execute("UPDATE meta SET value = ? WHERE key = 'head_hash'", (event.hash,))
        return event

    def referenced_blobs(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT sha256 FROM versions WHERE storage = 'hot'")}


class SqliteBackend:
    """A registry folder: registry.db and blobs/. Opened for reading, a registry that does not exist is empty."""

    def __init__(self, root: Path, *, create: bool) -> None:
        self.root = root
        self.clock: Callable[[], int] = time.time_ns  # events' time; tests set a clock that runs backwards
        if root.exists() and not root.is_dir():  # else a listing would say "empty" of a registry that is elsewhere
            raise UsageError(
                f"the registry folder {root} is a file",
                hint="point PADDLECTL_REGISTRY (or registry.path) at a folder: the registry's database and blobs",
            )
        self._blobs = LocalBlobStore(root / "blobs")
        database = root / DB_NAME
        try:
            if create:
                root.mkdir(parents=True, exist_ok=True)
            elif not database.is_file():
                self._db = sqlite3.connect(":memory:", isolation_level=None)
                self._db.executescript(_SCHEMA)
                return
            self._db = sqlite3.connect(database, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            self._prepare(database, create)
        except OSError as exc:
            raise UsageError(f"cannot open the registry in {root}: {exc.strerror}", hint=_WHERE_HINT) from exc
        except sqlite3.DatabaseError as exc:
            raise _database_error(database, exc) from exc

    def _prepare(self, database: Path, create: bool) -> None:
        if create and self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self._db.execute("PRAGMA journal_mode = WAL")  # persistent: set once, by the first writer
        self._db.execute("PRAGMA synchronous = FULL")  # a committed event survives power loss, not just a crash
        if create and self._db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            # executescript commits any open transaction first, so the lock is taken inside the script itself.
            try:
                self._db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or int(row[0]) > SCHEMA_VERSION:
            raise UsageError(
                f"{database} was written by a newer paddlectl (schema {row[0] if row else '?'})",
                hint="upgrade paddlectl to use this registry",
            )

    @property
    def location(self) -> str:
        return str(self.root)

    @property
    def blobs(self) -> LocalBlobStore:
        return self._blobs

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise UnavailableError(
                f"the registry {self.root} stayed locked by another writer for {BUSY_TIMEOUT_SECONDS:.0f} s",
                hint="wait for the other paddlectl registry command to finish, then try again",
            ) from exc
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        with self._locked():
            yield _Transaction(self._db, self.clock)

    def get(self, name: str, version: str) -> VersionRecord | None:
        return _Transaction(self._db).get(name, version)

    @staticmethod
    def _where(name: str | None, status: ModelStatus | None) -> tuple[str, list[str]]:
        where, args = [], []
        if name is not None:
            where.append("name = ?")
            args.append(name)
        if status is not None:
            where.append("status = ?")
            args.append(status.value)
        return (f" WHERE {' AND '.join(where)}" if where else ""), args

    def find(self, name: str | None = None, status: ModelStatus | None = None) -> list[VersionRecord]:
        clause, args = self._where(name, status)
        query = f"SELECT {_VERSION_COLUMNS} FROM versions{clause} ORDER BY name, rowid"
        return [_record(row) for row in self._db.execute(query, args)]

    def listing(self, name: str | None = None, status: ModelStatus | None = None) -> list[ListedRow]:
        clause, args = self._where(name, status)
        query = f"SELECT status, storage, listing FROM versions{clause} ORDER BY name, rowid"
        return [ListedRow(*row) for row in self._db.execute(query, args)]

    def events(self, name: str | None = None) -> list[Event]:
        if name is None:
            rows = self._db.execute(f"SELECT {_EVENT_COLUMNS} FROM events ORDER BY seq")
        else:
            rows = self._db.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE name = ? ORDER BY seq", (name,))
        return [_event(row) for row in rows]

    def head(self) -> tuple[int, str]:
        meta = dict(self._db.execute("SELECT key, value FROM meta WHERE key IN ('head_seq', 'head_hash')"))
        return int(meta.get("head_seq", 0)), str(meta.get("head_hash", GENESIS))

    def event_logs(self) -> list[EventLog]:
        return [EventLog(None, self.events(), self.head())]

    def close(self) -> None:
        self._db.close()


_WHERE_HINT = "set PADDLECTL_REGISTRY or registry.path in paddlectl.yaml to a folder you can write"


def _database_error(database: Path, exc: sqlite3.DatabaseError) -> PaddlectlError:
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return UnavailableError(f"the registry {database} is locked by another writer", hint="try again")
    return UsageError(
        f"{database} is not a readable registry database: {exc}",
        hint="restore it from a backup, or point PADDLECTL_REGISTRY at another folder",
    )
