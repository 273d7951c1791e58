"""The logic under the MLflow backend, without a server: races found afterwards, a log that may fork, the replay
of a displaced production version, and the tags a version and an event are written as."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from paddlectl.packaging.layout import ModelStatus
from paddlectl.registry.history import check_forking_chain, replay
from paddlectl.registry.mlflow_backend import MlflowBackend, ServerModel, ServerVersion, kept_versions
from paddlectl.registry.mlflow_records import (
    CHUNK,
    event_key,
    event_value,
    long_value,
    read_events,
    read_head,
    read_long,
    read_version,
    version_tags,
)
from paddlectl.registry.mlflow_settings import MlflowSettings
from paddlectl.registry.model import GENESIS, Event, EventLog, SignatureCheck, Storage, VersionRecord, event_hash
from paddlectl.registry.races import find_races

Change = tuple[str, str, str | None, str | None, str | None]  # action, version, from, to, replaced


def _event(seq: int, prev: str, change: Change, time_ns: int | None = None, actor: str = "ana@a") -> Event:
    action, version, from_status, to_status, replaced = change
    fields: dict[str, Any] = {
        "seq": seq,
        "time_ns": time_ns if time_ns is not None else seq * 1000,
        "actor": actor,
        "action": action,
        "name": "digits",
        "version": version,
        "from_status": from_status,
        "to_status": to_status,
        "replaced": replaced,
        "note": None,
        "sha256": None,
        "prev_hash": prev,
    }
    return Event(**fields, hash=event_hash(fields))


def _chain(*changes: Change) -> list[Event]:
    events: list[Event] = []
    for change in changes:
        events.append(_event(len(events) + 1, events[-1].hash if events else GENESIS, change))
    return events


REGISTERED = (
    ("register", "1.0.0", None, "staging", None),
    ("register", "1.1.0", None, "staging", None),
    ("register", "1.2.0", None, "staging", None),
    ("promote", "1.0.0", "staging", "production", None),
)


def test_a_serialised_log_has_no_races() -> None:
    events = _chain(
        *REGISTERED,
        ("promote", "1.1.0", "staging", "production", "1.0.0"),
        ("rollback", "1.0.0", "archived", "production", "1.1.0"),
        ("promote", "1.0.0", "production", "staging", None),  # production demoted: nobody holds it
        ("register", "1.3.0", None, "production", None),
        ("archive", "1.1.0", "archived", "archived", None),
    )
    assert find_races(events) == []


def test_a_promotion_that_saw_a_stale_production_is_a_race() -> None:
    """B promoted 1.2.0 (event 5) between A's read of production (1.0.0) and A's write (event 6)."""
    events = _chain(
        *REGISTERED,
        ("promote", "1.2.0", "staging", "production", "1.0.0"),
        ("promote", "1.1.0", "staging", "production", "1.0.0"),
    )
    (race,) = find_races(events)
    assert (race.seq, race.version) == (6, "1.1.0")
    assert "saw 1.0.0 in production, but event 5 had made it 1.2.0" in race.reason
    state = replay(events)
    assert state.production["digits"] == "1.1.0"
    # At most one production: the version A displaced without seeing it leaves too.
    assert {v: s.status for (_, v), s in state.versions.items()} == {
        "1.0.0": "archived",
        "1.1.0": "production",
        "1.2.0": "archived",
    }


def test_two_events_after_the_same_one_are_a_fork() -> None:
    events = _chain(*REGISTERED)
    events.append(_event(5, events[-1].hash, ("promote", "1.2.0", "staging", "production", "1.0.0"), 9000, "bo@b"))
    events.append(_event(5, events[3].hash, ("promote", "1.1.0", "staging", "production", "1.0.0"), 9500))
    races = find_races(events)
    assert [race.seq for race in races] == [5, 5]
    fork = next(race for race in races if "writers" in race.reason)
    assert "2 writers appended event 5 at once (promote 1.2.0 by bo@b, promote 1.1.0 by ana@a)" in fork.reason
    log = EventLog("digits", events, (5, events[-1].hash), may_fork=True)
    assert check_forking_chain(log) == []  # a fork is a race, not damage


def test_a_production_left_by_someone_who_did_not_hold_it_is_a_race() -> None:
    events = _chain(*REGISTERED, ("promote", "1.1.0", "production", "staging", None))
    (race,) = find_races(events)
    assert race.seq == 5 and "left production, which 1.0.0 held" in race.reason


def _log(events: list[Event], head: tuple[int, str] | None = None) -> EventLog:
    return EventLog("digits", events, head or (events[-1].seq, events[-1].hash), may_fork=True)


def _edited(event: Event, **changes: Any) -> Event:
    return Event(**{**event.fields(), "hash": event.hash, **changes})


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda e: [*e[:1], _edited(e[1], note="ok'd"), *e[2:]], ["event 2: its contents do not match its hash"]),
        (lambda e: [*e[:1], *e[2:]], ["event 2: missing: deleted", "event 3: does not follow any event before it"]),
        (
            lambda e: [e[0], e[1], _edited(e[2], prev_hash=e[0].hash), e[3]],
            ["event 3: its contents do not match", "event 3: does not follow any event before it"],
        ),
    ],
    ids=["edited", "deleted", "re-pointed"],
)
def test_the_forking_check_still_finds_damage(damage: Any, expected: list[str]) -> None:
    events = _chain(*REGISTERED)
    problems = [str(problem) for problem in check_forking_chain(_log(damage(events), (4, events[-1].hash)))]
    assert len(problems) == len(expected)
    assert all(problem.startswith(prefix) for problem, prefix in zip(problems, expected, strict=True))


def test_an_event_that_cannot_be_read_is_damage() -> None:
    events = _chain(*REGISTERED)
    log = EventLog("digits", events, (4, events[-1].hash), may_fork=True, unreadable=("tag paddlectl.event.x",))
    assert [str(problem) for problem in check_forking_chain(log)] == [
        "tag paddlectl.event.x holds no readable event: edited"
    ]


def test_the_head_anchors_the_tail_of_a_forking_log() -> None:
    events = _chain(*REGISTERED)
    assert check_forking_chain(_log(events)) == []
    (cut,) = check_forking_chain(_log(events[:-1], (4, events[-1].hash)))
    assert "the log ends at event 3, the head names 4: events removed" in str(cut)
    (behind,) = check_forking_chain(_log(events, (3, events[2].hash)))
    assert "an append was cut short or edited" in str(behind)
    (unknown,) = check_forking_chain(_log(events, (4, "f" * 64)))
    assert "names an event that is not in the log" in str(unknown)


# ---- tags --------------------------------------------------------------------------------------------------


def test_long_values_are_split_and_read_back_whole() -> None:
    text = "x" * (2 * CHUNK + 17)
    written = long_value("paddlectl.run", text)
    assert written["paddlectl.run"] == "chunks:3" and all(len(v) <= CHUNK for v in written.values())
    assert read_long(written, "paddlectl.run") == text
    assert read_long(long_value("k", "chunks:2"), "k") == "chunks:2"  # a value that looks like a marker survives
    del written["paddlectl.run/2"]
    assert read_long(written, "paddlectl.run") is None  # a lost piece is never read as the whole


def _record() -> VersionRecord:
    card = {"name": "digits", "version": "1.0.0", "task": "classification", "metrics": {"acc": {"last": 0.97}}}
    summary = {"metrics": {"acc": 0.97, "bad name!": 1}, "labels": {}}
    return VersionRecord(
        name="digits",
        version="1.0.0",
        sha256="a" * 64,
        size=2048,
        status=ModelStatus.STAGING,
        storage=Storage.HOT,
        signature=SignatureCheck.VALID,
        key_fingerprint="sha256:" + "b" * 64,
        registered_by="ana@a <ana@example.com>",
        registered_at_ns=1_796_000_000_123_456_789,
        summary_json=json.dumps(summary),
        card_json=json.dumps(card),
        run_json=json.dumps({"id": "r1", "big": "y" * 12_000}),
    )


def test_a_version_round_trips_through_its_tags() -> None:
    record = _record()
    tags = version_tags(record)
    assert tags["paddlectl.card.task"] == "classification" and tags["paddlectl.metric.acc"] == "0.97"
    assert not any("bad name" in key for key in tags)  # a key MLflow would refuse is left to the card's JSON
    assert all(len(value) <= CHUNK for value in tags.values())
    back = read_version("digits", tags, ModelStatus.PRODUCTION)
    assert back == dataclasses.replace(record, status=ModelStatus.PRODUCTION)
    assert read_version("digits", {"paddlectl.version": "1.0.0"}, ModelStatus.STAGING) is None


def test_events_are_read_in_sequence_order_and_a_broken_one_is_set_apart() -> None:
    events = _chain(*REGISTERED)
    tags = {event_key(e.seq, f"{e.seq:08x}"): event_value(e) for e in reversed(events)}
    tags[event_key(9, "deadbeef")] = "{not json"
    tags[event_key(7, "0badc0de")] = event_value(events[0])  # its key says 7, its body 1: moved
    tags["paddlectl.head"] = f"4 {events[-1].hash}"
    read, unreadable = read_events(tags)
    assert read == events
    assert sorted(unreadable) == [event_key(7, "0badc0de"), event_key(9, "deadbeef")]
    assert read_head(tags) == (4, events[-1].hash) and read_head({}) is None


def test_status_is_read_from_the_alias_then_the_archived_tag() -> None:
    backend = MlflowBackend(MlflowSettings("http://127.0.0.1:9", production_alias="champion"))
    model = ServerModel("digits", {}, {"champion": "2", "staging": "3"})
    assert backend.status(model, ServerVersion("2", {"paddlectl.archived": "true"})) is ModelStatus.PRODUCTION
    assert backend.status(model, ServerVersion("1", {"paddlectl.archived": "true"})) is ModelStatus.ARCHIVED
    assert backend.status(model, ServerVersion("3", {})) is ModelStatus.STAGING
    backend.close()


def test_of_two_mlflow_versions_for_one_paddlectl_version_the_lower_number_wins() -> None:
    found = [
        ServerVersion("10", {"paddlectl.version": "1.1.0"}),
        ServerVersion("9", {"paddlectl.version": "1.0.0"}),
        ServerVersion("2", {"paddlectl.version": "1.0.0"}),
        ServerVersion("3", {}),  # not paddlectl's
    ]
    assert [(v.number, v.tags["paddlectl.version"]) for v in kept_versions(found)] == [("2", "1.0.0"), ("10", "1.1.0")]
