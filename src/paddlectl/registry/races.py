"""Races found afterwards: what a backend without compare-and-set (MLflow) lets two writers do at one instant.

MLflow moves an alias with one unconditional request, so two clients promoting at once both succeed and the last
writer wins; neither can tell at the time. Every production change records the production version its writer
saw (`replaced`), so the log shows it later:
- a stale predecessor: an event that saw production held by X while the event before it had made it Y;
- a fork: two events appended after the same event (same sequence number, same previous hash), which only a log
  without a write lock can hold.
The local backend serialises writers, so its log never has either; the check runs on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paddlectl.packaging.layout import ModelStatus
from paddlectl.registry.model import Event

_PRODUCTION = ModelStatus.PRODUCTION.value


@dataclass(frozen=True)
class Race:
    seq: int
    name: str
    version: str
    reason: str

    def __str__(self) -> str:
        return f"event {self.seq} ({self.name}@{self.version}): {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "name": self.name, "version": self.version, "reason": self.reason}


def _forks(events: list[Event]) -> list[Race]:
    by_seq: dict[tuple[str, int], list[Event]] = {}
    for event in events:
        by_seq.setdefault((event.name, event.seq), []).append(event)
    races = []
    for (name, seq), group in by_seq.items():
        if len(group) > 1:
            who = ", ".join(f"{e.action} {e.version} by {e.actor}" for e in group)
            races.append(
                Race(seq, name, group[-1].version, f"{len(group)} writers appended event {seq} at once ({who})")
            )
    return races


def _stale(events: list[Event]) -> list[Race]:
    holder: dict[str, tuple[str | None, int | None]] = {}  # per model: production and the event that made it so
    races = []
    for event in events:
        if event.from_status == event.to_status:
            continue  # archive and restore move blobs, not statuses
        before, since = holder.get(event.name, (None, None))
        if event.to_status == _PRODUCTION:
            if event.replaced != before:
                made = f"event {since} had made it {before}" if since is not None else "no event had made it so"
                saw = event.replaced or "no production version"
                races.append(
                    Race(
                        event.seq,
                        event.name,
                        event.version,
                        f"{event.action} saw {saw} in production, but {made}: two writers moved production at "
                        f"once and the last one won (it holds production now unless a later event moved it)",
                    )
                )
            holder[event.name] = (event.version, event.seq)
        elif event.from_status == _PRODUCTION:
            if before != event.version:
                races.append(
                    Race(event.seq, event.name, event.version, f"left production, which {before or 'none'} held")
                )
            else:
                holder[event.name] = (None, event.seq)
    return races


def find_races(events: list[Event]) -> list[Race]:
    """Every fork and stale predecessor in `events` (sequence order), by sequence number."""
    return sorted(_forks(events) + _stale(events), key=lambda race: (race.name, race.seq))
