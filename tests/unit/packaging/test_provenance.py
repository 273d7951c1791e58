"""The run's provenance in a package (RUN.yaml, RUN.patch): included, checked, signed, and old cards still verify."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest

from paddlectl.errors import UsageError
from paddlectl.foundation.yamlio import dump_yaml, load_yaml
from paddlectl.packaging import PackageRequest, build_package, generate_keypair, verify_package
from unit.packaging.test_packaging_fakes import card_for, make_export, member, sums_for, write_tar

PATCH = b"diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-lr = 1\n+lr = 2\n"


def _dirty_export(root: Path, patch: bytes = PATCH, recorded_sha: str | None = None) -> Path:
    export = make_export(root)
    run_dir = export.parent
    (run_dir / "uncommitted.patch").write_bytes(patch)
    manifest = load_yaml((run_dir / "manifest.yaml").read_text(), "manifest")
    manifest["git"].update(
        dirty=True,
        changed=["train.py"],
        untracked=["notes/.env.local"],
        patch_file=str(run_dir / "uncommitted.patch"),
        patch_sha256=recorded_sha or hashlib.sha256(patch).hexdigest(),
    )
    (run_dir / "manifest.yaml").write_text(dump_yaml(manifest))
    return export


def _members(package: Path) -> dict[str, bytes]:
    with tarfile.open(package) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers()}  # type: ignore[union-attr]


def test_a_dirty_run_s_patch_is_in_the_package_covered_by_sums_and_signature(tmp_path: Path) -> None:
    export = _dirty_export(tmp_path / "proj")
    keys = generate_keypair(tmp_path / "keys", "release")
    result = build_package(
        PackageRequest(
            export_dir=export, name="digits", version="1.0.0", output_dir=tmp_path, sign_key=keys.private_key
        )
    )
    members = _members(result.path)
    assert list(members)[:3] == ["MODEL.yaml", "RUN.yaml", "RUN.patch"]
    assert members["RUN.patch"] == PATCH
    assert f"{hashlib.sha256(PATCH).hexdigest()}  RUN.patch" in members["SHA256SUMS"].decode()
    card = load_yaml(members["MODEL.yaml"].decode(), "card")
    assert card["provenance"]["git"]["patch"] == "RUN.patch"
    assert card["provenance"]["git"]["patch_sha256"] == hashlib.sha256(PATCH).hexdigest()
    assert card["provenance"]["git"]["dirty"] is True
    report = verify_package(result.path, keys.public_key)
    assert report.ok and report.signature.value == "valid"
    assert report.provenance == {"RUN.yaml": members["RUN.yaml"], "RUN.patch": PATCH}


def test_a_patch_changed_after_the_run_is_refused(tmp_path: Path) -> None:
    export = _dirty_export(tmp_path / "proj", recorded_sha="0" * 64)
    with pytest.raises(UsageError, match="does not match the sha256 its run recorded"):
        build_package(PackageRequest(export_dir=export, name="digits", version="1.0.0", output_dir=tmp_path))
    assert not list(tmp_path.glob("*.tar"))


def test_a_missing_patch_is_a_warning_and_the_card_says_so(tmp_path: Path) -> None:
    export = _dirty_export(tmp_path / "proj")
    (export.parent / "uncommitted.patch").unlink()
    result = build_package(PackageRequest(export_dir=export, name="digits", version="1.0.0", output_dir=tmp_path))
    assert any("patch" in warning and "missing" in warning for warning in result.warnings)
    members = _members(result.path)
    assert "RUN.patch" not in members
    card = load_yaml(members["MODEL.yaml"].decode(), "card")
    assert card["provenance"]["git"]["patch"] is None and card["provenance"]["git"]["patch_state"] == "missing"


def test_no_patch_leaves_the_uncommitted_changes_out_and_the_card_says_so(tmp_path: Path) -> None:
    export = _dirty_export(tmp_path / "proj")
    request = PackageRequest(
        export_dir=export, name="digits", version="1.0.0", output_dir=tmp_path, include_patch=False
    )
    result = build_package(request)
    assert any("--no-patch" in warning for warning in result.warnings)
    members = _members(result.path)
    assert "RUN.patch" not in members and PATCH not in b"".join(members.values())
    card = load_yaml(members["MODEL.yaml"].decode(), "card")
    assert card["provenance"]["git"]["patch"] is None and card["provenance"]["git"]["patch_state"] == "left-out"
    assert card["provenance"]["git"]["dirty"] is True
    assert verify_package(result.path).ok
    run_record = load_yaml(members["RUN.yaml"].decode(), "run")
    assert run_record["git"]["untracked"] == [] and run_record["git"]["patch_file"] == "uncommitted.patch"
    assert run_record["git"]["changed"] == ["train.py"]  # tracked files are the repository's own names
    assert "notes/.env.local" not in members["RUN.yaml"].decode()


def test_a_card_naming_a_patch_the_package_lacks_fails_verification(tmp_path: Path) -> None:
    files = {"model.json": b"{}\n", "model.pdiparams": b"\x00" * 64}
    card = card_for(files, schema_version=2, provenance={"git": {"patch": "RUN.patch"}})
    package = write_tar(
        tmp_path / "p.tar",
        [
            member("MODEL.yaml", card),
            *(member(n, d) for n, d in files.items()),
            member("SHA256SUMS", sums_for({"MODEL.yaml": card, **files})),
        ],
        fmt=tarfile.USTAR_FORMAT,
    )
    report = verify_package(package)
    assert not report.ok
    assert any("RUN.patch, which the package does not hold" in p.reason for p in report.problems)


def test_a_schema_1_card_still_verifies_and_a_future_one_does_not(tmp_path: Path) -> None:
    files = {"model.json": b"{}\n", "model.pdiparams": b"\x00" * 64}
    for version, ok in ((1, True), (3, False)):
        card = card_for(files, schema_version=version)
        package = write_tar(
            tmp_path / f"v{version}.tar",
            [
                member("MODEL.yaml", card),
                *(member(n, d) for n, d in files.items()),
                member("SHA256SUMS", sums_for({"MODEL.yaml": card, **files})),
            ],
            fmt=tarfile.USTAR_FORMAT,
        )
        assert verify_package(package).ok is ok, version
