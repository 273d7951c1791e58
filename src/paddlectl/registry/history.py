"""The event log read back: the hash chain checked, the state it implies replayed, and production over time.

Events are replayed in sequence order, never by their clock: two events in one nanosecond, or a clock that went
backwards, still come out in the order they were committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paddlectl.packaging.layout import ModelStatus
from paddlectl.registry.model import GENESIS, Action, Event, EventLog, Storage, event_hash, iso_ns


@dataclass
class ReplayedVersion:
    status: str
    storage: str = Storage.HOT.value
    sha256: str | None = None


@dataclass
class Replay:
    """What the log says the registry holds: every version's status and storage, and who held production."""

    versions: dict[tuple[str, str], ReplayedVersion] = field(default_factory=dict)
    production: dict[str, str | None] = field(default_factory=dict)
    holders: dict[str, list[str | None]] = field(default_factory=dict)  # production after each change, per model

    def apply(self, event: Event) -> None:
        key = (event.name, event.version)
        if event.action == Action.REGISTER.value:
            self.versions[key] = ReplayedVersion(event.to_status or ModelStatus.STAGING.value, sha256=event.sha256)
        elif event.action in (Action.PROMOTE.value, Action.ROLLBACK.value) and key in self.versions:
            self.versions[key].status = event.to_status or self.versions[key].status
        elif event.action == Action.ARCHIVE.value and key in self.versions:
            self.versions[key].storage = Storage.COLD.value
        elif event.action == Action.RESTORE.value and key in self.versions:
            self.versions[key].storage = Storage.HOT.value
        if event.replaced is not None and (event.name, event.replaced) in self.versions:
            self.versions[(event.name, event.replaced)].status = ModelStatus.ARCHIVED.value
        current = self.production.get(event.name)
        displaced = (event.name, current) if current is not None else None
        if event.to_status == ModelStatus.PRODUCTION.value and displaced in self.versions and current != event.version:
            # One production at a time: whoever held it leaves, also when the writer saw another holder (a race).
            self.versions[displaced].status = ModelStatus.ARCHIVED.value
        if event.to_status == ModelStatus.PRODUCTION.value:
            current = event.version
        elif event.from_status == ModelStatus.PRODUCTION.value and current == event.version:
            current = None
        if current != self.production.get(event.name) or event.name not in self.production:
            self.production[event.name] = current
            self.holders.setdefault(event.name, []).append(current)


def replay(events: list[Event], until_ns: int | None = None) -> Replay:
    """The state after every event, or after the events up to the first one later than `until_ns`."""
    state = Replay()
    for event in events:
        if until_ns is not None and event.time_ns > until_ns:
            break
        state.apply(event)
    return state


def previous_production(events: list[Event], name: str) -> str | None:
    """The version that was production just before the current one (or the last one, when none is now)."""
    holders = replay(events).holders.get(name, [])
    current = holders[-1] if holders else None
    earlier = holders[:-1] if current is not None else holders
    for holder in reversed(earlier):
        if holder is not None and holder != current:
            return holder
    return None


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    reason: str

    def __str__(self) -> str:
        return f"event {self.seq}: {self.reason}" if self.seq is not None else self.reason


def check_chain(events: list[Event], head: tuple[int, str]) -> list[ChainProblem]:
    """Every way the log can have been changed: an edited, deleted, inserted or reordered event, a cut tail."""
    problems: list[ChainProblem] = []
    previous = GENESIS
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            problems.append(ChainProblem(event.seq, f"out of sequence (expected {expected_seq}): deleted or inserted"))
            break
        if event.prev_hash != previous:
            problems.append(ChainProblem(event.seq, "does not follow the event before it: edited, moved or deleted"))
        if event_hash(event.fields()) != event.hash:
            problems.append(ChainProblem(event.seq, "its contents do not match its hash: edited"))
        previous = event.hash
    head_seq, head_hash = head
    last_seq = events[-1].seq if events else 0
    if not problems and (last_seq, previous) != (head_seq, head_hash):
        problems.append(
            ChainProblem(None, f"the log ends at event {last_seq}, the registry recorded {head_seq}: events removed")
        )
    return problems


def check_forking_chain(log: EventLog) -> list[ChainProblem]:
    """check_chain for a log whose appends are not serialised: a sequence number may hold two events (a fork).

    Each event must hash to its hash and follow some event of the sequence number before it; no number may be
    missing; the head must name an event of the last number. Forks themselves are races (races.py), not damage.
    """
    problems = [ChainProblem(None, f"{where} holds no readable event: edited") for where in log.unreadable]
    hashes_at: dict[int, set[str]] = {0: {GENESIS}}
    for event in log.events:
        hashes_at.setdefault(event.seq, set()).add(event.hash)
    last = max(hashes_at)
    for seq in range(1, last + 1):
        if seq not in hashes_at:
            problems.append(ChainProblem(seq, "missing: deleted"))
    for event in log.events:
        if event_hash(event.fields()) != event.hash:
            problems.append(ChainProblem(event.seq, "its contents do not match its hash: edited"))
        if event.prev_hash not in hashes_at.get(event.seq - 1, set()):
            problems.append(ChainProblem(event.seq, "does not follow any event before it: edited, moved or deleted"))
    head_seq, head_hash = log.head
    if head_seq > last:
        problems.append(ChainProblem(None, f"the log ends at event {last}, the head names {head_seq}: events removed"))
    elif head_seq < last:
        problems.append(
            ChainProblem(None, f"the log holds events after its head ({head_seq}): an append was cut short or edited")
        )
    elif head_hash not in hashes_at[last]:
        problems.append(ChainProblem(head_seq, "the head names an event that is not in the log: edited or deleted"))
    return problems


def check_log(log: EventLog) -> list[ChainProblem]:
    return check_forking_chain(log) if log.may_fork else check_chain(log.events, log.head)


def production_at(events: list[Event], name: str, moment: datetime) -> str | None:
    return replay(events, until_ns=int(moment.timestamp() * 1e9)).production.get(name)


def history_document(events: list[Event], name: str, moment: datetime | None) -> dict[str, Any]:
    from paddlectl.registry.races import find_races

    document: dict[str, Any] = {
        "name": name,
        "events": [event.as_dict() for event in events],
        "races": [race.as_dict() for race in find_races(events)],
    }
    if moment is not None:
        document["at"] = iso_ns(int(moment.timestamp() * 1e9))
        document["production_at"] = production_at(events, name, moment)
    return document
