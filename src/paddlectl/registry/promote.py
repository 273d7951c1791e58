"""`registry promote` and `registry rollback`: status changes, each one transaction with its event.

At most one production version per model at any instant: the version a promotion or rollback replaces becomes
`archived` in the same transaction (archived, not staging: it was released and then superseded, and staging means
"candidate, not yet released"). Before anything reaches production its bytes are read and verified again and the
signature policy is applied; the checks run before the write lock is taken, the status change inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paddlectl.errors import UsageError
from paddlectl.foundation.secrets import mask_text
from paddlectl.packaging.layout import ModelStatus
from paddlectl.registry import hooks
from paddlectl.registry.backend import RegistryTransaction
from paddlectl.registry.history import previous_production
from paddlectl.registry.model import Action, Event, EventDraft, Storage, VersionRecord
from paddlectl.registry.store import Registry

PROMOTE_TARGETS = (ModelStatus.STAGING, ModelStatus.PRODUCTION)


@dataclass(frozen=True)
class Transition:
    record: VersionRecord  # as it is now
    event: Event | None  # None: nothing changed (it already had that status)
    replaced: str | None = None  # the version that left production (now archived)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.record.row(),
            "changed": self.event is not None,
            "replaced": self.replaced,
            "event": self.event.as_dict() if self.event else None,
        }


def make_production(tx: RegistryTransaction, name: str, version: str) -> str | None:
    """Inside `tx`: `version` becomes production and the one it replaces archived; returns the replaced one."""
    current = tx.production(name)  # what this writer saw: the event records it (races.py compares)
    hooks.checkpoint("promote:production-read")
    replaced = None
    if current is not None and current.version != version:
        tx.set_status(name, current.version, ModelStatus.ARCHIVED)
        replaced = current.version
        hooks.checkpoint("promote:demoted")
    tx.set_status(name, version, ModelStatus.PRODUCTION)
    return replaced


def _change(registry: Registry, record: VersionRecord, to: ModelStatus, action: Action, note: str | None) -> Transition:
    hooks.checkpoint("promote:before-transaction")
    with registry.backend.transaction() as tx:
        current = tx.get(record.name, record.version)
        assert current is not None  # versions are never deleted
        if current.status is to:
            return Transition(current, None)
        if to is ModelStatus.PRODUCTION:
            if current.storage is Storage.COLD:  # archived to cold by another process since the check
                raise UsageError(f"{record.ref} moved to cold storage meanwhile", hint="restore it, then retry")
            replaced = make_production(tx, record.name, record.version)
        else:
            tx.set_status(record.name, record.version, to)
            replaced = None
        event = tx.append(
            EventDraft(
                action,
                record.name,
                record.version,
                registry.actor(),
                from_status=current.status,
                to_status=to,
                replaced=replaced,
                note=mask_text(note) if note else None,
                sha256=record.sha256,
            )
        )
        hooks.checkpoint("promote:event-appended")
        after = tx.get(record.name, record.version)
    assert after is not None
    return Transition(after, event, replaced)


def promote(registry: Registry, name: str, version: str, to: ModelStatus, note: str | None = None) -> Transition:
    """Give NAME@VERSION status `to` (staging or production).

    Raises UsageError for an unknown or cold version, TamperedError when its bytes fail verification,
    PaddlectlError(REFUSED) when production needs a trusted signature it lacks.
    """
    if to not in PROMOTE_TARGETS:
        raise UsageError(f"--to {to.value}: not a promotion", hint="use --to staging or --to production")
    record = registry.record(name, version)
    if to is ModelStatus.PRODUCTION and record.status is not ModelStatus.PRODUCTION:
        checked = registry.checked_blob(record)
        registry.policy.require(checked, record.ref, "promote to production")
    return _change(registry, record, to, Action.PROMOTE, note)


def rollback_target(registry: Registry, name: str, to: str | None) -> VersionRecord:
    """The version a rollback goes to: `to`, else the one that was production just before the current one."""
    if to is not None:
        return registry.record(name, to)
    previous = previous_production(registry.backend.events(name), name)
    if previous is None and not registry.backend.find(name):
        raise UsageError(f"no model {name} in the registry", hint="see what is: paddlectl registry list")
    if previous is None:
        raise UsageError(
            f"{name} has no earlier production version to roll back to",
            hint=f"name one: paddlectl registry rollback {name} --to VERSION",
        )
    return registry.record(name, previous)


def rollback(
    registry: Registry, name: str, to: str | None = None, note: str | None = None, restore: bool = False
) -> Transition:
    """Production goes back to the previous production version (or `to`), after its bytes are verified again.

    Raises UsageError when there is nothing to roll back to or the target is in cold storage (unless restore),
    TamperedError when its bytes no longer match, PaddlectlError(REFUSED) when the signature policy refuses it.
    """
    target = rollback_target(registry, name, to)
    if target.status is ModelStatus.PRODUCTION:
        raise UsageError(f"{target.ref} is production already", hint=f"see: paddlectl registry history {name}")
    if target.storage is Storage.COLD:
        if not restore:
            raise UsageError(
                f"cannot roll back to {target.ref}: it is in cold storage ({target.cold_location})",
                hint=f"add --restore to fetch and verify it first: paddlectl registry rollback {name} --restore",
            )
        from paddlectl.registry.cold import restore_version

        target = restore_version(registry, target.name, target.version).record
    checked = registry.checked_blob(target)
    registry.policy.require(checked, target.ref, "roll back to")
    return _change(registry, target, ModelStatus.PRODUCTION, Action.ROLLBACK, note)
