"""What the registry records: versions, the events that changed them, and references such as `digits@production`."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, NamedTuple

from paddlectl.errors import UsageError
from paddlectl.foundation.enums import TextEnum
from paddlectl.packaging.layout import ModelStatus, validate_package_name, validate_version
from paddlectl.runs.facts import RunFacts, dataset_of, last_values

GENESIS = "0" * 64  # the previous-event hash of the first event


class Storage(TextEnum):
    HOT = "hot"  # the blob is in the registry's own blob store
    COLD = "cold"  # the blob is in S3-compatible object storage only (registry restore brings it back)


class SignatureCheck(TextEnum):
    VALID = "valid"  # signed by one of registry.trusted_keys
    UNTRUSTED = "untrusted"  # signed, but by none of the trusted keys (or the signature is broken)
    UNCHECKED = "unchecked"  # signed, and no trusted keys are configured to check it with
    ABSENT = "absent"  # not signed


class Action(TextEnum):
    REGISTER = "register"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    ARCHIVE = "archive"  # the blob moved to the cold tier
    RESTORE = "restore"  # the blob came back from the cold tier, verified


def iso_ns(time_ns: int) -> str:
    """Nanoseconds since the epoch as ISO-8601 UTC with microseconds (the full value stays in time_ns)."""
    moment = datetime.fromtimestamp(time_ns / 1e9, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class VersionRecord:
    """One registered version: the package's card and the registry's own fields."""

    name: str
    version: str
    sha256: str  # of the package archive: the version's identity
    size: int
    status: ModelStatus
    storage: Storage
    signature: SignatureCheck
    key_fingerprint: str | None
    registered_by: str
    registered_at_ns: int
    # What listings show (task, run, image digest, commit, metric last values, labels): a JSON object as
    # stored, parsed only when asked for, so a listing of 10,000 versions need not decode and re-encode them.
    summary_json: str
    card_json: str  # MODEL.yaml as JSON, parsed only when asked for
    run_json: str | None = None  # RUN.yaml (the run's manifest) as JSON, when the package carries one
    cold_location: str | None = None  # s3://bucket/key once archived

    @cached_property
    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = json.loads(self.summary_json)
        return summary

    @cached_property
    def card(self) -> dict[str, Any]:
        card: dict[str, Any] = json.loads(self.card_json)
        return card

    @cached_property
    def run_record(self) -> dict[str, Any] | None:
        record: dict[str, Any] | None = json.loads(self.run_json) if self.run_json else None
        return record

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def _static(self) -> dict[str, Any]:
        """The row's fields that never change once registered (status and storage do)."""
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "size": self.size,
            "signature": self.signature.value,
            "key_fingerprint": self.key_fingerprint,
            "registered_by": self.registered_by,
            "registered_at": iso_ns(self.registered_at_ns),
        }

    def row(self) -> dict[str, Any]:
        """The listing row (`registry list --json`)."""
        return {**self._static(), "status": self.status.value, "storage": self.storage.value, **self.summary}

    def listing_json(self) -> str:
        """The row without status and storage, as compact JSON: what a backend stores for fast listings."""
        return json.dumps({**self._static(), **self.summary}, separators=(",", ":"), default=str)

    def row_json(self) -> str:
        return ListedRow(self.status.value, self.storage.value, self.listing_json()).json()

    def as_dict(self) -> dict[str, Any]:
        """Everything (`registry show --json`): the row, the whole card and where a cold blob lives."""
        return {**self.row(), "cold_location": self.cold_location, "card": self.card}


def mapping(value: object) -> dict[str, Any]:
    """`value` when it is a mapping, else an empty one (cards are read defensively: schema 1 lacks fields)."""
    return value if isinstance(value, dict) else {}


class ListedRow(NamedTuple):
    """A listing row as stored: status and storage, and the rest as JSON text (never decoded to list it)."""

    status: str
    storage: str
    listing_json: str

    def json(self) -> str:
        # Both values are enum values (plain lower-case words): they need no escaping.
        return f'{self.listing_json[:-1]},"status":"{self.status}","storage":"{self.storage}"}}'


def summary_json(card: dict[str, Any], labels: dict[str, str]) -> str:
    """summarize_card as the JSON text a VersionRecord stores."""
    return json.dumps(summarize_card(card, labels), sort_keys=True, separators=(",", ":"), default=str)


