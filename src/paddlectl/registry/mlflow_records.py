"""How a version and an event are written as MLflow tags, and read back.

A version is one MLflow model version whose tags hold the registry's record: `paddlectl.version` (its paddlectl
version; MLflow numbers versions itself), `paddlectl.sha256`, size, signature, who registered it and when, the
listing summary, the card and the run record as JSON, storage, and `paddlectl.archived` once it left production.
For people reading the MLflow UI, the card's scalar fields and last metric values are tags too
(`paddlectl.card.task`, `paddlectl.metric.val_acc`). Its status is not a tag: production and staging are aliases.

An event is one tag of the registered model, `paddlectl.event.<seq>.<nonce>`, its value the event as JSON; the
nonce keeps two events appended at once both (a fork that history reports) instead of one overwriting the other.
`paddlectl.head` holds the last sequence number and hash, apart from the events.

Tag values are kept under CHUNK characters (MLflow 2.9 accepts 5,000 on registry tags; 3.x 100,000): a longer value
is written as `chunks:N` under its key and its pieces under `KEY/1` .. `KEY/N`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from paddlectl.packaging.layout import ModelStatus
from paddlectl.registry.model import Event, SignatureCheck, Storage, VersionRecord

PREFIX = "paddlectl."
VERSION = "paddlectl.version"
SHA256 = "paddlectl.sha256"
ARCHIVED = "paddlectl.archived"
STORAGE = "paddlectl.storage"
COLD_LOCATION = "paddlectl.cold_location"
MODEL_MARKER = "paddlectl.registry"  # on the registered models paddlectl writes
HEAD = "paddlectl.head"
EVENT_PREFIX = "paddlectl.event."
CHUNK = 5_000
_EVENT_KEY = re.compile(r"paddlectl\.event\.(\d{8})\.([0-9a-f]{8})")
_TAG_NAME = re.compile(r"[\w.\- /]{1,200}")  # what MLflow accepts in a tag key, with room for the prefix
_CHUNKS = re.compile(r"chunks:(\d+)")


def long_value(key: str, value: str) -> dict[str, str]:
    """`value` under `key`, split into pieces when it is longer than CHUNK."""
    if len(value) <= CHUNK and not _CHUNKS.fullmatch(value):
        return {key: value}
    pieces = [value[i : i + CHUNK] for i in range(0, len(value), CHUNK)]
    return {key: f"chunks:{len(pieces)}", **{f"{key}/{n}": piece for n, piece in enumerate(pieces, start=1)}}


def read_long(tags: dict[str, str], key: str) -> str | None:
    """What long_value wrote under `key`; None when it is not there or a piece is missing."""
    value = tags.get(key)
    if value is None:
        return None
    match = _CHUNKS.fullmatch(value)
    if match is None:
        return value
    pieces = [tags.get(f"{key}/{n}") for n in range(1, int(match.group(1)) + 1)]
    return None if any(piece is None for piece in pieces) else "".join(p for p in pieces if p is not None)


def _readable(record: VersionRecord) -> dict[str, str]:
    """The card's scalar fields and last metric values, one tag each, for the MLflow UI."""
    tags = {}
    for key, value in sorted(record.card.items()):
        if isinstance(value, str | int | float | bool) and _TAG_NAME.fullmatch(key):
            tags[f"paddlectl.card.{key}"] = str(value)[:CHUNK]
    for key, value in sorted((record.summary.get("metrics") or {}).items()):
        if value is not None and _TAG_NAME.fullmatch(key):
            tags[f"paddlectl.metric.{key}"] = str(value)
    return tags


def version_tags(record: VersionRecord) -> dict[str, str]:
    """Every tag of a new model version (its status aside: aliases and `paddlectl.archived` carry that)."""
    tags = {
        VERSION: record.version,
        SHA256: record.sha256,
        "paddlectl.name": record.name,
        "paddlectl.size": str(record.size),
        "paddlectl.signature": record.signature.value,
        "paddlectl.registered_by": record.registered_by,
        "paddlectl.registered_at_ns": str(record.registered_at_ns),
        STORAGE: record.storage.value,
        **_readable(record),
        **long_value("paddlectl.summary", record.summary_json),
        **long_value("paddlectl.card", record.card_json),
    }
    if record.key_fingerprint:
        tags["paddlectl.key_fingerprint"] = record.key_fingerprint
    if record.run_json:
        tags.update(long_value("paddlectl.run", record.run_json))
    if record.cold_location:
        tags[COLD_LOCATION] = record.cold_location
    return tags


def read_version(name: str, tags: dict[str, str], status: ModelStatus) -> VersionRecord | None:
    """The record a model version's tags hold; None for a version paddlectl did not write (or cannot read)."""
    try:
        summary, card = read_long(tags, "paddlectl.summary"), read_long(tags, "paddlectl.card")
        if VERSION not in tags or SHA256 not in tags or summary is None or card is None:
            return None
        return VersionRecord(
            name=name,
            version=tags[VERSION],
            sha256=tags[SHA256],
            size=int(tags["paddlectl.size"]),
            status=status,
            storage=Storage(tags.get(STORAGE, Storage.HOT.value)),
            signature=SignatureCheck(tags["paddlectl.signature"]),
            key_fingerprint=tags.get("paddlectl.key_fingerprint") or None,
            registered_by=tags["paddlectl.registered_by"],
            registered_at_ns=int(tags["paddlectl.registered_at_ns"]),
            summary_json=summary,
            card_json=card,
            run_json=read_long(tags, "paddlectl.run"),
            cold_location=tags.get(COLD_LOCATION) or None,
        )
    except (KeyError, ValueError):
        return None


# ---- events ----------------------------------------------------------------------------------------------


def event_key(seq: int, nonce: str) -> str:
    return f"{EVENT_PREFIX}{seq:08d}.{nonce}"


def event_value(event: Event) -> str:
    return json.dumps({**event.fields(), "hash": event.hash}, sort_keys=True, separators=(",", ":"))


def _event(value: str) -> Event | None:
    try:
        data: Any = json.loads(value)
        return Event(**{key: data[key] for key in Event.__dataclass_fields__})
    except (ValueError, KeyError, TypeError):
        return None


def read_events(tags: dict[str, str]) -> tuple[list[Event], list[str]]:
    """The events among a registered model's tags in sequence order, and the keys of those that do not parse."""
    events, unreadable = [], []
    for key in tags:
        match = _EVENT_KEY.fullmatch(key)
        if match is None:
            continue
        value = read_long(tags, key)
        event = _event(value) if value is not None else None
        if event is None or event.seq != int(match.group(1)):
            unreadable.append(key)
        else:
            events.append(event)
    events.sort(key=lambda e: (e.seq, e.time_ns, e.hash))
    return events, unreadable


def head_value(seq: int, digest: str) -> str:
    return f"{seq} {digest}"


def read_head(tags: dict[str, str]) -> tuple[int, str] | None:
    seq, _, digest = tags.get(HEAD, "").partition(" ")
    return (int(seq), digest) if seq.isdigit() and digest else None
