"""The event log: append-only, hash-chained, ordered by sequence; `registry verify` catches every way of changing
it, each made on purpose by editing the SQLite file directly (as someone with write access to it could)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from paddlectl.packaging.layout import ModelStatus
from paddlectl.registry.audit import verify_registry
from paddlectl.registry.history import production_at, replay
from paddlectl.registry.model import event_hash
from paddlectl.registry.promote import promote, rollback
from paddlectl.registry.register import register_package
from paddlectl.registry.store import Registry, open_registry
from registry.conftest import PackageFactory

Opener = Callable[[], Registry]


@pytest.fixture
def history(open_reg: Opener, make_package: PackageFactory) -> Path:
    """Three versions, two promotions and a rollback: seven events."""
    registry = open_reg()
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        register_package(registry, make_package(version))
    promote(registry, "digits", "1.0.0", ModelStatus.PRODUCTION)
    promote(registry, "digits", "1.1.0", ModelStatus.PRODUCTION)
    rollback(registry, "digits")
    promote(registry, "digits", "1.2.0", ModelStatus.STAGING, note="noop")  # already staging: no event
    assert len(registry.backend.events()) == 6
    assert verify_registry(registry).ok
    registry.backend.close()
    return registry.settings.path / "registry.db"


@pytest.fixture
def tamper(history: Path) -> Iterator[sqlite3.Connection]:
    """A raw connection with the append-only triggers dropped, as an attacker would."""
    database = sqlite3.connect(history, isolation_level=None)
    database.execute("DROP TRIGGER events_no_update")
    database.execute("DROP TRIGGER events_no_delete")
    yield database
    database.close()


def _findings(open_reg: Opener) -> list[str]:
    report = verify_registry(open_reg())
    return [f"{f.kind}: {f}" for f in report.findings]


def test_the_log_refuses_updates_and_deletes(history: Path) -> None:
    database = sqlite3.connect(history)
    for statement in ("UPDATE events SET note = 'x' WHERE seq = 2", "DELETE FROM events WHERE seq = 6"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            database.execute(statement)
    database.close()


def test_an_edited_event_is_detected(tamper: sqlite3.Connection, open_reg: Opener) -> None:
    tamper.execute("UPDATE events SET actor = 'mallory@elsewhere' WHERE seq = 4")
    assert _findings(open_reg) == ["event-log: events: event 4: its contents do not match its hash: edited"]


def test_an_edited_event_with_its_hash_recomputed_breaks_the_next_link(
    tamper: sqlite3.Connection, open_reg: Opener
) -> None:
    with open_registry() as registry:
        event = registry.backend.events()[3]
    fields = {**event.fields(), "actor": "mallory@elsewhere"}
    tamper.execute("UPDATE events SET actor = ?, hash = ? WHERE seq = 4", (fields["actor"], event_hash(fields)))
    assert _findings(open_reg) == [
        "event-log: events: event 5: does not follow the event before it: edited, moved or deleted"
    ]


def test_a_deleted_event_is_detected(tamper: sqlite3.Connection, open_reg: Opener) -> None:
    tamper.execute("DELETE FROM events WHERE seq = 3")
    findings = _findings(open_reg)
    assert findings[0] == "event-log: events: event 4: out of sequence (expected 3): deleted or inserted"
    assert "state: digits@1.2.0: no register event for this version" in findings


def test_a_deleted_last_event_is_detected(tamper: sqlite3.Connection, open_reg: Opener) -> None:
    tamper.execute("DELETE FROM events WHERE seq = 6")
    findings = _findings(open_reg)
    assert findings[0] == ("event-log: events: the log ends at event 5, the registry recorded 6: events removed")
    assert "state: digits@1.0.0: is production, the log says archived" in findings


def test_reordered_events_are_detected(tamper: sqlite3.Connection, open_reg: Opener) -> None:
    # Swap events 4 and 5 in place (their sequence numbers): each still hashes to itself, the links break.
    tamper.execute("UPDATE events SET seq = -4 WHERE seq = 4")
    tamper.execute("UPDATE events SET seq = 4 WHERE seq = 5")
    tamper.execute("UPDATE events SET seq = 5 WHERE seq = -4")
    assert _findings(open_reg) == [
        "event-log: events: event 4: does not follow the event before it: edited, moved or deleted",
        "event-log: events: event 4: its contents do not match its hash: edited",
        "event-log: events: event 5: does not follow the event before it: edited, moved or deleted",
        "event-log: events: event 5: its contents do not match its hash: edited",
        "event-log: events: event 6: does not follow the event before it: edited, moved or deleted",
    ]


def test_a_forged_event_is_detected(tamper: sqlite3.Connection, open_reg: Opener) -> None:
    """A well-formed event appended by hand (right hash, right link, head updated) still contradicts the versions."""
    with open_registry() as registry:
        last = registry.backend.events()[-1]
    fields = {
        **last.fields(),
        "seq": last.seq + 1,
        "action": "promote",
        "version": "1.2.0",
        "from_status": "staging",
        "to_status": "production",
        "replaced": "1.0.0",
        "note": "forged",
        "prev_hash": last.hash,
    }
    forged = event_hash(fields)
    tamper.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (*fields.values(), forged))
    tamper.execute("UPDATE meta SET value = ? WHERE key = 'head_seq'", (str(fields["seq"]),))
    tamper.execute("UPDATE meta SET value = ? WHERE key = 'head_hash'", (forged,))
    findings = _findings(open_reg)
    assert "state: digits@1.2.0: is staging, the log says production" in findings
    assert "state: digits@1.0.0: is production, the log says archived" in findings


def test_events_come_in_sequence_order_whatever_the_clock_says(open_reg: Opener, make_package: PackageFactory) -> None:
    """The clock runs backwards between events: history and replay still follow the sequence numbers."""
    moments = iter([5_000_000_000_000_000_000, 4_000_000_000_000_000_000, 3_000_000_000_000_000_000])
    registry = open_reg()
    registry.backend.clock = lambda: next(moments)  # type: ignore[attr-defined]
    register_package(registry, make_package("1.0.0"))
    register_package(registry, make_package("1.1.0"))
    promote(registry, "digits", "1.1.0", ModelStatus.PRODUCTION)
    events = registry.backend.events("digits")
    assert [e.seq for e in events] == [1, 2, 3]
    assert [e.time_ns for e in events] == sorted((e.time_ns for e in events), reverse=True)
    assert replay(events).production == {"digits": "1.1.0"}
    assert verify_registry(registry).ok


def test_production_at_a_time(open_reg: Opener, make_package: PackageFactory) -> None:
    second = 1_000_000_000
    moments = iter([100 * second, 101 * second, 200 * second, 300 * second])
    registry = open_reg()
    registry.backend.clock = lambda: next(moments)  # type: ignore[attr-defined]
    register_package(registry, make_package("1.0.0"))  # t=100
    register_package(registry, make_package("1.1.0"))  # t=101
    promote(registry, "digits", "1.0.0", ModelStatus.PRODUCTION)  # t=200
    promote(registry, "digits", "1.1.0", ModelStatus.PRODUCTION)  # t=300
    events = registry.backend.events("digits")

    def at(seconds: float) -> str | None:
        return production_at(events, "digits", datetime.fromtimestamp(seconds, tz=timezone.utc))

    assert (at(150), at(200), at(250), at(300), at(1e9)) == (None, "1.0.0", "1.0.0", "1.1.0", "1.1.0")
