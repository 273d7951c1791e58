"""The cold tier against a real S3-compatible server (SeaweedFS on 127.0.0.1): archive, restore, create-only
writes, re-verification of what comes back, and credentials that never reach a message or the registry's files."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from paddlectl.errors import ExitCode, PaddlectlError, UsageError
from paddlectl.packaging.errors import TamperedError
from paddlectl.packaging.layout import ModelStatus
from paddlectl.registry.audit import verify_registry
from paddlectl.registry.cold import archive_versions, restore_version
from paddlectl.registry.model import Storage
from paddlectl.registry.promote import promote, rollback
from paddlectl.registry.register import register_package
from paddlectl.registry.store import Registry
from registry.conftest import ColdTarget, Keys, PackageFactory, write_project_config
from s3_server import S3Server

Opener = Callable[[], Registry]
NOW = timedelta(0)


def _object(s3: S3Server, location: str) -> bytes:
    key = location.removeprefix(f"s3://{s3.bucket}/")
    body: bytes = s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read()
    return body


def _registered(registry: Registry, make_package: PackageFactory, versions: list[str]) -> dict[str, Path]:
    packages = {version: make_package(version) for version in versions}
    for package in packages.values():
        register_package(registry, package)
    return packages


def test_archive_moves_old_versions_to_the_cold_store_and_keeps_them_listed(
    cold: ColdTarget, s3_server: S3Server, open_reg: Opener, make_package: PackageFactory
) -> None:
    registry = open_reg()
    packages = _registered(registry, make_package, ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"])
    promote(registry, "digits", "1.2.0", ModelStatus.PRODUCTION)
    assert archive_versions(registry, "digits", timedelta(days=90), keep=0) == []  # nothing that old
    moved = archive_versions(registry, "digits", NOW, keep=1)
    assert [item.record.version for item in moved] == ["1.0.0", "1.1.0", "1.3.0"]  # not 1.4.0 (kept), not prod
    for item in moved:
        record = item.record
        assert record.storage is Storage.COLD
        assert item.location == f"s3://{cold.bucket}/{cold.prefix}/sha256/{record.sha256[:2]}/{record.sha256}"
        assert _object(s3_server, item.location) == packages[record.version].read_bytes()
        assert not registry.backend.blobs.has(record.sha256)
    listed = {r.version: r.storage for r in registry.backend.find("digits")}
    assert listed == {"1.0.0": Storage.COLD, "1.1.0": Storage.COLD, "1.2.0": Storage.HOT, "1.3.0": Storage.COLD,
                      "1.4.0": Storage.HOT}  # fmt: skip
    archive_events = [e for e in registry.backend.events() if e.action == "archive"]
    assert [e.version for e in archive_events] == ["1.0.0", "1.1.0", "1.3.0"]
    report = verify_registry(registry)
    assert report.ok and (report.cold, report.blobs_verified) == (3, 2)


def test_a_cold_version_is_restored_and_verified_before_it_can_be_promoted(
    cold: ColdTarget, open_reg: Opener, make_package: PackageFactory
) -> None:
    registry = open_reg()
    packages = _registered(registry, make_package, ["1.0.0", "1.1.0"])
    promote(registry, "digits", "1.0.0", ModelStatus.PRODUCTION)
    promote(registry, "digits", "1.1.0", ModelStatus.PRODUCTION)
    archive_versions(registry, "digits", NOW, keep=0)  # 1.0.0 (archived) goes cold, 1.1.0 is production
    with pytest.raises(UsageError, match="cold storage") as promoting:
        promote(registry, "digits", "1.0.0", ModelStatus.PRODUCTION)
    assert "registry restore digits 1.0.0" in (promoting.value.hint or "")
    with pytest.raises(UsageError, match="cold storage") as rolling:
        rollback(registry, "digits")
    assert "--restore" in (rolling.value.hint or "")
    back = rollback(registry, "digits", restore=True, note="1.1.0 regressed")
    assert back.record.version == "1.0.0" and back.record.storage is Storage.HOT
    sha = back.record.sha256
    assert registry.backend.blobs.path(sha).read_bytes() == packages["1.0.0"].read_bytes()
    actions = [(e.action, e.version) for e in registry.backend.events()[-3:]]
    assert actions == [("archive", "1.0.0"), ("restore", "1.0.0"), ("rollback", "1.0.0")]
    assert verify_registry(registry).ok


def test_writes_are_create_only_and_an_object_with_other_bytes_is_never_taken(
    cold: ColdTarget, s3_server: S3Server, open_reg: Opener, make_package: PackageFactory
) -> None:
    registry = open_reg()
    packages = _registered(registry, make_package, ["1.0.0", "1.1.0", "1.2.0"])
    records = {v: registry.record("digits", v) for v in packages}
    client = s3_server.client()
    squatted = f"{cold.prefix}/sha256/{records['1.0.0'].sha256[:2]}/{records['1.0.0'].sha256}"
    client.put_object(Bucket=cold.bucket, Key=squatted, Body=b"not the package")
    same = f"{cold.prefix}/sha256/{records['1.1.0'].sha256[:2]}/{records['1.1.0'].sha256}"
    client.put_object(Bucket=cold.bucket, Key=same, Body=packages["1.1.0"].read_bytes())  # an earlier archive
    with pytest.raises(TamperedError, match="exists with other bytes"):
        archive_versions(registry, "digits", NOW, keep=1)
    assert client.get_object(Bucket=cold.bucket, Key=squatted)["Body"].read() == b"not the package"  # untouched
    assert registry.record("digits", "1.0.0").storage is Storage.HOT
    client.delete_object(Bucket=cold.bucket, Key=squatted)
    moved = archive_versions(registry, "digits", NOW, keep=1)
    assert [item.record.version for item in moved] == ["1.0.0", "1.1.0"]  # the identical object was accepted


def test_restore_refuses_a_cold_copy_that_was_changed(
    cold: ColdTarget, s3_server: S3Server, open_reg: Opener, make_package: PackageFactory
) -> None:
    registry = open_reg()
    _registered(registry, make_package, ["1.0.0", "1.1.0"])
    (moved,) = archive_versions(registry, "digits", NOW, keep=1)
    key = moved.location.removeprefix(f"s3://{cold.bucket}/")
    s3_server.client().put_object(Bucket=cold.bucket, Key=key, Body=make_package("1.0.0", variant=2).read_bytes())
    with pytest.raises(TamperedError, match="does not match its sha256") as caught:
        restore_version(registry, "digits", "1.0.0")
    assert caught.value.code is ExitCode.TAMPERED
    assert registry.record("digits", "1.0.0").storage is Storage.COLD
    assert not registry.backend.blobs.has(moved.record.sha256)
    assert verify_registry(registry).garbage == []


def test_restore_re_verifies_the_signature(
    cold: ColdTarget, s3_server: S3Server, open_reg: Opener, make_package: PackageFactory, keys: Keys
) -> None:
    settings = {"endpoint": s3_server.endpoint, **cold.settings}
    write_project_config({"cold": settings, "trusted_keys": [str(keys.trusted_public)]})
    registry = open_reg()
    register_package(registry, make_package("1.0.0", sign=keys.trusted_private))
    register_package(registry, make_package("1.1.0", sign=keys.trusted_private))
    archive_versions(registry, "digits", NOW, keep=1)
    write_project_config({"cold": settings, "trusted_keys": [str(keys.other_public)]})  # the trust moved on
    with pytest.raises(TamperedError, match="no longer signed by a trusted key"):
        restore_version(open_reg(), "digits", "1.0.0")
    write_project_config({"cold": settings, "trusted_keys": [str(keys.trusted_public)]})
    assert restore_version(open_reg(), "digits", "1.0.0").record.storage is Storage.HOT


def test_credentials_are_never_in_a_message_or_in_the_registry(
    cold: ColdTarget, s3_server: S3Server, open_reg: Opener, make_package: PackageFactory,
    monkeypatch: pytest.MonkeyPatch, registry_env: Path,
) -> None:  # fmt: skip
    registry = open_reg()
    _registered(registry, make_package, ["1.0.0", "1.1.0"])
    archive_versions(registry, "digits", NOW, keep=1)
    restore_version(registry, "digits", "1.0.0")
    registry.backend.close()
    at_rest = b"".join(path.read_bytes() for path in registry_env.rglob("*") if path.is_file())
    assert s3_server.secret_key.encode() not in at_rest and s3_server.access_key.encode() not in at_rest
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-but-still-secret-value")
    with pytest.raises(PaddlectlError) as refused:
        archive_versions(open_reg(), "digits", NOW, keep=0)
    text = f"{refused.value.message} {refused.value.hint}"
    assert refused.value.code is ExitCode.USAGE and "refused the credentials" in text
    assert "wrong-but-still-secret-value" not in text and s3_server.secret_key not in text


def test_an_endpoint_holding_a_password_is_refused_without_repeating_it(
    cold: ColdTarget, s3_server: S3Server, open_reg: Opener
) -> None:
    port = s3_server.endpoint.rsplit(":", 1)[1]
    write_project_config({"cold": {"endpoint": f"http://admin:hunter2-secret@127.0.0.1:{port}", **cold.settings}})
    with pytest.raises(UsageError, match="holds credentials") as caught:
        open_reg()
    assert "hunter2-secret" not in f"{caught.value.message} {caught.value.hint}"
    assert "admin:****@127.0.0.1" in caught.value.message
