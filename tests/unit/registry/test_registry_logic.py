"""Pure logic of the registry: references, which version a rollback goes to, what archive picks, the chain."""

from __future__ import annotations

from datetime import timedelta

import pytest

from paddlectl.errors import UsageError
from paddlectl.packaging.layout import ModelStatus
from paddlectl.registry.cold import archive_candidates
from paddlectl.registry.history import check_chain, previous_production
from paddlectl.registry.model import GENESIS, Event, ModelRef, SignatureCheck, Storage, VersionRecord, event_hash


def _events(*changes: tuple[str, str | None, str | None, str | None]) -> list[Event]:
    """(version, from, to, replaced) per event, chained properly."""
    events, previous = [], GENESIS
    for seq, (version, from_status, to_status, replaced) in enumerate(changes, start=1):
        action = "register" if from_status is None else "promote"
        fields = {
            "seq": seq, "time_ns": seq, "actor": "t", "action": action, "name": "m", "version": version,
            "from_status": from_status, "to_status": to_status, "replaced": replaced, "note": None,
            "sha256": None, "prev_hash": previous,
        }  # fmt: skip
        event = Event(**fields, hash=event_hash(fields))  # type: ignore[arg-type]
        events.append(event)
        previous = event.hash
    return events


def test_references() -> None:
    assert ModelRef.parse("digits@production") == ModelRef("digits", status=ModelStatus.PRODUCTION)
    assert ModelRef.parse("digits@1.2.0-rc.1") == ModelRef("digits", version="1.2.0-rc.1")
    assert ModelRef.parse("digits") == ModelRef("digits")
    for bad in ("Digits@1.0.0", "digits@1.0", "digits@", "a@b@c", ""):
        with pytest.raises(UsageError):
            ModelRef.parse(bad)
    assert ModelRef.looks_like("digits@1.0.0") and not ModelRef.looks_like("20261122-103000-ab12cd")
    assert not ModelRef.looks_like("last~1")


def test_previous_production() -> None:
    registered = [("1", None, "staging", None), ("2", None, "staging", None), ("3", None, "staging", None)]
    assert previous_production(_events(*registered), "m") is None
    history = [*registered, ("1", "staging", "production", None), ("2", "staging", "production", "1")]
    assert previous_production(_events(*history), "m") == "1"
    history.append(("1", "archived", "production", "2"))  # a rollback
    assert previous_production(_events(*history), "m") == "2"
    history.append(("1", "production", "staging", None))  # nothing in production now: the last one that was
    assert previous_production(_events(*history), "m") == "1"


def test_the_chain_of_a_clean_log_checks() -> None:
    events = _events(("1", None, "staging", None), ("1", "staging", "production", None))
    assert check_chain(events, (2, events[-1].hash)) == []
    assert [str(p) for p in check_chain(events, (3, "f" * 64))] == [
        "the log ends at event 2, the registry recorded 3: events removed"
    ]


def _record(version: str, age_days: float, status: ModelStatus = ModelStatus.STAGING) -> VersionRecord:
    now = 1_000 * 86_400 * 10**9
    return VersionRecord(
        name="m", version=version, sha256=version * 64, size=1, status=status, storage=Storage.HOT,
        signature=SignatureCheck.ABSENT, key_fingerprint=None, registered_by="t",
        registered_at_ns=now - int(age_days * 86_400 * 10**9), summary_json="{}", card_json="{}",
    )  # fmt: skip


def test_archive_picks_old_non_production_versions_beyond_the_newest_kept() -> None:
    now = 1_000 * 86_400 * 10**9
    records = [
        _record("1", 200),
        _record("2", 150, ModelStatus.PRODUCTION),
        _record("3", 120),
        _record("4", 100),
        _record("5", 30),
    ]
    picked = archive_candidates(records, timedelta(days=90), keep=2, now_ns=now)
    assert [r.version for r in picked] == ["1", "3"]  # 5 is young, 4 is kept, 2 is production
    assert [r.version for r in archive_candidates(records, timedelta(days=90), keep=0, now_ns=now)] == ["1", "3", "4"]
