"""paddlectl unpack: verified extraction, tar-slip refusals, and nothing written outside DIR or left half-done."""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

import pytest

from paddlectl.errors import ExitCode, UsageError
from paddlectl.packaging import (
    PackageRequest,
    SignatureState,
    TamperedError,
    UnsignedError,
    build_package,
    generate_keypair,
    unpack_package,
    verify_package,
)
from paddlectl.packaging import reader as reader_module
from paddlectl.packaging import unpack as unpack_module
from unit.packaging.test_packaging_fakes import crafted_package, make_export, member


def _tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


@pytest.fixture
def package(tmp_path: Path) -> Path:
    export = make_export(tmp_path / "proj", fmt="pdmodel")
    return build_package(
        PackageRequest(export_dir=export, name="digits", version="1.0.0", output_dir=tmp_path / "dist")
    ).path


def test_round_trip(tmp_path: Path, package: Path) -> None:
    export = tmp_path / "proj" / ".paddlectl" / "runs"
    dest = tmp_path / "model"
    result = unpack_package(package, dest)
    assert result.directory == dest and result.report.ok
    assert sorted(os.listdir(dest)) == [
        "MODEL.yaml",
        "RUN.yaml",
        "SHA256SUMS",
        "model.pdiparams",
        "model.pdiparams.info",
        "model.pdmodel",
    ]
    for name in ("model.pdiparams", "model.pdiparams.info", "model.pdmodel"):
        (original,) = export.rglob(name)
        assert (dest / name).read_bytes() == original.read_bytes()
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755
    for path in dest.iterdir():
        assert path.is_file() and not path.is_symlink()
        assert not stat.S_IMODE(path.stat().st_mode) & 0o7133  # no exec, setuid or group/world write
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unpack_into_an_existing_empty_folder(tmp_path: Path, package: Path) -> None:
    dest = tmp_path / "empty"
    dest.mkdir()
    unpack_package(package, dest)
    assert (dest / "MODEL.yaml").is_file()


