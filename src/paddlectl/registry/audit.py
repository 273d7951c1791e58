"""`registry verify`: every hot blob's bytes and signature, the event log's hash chain, and the log against the
versions it describes; `--fix` removes garbage (blobs no version points to, unfinished writes).

Garbage is removed under the write lock, so a `register` that wrote its blob but has not committed yet either
commits before the sweep looks (and its blob is kept) or finds its blob gone inside its own transaction and writes
it again. Unfinished `.part` files are removed only when older than PARTIAL_GRACE_SECONDS: a writer may be copying.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paddlectl.errors import ExitCode, PaddlectlError
from paddlectl.registry.history import check_log, replay
from paddlectl.registry.model import Event, SignatureCheck, Storage, VersionRecord
from paddlectl.registry.races import Race, find_races
from paddlectl.registry.store import Registry

PARTIAL_GRACE_SECONDS = 3600.0


@dataclass(frozen=True)
class Finding:
    kind: str  # blob | signature | event-log | state
    subject: str  # NAME@VERSION, an event, a blob
    reason: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.reason}"


@dataclass
class AuditReport:
    location: str
    versions: int = 0
    blobs_verified: int = 0
    cold: int = 0
    events: int = 0
    findings: list[Finding] = field(default_factory=list)
    signatures: dict[str, int] = field(default_factory=dict)  # hot versions by signature state, checked now
    garbage: list[str] = field(default_factory=list)  # blobs no hot version points to
    removed: list[str] = field(default_factory=list)  # what --fix removed
    head_seq: int = 0
    head_hash: str = ""  # the last event's hash: note it elsewhere (a CI log) to anchor the whole chain
    heads: list[tuple[str | None, int, str]] = field(default_factory=list)  # each log's (model, seq, hash)
    races: list[Race] = field(default_factory=list)  # found afterwards (races.py): reported, not failures
    # Signatures the trust settings read here no longer accept, on bytes that match: a change of registry.trusted_keys
    # (read per project, while the registry spans projects), not tampering; promote and rollback apply the policy.
    trust_notes: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.TAMPERED

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "registry": self.location,
            "versions": self.versions,
            "blobs_verified": self.blobs_verified,
            "cold": self.cold,
            "events": self.events,
            "findings": [{"kind": f.kind, "subject": f.subject, "reason": f.reason} for f in self.findings],
            "signatures": self.signatures,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "heads": [{"name": name, "seq": seq, "hash": digest} for name, seq, digest in self.heads],
            "races": [race.as_dict() for race in self.races],
            "trust_notes": [{"subject": f.subject, "reason": f.reason} for f in self.trust_notes],
            "garbage": self.garbage,
            "removed": self.removed,
            "exit_code": int(self.exit_code),
        }


def _check_blob(registry: Registry, record: VersionRecord, report: AuditReport) -> None:
    try:
        checked = registry.checked_blob(record)
    except PaddlectlError as error:
        report.findings.append(Finding("blob", record.ref, error.message))
        return
    state = checked.signature.value
    report.signatures[state] = report.signatures.get(state, 0) + 1
    if record.signature is SignatureCheck.VALID and checked.signature is not SignatureCheck.VALID:
        # The blob's sha256 matched, so its signature is the one accepted at registration: the trust list changed.
        reason = f"was signed by a trusted key when registered; with the trusted keys read here it is {state}"
        report.trust_notes.append(Finding("signature", record.ref, reason))


def _state_findings(records: list[VersionRecord], events: list[Event]) -> list[Finding]:
    """The versions table must be exactly what replaying the log gives: no version without its events."""
    state = replay(events)
    findings = []
    seen = set()
    for record in records:
        key = (record.name, record.version)
        seen.add(key)
        replayed = state.versions.get(key)
        if replayed is None:
            findings.append(Finding("state", record.ref, "no register event for this version"))
            continue
        if replayed.sha256 != record.sha256:
            findings.append(Finding("state", record.ref, "its register event names other bytes"))
        if replayed.status != record.status.value:
            findings.append(Finding("state", record.ref, f"is {record.status.value}, the log says {replayed.status}"))
        if replayed.storage != record.storage.value:
            findings.append(Finding("state", record.ref, f"is {record.storage.value}, the log says {replayed.storage}"))
    for name, version in sorted(set(state.versions) - seen):
        findings.append(Finding("state", f"{name}@{version}", "registered in the log, missing from the versions"))
    return findings


def verify_registry(registry: Registry, fix: bool = False) -> AuditReport:
    """Check everything; with fix, also remove garbage blobs and stale unfinished writes.

    Nothing is repaired: a tampered blob or a broken log is reported (exit 4), never rewritten.
    """
    backend = registry.backend
    report = AuditReport(location=backend.location)
    logs = backend.event_logs()
    for log in logs:
        report.heads.append((log.name, *log.head))
        report.findings += [Finding("event-log", log.label, str(problem)) for problem in check_log(log)]
        report.races += find_races(log.events)
    if len(logs) == 1:
        report.head_seq, report.head_hash = logs[0].head
    events = [event for log in logs for event in log.events]
    report.events = len(events)
    records = backend.find()
    report.versions = len(records)
    report.findings += _state_findings(records, events)
    for record in records:
        if record.storage is Storage.COLD:
            report.cold += 1
            continue
        _check_blob(registry, record, report)
        report.blobs_verified += 1
    hot = {record.sha256 for record in records if record.storage is Storage.HOT}
    report.garbage = [sha for sha in backend.blobs.stored() if sha not in hot]
    if fix:
        with backend.transaction() as tx:
            keep = tx.referenced_blobs()
            for sha in backend.blobs.stored():
                if sha not in keep:
                    backend.blobs.remove(sha)
                    report.removed.append(sha)
            report.removed += backend.blobs.sweep_partial(PARTIAL_GRACE_SECONDS)
    return report
