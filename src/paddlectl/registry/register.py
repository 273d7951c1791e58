"""`registry register`: verify a package, store its bytes, and record it as a new version in one transaction.

Order matters for crashes: the blob is written (and fsynced) first, then one transaction inserts the row and its
event. A kill between the two leaves a blob without a row, which `registry verify --fix` removes; never a row
without its blob or its event.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paddlectl.errors import UsageError
from paddlectl.foundation.secrets import mask_mapping, mask_text
from paddlectl.foundation.yamlio import load_yaml
from paddlectl.packaging.layout import RUN_RECORD_NAME, ModelStatus
from paddlectl.registry import hooks
from paddlectl.registry.model import Action, EventDraft, Storage, VersionRecord, mapping, summary_json
from paddlectl.registry.policy import CheckedPackage
from paddlectl.registry.promote import make_production
from paddlectl.registry.store import Registry

REGISTER_STATUSES = (ModelStatus.STAGING, ModelStatus.PRODUCTION)


@dataclass(frozen=True)
class Registered:
    record: VersionRecord
    created: bool  # False: these exact bytes were registered already (register is idempotent)
    replaced: str | None = None  # registered straight to production: the version that was production
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**self.record.row(), "created": self.created, "replaced": self.replaced, "warnings": self.warnings}


def parse_labels(items: list[str]) -> dict[str, str]:
    labels = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key.strip() or not sep:
            raise UsageError(f"--label {item!r} is not KEY=VALUE", hint="e.g. --label team=vision")
        labels[key.strip()] = value.strip()
    return labels


def _run_json(checked: CheckedPackage) -> str | None:
    data = checked.provenance.get(RUN_RECORD_NAME)
    if data is None:
        return None
    record = load_yaml(data.decode("utf-8", "replace"), f"{checked.path.name}: {RUN_RECORD_NAME}")
    return json.dumps(record, sort_keys=True, default=str) if isinstance(record, dict) else None


def _new_record(registry: Registry, checked: CheckedPackage, labels: dict[str, str]) -> VersionRecord:
    card = checked.card or {}
    run_labels = mapping(mapping(card.get("provenance")).get("labels"))
    merged = mask_mapping({**{str(k): str(v) for k, v in run_labels.items()}, **labels})
    return VersionRecord(
        name=checked.name,
        version=checked.version,
        sha256=checked.sha256,
        size=checked.size,
        status=ModelStatus.STAGING,
        storage=Storage.HOT,
        signature=checked.signature,
        key_fingerprint=checked.key_fingerprint,
        registered_by=registry.actor(),
        registered_at_ns=time.time_ns(),
        summary_json=summary_json(card, merged),
        card_json=json.dumps(card, sort_keys=True, default=str),
        run_json=_run_json(checked),
    )


def _conflict(record: VersionRecord, sha256: str) -> UsageError:
    return UsageError(
        f"{record.ref} is already registered with other bytes (sha256 {record.sha256[:12]}, this one {sha256[:12]})",
        hint="a version never changes: package it under a new --version",
    )


def register_package(
    registry: Registry,
    package: Path,
    *,
    status: ModelStatus = ModelStatus.STAGING,
    note: str | None = None,
    labels: dict[str, str] | None = None,
) -> Registered:
    """Register `package` (verified first) as NAME@VERSION from its card, or return the version it already is.

    Raises TamperedError for a package that fails verification, UsageError for a name and version registered
    with other bytes, PaddlectlError(REFUSED) when registering straight to production breaks the policy.
    """
    if status not in REGISTER_STATUSES:
        raise UsageError(f"register --status {status.value}: not allowed", hint="use staging or production")
    checked = registry.policy.check(package)
    checked.raise_for_problems()
    existing = registry.backend.get(checked.name, checked.version)
    if existing is not None:
        if existing.sha256 != checked.sha256:
            raise _conflict(existing, checked.sha256)
        return Registered(existing, created=False)
    if status is ModelStatus.PRODUCTION:
        registry.policy.require(checked, f"{checked.name}@{checked.version}", "register to production")
    record = _new_record(registry, checked, labels or {})
    blobs = registry.backend.blobs
    blobs.put(package, checked.sha256)  # the bytes copied hash to the sha256 verified above, or it raises
    hooks.checkpoint("register:blob-written")
    with registry.backend.transaction() as tx:
        again = tx.by_sha256(checked.sha256)
        if again is not None:  # the same bytes, registered by another process meanwhile
            return Registered(again, created=False)
        taken = tx.get(record.name, record.version)
        if taken is not None:
            blobs.remove(checked.sha256)  # ours alone: no row points to it
            raise _conflict(taken, checked.sha256)
        if not blobs.has(checked.sha256):  # swept by a concurrent `verify --fix` before we held the lock
            blobs.put(package, checked.sha256)
        tx.insert(record)
        hooks.checkpoint("register:row-inserted")
        replaced = make_production(tx, record.name, record.version) if status is ModelStatus.PRODUCTION else None
        tx.append(
            EventDraft(
                Action.REGISTER,
                record.name,
                record.version,
                registry.actor(),
                from_status=None,
                to_status=status,
                replaced=replaced,
                note=mask_text(note) if note else None,
                sha256=record.sha256,
            )
        )
        hooks.checkpoint("register:event-appended")
        stored = tx.get(record.name, record.version)
    assert stored is not None
    return Registered(stored, created=True, replaced=replaced)
