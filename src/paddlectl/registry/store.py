"""An open registry: its settings, its backend, the signature policy, and lookups every command shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from paddlectl.errors import UsageError
from paddlectl.packaging.errors import TamperedError
from paddlectl.registry.actor import current_actor
from paddlectl.registry.backend import RegistryBackend
from paddlectl.registry.model import ModelRef, Storage, VersionRecord
from paddlectl.registry.policy import CheckedPackage, SignaturePolicy
from paddlectl.registry.settings import RegistrySettings, load_settings


@dataclass
class Registry:
    settings: RegistrySettings
    backend: RegistryBackend
    policy: SignaturePolicy
    actor: Callable[[], str] = field(default=current_actor)

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.backend.close()

    def record(self, name: str, version: str) -> VersionRecord:
        record = self.backend.get(name, version)
        if record is None:
            raise UsageError(
                f"{name}@{version} is not in the registry ({self.backend.location})",
                hint=f"see what is: paddlectl registry list {name}",
            )
        return record

    def resolve(self, reference: ModelRef | str) -> VersionRecord:
        """NAME@VERSION, or NAME@STATUS (the newest version with that status); UsageError when there is none."""
        ref = ModelRef.parse(reference) if isinstance(reference, str) else reference
        if ref.version is not None:
            return self.record(ref.name, ref.version)
        if ref.status is None:
            raise UsageError(f"{ref.name}: which version?", hint=f"write {ref.name}@VERSION or {ref.name}@production")
        found = self.backend.find(ref.name, ref.status)
        if not found:
            raise UsageError(
                f"{ref.name} has no {ref.status.value} version",
                hint=f"see its versions: paddlectl registry list {ref.name}",
            )
        return found[-1]

    def checked_blob(self, record: VersionRecord) -> CheckedPackage:
        """The registry's copy of `record`, read and verified again now.

        Raises UsageError for a cold version (restore it first), TamperedError when the copy is gone, its bytes
        no longer hash to the version's sha256, or it fails the package's own verification.
        """
        if record.storage is Storage.COLD:
            raise UsageError(
                f"{record.ref} is in cold storage ({record.cold_location})",
                hint=f"bring it back first: paddlectl registry restore {record.name} {record.version}",
            )
        path = self.backend.blobs.path(record.sha256)
        if not path.is_file():
            raise TamperedError(
                f"the registry's copy of {record.ref} is missing ({path})",
                hint="run paddlectl registry verify; register the package again from where it was published",
            )
        checked = self.policy.check(path)
        if checked.sha256 != record.sha256:
            raise TamperedError(
                f"the registry's copy of {record.ref} no longer matches its sha256 ({path})",
                hint="run paddlectl registry verify; register the package again from where it was published",
            )
        checked.raise_for_problems(f"the registry's copy of {record.ref}")
        return checked


def open_registry(*, write: bool = False, policy: bool = True, project_config: Path | None = None) -> Registry:
    """The registry the settings name. Read-only (write=False), a registry that does not exist yet is empty.

    policy=False skips the config files when PADDLECTL_REGISTRY already says where the registry is (listings).
    With `registry.backend: mlflow` it is the MLflow server's; nothing is written locally then.
    """
    settings = load_settings(project_config, policy=policy)
    backend: RegistryBackend
    if settings.mlflow is not None:
        from paddlectl.registry.mlflow_backend import MlflowBackend

        backend = MlflowBackend(settings.mlflow)
    else:
        from paddlectl.registry.sqlite_backend import SqliteBackend

        backend = SqliteBackend(settings.path, create=write)
    return Registry(
        settings=settings,
        backend=backend,
        policy=SignaturePolicy(settings.require_signature, settings.trusted_keys),
    )
