"""paddlectl package and verify: contents, determinism, atomicity, and every way verification must fail."""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from paddlectl.errors import ExitCode, PaddlectlError, UnavailableError, UsageError
from paddlectl.foundation.yamlio import dump_yaml, load_yaml
from paddlectl.packaging import (
    ModelStatus,
    PackageRequest,
    SignatureState,
    TamperedError,
    UnsignedError,
    build_package,
    generate_keypair,
    resolve_export_dir,
    verify_package,
)
from paddlectl.packaging import tarwriter as tarwriter_module
from paddlectl.project.workspace import open_project
from paddlectl.runs.manifest import Manifest
from unit.packaging.test_packaging_fakes import (
    CREATED_AT,
    CREATED_AT_EPOCH,
    RUN_ID,
    card_for,
    crafted_package,
    make_export,
    member,
    sums_for,
    write_tar,
)


def _package(export: Path, out: Path, **options: object) -> Path:
    request = PackageRequest(export_dir=export, name="digits", version="1.0.0", output_dir=out, **options)  # type: ignore[arg-type]
    return build_package(request).path


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _offset_of(package: Path, name: str) -> tuple[int, int]:
    with tarfile.open(package) as archive:
        info = archive.getmember(name)
        return info.offset_data, info.size


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return make_export(tmp_path / "proj")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("keys")
    good = generate_keypair(folder, "good")
    other = generate_keypair(folder, "other")
    return good.private_key, good.public_key, other.public_key


# --- what a package holds ---------------------------------------------------------------------------------


def test_package_holds_card_files_and_sums_in_fixed_order(export: Path, tmp_path: Path) -> None:
    result = build_package(
        PackageRequest(
            export_dir=export,
            name="digits",
            version="1.2.3-rc.1",
            output_dir=tmp_path / "dist",
            task="classification",
            status=ModelStatus.PRODUCTION,
        )
    )
    assert result.path == tmp_path / "dist" / "digits-1.2.3-rc.1.tar"
    assert result.sha256 == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert result.size == result.path.stat().st_size
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o644
    assert not result.signed
    with tarfile.open(result.path) as archive:
        members = archive.getmembers()
        names = [m.name for m in members]
        assert names == ["MODEL.yaml", "RUN.yaml", "model.json", "model.pdiparams", "SHA256SUMS"]
        for info in members:
            assert (info.uid, info.gid, info.uname, info.gname) == (0, 0, "", "")
            assert info.mode == 0o644 and info.isreg()
            assert info.mtime == CREATED_AT_EPOCH
        for name in ("model.json", "model.pdiparams"):
            assert archive.extractfile(name).read() == (export / name).read_bytes()  # type: ignore[union-attr]
        sums = archive.extractfile("SHA256SUMS").read().decode()  # type: ignore[union-attr]
        card = load_yaml(archive.extractfile("MODEL.yaml").read().decode(), "MODEL.yaml")  # type: ignore[union-attr]
        run_record = load_yaml(archive.extractfile("RUN.yaml").read().decode(), "RUN.yaml")  # type: ignore[union-attr]
    expected = {
        name: hashlib.sha256((export / name).read_bytes()).hexdigest() for name in ("model.json", "model.pdiparams")
    }
    lines = sums.splitlines()
    assert [line.split("  ")[1] for line in lines] == ["MODEL.yaml", "RUN.yaml", "model.json", "model.pdiparams"]
    for line in lines[2:]:
        digest, name = line.split("  ")
        assert digest == expected[name]
    assert [(f.name, f.sha256) for f in result.files][2:4] == sorted(expected.items())
    recorded = Manifest.from_dict(load_yaml((export.parent / "manifest.yaml").read_text(), "manifest"))
    assert run_record == recorded.to_dict()  # the run's manifest as the run store reads it

    assert card["name"] == "digits" and card["version"] == "1.2.3-rc.1"
    assert card["framework"] == "PaddlePaddle" and card["paddle_version"] == "3.2.0"
    assert card["format"] == "pir-json" and card["task"] == "classification" and card["status"] == "production"
    assert card["created_at"] == CREATED_AT
    assert card["created_by"] and "@" in card["created_by"]
    assert card["dataset"] == "digits"
    assert card["metrics"]["acc"]["last"] == 0.97
    assert card["inputs"][0]["shape"] == [-1, 1, 8, 8] and card["outputs"][0]["name"] == "fetch_name_0"
    assert card["files"] == [
        {"name": "model.json", "size": (export / "model.json").stat().st_size},
        {"name": "model.pdiparams", "size": 200_000},
    ]
    provenance = card["provenance"]
    assert provenance["run_id"] == RUN_ID and provenance["run_name"] == "digits-baseline"
    assert provenance["image"]["reference"] == "paddlectl-test/paddle:3.2.0-cpu"
    assert provenance["image"]["id"].startswith("sha256:") and "digest" in provenance["image"]
    assert provenance["git"] == {
        "commit": "f" * 40,
        "dirty": False,
        "patch": None,
        "patch_sha256": None,
        "patch_state": "none",
    }
    assert provenance["run_status"] == "succeeded" and provenance["run_record"] == "RUN.yaml"
    assert provenance["labels"] == {"dataset": "digits"}
    assert card["schema_version"] == 2
    assert card["input_shape"] == {"x": [-1, 1, 8, 8]}
    assert card["output_type"] == {"fetch_name_0": "float32[-1,10]"}
    assert card["trained_on"]["dataset"] == "digits" and card["trained_on"]["run_id"] == RUN_ID
    assert provenance["params"] == {"lr": 0.01, "epochs": 3}
    assert provenance["verification"]["outputs"][0]["max_abs_diff"] == 1.2e-07
    assert provenance["latency_ms"]["p50"] == 0.08


