"""The registry on an MLflow Model Registry (`registry.backend: mlflow`), so that a team shares one.

What lives where on the server (mlflow_records.py writes the tags, mlflow_blobs.py the packages):
- a registered model per name (tagged `paddlectl.registry`), a model version per package, its source the run
  whose artifact is the archive, its tags the registry's record and the card;
- production and staging are aliases (the names in `registry.mlflow.aliases`); MLflow's stages, deprecated
  since 2.9, are never used. `production` points to the production version; `staging` to the newest staging
  version (what `NAME@staging` resolves to). A version that left production carries `paddlectl.archived`;
- the event log is tags of the registered model, hash-chained like the local log, with the head apart.

A version's status is read, not stored: production when the production alias points to it, else archived when
tagged so, else staging. Aliases are read from the registered model, never from `model-versions/search`, which
answers without them (mlflow#9783).

What MLflow cannot promise, and what is done instead:
- No transactions: a command is several requests, state first and its event last; one cut short leaves a change
  without its event, which `registry verify` reports (the versions no longer replay from the log).
- No compare-and-set: two clients moving production at the same instant both succeed and the last writer
  wins. Each production event records the version its writer saw there (`replaced`); a writer also re-reads the
  alias right before moving it and archives whoever it displaces. races.py finds the disagreement afterwards,
  and `registry history` and `registry verify` report it. Two appends at once both stay (a fork), never one
  overwriting the other.
- Two first registrations of one name and version at once: the lowest MLflow version number wins; the other
  client deletes its own version and asks to run the command again.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from paddlectl.errors import UnavailableError, UsageError
from paddlectl.mlflowapi.client import TrackingClient
from paddlectl.mlflowapi.model_registry import ModelRegistryApi, quoted, tags_of
from paddlectl.packaging.layout import ModelStatus
from paddlectl.registry import hooks
from paddlectl.registry.mlflow_blobs import MlflowBlobStore
from paddlectl.registry.mlflow_records import (
    ARCHIVED,
    COLD_LOCATION,
    HEAD,
    MODEL_MARKER,
    SHA256,
    STORAGE,
    VERSION,
    event_key,
    event_value,
    head_value,
    long_value,
    read_events,
    read_head,
    read_version,
    version_tags,
)
from paddlectl.registry.mlflow_settings import URI_SOURCES, MlflowSettings
from paddlectl.registry.model import GENESIS, Event, EventDraft, EventLog, ListedRow, Storage, VersionRecord

SWEEP_GRACE_SECONDS = 3600.0  # as audit.PARTIAL_GRACE_SECONDS


@dataclass(frozen=True)
class ServerModel:
    name: str
    tags: dict[str, str]
    aliases: dict[str, str]  # alias -> MLflow version number

    @classmethod
    def from_json(cls, model: dict[str, Any]) -> ServerModel:
        aliases = {
            str(entry["alias"]): str(entry["version"])
            for entry in model.get("aliases") or []
            if isinstance(entry, dict) and "alias" in entry
        }
        return cls(str(model["name"]), tags_of(model), aliases)


@dataclass(frozen=True)
class ServerVersion:
    number: str  # MLflow's
    tags: dict[str, str]

    @classmethod
    def from_json(cls, version: dict[str, Any]) -> ServerVersion:
        return cls(str(version["version"]), tags_of(version))


def kept_versions(versions: list[ServerVersion]) -> list[ServerVersion]:
    """paddlectl's versions in registration order; of two numbers for one paddlectl version, the lower."""
    kept: dict[str, ServerVersion] = {}
    for version in sorted(versions, key=lambda v: int(v.number)):
        if VERSION in version.tags:
            kept.setdefault(version.tags[VERSION], version)
    return sorted(kept.values(), key=lambda v: int(v.number))