@pytest.mark.parametrize("kind", ["not empty", "a file", "a symlink", "no parent", "dot", "cwd by name"])
def test_unusable_destinations_are_refused(
    tmp_path: Path, package: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "dest"
    if kind == "not empty":
        dest.mkdir()
        (dest / "keep.txt").write_text("mine")
    elif kind == "a file":
        dest.write_text("mine")
    elif kind == "a symlink":
        (tmp_path / "elsewhere").mkdir()
        dest.symlink_to(tmp_path / "elsewhere")
    elif kind == "no parent":
        dest = tmp_path / "missing" / "dest"
    else:
        (tmp_path / "cwd").mkdir()
        monkeypatch.chdir(tmp_path / "cwd")
        dest = Path(".") if kind == "dot" else tmp_path / "cwd"
    before = _tree(tmp_path)
    with pytest.raises(UsageError) as info:
        unpack_package(package, dest)
    assert info.value.code is ExitCode.USAGE and info.value.hint
    assert _tree(tmp_path) == before


# --- tar slip ------------------------------------------------------------------------------------------------


def _slip_members(outside: Path) -> dict[str, list[tuple[tarfile.TarInfo, bytes]]]:
    char = member("null", kind=tarfile.CHRTYPE)
    char[0].devmajor, char[0].devminor = 1, 3
    block = member("disk", kind=tarfile.BLKTYPE)
    block[0].devmajor, block[0].devminor = 8, 0
    return {
        "absolute path": [member(str(outside / "abs.txt"), b"pwned")],
        "dot-dot": [member("../escaped.txt", b"pwned")],
        "deep dot-dot": [member("a/../../escaped.txt", b"pwned")],
        "symlink": [member("link", kind=tarfile.SYMTYPE, linkname=str(outside / "via-link.txt"))],
        "symlink then write through it": [
            member("link.txt", kind=tarfile.SYMTYPE, linkname=str(outside / "via-link.txt")),
            member("link.txt", b"pwned"),
        ],
        "hardlink": [member("hard", kind=tarfile.LNKTYPE, linkname=str(outside / "target.txt"))],
        "char device": [char],
        "block device": [block],
        "fifo": [member("pipe", kind=tarfile.FIFOTYPE)],
        "path through a symlinked dir": [
            member("d", kind=tarfile.SYMTYPE, linkname=str(outside)),
            member("d/through.txt", b"pwned"),
        ],
        "folder member": [member("sub", kind=tarfile.DIRTYPE)],
        "nested path": [member("sub/x.txt", b"pwned")],
        "hidden file": [member(".bashrc", b"pwned")],
        "backslash": [member("..\\escaped.txt", b"pwned")],
    }


SLIP_KINDS = list(_slip_members(Path("/x")))


@pytest.mark.parametrize("kind", SLIP_KINDS)
def test_tar_slip_is_refused_and_nothing_lands_outside(tmp_path: Path, kind: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target.txt").write_text("original")
    extra = _slip_members(outside)[kind]
    package = crafted_package(tmp_path / "evil.tar", extra)
    dest = tmp_path / "work" / "model"
    dest.parent.mkdir()
    before = _tree(tmp_path)

    report = verify_package(package)
    assert report.exit_code is ExitCode.TAMPERED
    refused = {p.file for p in report.problems if "unsafe member" in p.reason}
    assert refused & {info.name for info, _ in extra}, report.problems

    with pytest.raises(TamperedError, match="unsafe member") as info:
        unpack_package(package, dest)
    assert info.value.code is ExitCode.TAMPERED
    assert _tree(tmp_path) == before  # not even a staging folder is left
    assert (outside / "target.txt").read_text() == "original"


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_extended_headers_are_refused(tmp_path: Path, fmt: int) -> None:
    """pax and GNU records can rename the next member; a package never needs them, so they are refused."""
    long_name = "../" + "x" * 120
    package = crafted_package(tmp_path / "evil.tar", [member(long_name, b"pwned")])
    if fmt == tarfile.GNU_FORMAT:
        with tarfile.open(package) as source:
            members = [(info, source.extractfile(info).read()) for info in source.getmembers()]  # type: ignore[union-attr]
        with tarfile.open(package, "w", format=fmt) as out:
            for info, data in members:
                import io

                out.addfile(info, io.BytesIO(data))
    report = verify_package(package)
    kinds = {p.reason for p in report.problems if "unsafe member" in p.reason}
    assert any("pax header" in k or "GNU long name" in k for k in kinds), report.problems
    before = _tree(tmp_path)
    with pytest.raises(TamperedError):
        unpack_package(package, tmp_path / "model")
    assert _tree(tmp_path) == before


def test_refused_members_are_never_created(tmp_path: Path) -> None:
    created: list[str] = []

    class RecordingStore:
        def create(self, name: str) -> reader_module.MemberSink:
            created.append(name)
            return open(os.devnull, "wb")

    extra = [
        member("../escaped.txt", b"x"),
        member("link", kind=tarfile.SYMTYPE, linkname="/etc/passwd"),
        member("ok.bin", b"fine"),
    ]
    reader_module.scan_archive(crafted_package(tmp_path / "evil.tar", extra), RecordingStore())
    assert created == ["MODEL.yaml", "model.json", "model.pdiparams", "ok.bin", "SHA256SUMS"]


def test_directory_store_defends_on_its_own(tmp_path: Path) -> None:
    """The writer does not rely on the reader: it refuses paths and never follows or replaces a file."""
    (tmp_path / "outside.txt").write_text("original")
    store = unpack_module._DirectoryStore(tmp_path / "..")
    try:
        with pytest.raises(TamperedError):
            store.create("../x")
    finally:
        store.close()
    folder = tmp_path / "dest"
    folder.mkdir()
    (folder / "link").symlink_to(tmp_path / "outside.txt")
    store = unpack_module._DirectoryStore(folder)
    try:
        with pytest.raises(FileExistsError):
            store.create("link")
    finally:
        store.close()
    assert (tmp_path / "outside.txt").read_text() == "original"


# --- verification comes first --------------------------------------------------------------------------------


def test_tampered_package_is_not_unpacked(tmp_path: Path, package: Path) -> None:
    with tarfile.open(package) as archive:
        offset = archive.getmember("model.pdiparams").offset_data
    data = bytearray(package.read_bytes())
    data[offset + 7] ^= 0xFF
    package.write_bytes(bytes(data))
    before = _tree(tmp_path)
    with pytest.raises(TamperedError, match=r"model\.pdiparams"):
        unpack_package(package, tmp_path / "model")
    assert _tree(tmp_path) == before


def test_signature_rules_apply_to_unpack(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    good = generate_keypair(keys, "good")
    other = generate_keypair(keys, "other")
    export = make_export(tmp_path / "proj")
    signed = build_package(
        PackageRequest(
            export_dir=export, name="digits", version="1.0.0", output_dir=tmp_path / "s", sign_key=good.private_key
        )
    ).path
    unsigned = build_package(
        PackageRequest(export_dir=export, name="digits", version="1.0.0", output_dir=tmp_path / "u")
    ).path
    before = _tree(tmp_path)
    with pytest.raises(TamperedError, match=r"SHA256SUMS\.sig"):
        unpack_package(signed, tmp_path / "a", key=other.public_key)
    with pytest.raises(UnsignedError):
        unpack_package(unsigned, tmp_path / "b", key=good.public_key)
    assert _tree(tmp_path) == before
    result = unpack_package(signed, tmp_path / "c", key=good.public_key)
    assert result.report.signature is SignatureState.VALID
    assert unpack_package(signed, tmp_path / "d").report.signature is SignatureState.UNCHECKED


def test_interrupt_during_extraction_leaves_nothing(
    tmp_path: Path, package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_create = unpack_module._DirectoryStore.create

    def create(self: unpack_module._DirectoryStore, name: str) -> object:
        if name == "model.pdiparams":
            raise KeyboardInterrupt
        return real_create(self, name)

    monkeypatch.setattr(unpack_module._DirectoryStore, "create", create)
    before = _tree(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        unpack_package(package, tmp_path / "model")
    assert _tree(tmp_path) == before


def test_destination_filled_meanwhile_is_left_alone(
    tmp_path: Path, package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "model"
    dest.mkdir()
    real_evaluate = unpack_module.evaluate

    def evaluate_then_race(*args: object, **kwargs: object) -> object:
        (dest / "someone-elses.txt").write_text("theirs")
        return real_evaluate(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(unpack_module, "evaluate", evaluate_then_race)
    with pytest.raises(UsageError, match="cannot create"):
        unpack_package(package, dest)
    assert os.listdir(dest) == ["someone-elses.txt"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_member_name_with_line_breaks_stays_on_one_line_in_the_error(tmp_path: Path) -> None:
    """Found by fuzzing: a flipped byte turned MODEL.yaml into ']ODEL\\x1eyaml', and the message broke in two."""
    from paddlectl.packaging.reader import Problem

    assert str(Problem("]ODEL\x1eyaml", "unsafe member")) == "]ODEL\\x1eyaml: unsafe member"
    assert len(str(Problem("a\nb\u2028c\x85d", "x")).splitlines()) == 1