def test_sha256sum_accepts_the_sums(export: Path, tmp_path: Path) -> None:
    import subprocess

    package = _package(export, tmp_path)
    unpacked = tmp_path / "plain"
    unpacked.mkdir()
    with tarfile.open(package) as archive:
        archive.extractall(unpacked, filter="data")
    checked = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=unpacked, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(": OK") == 4


def test_weights_only_export_without_manifest(tmp_path: Path) -> None:
    export = make_export(tmp_path / "p", fmt="pdmodel", with_manifest=False, record_overrides={"run_id": None})
    package = _package(export, tmp_path)
    report = verify_package(package)
    assert report.ok, report.problems
    with tarfile.open(package) as archive:
        card = load_yaml(archive.extractfile("MODEL.yaml").read().decode(), "card")  # type: ignore[union-attr]
    assert card["format"] == "pdmodel" and card["provenance"]["run_id"] is None
    assert card["metrics"] == {} and card["dataset"] is None and card["provenance"]["git"] is None
    assert [f.name for f in report.files] == [
        "MODEL.yaml",
        "model.pdiparams",
        "model.pdiparams.info",
        "model.pdmodel",
        "SHA256SUMS",
    ]


# --- determinism -------------------------------------------------------------------------------------------


def test_repackaging_is_byte_identical(export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = build_package(PackageRequest(export_dir=export, name="digits", version="1.0.0", output_dir=tmp_path / "a"))
    # A day later, with touched files and another umask: nothing of that may reach the archive.
    later = time.time() + 86_400
    monkeypatch.setattr(time, "time", lambda: later)
    for name in ("model.json", "model.pdiparams"):
        os.utime(export / name, (later, later))
        os.chmod(export / name, 0o600)
    old_umask = os.umask(0o077)
    try:
        second = build_package(
            PackageRequest(export_dir=export, name="digits", version="1.0.0", output_dir=tmp_path / "b")
        )
    finally:
        os.umask(old_umask)
    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()


def test_signed_repackaging_is_byte_identical(export: Path, tmp_path: Path, keys: tuple[Path, Path, Path]) -> None:
    private, public, _ = keys
    a = _package(export, tmp_path / "a", sign_key=private)
    b = _package(export, tmp_path / "b", sign_key=private)
    assert a.read_bytes() == b.read_bytes()  # ed25519 signatures are deterministic
    assert verify_package(a, key=public).signature is SignatureState.VALID


def test_different_exports_give_different_archives(tmp_path: Path) -> None:
    one = _package(make_export(tmp_path / "one"), tmp_path / "a")
    other_export = make_export(tmp_path / "two")
    (other_export / "model.pdiparams").write_bytes(b"\x00" + (other_export / "model.pdiparams").read_bytes()[1:])
    two = _package(other_export, tmp_path / "b")
    assert one.read_bytes() != two.read_bytes()


# --- refusals and atomicity --------------------------------------------------------------------------------


def test_refuses_to_overwrite_without_force(export: Path, tmp_path: Path) -> None:
    first = _package(export, tmp_path)
    first.write_bytes(b"sentinel")
    with pytest.raises(UsageError, match="already exists") as info:
        _package(export, tmp_path)
    assert "--force" in (info.value.hint or "")
    assert first.read_bytes() == b"sentinel"
    _package(export, tmp_path, force=True)
    assert verify_package(first).ok
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_unverified_export_is_refused_unless_allowed(tmp_path: Path) -> None:
    export = make_export(tmp_path / "p", status="failed")
    with pytest.raises(UsageError, match=r"not verified \(verification status: failed\)") as info:
        _package(export, tmp_path / "dist")
    assert "--allow-unverified" in (info.value.hint or "")
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())
    package = _package(export, tmp_path / "dist", allow_unverified=True)
    assert verify_package(package).ok