def summarize_card(card: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """The listing fields taken from a card (schema 1 or 2); none of them is a field of the row's own."""
    provenance = mapping(card.get("provenance"))
    image = mapping(provenance.get("image"))
    git = mapping(provenance.get("git"))
    metrics = mapping(card.get("metrics"))
    return {
        "task": card.get("task"),
        "format": card.get("format"),
        "dataset": card.get("dataset"),
        "run_id": provenance.get("run_id"),
        "run_status": provenance.get("run_status"),
        "image_digest": image.get("digest") or image.get("id"),
        "git_commit": git.get("commit"),
        "git_dirty": git.get("dirty"),
        "metrics": {
            name: entry.get("last") if isinstance(entry, dict) else entry for name, entry in sorted(metrics.items())
        },
        "params": mapping(provenance.get("params")),
        "labels": labels,
    }


def facts_of_card(card: dict[str, Any], run_record: dict[str, Any] | None, label: str) -> RunFacts:
    """What a gate reads of a registered version: the card's metrics (last values) and provenance (params, labels,
    image), its dataset, and the profile from the run record the package carries. The same for a version of the
    local registry and one paddlectl registered on MLflow."""
    provenance = mapping(card.get("provenance"))
    image = mapping(provenance.get("image"))
    params = dict(mapping(provenance.get("params")))
    labels = {str(key): str(value) for key, value in mapping(provenance.get("labels")).items()}
    profile = mapping(run_record).get("profile")
    return RunFacts(
        label=label,
        metrics=last_values(card.get("metrics")),
        params=params,
        labels=labels,
        profile=profile if isinstance(profile, dict) else None,
        image=image.get("digest") or image.get("id"),
        run_id=provenance.get("run_id"),
        dataset=card.get("dataset", dataset_of(labels, params)),
    )


@dataclass(frozen=True)
class EventDraft:
    """An event as a command asks for it; the backend adds the sequence number, the time and the hashes."""

    action: Action
    name: str
    version: str
    actor: str
    from_status: ModelStatus | None = None
    to_status: ModelStatus | None = None
    replaced: str | None = None  # the version this change took production from (it became archived)
    note: str | None = None
    sha256: str | None = None  # the package's, so the log alone says which bytes each event was about

    def event(self, seq: int, time_ns: int, prev_hash: str) -> Event:
        """The event this draft becomes at `seq`, after the event whose hash is `prev_hash`."""
        fields: dict[str, Any] = {
            "seq": seq,
            "time_ns": time_ns,
            "actor": self.actor,
            "action": self.action.value,
            "name": self.name,
            "version": self.version,
            "from_status": self.from_status.value if self.from_status else None,
            "to_status": self.to_status.value if self.to_status else None,
            "replaced": self.replaced,
            "note": self.note,
            "sha256": self.sha256,
            "prev_hash": prev_hash,
        }
        return Event(**fields, hash=event_hash(fields))


@dataclass(frozen=True)
class Event:
    seq: int
    time_ns: int
    actor: str
    action: str
    name: str
    version: str
    from_status: str | None
    to_status: str | None
    replaced: str | None
    note: str | None
    sha256: str | None
    prev_hash: str
    hash: str

    def canonical(self) -> bytes:
        return canonical_encoding(self.fields())

    def fields(self) -> dict[str, Any]:
        """Every field the hash covers (all but the hash itself)."""
        return {
            "seq": self.seq,
            "time_ns": self.time_ns,
            "actor": self.actor,
            "action": self.action,
            "name": self.name,
            "version": self.version,
            "from_status": self.from_status,
            "to_status": self.to_status,
            "replaced": self.replaced,
            "note": self.note,
            "sha256": self.sha256,
            "prev_hash": self.prev_hash,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.fields(), "time": iso_ns(self.time_ns), "hash": self.hash}


@dataclass(frozen=True)
class EventLog:
    """One hash chain: the whole log of a local registry, or one model's log on MLflow."""

    name: str | None  # the model whose log it is; None: every model's (the local registry keeps one chain)
    events: list[Event]  # sequence order
    head: tuple[int, str]  # the last sequence number and hash, as recorded apart from the events
    # Appends are not serialised (MLflow has no compare-and-set): two writers may both append after one event,
    # each with its own key, so one sequence number can hold two events (a fork: a race, reported as one).
    may_fork: bool = False
    unreadable: tuple[str, ...] = ()  # where an event should be and none can be read (its key, for the message)

    @property
    def label(self) -> str:
        return f"events of {self.name}" if self.name else "events"


def canonical_encoding(fields: dict[str, Any]) -> bytes:
    """JSON with sorted keys and no spaces: the bytes an event's hash is taken over."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_encoding(fields)).hexdigest()


# ---- references ---------------------------------------------------------------------------------------------

_REFERENCE = re.compile(r"([^@\s]+)(?:@([^@\s]+))?")
STATUS_NAMES = frozenset(status.value for status in ModelStatus)


@dataclass(frozen=True)
class ModelRef:
    """NAME, NAME@VERSION or NAME@STATUS (staging, production, archived)."""

    name: str
    version: str | None = None
    status: ModelStatus | None = None
    text: str = field(default="", compare=False)

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        match = _REFERENCE.fullmatch(text.strip())
        if match is None:
            raise UsageError(
                f"cannot read the model reference {text!r}", hint="write NAME, NAME@VERSION or NAME@STATUS"
            )
        name, selector = match.groups()
        validate_package_name(name)
        if selector is None:
            return cls(name, text=text)
        if selector in STATUS_NAMES:
            return cls(name, status=ModelStatus(selector), text=text)
        try:
            validate_version(selector)
        except UsageError as error:
            statuses = ", ".join(sorted(STATUS_NAMES))
            raise UsageError(
                f"{text!r}: {selector!r} is neither a version (X.Y.Z) nor a status ({statuses})",
                hint=f"e.g. {name}@1.0.0 or {name}@production",
            ) from error
        return cls(name, version=selector, text=text)

    @staticmethod
    def looks_like(text: str) -> bool:
        """Whether `text` is NAME@VERSION or NAME@STATUS (how `reproduce` tells a registered version from a run)."""
        try:
            ref = ModelRef.parse(text)
        except UsageError:
            return False
        return ref.version is not None or ref.status is not None
