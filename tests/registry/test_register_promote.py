"""register, promote, rollback, pull on a real SQLite registry and real blob files."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from paddlectl.errors import ExitCode, PaddlectlError, UsageError
from paddlectl.packaging.errors import TamperedError
from paddlectl.packaging.layout import ModelStatus
from paddlectl.registry.audit import verify_registry
from paddlectl.registry.model import SignatureCheck, Storage
from paddlectl.registry.promote import promote, rollback
from paddlectl.registry.pull import pull
from paddlectl.registry.register import register_package
from paddlectl.registry.store import Registry
from registry.conftest import Keys, PackageFactory, write_project_config

Opener = Callable[[], Registry]


def _flip_byte(path: Path, offset: int = 700) -> None:
    os.chmod(path, 0o644)  # blobs are read-only: the attacker has to mean it
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _productions(registry: Registry, name: str = "digits") -> list[str]:
    return [r.version for r in registry.backend.find(name, ModelStatus.PRODUCTION)]


def test_register_verifies_copies_and_records_the_version(open_reg: Opener, make_package: PackageFactory) -> None:
    package = make_package("1.0.0")
    registry = open_reg()
    result = register_package(registry, package, note="first", labels={"team": "vision"})
    record = result.record
    assert result.created and record.ref == "digits@1.0.0"
    assert record.sha256 == hashlib.sha256(package.read_bytes()).hexdigest()
    assert (record.status, record.storage, record.signature) == (
        ModelStatus.STAGING,
        Storage.HOT,
        SignatureCheck.ABSENT,
    )
    blob = registry.settings.path / "blobs" / "sha256" / record.sha256[:2] / record.sha256
    assert blob.read_bytes() == package.read_bytes()
    assert stat.S_IMODE(blob.stat().st_mode) == 0o444
    assert not list(blob.parent.glob(".*.part"))
    assert record.summary["run_id"] == "20261122-103000-ab12cd" and record.summary["run_status"] == "succeeded"
    assert record.summary["metrics"] == {"acc": 0.97}
    assert record.summary["labels"] == {"dataset": "digits", "team": "vision"}
    assert record.card["input_shape"] == {"x": [-1, 1, 8, 8]}
    assert record.run_record is not None and record.run_record["id"] == "20261122-103000-ab12cd"
    (event,) = registry.backend.events()
    assert (event.seq, event.action, event.version, event.to_status, event.note) == (
        1,
        "register",
        "1.0.0",
        "staging",
        "first",
    )
    assert event.sha256 == record.sha256 and "@" in event.actor


def test_the_same_bytes_again_return_the_version_and_other_bytes_are_refused(
    open_reg: Opener, make_package: PackageFactory
) -> None:
    registry = open_reg()
    package = make_package("1.0.0")
    first = register_package(registry, package)
    again = register_package(registry, package)
    assert not again.created and again.record.sha256 == first.record.sha256
    assert len(registry.backend.events()) == 1
    other = make_package("1.0.0", variant=1)  # same name and version, other weights: a valid, different package
    with pytest.raises(UsageError, match="already registered with other bytes") as caught:
        register_package(registry, other)
    assert caught.value.code is ExitCode.USAGE
    assert len(registry.backend.find()) == 1 and len(registry.backend.events()) == 1
    assert list(registry.backend.blobs.stored()) == [first.record.sha256]


def test_a_tampered_package_is_never_registered(open_reg: Opener, make_package: PackageFactory) -> None:
    package = make_package("1.0.0")
    _flip_byte(package, 512 * 6)  # inside the first inference file
    registry = open_reg()
    with pytest.raises(TamperedError, match="checksum mismatch"):
        register_package(registry, package)
    assert registry.backend.find() == [] and registry.backend.events() == []
    assert list(registry.backend.blobs.stored()) == []


def test_promotion_keeps_one_production_and_archives_the_one_it_replaces(
    open_reg: Opener, make_package: PackageFactory
) -> None:
    registry = open_reg()
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        register_package(registry, make_package(version))
    first = promote(registry, "digits", "1.0.0", ModelStatus.PRODUCTION, note="go")
    assert first.replaced is None and first.record.status is ModelStatus.PRODUCTION
    second = promote(registry, "digits", "1.1.0", ModelStatus.PRODUCTION)
    assert second.replaced == "1.0.0"
    assert registry.record("digits", "1.0.0").status is ModelStatus.ARCHIVED
    assert _productions(registry) == ["1.1.0"]
    same = promote(registry, "digits", "1.1.0", ModelStatus.PRODUCTION)
    assert same.event is None  # already production: no event
    staged = promote(registry, "digits", "1.1.0", ModelStatus.STAGING)
    assert staged.event is not None and _productions(registry) == []
    events = registry.backend.events()
    assert [(e.action, e.version, e.from_status, e.to_status, e.replaced) for e in events[3:]] == [
        ("promote", "1.0.0", "staging", "production", None),
        ("promote", "1.1.0", "staging", "production", "1.0.0"),
        ("promote", "1.1.0", "production", "staging", None),
    ]
    with pytest.raises(UsageError, match="not a promotion"):
        promote(registry, "digits", "1.2.0", ModelStatus.ARCHIVED)
    with pytest.raises(UsageError, match="is not in the registry"):
        promote(registry, "digits", "9.9.9", ModelStatus.PRODUCTION)


def test_the_database_itself_refuses_a_second_production(open_reg: Opener, make_package: PackageFactory) -> None:
    registry = open_reg()
    for version in ("1.0.0", "1.1.0"):
        register_package(registry, make_package(version))
    promote(registry, "digits", "1.0.0", ModelStatus.PRODUCTION)
    database = sqlite3.connect(registry.settings.path / "registry.db")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        database.execute("UPDATE versions SET status = 'production' WHERE version = '1.1.0'")
    database.close()


def test_rollback_goes_back_to_the_previous_production_and_toggles(
    open_reg: Opener, make_package: PackageFactory
) -> None:
    registry = open_reg()
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        register_package(registry, make_package(version))
    with pytest.raises(UsageError, match="no earlier production"):
        rollback(registry, "digits")
    promote(registry, "digits", "1.0.0", ModelStatus.PRODUCTION)
    promote(registry, "digits", "1.1.0", ModelStatus.PRODUCTION)
    back = rollback(registry, "digits", note="1.1.0 misbehaves")
    assert back.record.version == "1.0.0" and back.replaced == "1.1.0"
    assert back.event is not None and back.event.action == "rollback" and back.event.from_status == "archived"
    assert _productions(registry) == ["1.0.0"]
    assert rollback(registry, "digits").record.version == "1.1.0"  # the one just before is 1.1.0 again
    named = rollback(registry, "digits", to="1.2.0")
    assert named.record.version == "1.2.0" and named.replaced == "1.1.0"
    with pytest.raises(UsageError, match="production already"):
        rollback(registry, "digits", to="1.2.0")
    assert verify_registry(registry).ok


def test_a_tampered_blob_is_never_promoted_rolled_back_to_or_pulled(
    open_reg: Opener, make_package: PackageFactory, tmp_path: Path
) -> None:
    registry = open_reg()
    good, bad = (register_package(registry, make_package(v)).record for v in ("1.0.0", "1.1.0"))
    promote(registry, "digits", "1.1.0", ModelStatus.PRODUCTION)
    promote(registry, "digits", "1.0.0", ModelStatus.PRODUCTION)
    _flip_byte(registry.backend.blobs.path(bad.sha256))
    events = len(registry.backend.events())
    with pytest.raises(TamperedError, match="no longer matches its sha256") as caught:
        rollback(registry, "digits")
    assert caught.value.code is ExitCode.TAMPERED
    with pytest.raises(TamperedError):
        promote(registry, "digits", "1.1.0", ModelStatus.PRODUCTION)
    with pytest.raises(TamperedError):
        pull(registry, "digits@1.1.0", tmp_path / "out")
    assert _productions(registry) == ["1.0.0"] and len(registry.backend.events()) == events
    report = verify_registry(registry)
    assert not report.ok and report.exit_code is ExitCode.TAMPERED
    assert [(f.kind, f.subject) for f in report.findings] == [("blob", "digits@1.1.0")]
    registry.backend.blobs.path(good.sha256).unlink()  # a missing blob is as bad as a changed one
    assert {f.subject for f in verify_registry(registry).findings} == {"digits@1.0.0", "digits@1.1.0"}


def test_pull_writes_the_verified_package(open_reg: Opener, make_package: PackageFactory, tmp_path: Path) -> None:
    registry = open_reg()
    package = make_package("1.0.0")
    register_package(registry, package)
    promote(registry, "digits", "1.0.0", ModelStatus.PRODUCTION)
    pulled = pull(registry, "digits@production", tmp_path / "deploy")
    assert pulled.path == tmp_path / "deploy" / "digits-1.0.0.tar"
    assert pulled.path.read_bytes() == package.read_bytes()
    assert pull(registry, "digits@production", tmp_path / "deploy").path == pulled.path  # identical: kept
    pulled.path.write_bytes(b"something else")
    with pytest.raises(UsageError, match="exists with other bytes"):
        pull(registry, "digits@1.0.0", tmp_path / "deploy")
    assert pull(registry, "digits@1.0.0", tmp_path / "deploy", force=True).path.read_bytes() == package.read_bytes()
    with pytest.raises(UsageError, match="no staging version"):
        pull(registry, "digits@staging", tmp_path / "deploy")


def test_policy_refuses_production_unless_a_trusted_key_signed(
    open_reg: Opener, make_package: PackageFactory, keys: Keys, tmp_path: Path
) -> None:
    write_project_config({"require_signature": True, "trusted_keys": [str(keys.trusted_public)]})
    registry = open_reg()
    trusted = register_package(registry, make_package("1.0.0", sign=keys.trusted_private)).record
    untrusted = register_package(registry, make_package("1.1.0", sign=keys.other_private)).record
    unsigned = register_package(registry, make_package("1.2.0")).record
    assert trusted.signature is SignatureCheck.VALID and trusted.key_fingerprint
    assert untrusted.signature is SignatureCheck.UNTRUSTED and unsigned.signature is SignatureCheck.ABSENT
    for version, why in (("1.1.0", "not signed by any of registry.trusted_keys"), ("1.2.0", "is not signed")):
        with pytest.raises(PaddlectlError, match=why) as caught:
            promote(registry, "digits", version, ModelStatus.PRODUCTION)
        assert caught.value.code is ExitCode.REFUSED
    promote(registry, "digits", "1.1.0", ModelStatus.STAGING)  # staging is not guarded
    assert promote(registry, "digits", "1.0.0", ModelStatus.PRODUCTION).record.status is ModelStatus.PRODUCTION
    with pytest.raises(PaddlectlError) as refused:
        rollback(registry, "digits", to="1.1.0")
    assert refused.value.code is ExitCode.REFUSED
    with pytest.raises(PaddlectlError) as refused_pull:
        pull(registry, "digits@1.2.0", tmp_path / "deploy")
    assert refused_pull.value.code is ExitCode.REFUSED
    with pytest.raises(PaddlectlError) as refused_register:
        register_package(registry, make_package("1.3.0"), status=ModelStatus.PRODUCTION)
    assert refused_register.value.code is ExitCode.REFUSED
    assert _productions(registry) == ["1.0.0"]
    assert registry.backend.get("digits", "1.3.0") is None


def test_trusting_the_other_key_later_lets_its_package_through(
    open_reg: Opener, make_package: PackageFactory, keys: Keys
) -> None:
    write_project_config({"require_signature": True, "trusted_keys": [str(keys.trusted_public)]})
    register_package(open_reg(), make_package("1.1.0", sign=keys.other_private))
    write_project_config({"require_signature": True, "trusted_keys": [str(keys.other_public)]})
    assert promote(open_reg(), "digits", "1.1.0", ModelStatus.PRODUCTION).record.status is ModelStatus.PRODUCTION


@pytest.mark.parametrize("later", [{}, {"trusted_keys": ["OTHER"]}], ids=["no-keys", "other-key"])
def test_a_changed_trust_list_is_noted_by_verify_not_reported_as_tampering(
    open_reg: Opener, make_package: PackageFactory, keys: Keys, later: dict[str, list[str]]
) -> None:
    write_project_config({"trusted_keys": [str(keys.trusted_public)]})
    register_package(open_reg(), make_package("1.0.0", sign=keys.trusted_private))
    write_project_config({key: [str(keys.other_public)] for key in later})  # the key is no longer trusted here
    report = verify_registry(open_reg())
    assert report.ok and report.exit_code is ExitCode.OK and report.findings == []
    (note,) = report.trust_notes
    assert note.subject == "digits@1.0.0" and "was signed by a trusted key when registered" in note.reason
    blob = open_reg().backend.blobs.path(open_reg().backend.get("digits", "1.0.0").sha256)  # type: ignore[union-attr]
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[600] ^= 0x01
    blob.write_bytes(bytes(data))
    tampered = verify_registry(open_reg())
    assert tampered.exit_code is ExitCode.TAMPERED and [f.kind for f in tampered.findings] == ["blob"]


def test_the_stored_listing_rows_are_the_records_rows(open_reg: Opener, make_package: PackageFactory) -> None:
    import json

    from paddlectl.registry.query import VersionQuery, list_json, list_versions

    registry = open_reg()
    for version in ("1.0.0", "1.1.0"):
        register_package(registry, make_package(version), labels={"v": version})
    promote(registry, "digits", "1.1.0", ModelStatus.PRODUCTION)
    fast = list_json(registry, VersionQuery.parse(None, [], [], []))
    slow = list_json(registry, VersionQuery.parse(None, [], ["acc>0"], []))  # a condition: through the records
    records = list_versions(registry, VersionQuery.parse(None, [], [], []))
    assert [json.loads(text) for text in fast] == [json.loads(text) for text in slow] == [r.row() for r in records]
    assert json.loads(fast[1])["status"] == "production"


def test_a_secret_in_a_note_is_masked_before_it_is_stored(
    open_reg: Opener, make_package: PackageFactory, registry_env: Path
) -> None:
    registry = open_reg()
    note = "deployed with https://bot:ghp_SuperSecretToken123@github.com and api_key=sk-live-abcdef123456"
    register_package(registry, make_package("1.0.0"), note=note)
    (event,) = registry.backend.events()
    assert event.note is not None and "ghp_SuperSecretToken123" not in event.note and "sk-live-abcdef" not in event.note
    registry.backend.close()
    at_rest = b"".join(path.read_bytes() for path in registry_env.rglob("*") if path.is_file())
    assert b"ghp_SuperSecretToken123" not in at_rest and b"sk-live-abcdef123456" not in at_rest
