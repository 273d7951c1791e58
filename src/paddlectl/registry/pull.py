"""Getting a registered package out: `registry pull` for deploy scripts, and a verified path for `image build`.

Both verify the registry's copy again (sha256, checksums, card) and apply the signature policy: a deploy never
gets bytes the registry would refuse to promote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paddlectl.errors import UsageError
from paddlectl.foundation.atomic import copy_verified
from paddlectl.packaging.errors import TamperedError
from paddlectl.packaging.layout import archive_name
from paddlectl.registry.model import VersionRecord
from paddlectl.registry.policy import CheckedPackage
from paddlectl.registry.store import Registry

CHUNK = 1 << 20


@dataclass(frozen=True)
class Pulled:
    path: Path
    record: VersionRecord

    def as_dict(self) -> dict[str, Any]:
        return {**self.record.row(), "path": str(self.path)}


def verified_package(registry: Registry, reference: str) -> tuple[Path, VersionRecord, CheckedPackage]:
    """The registry's own copy of the version `reference` names, verified now and allowed by the policy."""
    record = registry.resolve(reference)
    checked = registry.checked_blob(record)
    registry.policy.require(checked, record.ref, "hand out")
    return checked.path, record, checked


def _copy_verified(source: Path, dest: Path, sha256: str) -> None:
    if copy_verified(source, dest, sha256) is not None:
        raise TamperedError(f"the registry's copy changed while it was pulled ({source})", hint="pull again")


def pull(registry: Registry, reference: str, output_dir: Path, force: bool = False) -> Pulled:
    """Write NAME-VERSION.tar into `output_dir`, verified; an identical file already there is kept.

    Raises UsageError for an unknown or cold version or a different file in the way (without force),
    TamperedError for bytes that fail verification, PaddlectlError(REFUSED) under the signature policy.
    """
    source, record, _ = verified_package(registry, reference)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {output_dir}: {exc.strerror}", hint="choose another -o") from exc
    dest = output_dir / archive_name(record.name, record.version)
    if dest.is_dir():
        raise UsageError(f"{dest} is a folder", hint="choose another -o")
    if dest.exists() and not force:
        from paddlectl.foundation.hashing import sha256_file

        if sha256_file(dest) == record.sha256:
            return Pulled(dest, record)
        raise UsageError(f"{dest} exists with other bytes", hint="pass --force to replace it, or choose another -o")
    _copy_verified(source, dest, record.sha256)
    return Pulled(dest, record)