class MlflowBackend:
    """A registry held by one MLflow server (see the module's docstring). Nothing is written locally."""

    def __init__(self, settings: MlflowSettings) -> None:
        self.settings = settings
        self.client = TrackingClient(settings.uri, where=URI_SOURCES)
        self.api = ModelRegistryApi(self.client)
        self._blobs = MlflowBlobStore(self.client, settings.experiment)
        self.clock: Callable[[], int] = time.time_ns
        self.nonce: Callable[[], str] = lambda: secrets.token_hex(4)

    @property
    def location(self) -> str:
        return f"MLflow {self.settings.display_uri}"

    @property
    def blobs(self) -> MlflowBlobStore:
        return self._blobs

    @contextlib.contextmanager
    def transaction(self) -> Iterator[MlflowTransaction]:
        """No lock and no rollback: MLflow has neither. Each write is sent as it is made."""
        yield MlflowTransaction(self)

    # ---- reading -----------------------------------------------------------------------------------------

    def model(self, name: str) -> ServerModel | None:
        found = self.api.get_model(name)
        return ServerModel.from_json(found) if found is not None else None

    def status(self, model: ServerModel, version: ServerVersion) -> ModelStatus:
        if model.aliases.get(self.settings.production_alias) == version.number:
            return ModelStatus.PRODUCTION
        if version.tags.get(ARCHIVED) == "true":
            return ModelStatus.ARCHIVED
        return ModelStatus.STAGING

    def versions(self, name: str, version: str | None = None) -> list[ServerVersion]:
        query = f"name = {quoted(name)}"
        if version is not None:
            query += f" AND tags.`{VERSION}` = {quoted(version)}"
        return kept_versions([ServerVersion.from_json(found) for found in self.api.search_versions(query)])

    def record(self, model: ServerModel, version: ServerVersion) -> VersionRecord | None:
        return read_version(model.name, version.tags, self.status(model, version))

    def mlflow_version(self, name: str, version: str) -> tuple[ServerModel, ServerVersion] | None:
        model = self.model(name)
        found = self.versions(name, version) if model is not None else []
        return (model, found[0]) if model is not None and found else None

    def get(self, name: str, version: str) -> VersionRecord | None:
        found = self.mlflow_version(name, version)
        return self.record(*found) if found is not None else None

    def models(self) -> list[ServerModel]:
        """paddlectl's registered models, by name (search answers with their aliases and tags)."""
        found = [ServerModel.from_json(model) for model in self.api.search_models()]
        return sorted((model for model in found if MODEL_MARKER in model.tags), key=lambda model: model.name)

    def production(self, name: str) -> VersionRecord | None:
        target = self.api.alias_target(name, self.settings.production_alias)
        if target is None:
            return None
        return read_version(name, tags_of(target), ModelStatus.PRODUCTION)

    def find(self, name: str | None = None, status: ModelStatus | None = None) -> list[VersionRecord]:
        if name is not None and status is ModelStatus.PRODUCTION:
            production = self.production(name)  # one request: what `NAME@production` needs
            return [production] if production is not None else []
        if name is not None:
            model = self.model(name)
            models = [model] if model is not None else []
        else:
            models = self.models()
        records = []
        for model in models:
            for version in self.versions(model.name):
                record = self.record(model, version)
                if record is not None and (status is None or record.status is status):
                    records.append(record)
        return records

    def listing(self, name: str | None = None, status: ModelStatus | None = None) -> list[ListedRow]:
        return [ListedRow(r.status.value, r.storage.value, r.listing_json()) for r in self.find(name, status)]

    def event_log(self, model: ServerModel) -> EventLog:
        events, unreadable = read_events(model.tags)
        head = read_head(model.tags) or (0, GENESIS)
        return EventLog(model.name, events, head, may_fork=True, unreadable=tuple(f"tag {key}" for key in unreadable))

    def event_logs(self) -> list[EventLog]:
        return [self.event_log(model) for model in self.models()]

    def events(self, name: str | None = None) -> list[Event]:
        if name is None:
            return [event for log in self.event_logs() for event in log.events]
        model = self.model(name)
        return self.event_log(model).events if model is not None else []

    def close(self) -> None:
        self._blobs.close()
        self.client.close()