@pytest.mark.parametrize("status", ["failed", "interrupted"])
def test_the_export_of_a_run_that_did_not_succeed_is_refused_unless_allowed(tmp_path: Path, status: str) -> None:
    export = make_export(tmp_path / "p")
    manifest_path = export.parent / "manifest.yaml"
    manifest = load_yaml(manifest_path.read_text(), "manifest")
    manifest.update(status=status, reason="exited with code 3")
    manifest_path.write_text(dump_yaml(manifest))
    with pytest.raises(UsageError, match=f"came from {status} \\(exited with code 3\\)") as info:
        _package(export, tmp_path / "dist")
    assert "--allow-failed" in (info.value.hint or "")
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())
    assert verify_package(_package(export, tmp_path / "dist", allow_failed=True)).ok


@pytest.mark.parametrize("name", ["Digits", "-x", "a b", "a/b", "", "é", "x" * 101])
def test_bad_names_are_refused(export: Path, tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match="invalid package name"):
        build_package(PackageRequest(export_dir=export, name=name, version="1.0.0", output_dir=tmp_path))


@pytest.mark.parametrize("version", ["1", "1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0+", "1.0.0 "])
def test_bad_versions_are_refused(export: Path, tmp_path: Path, version: str) -> None:
    with pytest.raises(UsageError, match="invalid version"):
        build_package(PackageRequest(export_dir=export, name="digits", version=version, output_dir=tmp_path))


@pytest.mark.parametrize("version", ["0.0.1", "1.2.3-alpha.1", "1.2.3+build.5", "10.20.30-rc.1+sha.abc"])
def test_semver_versions_are_accepted(export: Path, tmp_path: Path, version: str) -> None:
    assert verify_package(
        build_package(PackageRequest(export_dir=export, name="digits", version=version, output_dir=tmp_path)).path
    ).ok


@pytest.mark.parametrize(
    ("files", "match"),
    [
        (["../../etc/passwd"], "'..' component"),
        (["/etc/passwd"], "absolute path"),
        (["sub/model.json", "model.pdiparams"], "not a plain file name"),
        (["SHA256SUMS", "model.json", "model.pdiparams"], "reserved name"),
        (["model.pdiparams"], "needs a .json file"),
        (["model.json", "missing.pdiparams"], "missing"),
    ],
)
def test_unsafe_or_incomplete_export_records_are_refused(tmp_path: Path, files: list[str], match: str) -> None:
    export = make_export(tmp_path / "p", record_overrides={"files": files})
    with pytest.raises(UsageError, match=match):
        _package(export, tmp_path / "dist")


def test_symlinked_export_file_is_refused(tmp_path: Path) -> None:
    export = make_export(tmp_path / "p")
    secret = tmp_path / "secret.pdiparams"
    secret.write_bytes(b"not the model")
    (export / "model.pdiparams").unlink()
    (export / "model.pdiparams").symlink_to(secret)
    with pytest.raises(UsageError, match="not a regular file"):
        _package(export, tmp_path / "dist")


