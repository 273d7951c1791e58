"""package, verify, unpack and keys through the real CLI process: stdout data, exit codes, one-line errors."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import run_cli
from paddlectl.packaging import generate_keypair
from unit.packaging.test_packaging_fakes import RUN_ID, crafted_package, make_export, member


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One project, one key pair, one signed package built by `paddlectl package --json` from the run id."""
    root = tmp_path_factory.mktemp("cli")
    project = root / "proj"
    make_export(project)
    keys = run_cli("keys", "generate", "--out", str(root / "keys"), "--name", "release", "--json", cwd=project)
    assert keys.returncode == 0, keys.stderr
    pair = json.loads(keys.stdout)
    package = run_cli(
        "package",
        RUN_ID,
        "--name",
        "digits",
        "--version",
        "1.0.0",
        "-o",
        "dist",
        "--sign",
        pair["private_key"],
        "--task",
        "classification",
        "--json",
        cwd=project,
    )
    assert package.returncode == 0, package.stderr
    document = json.loads(package.stdout)
    return {
        "root": root,
        "project": project,
        "private": Path(pair["private_key"]),
        "public": Path(pair["public_key"]),
        "package": project / "dist" / "digits-1.0.0.tar",
        "document": document,
    }  # type: ignore[dict-item]


def test_keys_generate_json_and_modes(built: dict[str, Path]) -> None:
    assert stat.S_IMODE(built["private"].stat().st_mode) == 0o600
    assert stat.S_IMODE(built["public"].stat().st_mode) == 0o644
    again = run_cli("keys", "generate", "--out", str(built["private"].parent), "--name", "release")
    assert again.returncode == 2 and "already exists" in again.stderr and again.stdout == ""


def test_package_json_document(built: dict[str, Path]) -> None:
    document: dict[str, object] = built["document"]  # type: ignore[assignment]
    assert document["path"] == "dist/digits-1.0.0.tar"
    assert document["signed"] is True
    assert document["size"] == built["package"].stat().st_size
    names = [entry["name"] for entry in document["files"]]  # type: ignore[attr-defined,index]
    assert names == ["MODEL.yaml", "RUN.yaml", "model.json", "model.pdiparams", "SHA256SUMS", "SHA256SUMS.sig"]
    import hashlib

    assert document["sha256"] == hashlib.sha256(built["package"].read_bytes()).hexdigest()


def test_package_human_output_and_overwrite(built: dict[str, Path]) -> None:
    again = run_cli("package", RUN_ID, "--name", "digits", "--version", "1.0.0", "-o", "dist", cwd=built["project"])
    assert again.returncode == 2
    assert "already exists" in again.stderr and "--force" in again.stderr and again.stdout == ""
    forced = run_cli(
        "package",
        RUN_ID,
        "--name",
        "digits",
        "--version",
        "1.0.0",
        "-o",
        "dist",
        "--force",
        "--sign",
        str(built["private"]),
        "--task",
        "classification",
        cwd=built["project"],
    )
    assert forced.returncode == 0, forced.stderr
    digest, path = forced.stdout.split()
    assert path == "dist/digits-1.0.0.tar"
    assert digest == built["document"]["sha256"]  # type: ignore[index]  # same export, same bytes
    assert "Traceback" not in forced.stderr


def test_package_usage_errors(built: dict[str, Path]) -> None:
    bad_status = run_cli(
        "package", RUN_ID, "--name", "d", "--version", "1.0.0", "--status", "live", "--json", cwd=built["project"]
    )
    assert bad_status.returncode == 2
    assert json.loads(bad_status.stdout)["exit_code"] == 2
    no_run = run_cli("package", "nope", "--name", "d", "--version", "1.0.0", cwd=built["project"])
    assert no_run.returncode == 2 and "'nope'" in no_run.stderr and no_run.stdout == ""


def test_verify_exit_codes(built: dict[str, Path], tmp_path: Path) -> None:
    ok = run_cli("verify", str(built["package"]), "--key", str(built["public"]))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.split()[0] == built["document"]["sha256"]  # type: ignore[index]
    assert "signature valid" in ok.stderr

    tampered = tmp_path / "tampered.tar"
    data = bytearray(built["package"].read_bytes())
    with tarfile.open(built["package"]) as archive:
        data[archive.getmember("model.pdiparams").offset_data + 3] ^= 1
    tampered.write_bytes(bytes(data))
    bad = run_cli("verify", str(tampered))
    assert bad.returncode == 4
    assert "model.pdiparams" in bad.stderr and "checksum mismatch" in bad.stderr and bad.stdout == ""
    bad_json = run_cli("verify", str(tampered), "--json")
    assert bad_json.returncode == 4
    document = json.loads(bad_json.stdout)
    assert document["ok"] is False and document["problems"][0]["file"] == "model.pdiparams"

    other = generate_keypair(tmp_path, "other")
    wrong = run_cli("verify", str(built["package"]), "--key", str(other.public_key))
    assert wrong.returncode == 4 and "SHA256SUMS.sig" in wrong.stderr

    unsigned = crafted_package(tmp_path / "unsigned.tar")
    assert run_cli("verify", str(unsigned)).returncode == 0
    missing = run_cli("verify", str(unsigned), "--key", str(built["public"]))
    assert missing.returncode == 5 and "not signed" in missing.stderr

    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    not_tar = run_cli("verify", str(junk))
    assert not_tar.returncode == 2 and "not a tar archive" in not_tar.stderr


