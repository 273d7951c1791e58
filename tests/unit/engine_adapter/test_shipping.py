"""Files into and out of a container on a remote engine (engine/shipping.py) and the tree that is sent."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from fakes import FakeContainer
from paddlectl.engine.protocol import ContainerSpec, Mount
from paddlectl.engine.shipping import Download, Upload, download, shipment_for, size_warning, upload, write_archive
from paddlectl.foundation.source_tree import source_files


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {member.name: member for member in archive.getmembers()}


def test_local_mounts_become_uploads_and_writable_folders_downloads(tmp_path: Path) -> None:
    for name in ("code", "outputs", "lib"):
        (tmp_path / name).mkdir()
    (tmp_path / "params.json").write_text("{}", encoding="utf-8")
    spec = ContainerSpec(
        image="i",
        command=["true"],
        mounts=[
            Mount(str(tmp_path / "code"), "/workspace", read_only=False),  # --code-writable: never fetched back
            Mount(str(tmp_path / "outputs"), "/paddlectl/outputs"),
            Mount(str(tmp_path / "lib"), "/paddlectl/lib", read_only=True),
            Mount(str(tmp_path / "params.json"), "/paddlectl/private/params.json", read_only=True),
            Mount("/srv/datasets/digits", "/data", read_only=True),  # a path on the remote host
        ],
    )
    shipment = shipment_for(spec, keep=["/data"], trees={"/workspace": ["train.py"]})
    assert [mount.target for mount in shipment.spec.mounts] == ["/data"]
    assert [item.target for item in shipment.uploads] == [
        "/workspace",
        "/paddlectl/outputs",
        "/paddlectl/lib",
        "/paddlectl/private/params.json",
    ]
    assert shipment.uploads[0].files == ("train.py",)
    assert shipment.downloads == (Download("/paddlectl/outputs", tmp_path / "outputs"),)
    assert len(spec.mounts) == 5  # the caller's spec is left as it was


def test_the_archive_gives_the_container_user_what_a_bind_mount_would(tmp_path: Path) -> None:
    code = tmp_path / "code"
    (code / "pkg").mkdir(parents=True)
    (code / "train.py").write_text("print(1)\n", encoding="utf-8")
    (code / "pkg" / "model.py").write_text("x = 1\n", encoding="utf-8")
    (code / "ignored.bin").write_bytes(b"\0" * 10)
    (code / "run.sh").write_text("#!/bin/sh\n", encoding="utf-8")
    (code / "run.sh").chmod(0o755)
    (code / "link.py").symlink_to("train.py")
    params = tmp_path / "params.json"
    params.write_text('{"token": "x"}', encoding="utf-8")
    params.chmod(0o600)
    (tmp_path / "outputs").mkdir()
    buffer = io.BytesIO()
    sent = write_archive(
        [
            Upload(code, "/workspace", True, ("train.py", "pkg/model.py", "run.sh", "link.py")),
            Upload(tmp_path / "outputs", "/paddlectl/outputs", read_only=False),
            Upload(params, "/paddlectl/private/params.json"),
        ],
        (1000, 1001),
        buffer,
    )
    members = _members(buffer.getvalue())
    assert "workspace/ignored.bin" not in members and sent.files == 4  # train.py, model.py, run.sh, params
    assert members["paddlectl"].uid == 0 and members["paddlectl/private"].uid == 0  # parents: root's, 0755
    for name in (
        "workspace",
        "workspace/pkg",
        "workspace/train.py",
        "paddlectl/outputs",
        "paddlectl/private/params.json",
    ):
        assert (members[name].uid, members[name].gid) == (1000, 1001), name
    assert members["workspace"].mode == 0o555 and members["workspace/train.py"].mode == 0o444  # read-only
    assert members["workspace/run.sh"].mode == 0o555  # still executable
    assert members["paddlectl/outputs"].mode == 0o755  # writable for the user
    assert members["paddlectl/private/params.json"].mode == 0o400  # private, and read-only
    assert members["workspace/link.py"].issym() and members["workspace/link.py"].linkname == "train.py"


def test_an_upload_goes_in_one_archive_at_the_root(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a", encoding="utf-8")
    container = FakeContainer("c1", ContainerSpec(image="i", command=[]), [])
    sent = upload(container, [Upload(tmp_path / "a.txt", "/x/a.txt")], (0, 0))
    ((path, data),) = container.uploads
    assert path == "/" and set(_members(data)) == {"x", "x/a.txt"} and sent.bytes == 1


def test_a_download_writes_only_safe_members(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, kind in (
            ("outputs", tarfile.DIRTYPE),
            ("outputs/sub", tarfile.DIRTYPE),
            ("outputs/model.pdparams", tarfile.REGTYPE),
            ("outputs/sub/log.txt", tarfile.REGTYPE),
            ("outputs/../escape.txt", tarfile.REGTYPE),
            ("/etc/evil", tarfile.REGTYPE),
            ("outputs/link", tarfile.SYMTYPE),
            ("outputs/dev", tarfile.CHRTYPE),
        ):
            info = tarfile.TarInfo(name)
            info.type = kind
            data = name.encode()
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                info.mode = 0o644
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/passwd"
            archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    data = buffer.getvalue()

    class Stopped:
        def get_archive(self, path: str) -> object:
            assert path == "/paddlectl/outputs"
            return iter([data[i : i + 100] for i in range(0, len(data), 100)])  # split across chunks

    destination = tmp_path / "run" / "outputs"
    destination.mkdir(parents=True)
    (destination / "model.pdparams").write_bytes(b"old")
    fetched = download(Stopped(), Download("/paddlectl/outputs", destination))  # type: ignore[arg-type]
    assert (destination / "model.pdparams").read_bytes() == b"outputs/model.pdparams"
    assert (destination / "sub" / "log.txt").read_text() == "outputs/sub/log.txt"
    assert sorted(p.name for p in destination.rglob("*")) == ["log.txt", "model.pdparams", "sub"]
    assert not (tmp_path / "run" / "escape.txt").exists() and fetched.files == 2
    assert sorted(fetched.skipped) == ["/etc/evil", "outputs/../escape.txt", "outputs/dev", "outputs/link"]


def test_a_big_upload_is_said_with_its_largest_files(tmp_path: Path) -> None:
    (tmp_path / "data.npz").write_bytes(b"x" * 3000)
    (tmp_path / "train.py").write_text("pass\n", encoding="utf-8")
    sent = write_archive([Upload(tmp_path, "/workspace", True, ("data.npz", "train.py"))], (0, 0), io.BytesIO())
    warning = size_warning(sent, "gpu-box (ssh://me@h)", limit=1000)
    assert warning is not None and "data.npz (2.9 KiB)" in warning and "gpu-box" in warning
    assert size_warning(sent, "x", limit=10_000) is None


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True, capture_output=True
    )


def test_the_tree_sent_is_the_one_the_manifest_records(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / ".gitignore").write_text("data/\n*.log\n", encoding="utf-8")
    for name in ("train.py", "pkg/model.py", "gone.py"):
        (root / name).write_text("x\n", encoding="utf-8")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "c")
    (root / "gone.py").unlink()  # deleted, not committed: not sent
    (root / "train.py").write_text("changed\n", encoding="utf-8")  # sent as it is now
    (root / "new.py").write_text("untracked\n", encoding="utf-8")  # untracked, not ignored: sent
    (root / "data").mkdir()
    (root / "data" / "big.npz").write_bytes(b"x")  # ignored: stays here
    (root / "out.log").write_text("x\n", encoding="utf-8")
    (root / ".paddlectl" / "runs").mkdir(parents=True)
    (root / ".paddlectl" / "runs" / "m.yaml").write_text("x\n", encoding="utf-8")  # the run store: never
    assert source_files(root, ".paddlectl") == [".gitignore", "new.py", "pkg/model.py", "train.py"]
    plain = tmp_path / "plain"
    (plain / ".paddlectl").mkdir(parents=True)
    (plain / "a.py").write_text("x\n", encoding="utf-8")
    (plain / ".paddlectl" / "b").write_text("x\n", encoding="utf-8")
    assert source_files(plain, ".paddlectl") == ["a.py"]  # not a repository: everything but the store


@pytest.mark.parametrize("user", ["1000:1000", "1000", "root", None])
def test_the_owner_is_the_numeric_container_user(user: str | None) -> None:
    from paddlectl.engine.shipping import owner_of

    assert owner_of(user) == ((1000, 1000) if user and user[0].isdigit() else (0, 0))