def test_unsafe_yaml_in_export_record_is_refused(tmp_path: Path) -> None:
    export = make_export(tmp_path / "p")
    (export / "export.yaml").write_text("!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(UsageError, match="not valid YAML"):
        _package(export, tmp_path / "dist")


def test_interrupt_leaves_nothing_behind(export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "dist"
    threads_before = threading.active_count()
    real = tarwriter_module.DeterministicTarWriter.add_stream

    def interrupted(self: object, name: str, handle: object, size: int) -> str:
        if name == "model.pdiparams":
            raise KeyboardInterrupt
        return real(self, name, handle, size)  # type: ignore[arg-type]

    monkeypatch.setattr(tarwriter_module.DeterministicTarWriter, "add_stream", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _package(export, out)
    assert list(out.iterdir()) == []
    assert threading.active_count() == threads_before


@pytest.mark.parametrize(("change", "match"), [(b"late", "grew"), (None, "shrank")])
def test_file_changing_size_while_packaging_is_refused(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: bytes | None, match: str
) -> None:
    from paddlectl.packaging import archive as archive_module

    real_build_card = archive_module.build_card

    def build_card_then_change(*args: object, **kwargs: object) -> object:
        card = real_build_card(*args, **kwargs)  # type: ignore[arg-type]
        # The sizes were taken from the open descriptors; now the export changes underneath.
        if change is None:
            os.truncate(export / "model.pdiparams", 10)
        else:
            with open(export / "model.pdiparams", "ab") as handle:
                handle.write(change)
        return card

    monkeypatch.setattr(archive_module, "build_card", build_card_then_change)
    with pytest.raises(UsageError, match=f"{match} while being packaged"):
        _package(export, tmp_path / "dist")
    assert not any((tmp_path / "dist").iterdir())


def test_resolve_export_dir(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    export = make_export(root)
    project = open_project(root)
    assert resolve_export_dir(RUN_ID, project) == project.runs_dir / RUN_ID / "export"
    assert resolve_export_dir(str(export.parent), project) == export.parent / "export"
    assert resolve_export_dir(str(export), project) == export
    (project.runs_dir / "20260101-000000-000000").mkdir()
    with pytest.raises(UsageError, match="has not been exported") as info:
        resolve_export_dir("20260101-000000-000000", project)
    assert "paddlectl export" in (info.value.hint or "")
    for target in ("nope", "../etc"):
        with pytest.raises(UsageError, match="no run"):
            resolve_export_dir(target, project)


# --- verification ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["MODEL.yaml", "model.pdmodel", "model.pdiparams", "model.pdiparams.info", "SHA256SUMS"]
)
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_one_flipped_byte_in_any_file_fails_and_names_it(tmp_path: Path, name: str, where: str) -> None:
    package = _package(make_export(tmp_path / "p", fmt="pdmodel"), tmp_path)
    start, size = _offset_of(package, name)
    _flip(package, start + {"first": 0, "middle": size // 2, "last": size - 1}[where])
    report = verify_package(package)
    assert report.exit_code is ExitCode.TAMPERED
    with pytest.raises(TamperedError) as info:
        report.raise_for_problems()
    assert info.value.code is ExitCode.TAMPERED
    if name == "SHA256SUMS":  # a changed digest line: the file it covers no longer matches, the sums are named
        assert "SHA256SUMS" in str(info.value)
    else:
        assert any(problem.file == name for problem in report.problems), report.problems
        assert name in str(info.value)


def _undetected_flips(package: Path, offsets: list[int]) -> list[int]:
    original = package.read_bytes()
    assert verify_package(package).ok
    undetected = []
    for offset in offsets:
        data = bytearray(original)
        data[offset] ^= 0x20  # also turns NUL into space, the flip tar's checksum field cannot see by itself
        package.write_bytes(bytes(data))
        try:
            if verify_package(package).ok:
                undetected.append(offset)
        except UsageError:
            assert offset < 512  # only a flip in the very first header can make it "not a tar archive"
    return undetected


def test_a_flipped_byte_anywhere_is_detected(tmp_path: Path) -> None:
    """Headers (all checksum-field bytes), contents, padding and end blocks, at the same spots of every block."""
    package = _package(make_export(tmp_path / "p", weights_size=1_500), tmp_path)
    start, size = _offset_of(package, "SHA256SUMS")
    end_blocks = start + size + 1024  # the two end-of-archive blocks; the record padding after them is sampled
    spots = [0, 99, 100, 124, *range(148, 157), 257, 263, 345, 500, 511]
    offsets = [block + spot for block in range(0, end_blocks, 512) for spot in spots]
    offsets += list(range(end_blocks, package.stat().st_size, 1021))
    assert _undetected_flips(package, offsets) == []


def test_truncated_package_is_tampered(export: Path, tmp_path: Path) -> None:
    package = _package(export, tmp_path)
    start, _ = _offset_of(package, "model.pdiparams")
    package.write_bytes(package.read_bytes()[: start + 1000])
    report = verify_package(package)
    assert report.exit_code is ExitCode.TAMPERED
    assert any(p.file == "model.pdiparams" and "truncated" in p.reason for p in report.problems)


def test_data_after_end_marker_is_tampered(export: Path, tmp_path: Path) -> None:
    package = _package(export, tmp_path)
    package.write_bytes(package.read_bytes() + b"smuggled")
    report = verify_package(package)
    assert any("after the end-of-archive marker" in p.reason for p in report.problems)


def test_unlisted_extra_file_is_tampered(tmp_path: Path) -> None:
    package = crafted_package(tmp_path / "x.tar", [member("extra.bin", b"payload")], list_extra=False)
    report = verify_package(package)
    assert [(p.file, p.reason) for p in report.problems] == [
        ("extra.bin", "not listed in SHA256SUMS"),
        ("MODEL.yaml", "does not list extra.bin"),
    ]


def test_listed_but_missing_file_is_tampered(tmp_path: Path) -> None:
    files = {"model.json": b"{}", "model.pdiparams": b"w" * 100}
    card = card_for(files)
    summed = {"MODEL.yaml": card, **files, "gone.bin": b"x"}
    package = write_tar(
        tmp_path / "x.tar",
        [member("MODEL.yaml", card), *(member(n, d) for n, d in files.items()), member("SHA256SUMS", sums_for(summed))],
    )
    report = verify_package(package)
    assert [(p.file, p.reason) for p in report.problems] == [
        ("gone.bin", "listed in SHA256SUMS but not in the archive")
    ]


def test_duplicate_member_is_tampered(tmp_path: Path) -> None:
    package = crafted_package(tmp_path / "x.tar", [member("model.json", b"{}\n")])
    report = verify_package(package)
    assert any(p.file == "model.json" and "twice" in p.reason for p in report.problems)


def test_missing_sums_or_card_is_tampered(tmp_path: Path) -> None:
    card = write_tar(tmp_path / "card.tar", [member("MODEL.yaml", b"name: x\n"), member("model.json", b"{}")])
    report = verify_package(card)
    assert report.exit_code is ExitCode.TAMPERED
    assert "SHA256SUMS" in {p.file for p in report.problems}
    sums = write_tar(tmp_path / "sums.tar", [member("model.json", b"{}"), member("SHA256SUMS", b"")])
    report = verify_package(sums)
    assert report.exit_code is ExitCode.TAMPERED
    assert "MODEL.yaml" in {p.file for p in report.problems}


def test_a_tar_without_card_and_sums_is_not_a_package(tmp_path: Path) -> None:
    package = write_tar(tmp_path / "x.tar", [member("model.json", b"{}")])
    with pytest.raises(UsageError, match="not a paddlectl package") as info:
        verify_package(package)
    assert info.value.code is ExitCode.USAGE and "model.json" in info.value.message


@pytest.mark.parametrize(
    ("card_overrides", "match"),
    [
        ({"format": "pdmodel"}, "needs a .pdmodel file"),
        ({"format": "onnx"}, "unknown format"),
        ({"status": "shipped"}, "status"),
        ({"name": "Bad Name"}, "invalid package name"),
        ({"framework": "torch"}, "framework"),
        (
            {
                "files": [
                    {"name": "model.json", "size": 3},
                    {"name": "model.pdiparams", "size": 100},
                    {"name": "ghost.bin", "size": 1},
                ]
            },
            "ghost.bin",
        ),
        ({"files": [{"name": "model.json", "size": 99}, {"name": "model.pdiparams", "size": 100}]}, "99 bytes"),
        ({"files": "all of them"}, "not a list"),
    ],
)
def test_card_inconsistent_with_files_is_tampered(
    tmp_path: Path, card_overrides: dict[str, object], match: str
) -> None:
    files = {"model.json": b"{}\n", "model.pdiparams": b"w" * 100}
    card = card_for(files, **card_overrides)
    package = write_tar(
        tmp_path / "x.tar",
        [
            member("MODEL.yaml", card),
            *(member(n, d) for n, d in files.items()),
            member("SHA256SUMS", sums_for({"MODEL.yaml": card, **files})),
        ],
    )
    report = verify_package(package)
    assert report.exit_code is ExitCode.TAMPERED
    assert any(p.file == "MODEL.yaml" and match in p.reason for p in report.problems), report.problems


def test_card_with_python_tag_is_tampered_not_executed(tmp_path: Path) -> None:
    files = {"model.json": b"{}\n", "model.pdiparams": b"w" * 100}
    card = b"!!python/object/apply:os.system ['touch " + str(tmp_path / "pwned").encode() + b"']\n"
    package = write_tar(
        tmp_path / "x.tar",
        [
            member("MODEL.yaml", card),
            *(member(n, d) for n, d in files.items()),
            member("SHA256SUMS", sums_for({"MODEL.yaml": card, **files})),
        ],
    )
    report = verify_package(package)
    assert any(p.file == "MODEL.yaml" and "unreadable" in p.reason for p in report.problems)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("content", "match"),
    [(b"", "empty"), (b"hello world" * 100, "not a tar archive"), (b"\x1f\x8b\x08\x00" + b"\0" * 600, "gzip")],
)
def test_not_an_archive_is_a_usage_error(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "x.tar"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=match) as info:
        verify_package(path)
    assert info.value.code is ExitCode.USAGE


def test_missing_or_folder_package_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        verify_package(tmp_path / "nope.tar")
    with pytest.raises(UsageError):
        verify_package(tmp_path)


# --- signatures --------------------------------------------------------------------------------------------


def test_signature_states(export: Path, tmp_path: Path, keys: tuple[Path, Path, Path]) -> None:
    private, public, other = keys
    signed = _package(export, tmp_path / "s", sign_key=private)
    with tarfile.open(signed) as archive:
        assert archive.getnames()[-2:] == ["SHA256SUMS", "SHA256SUMS.sig"]
        sums = archive.extractfile("SHA256SUMS").read()  # type: ignore[union-attr]
        assert b"SHA256SUMS" not in sums
    assert verify_package(signed, key=public).signature is SignatureState.VALID
    unchecked = verify_package(signed)
    assert unchecked.ok and unchecked.signature is SignatureState.UNCHECKED

    wrong = verify_package(signed, key=other)
    assert wrong.signature is SignatureState.INVALID and wrong.exit_code is ExitCode.TAMPERED
    with pytest.raises(TamperedError, match=r"SHA256SUMS\.sig"):
        wrong.raise_for_problems()

    unsigned = _package(export, tmp_path / "u")
    assert verify_package(unsigned).signature is SignatureState.ABSENT
    missing = verify_package(unsigned, key=public)
    assert missing.exit_code is ExitCode.UNSIGNED
    with pytest.raises(UnsignedError) as info:
        missing.raise_for_problems()
    assert info.value.code is ExitCode.UNSIGNED


def test_resigned_sums_with_other_content_fail_the_signature(
    export: Path, tmp_path: Path, keys: tuple[Path, Path, Path]
) -> None:
    """New weights with matching new sums, under the old signature: only the signature can tell, and does."""
    private, public, _ = keys
    original = _package(export, tmp_path / "a", sign_key=private)
    with tarfile.open(original) as archive:
        signature = archive.extractfile("SHA256SUMS.sig").read()  # type: ignore[union-attr]
    (export / "model.pdiparams").write_bytes(b"evil" * 1000)
    forged = _package(export, tmp_path / "b")  # consistent sums for the evil weights
    assert verify_package(forged).ok
    forged_tar = tmp_path / "forged.tar"
    with tarfile.open(forged) as archive:
        members = [(info, archive.extractfile(info).read()) for info in archive.getmembers()]  # type: ignore[union-attr]
    write_tar(forged_tar, [*members, member("SHA256SUMS.sig", signature)])
    report = verify_package(forged_tar, key=public)
    assert [p.file for p in report.problems] == ["SHA256SUMS.sig"]
    assert report.exit_code is ExitCode.TAMPERED


def test_sign_with_a_public_key_is_refused(export: Path, tmp_path: Path, keys: tuple[Path, Path, Path]) -> None:
    _, public, _ = keys
    with pytest.raises(UsageError, match="not an unencrypted PEM private key"):
        _package(export, tmp_path, sign_key=public)
    assert not (tmp_path / "digits-1.0.0.tar").exists()


def test_verify_with_a_private_key_is_refused(export: Path, tmp_path: Path, keys: tuple[Path, Path, Path]) -> None:
    private, _, _ = keys
    with pytest.raises(UsageError, match="not a PEM public key"):
        verify_package(_package(export, tmp_path), key=private)


def test_missing_cryptography_names_the_extra(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: tuple[Path, Path, Path]
) -> None:
    private, _, _ = keys
    monkeypatch.setitem(sys.modules, "cryptography", None)
    with pytest.raises(UnavailableError, match="cryptography") as info:
        _package(export, tmp_path, sign_key=private)
    assert info.value.hint == "pip install 'paddlectl[sign]'"
    assert verify_package(_package(export, tmp_path)).ok  # unsigned work needs no cryptography


def test_exposed_signing_key_gives_a_warning(export: Path, tmp_path: Path) -> None:
    pair = generate_keypair(tmp_path / "k", "loose")
    os.chmod(pair.private_key, 0o644)
    result = build_package(
        PackageRequest(
            export_dir=export, name="digits", version="1.0.0", output_dir=tmp_path, sign_key=pair.private_key
        )
    )
    assert result.signed and any("chmod 600" in warning for warning in result.warnings)


# --- keys --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_key_files_permissions(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        pair = generate_keypair(tmp_path / "keys", "release")
    finally:
        os.umask(old)
    assert stat.S_IMODE(pair.private_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(pair.public_key.stat().st_mode) == 0o644
    assert pair.private_key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert pair.public_key.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert pair.fingerprint.startswith("sha256:") and len(pair.fingerprint) == 7 + 64


def test_private_key_is_never_world_readable_even_briefly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[tuple[str, int, int]] = []
    real_open = os.open

    def recording_open(path: object, flags: int, mode: int = 0o777, **kwargs: object) -> int:
        created.append((str(path), flags, mode))
        return real_open(path, flags, mode, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", recording_open)
    pair = generate_keypair(tmp_path, "k")
    (_, flags, mode) = next(entry for entry in created if entry[0] == str(pair.private_key))
    assert flags & os.O_EXCL and flags & os.O_CREAT and mode == 0o600


def test_keys_are_never_overwritten(tmp_path: Path) -> None:
    pair = generate_keypair(tmp_path, "k")
    before = pair.private_key.read_bytes()
    with pytest.raises(UsageError, match="already exists"):
        generate_keypair(tmp_path, "k")
    assert pair.private_key.read_bytes() == before
    pair.public_key.unlink()
    with pytest.raises(UsageError, match="already exists"):  # one half present is still a refusal
        generate_keypair(tmp_path, "k")
    (tmp_path / "s.key").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UsageError, match="already exists"):
        generate_keypair(tmp_path, "s")
    assert not (tmp_path / "elsewhere").exists()


def test_default_key_dir_is_outside_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    pair = generate_keypair()
    assert pair.private_key == tmp_path / "cfg" / "paddlectl" / "keys" / "paddlectl.key"
    assert stat.S_IMODE((tmp_path / "cfg" / "paddlectl" / "keys").stat().st_mode) == 0o700


def test_bad_key_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PaddlectlError):
        generate_keypair(tmp_path, "../escape")
    assert list(tmp_path.iterdir()) == []