def test_unpack_cli(built: dict[str, Path], tmp_path: Path) -> None:
    dest = tmp_path / "model"
    done = run_cli("unpack", str(built["package"]), str(dest), "--key", str(built["public"]), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["directory"] == str(dest) and document["signature"] == "valid"
    assert (dest / "model.pdiparams").is_file()

    evil = crafted_package(tmp_path / "evil.tar", [member("../escaped.txt", b"pwned")])
    refused = run_cli("unpack", str(evil), str(tmp_path / "evil-out"))
    assert refused.returncode == 4 and "unsafe member" in refused.stderr
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "evil-out").exists()

    not_empty = run_cli("unpack", str(built["package"]), str(dest))
    assert not_empty.returncode == 2 and "not empty" in not_empty.stderr


def _gnu_tar(folder: Path, *names: str) -> Path:
    """An archive made the way people make one: `tar cf x.tar FILES` with GNU tar (GNU headers, not ustar)."""
    for name in names:
        (folder / name).write_text(f"{name}\n")
    subprocess.run(["tar", "cf", "x.tar", *names], cwd=folder, check=True)
    assert (folder / "x.tar").read_bytes()[257:265] == b"ustar  \0"  # GNU's magic: really GNU tar's format
    return folder / "x.tar"


@pytest.mark.skipif(shutil.which("tar") is None, reason="needs the tar command")
def test_a_plain_gnu_tar_is_not_a_package_for_verify_and_unpack(tmp_path: Path) -> None:
    archive = _gnu_tar(tmp_path, "somefile")
    verify = run_cli("verify", str(archive), cwd=tmp_path)
    assert verify.returncode == 2, verify.stderr
    assert verify.stderr.splitlines() == [
        f"error: {archive} is not a paddlectl package: a tar archive without MODEL.yaml or SHA256SUMS "
        "(it holds somefile)",
        "hint: verify and unpack read archives made by 'paddlectl package'; list a plain tar with 'tar tf', "
        "unpack it with 'tar xf'",
    ]
    assert verify.stdout == ""
    document = run_cli("verify", str(archive), "--json", cwd=tmp_path)
    assert document.returncode == 2 and json.loads(document.stdout)["exit_code"] == 2
    before = sorted(path.name for path in tmp_path.iterdir())
    unpack = run_cli("unpack", str(archive), "out", cwd=tmp_path)
    assert unpack.returncode == 2 and "not a paddlectl package" in unpack.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == before  # no folder, no staging left


@pytest.mark.skipif(shutil.which("tar") is None, reason="needs the tar command")
def test_a_gnu_tar_of_a_package_s_files_is_still_tampered(built: dict[str, Path], tmp_path: Path) -> None:
    """Repacked by GNU tar, a package's files are a package whose headers are not paddlectl's: tampered (4)."""
    unpacked = run_cli("unpack", str(built["package"]), str(tmp_path / "files"), cwd=tmp_path)
    assert unpacked.returncode == 0, unpacked.stderr
    names = sorted(path.name for path in (tmp_path / "files").iterdir())
    subprocess.run(["tar", "cf", str(tmp_path / "repacked.tar"), *names], cwd=tmp_path / "files", check=True)
    verify = run_cli("verify", str(tmp_path / "repacked.tar"), cwd=tmp_path)
    assert verify.returncode == 4, verify.stderr
    assert "member(s) are not in the POSIX ustar format paddlectl writes" in verify.stderr
    assert "missing" not in verify.stderr  # SHA256SUMS and MODEL.yaml are there: the one cause is said once


def test_a_damaged_first_header_of_a_package_is_tampered_not_foreign(built: dict[str, Path], tmp_path: Path) -> None:
    """Renaming MODEL.yaml by a flipped byte breaks its header's checksum: that is tampering, never 'not a package'."""
    data = bytearray(built["package"].read_bytes())
    assert data[:10] == b"MODEL.yaml"
    data[0] ^= 0x01
    damaged = tmp_path / "damaged.tar"
    damaged.write_bytes(bytes(data))
    verify = run_cli("verify", str(damaged), cwd=tmp_path)
    assert verify.returncode == 4, verify.stderr


def test_a_package_the_system_cannot_read_is_an_io_error_naming_it(tmp_path: Path) -> None:
    unreadable = Path("/proc/self/mem")  # its first page is not mapped: reading it is an I/O error (EIO)
    result = run_cli("verify", str(unreadable), "--json", cwd=tmp_path)
    assert result.returncode == 74, result.stderr
    assert json.loads(result.stdout)["error"] == f"cannot read {unreadable}: Input/output error"
