"""The cold tier: old versions' blobs in S3-compatible object storage, written create-only, brought back verified.

Objects are `<prefix>/sha256/ab/<sha256>`, put with `If-None-Match: *` so nothing is ever overwritten: a key
that exists already is accepted only when its bytes hash to the same sha256. A version moves to cold only after
its object is confirmed; its local blob is removed after the transaction that records the move (a crash between
leaves a blob no hot version points to: garbage for `verify --fix`). Credentials come from boto3's usual sources
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, profiles); they are never printed or stored, and
every message from boto3 goes through the secret masking first.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from paddlectl.errors import UnavailableError, UsageError
from paddlectl.foundation.secrets import mask_text, strip_url_credentials
from paddlectl.packaging.errors import TamperedError
from paddlectl.packaging.layout import ModelStatus
from paddlectl.registry.model import Action, EventDraft, SignatureCheck, Storage, VersionRecord
from paddlectl.registry.settings import ColdSettings
from paddlectl.registry.store import Registry

CHUNK = 1 << 20
_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")


def _masked(error: BaseException) -> str:
    secrets = [os.environ[name] for name in _SECRET_ENV if os.environ.get(name)]
    return mask_text(str(error), secrets)


class ColdStore:
    """One bucket and prefix on an S3-compatible server (boto3 imported on first use)."""

    def __init__(self, settings: ColdSettings) -> None:
        self.settings = settings

    @property
    def endpoint(self) -> str:
        return strip_url_credentials(self.settings.endpoint) if self.settings.endpoint else "AWS S3"

    def key(self, sha256: str) -> str:
        return f"{self.settings.prefix}/sha256/{sha256[:2]}/{sha256}"

    def location(self, sha256: str) -> str:
        return f"s3://{self.settings.bucket}/{self.key(sha256)}"

    @cached_property
    def _client(self) -> Any:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            missing = "the cold tier needs boto3, which is not installed"
            raise UnavailableError(missing, hint="pip install boto3") from exc
        config = Config(
            connect_timeout=10,
            read_timeout=120,
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # A session of its own: boto3's default one keeps the credentials it first resolved for the process.
        session = boto3.session.Session()
        return session.client(
            "s3", endpoint_url=self.settings.endpoint, region_name=self.settings.region or "us-east-1", config=config
        )

    def _error(self, error: BaseException, doing: str) -> UsageError | UnavailableError:
        from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

        where = f"{self.endpoint}, bucket {self.settings.bucket}"
        if isinstance(error, NoCredentialsError):
            return UsageError(
                f"no credentials for the cold store ({where})",
                hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or an AWS profile)",
            )
        if isinstance(error, ClientError):
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket", "404", "NotFound") and doing != "fetch":
                return UsageError(
                    f"the bucket {self.settings.bucket} does not exist at {self.endpoint}",
                    hint="create it, or fix registry.cold.bucket",
                )
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
                return UsageError(
                    f"the cold store refused the credentials ({where}): {code}",
                    hint="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
                )
            return UsageError(f"cannot {doing} in the cold store ({where}): {_masked(error)}", hint="see the error")
        if isinstance(error, EndpointConnectionError):
            return UnavailableError(
                f"cannot reach the cold store at {self.endpoint}", hint="is it running? check registry.cold.endpoint"
            )
        return UnavailableError(f"cannot {doing} in the cold store ({where}): {_masked(error)}", hint="try again")

    def put(self, path: Path, sha256: str) -> None:
        """Upload `path` as the object for `sha256`, create-only; an existing object must hold the same bytes.

        Raises TamperedError when the key exists with other bytes, UsageError/UnavailableError for the store.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            with open(path, "rb") as body:
                self._client.put_object(
                    Bucket=self.settings.bucket,
                    Key=self.key(sha256),
                    Body=body,
                    IfNoneMatch="*",
                    Metadata={"sha256": sha256},
                )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
                raise self._error(error, "store the blob") from None
            self._check_existing(sha256)
        except BotoCoreError as error:
            raise self._error(error, "store the blob") from None
        self._confirm(path, sha256)

    def _confirm(self, path: Path, sha256: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = self._client.head_object(Bucket=self.settings.bucket, Key=self.key(sha256))
        except (BotoCoreError, ClientError) as error:
            raise self._error(error, "confirm the blob") from None
        if int(head.get("ContentLength", -1)) != path.stat().st_size:
            raise TamperedError(
                f"{self.location(sha256)} holds {head.get('ContentLength')} bytes, not {path.stat().st_size}",
                hint="the cold store changed the object: check it",
            )

    def _check_existing(self, sha256: str) -> None:
        with tempfile.TemporaryDirectory(prefix="paddlectl-cold-") as tmp:
            copy = Path(tmp) / sha256
            digest = self.fetch(sha256, copy)
        if digest != sha256:
            raise TamperedError(
                f"{self.location(sha256)} exists with other bytes (sha256 {digest[:12]}): it was not overwritten",
                hint="someone changed the cold store: investigate before archiving this version",
            )

    def fetch(self, sha256: str, dest: Path) -> str:
        """Download the object for `sha256` into `dest`; returns the sha256 of the bytes received."""
        from botocore.exceptions import BotoCoreError, ClientError

        digest = hashlib.sha256()
        try:
            response = self._client.get_object(Bucket=self.settings.bucket, Key=self.key(sha256))
            with open(dest, "wb") as out:
                for chunk in response["Body"].iter_chunks(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except (BotoCoreError, ClientError) as error:
            raise self._error(error, "fetch the blob") from None
        return digest.hexdigest()


def cold_store(registry: Registry) -> ColdStore:
    if registry.settings.cold is None:
        raise UsageError(
            "no cold store is configured",
            hint="set registry.cold.endpoint, .bucket and .prefix in paddlectl.yaml or ~/.config/paddlectl/config.yaml",
        )
    return ColdStore(registry.settings.cold)


@dataclass(frozen=True)
class Moved:
    record: VersionRecord
    location: str

    def as_dict(self) -> dict[str, Any]:
        return {**self.record.row(), "cold_location": self.location}


def archive_candidates(
    records: list[VersionRecord], older_than: timedelta, keep: int, now_ns: int
) -> list[VersionRecord]:
    """Hot, not production, registered before now - older_than, and not among the `keep` newest versions."""
    cutoff = now_ns - int(older_than.total_seconds() * 1e9)
    newest_first = sorted(records, key=lambda r: r.registered_at_ns, reverse=True)
    return [
        record
        for record in newest_first[max(keep, 0) :]
        if record.storage is Storage.HOT
        and record.status is not ModelStatus.PRODUCTION
        and record.registered_at_ns <= cutoff
    ][::-1]


def archive_versions(registry: Registry, name: str, older_than: timedelta, keep: int) -> list[Moved]:
    """Move the blobs of NAME's old versions to the cold store; each move is one event. Raises as ColdStore."""
    store = cold_store(registry)
    candidates = archive_candidates(registry.backend.find(name), older_than, keep, time.time_ns())
    moved = []
    for record in candidates:
        path = registry.backend.blobs.path(record.sha256)
        registry.checked_blob(record)  # a damaged blob is never sent to cold storage as if it were the version
        store.put(path, record.sha256)
        location = store.location(record.sha256)
        with registry.backend.transaction() as tx:
            current = tx.get(record.name, record.version)
            if current is None or current.storage is Storage.COLD or current.status is ModelStatus.PRODUCTION:
                continue  # changed meanwhile: leave it
            tx.set_storage(record.name, record.version, Storage.COLD, location)
            tx.append(
                EventDraft(
                    Action.ARCHIVE,
                    record.name,
                    record.version,
                    registry.actor(),
                    from_status=current.status,
                    to_status=current.status,
                    note=f"blob moved to {location}",
                    sha256=record.sha256,
                )
            )
        registry.backend.blobs.remove(record.sha256)
        after = registry.record(record.name, record.version)
        moved.append(Moved(after, location))
    return moved


def restore_version(registry: Registry, name: str, version: str) -> Moved:
    """Fetch a cold version back, verify its sha256, the package and its signature, then make it hot again.

    Raises UsageError when it is not cold, TamperedError when the object's bytes or signature do not match.
    """
    record = registry.record(name, version)
    if record.storage is not Storage.COLD:
        raise UsageError(f"{record.ref} is not in cold storage", hint="only archived blobs need restoring")
    store = cold_store(registry)
    blobs = registry.backend.blobs
    with tempfile.TemporaryDirectory(prefix="paddlectl-restore-") as tmp:
        copy = Path(tmp) / f"{name}-{version}.tar"
        digest = store.fetch(record.sha256, copy)
        if digest != record.sha256:
            raise TamperedError(
                f"the cold copy of {record.ref} does not match its sha256 (got {digest[:12]})",
                hint=f"the object {record.cold_location} was changed: do not use it",
            )
        checked = registry.policy.check(copy)
        checked.raise_for_problems(f"the cold copy of {record.ref}")
        if record.signature is SignatureCheck.VALID and checked.signature is not SignatureCheck.VALID:
            raise TamperedError(
                f"the cold copy of {record.ref} is no longer signed by a trusted key ({checked.signature.value})",
                hint="check registry.trusted_keys and the object in the cold store",
            )
        blobs.put(copy, record.sha256)
    with registry.backend.transaction() as tx:
        current = tx.get(name, version)
        if current is not None and current.storage is Storage.COLD:
            tx.set_storage(name, version, Storage.HOT, current.cold_location)
            tx.append(
                EventDraft(
                    Action.RESTORE,
                    name,
                    version,
                    registry.actor(),
                    from_status=current.status,
                    to_status=current.status,
                    note=f"blob fetched from {current.cold_location} and verified",
                    sha256=record.sha256,
                )
            )
    after = registry.record(name, version)
    return Moved(after, after.cold_location or "")
