"""Reading the registry: listings with filters, one version or one model in full, and two versions compared."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paddlectl.errors import UsageError
from paddlectl.packaging.layout import ModelStatus, parse_status
from paddlectl.registry.model import ModelRef, VersionRecord
from paddlectl.registry.store import Registry

if TYPE_CHECKING:
    from paddlectl.runs.compare import CompareRow
    from paddlectl.runs.manifest import Manifest
    from paddlectl.runs.query import Condition


@dataclass(frozen=True)
class VersionQuery:
    name: str | None = None
    statuses: frozenset[ModelStatus] = frozenset()
    where: tuple[Condition, ...] = ()
    labels: tuple[tuple[str, str | None], ...] = ()

    @classmethod
    def parse(cls, name: str | None, statuses: list[str], where: list[str], labels: list[str]) -> VersionQuery:
        """Raises UsageError for an unknown status, an unreadable condition or an empty label."""
        wanted = frozenset(parse_status(part.strip()) for item in statuses for part in item.split(",") if part.strip())
        conditions: tuple[Condition, ...] = ()
        if where:
            from paddlectl.runs.query import parse_condition

            conditions = tuple(parse_condition(text) for text in where)
        pairs = []
        for item in labels:
            key, sep, value = item.partition("=")
            if not key.strip():
                raise UsageError(f"--label {item!r} has no name", hint="write --label KEY=VALUE (or KEY)")
            pairs.append((key.strip(), value.strip() if sep else None))
        if name is not None:
            ModelRef.parse(name)
        return cls(name, wanted, conditions, tuple(pairs))

    def matches(self, record: VersionRecord) -> bool:
        if self.statuses and record.status not in self.statuses:
            return False
        labels = record.summary.get("labels") or {}
        for key, value in self.labels:
            if key not in labels or (value is not None and str(labels[key]) != value):
                return False
        if self.where:
            row = {**record.row(), "metrics": record.summary.get("metrics") or {}}
            return all(condition.test(row) for condition in self.where)
        return True


def check_query(registry: Registry, query: VersionQuery) -> None:
    """UsageError for a model the registry does not have, or a --where name no version of it can match: both are
    typos an empty listing would hide (registry history says the same of an unknown model). Only an empty listing
    needs asking: either typo leaves nothing to list."""
    if query.name is None and not query.where:
        return
    versions = registry.backend.find(query.name)
    if query.name is not None and not versions:
        models = sorted({record.name for record in registry.backend.find()})
        known = f"; its models: {', '.join(models[:10])}" if models else ""
        raise UsageError(f"no model {query.name} in the registry{known}", hint="see what is: paddlectl registry list")
    if not versions:
        return
    from paddlectl.runs.query import lookup

    rows = [{**record.row(), "metrics": record.summary.get("metrics") or {}} for record in versions]
    for condition in query.where:
        if all(lookup(row, condition.name) is None for row in rows):
            names = sorted({key for row in rows for key in row["metrics"]})
            raise UsageError(
                f"--where {condition.text!r}: no registered version has {condition.name}",
                hint=f"card metrics there: {', '.join(names) or 'none'}",
            )


def list_versions(registry: Registry, query: VersionQuery) -> list[VersionRecord]:
    """Versions by name, then registration order; one status given is filtered by the database itself."""
    status = next(iter(query.statuses)) if len(query.statuses) == 1 else None
    return [record for record in registry.backend.find(query.name, status) if query.matches(record)]


def list_json(registry: Registry, query: VersionQuery) -> list[str]:
    """The rows of list_versions as JSON texts; without conditions, straight from the stored listing rows."""
    if query.where or query.labels or len(query.statuses) > 1:
        return [record.row_json() for record in list_versions(registry, query)]
    status = next(iter(query.statuses)) if query.statuses else None
    return [row.json() for row in registry.backend.listing(query.name, status)]


@dataclass(frozen=True)
class ModelOverview:
    name: str
    versions: list[VersionRecord]

    @property
    def production(self) -> VersionRecord | None:
        return next((r for r in self.versions if r.status is ModelStatus.PRODUCTION), None)

    def as_dict(self) -> dict[str, Any]:
        production = self.production
        return {
            "name": self.name,
            "production": production.version if production else None,
            "versions": [record.row() for record in self.versions],
        }


def show(registry: Registry, reference: str) -> VersionRecord | ModelOverview:
    """NAME: the model and its versions; NAME@VERSION or NAME@STATUS: that version in full."""
    ref = ModelRef.parse(reference)
    if ref.version is None and ref.status is None:
        versions = registry.backend.find(ref.name)
        if not versions:
            raise UsageError(f"no model {ref.name} in the registry", hint="see what is: paddlectl registry list")
        return ModelOverview(ref.name, versions)
    return registry.resolve(ref)


# ---- compare ---------------------------------------------------------------------------------------------------


@dataclass
class VersionComparison:
    name: str
    versions: list[str]
    rows: list[CompareRow] = field(default_factory=list)
    runs_compared: bool = False  # the rows below the registry's come from the runs' own manifests

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "versions": self.versions,
            "runs_compared": self.runs_compared,
            "rows": [asdict(row) for row in self.rows],
        }


def _manifest(record: VersionRecord, runs_dir: Path | None) -> Manifest | None:
    """The version's run: the record inside its package, else the project's own run store."""
    from paddlectl.runs.manifest import Manifest, ManifestError

    if record.run_record is not None:
        try:
            return Manifest.from_dict(record.run_record)
        except ManifestError:
            return None
    run_id = record.summary.get("run_id")
    if runs_dir is None or not run_id:
        return None
    from paddlectl.runs.store import RunStore

    return RunStore.load(RunStore(runs_dir).paths(str(run_id))).manifest


def _row(section: str, key: str, values: list[Any]) -> CompareRow:
    from paddlectl.runs.compare import CompareRow

    return CompareRow(section, key, values, any(value != values[0] for value in values[1:]))


def _card_rows(records: list[VersionRecord]) -> list[CompareRow]:
    rows = [
        _row("image", "digest", [r.summary.get("image_digest") for r in records]),
        _row("git", "commit", [r.summary.get("git_commit") for r in records]),
        _row("git", "dirty", [r.summary.get("git_dirty") for r in records]),
    ]
    for section in ("params", "metrics"):
        names: dict[str, None] = {}
        for record in records:
            names.update(dict.fromkeys(record.summary.get(section) or {}))
        rows.extend(_row(section, key, [(r.summary.get(section) or {}).get(key) for r in records]) for key in names)
    return rows


def compare_versions(
    registry: Registry, name: str, versions: list[str], runs_dir: Path | None = None
) -> VersionComparison:
    """The registry's fields side by side, then the runs compared (runs.compare) when both runs are known, else the
    cards' image digest, commit, params and metrics."""
    from paddlectl.runs.compare import compare_runs

    records = [registry.record(name, version) for version in versions]
    fixed = ("sha256", "status", "storage", "signature", "registered_at", "registered_by", "run_id", "run_status")
    rows = [_row("registry", key, [r.row().get(key) for r in records]) for key in fixed]
    manifests = [_manifest(record, runs_dir) for record in records]
    comparison = VersionComparison(name, versions, rows)
    present = [m for m in manifests if m is not None]
    if len(present) == len(manifests):
        comparison.rows.extend(compare_runs(present).rows)
        comparison.runs_compared = True
    else:
        comparison.rows.extend(_card_rows(records))
    return comparison