class MlflowTransaction:
    """The RegistryTransaction of MlflowBackend: every call is a request now (see the module's docstring)."""

    def __init__(self, backend: MlflowBackend) -> None:
        self.backend = backend
        self.api = backend.api
        self.settings = backend.settings

    def get(self, name: str, version: str) -> VersionRecord | None:
        return self.backend.get(name, version)

    def by_sha256(self, sha256: str) -> VersionRecord | None:
        found = [ServerVersion.from_json(v) for v in self.api.search_versions(f"tags.`{SHA256}` = {quoted(sha256)}")]
        for version in sorted(found, key=lambda v: int(v.number)):
            name = version.tags.get("paddlectl.name")
            if name:
                record = self.backend.get(name, version.tags.get(VERSION, ""))
                if record is not None and record.sha256 == sha256:
                    return record
        return None

    def production(self, name: str) -> VersionRecord | None:
        return self.backend.production(name)

    def insert(self, record: VersionRecord) -> None:
        """Create the model version, its tags in the same request. Raises UnavailableError when another client
        created the same name and version at the same moment (its version, numbered lower, is kept)."""
        if not self.api.create_model(record.name, {MODEL_MARKER: "1"}):
            self.api.set_model_tag(record.name, MODEL_MARKER, "1")  # made by someone else: paddlectl's from now on
        source, run_id = self.backend.blobs.source(record.sha256)
        hooks.checkpoint("register:version-creating")
        created = ServerVersion.from_json(self.api.create_version(record.name, source, run_id, version_tags(record)))
        same = self.backend.versions(record.name, record.version)
        if same and same[0].number != created.number:
            self.api.delete_version(record.name, created.number)
            raise UnavailableError(
                f"another client registered {record.ref} at the same moment",
                hint="run the command again: registering the same bytes again returns the version",
            )
        self._restage(record.name)

    def _number(self, name: str, version: str) -> str:
        found = self.backend.mlflow_version(name, version)
        if found is None:  # paddlectl never deletes a version it kept; someone did, on the server
            raise UsageError(
                f"{name}@{version} is no longer on the MLflow server ({self.backend.settings.display_uri})",
                hint="it was deleted there, outside paddlectl: see paddlectl registry verify",
            )
        return found[1].number

    def set_status(self, name: str, version: str, status: ModelStatus) -> None:
        number = self._number(name, version)
        production = self.settings.production_alias
        if status is ModelStatus.PRODUCTION:
            self._take_production(name, number)
        elif status is ModelStatus.ARCHIVED:
            # The alias stays until the next production takes it: there is never a moment without production.
            self.api.set_version_tag(name, number, ARCHIVED, "true")
        else:
            self.api.delete_version_tag(name, number, ARCHIVED)
            target = self.api.alias_target(name, production)
            if target is not None and str(target.get("version")) == number:
                self.api.delete_alias(name, production)
        self._restage(name)

    def _take_production(self, name: str, number: str) -> None:
        production = self.settings.production_alias
        holder = self.api.alias_target(name, production)  # read again right before the write: whoever holds it now
        if holder is not None and str(holder.get("version")) != number and tags_of(holder).get(ARCHIVED) != "true":
            self.api.set_version_tag(name, str(holder["version"]), ARCHIVED, "true")
        self.api.set_alias(name, production, number)
        self.api.delete_version_tag(name, number, ARCHIVED)

    def _restage(self, name: str) -> None:
        """Point the staging alias to the newest staging version, or remove it when there is none."""
        model = self.backend.model(name)
        if model is None:
            return
        staging = [v for v in self.backend.versions(name) if self.backend.status(model, v) is ModelStatus.STAGING]
        alias = self.settings.staging_alias
        if staging:
            if model.aliases.get(alias) != staging[-1].number:
                self.api.set_alias(name, alias, staging[-1].number)
        elif alias in model.aliases:
            self.api.delete_alias(name, alias)

    def set_storage(self, name: str, version: str, storage: Storage, location: str | None) -> None:
        number = self._number(name, version)
        self.api.set_version_tag(name, number, STORAGE, storage.value)
        if location:
            self.api.set_version_tag(name, number, COLD_LOCATION, location)

    def append(self, draft: EventDraft) -> Event:
        """Append after the last event (of a fork: the one the head names); the event first, then the head."""
        model = self.backend.model(draft.name)
        tags = model.tags if model is not None else {}
        events, _ = read_events(tags)
        seq, previous = 0, GENESIS
        if events:
            last = [event for event in events if event.seq == events[-1].seq]
            head = read_head(tags)
            chosen = next((e for e in last if head is not None and e.hash == head[1]), last[-1])
            seq, previous = chosen.seq, chosen.hash
        hooks.checkpoint("append:head-read")
        event = draft.event(seq + 1, self.backend.clock(), previous)
        key = event_key(event.seq, self.backend.nonce())
        pieces = long_value(key, event_value(event))
        for piece_key in sorted(pieces, key=lambda k: k == key):  # the pieces first, the event's own key last
            self.api.set_model_tag(draft.name, piece_key, pieces[piece_key])
        self.api.set_model_tag(draft.name, HEAD, head_value(event.seq, event.hash))
        return event

    def referenced_blobs(self) -> set[str]:
        """Hot versions' packages, and those put within the grace period: with no lock to wait for, a package put
        by a `register` still under way looks like garbage until its version exists."""
        recent = self.backend.blobs.put_since(time.time() - SWEEP_GRACE_SECONDS)
        return recent | {record.sha256 for record in self.backend.find() if record.storage is Storage.HOT}
