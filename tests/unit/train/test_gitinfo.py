"""Git capture against real temporary repositories: commit, branch, remote, patch, worktree round trip."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from paddlectl.errors import UsageError
from paddlectl.foundation.records import dump, load
from paddlectl.runs.manifest import OutsidePatchFile
from paddlectl.train.git_capture import (
    GitInfo,
    apply_patch_in_worktree,
    capture_git,
    remove_worktree,
    require_clean,
    restore_untracked,
)


@pytest.fixture(autouse=True)
def _isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No global or system git config of this machine leaks in; commits get a fixed identity."""
    home = tmp_path_factory.mktemp("githome")
    (home / "gitconfig").write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return path


def commit_all(repo: Path, message: str = "commit") -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def tree_snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root except .git and .paddlectl, with its bytes (and an x-bit marker)."""
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in (".git", ".paddlectl") or not path.is_file():
            continue
        executable = b"+x:" if path.stat().st_mode & stat.S_IXUSR else b""
        files[relative.as_posix()] = executable + path.read_bytes()
    return files


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "project")
    (root / "train.py").write_text("print('v1')\n")
    (root / "data").mkdir()
    (root / "data" / "weights.bin").write_bytes(bytes(range(256)) * 4)
    (root / "old.txt").write_text("to be deleted\n")
    (root / ".gitignore").write_text("*.log\n")
    commit_all(root, "initial")
    return root


@pytest.fixture
def dirty_repo(repo: Path) -> Path:
    """Tracked edits, a deletion, a staged edit, a binary change and untracked (text, binary, empty, x-bit)."""
    (repo / "train.py").write_text("print('v2')\n")
    (repo / "old.txt").unlink()
    (repo / "data" / "weights.bin").write_bytes(bytes(reversed(range(256))) * 4 + b"\x00tail")
    (repo / "staged.py").write_text("STAGED = True\n")
    git(repo, "add", "staged.py")
    (repo / "notes.md").write_text("untracked ü\n")
    (repo / "pkg").mkdir()
    (repo / "pkg" / "model.py").write_text("class Net: ...\n")
    (repo / "pkg" / "blob.bin").write_bytes(b"\x00\xff\x10binary")
    (repo / "empty.txt").write_bytes(b"")
    (repo / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (repo / "run.sh").chmod(0o755)
    (repo / "debug.log").write_text("ignored\n")
    store = repo / ".paddlectl"
    (store / "runs" / "r1").mkdir(parents=True)
    (store / ".gitignore").write_text("*\n")
    (store / "runs" / "r1" / "manifest.yaml").write_text("secret: never in a patch\n")
    return repo


@pytest.fixture
def worktrees(tmp_path: Path) -> Iterator[list[tuple[Path, Path]]]:
    made: list[tuple[Path, Path]] = []
    yield made
    for repo_root, dest in made:
        remove_worktree(repo_root, dest)


def test_not_a_repository(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "train.py").write_text("x = 1\n")
    info = capture_git(folder, folder / "p.patch")
    assert info == GitInfo(is_repository=False)
    assert not (folder / "p.patch").exists()
    assert dump(info)["is_repository"] is False


def test_clean_repository(repo: Path) -> None:
    patch = repo / ".paddlectl" / "p.patch"
    info = capture_git(repo, patch)
    assert info.is_repository
    assert info.commit == git(repo, "rev-parse", "HEAD")
    assert info.branch == "main"
    assert info.remote_url is None
    assert not info.dirty
    assert info.changed == [] and info.untracked == []
    assert info.patch_file is None and info.patch_sha256 is None and info.patch_bytes == 0
    assert not patch.exists()
    require_clean(info)


def test_detached_head_has_no_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach", "HEAD")
    info = capture_git(repo, repo / "p.patch")
    assert info.branch is None
    assert info.commit == git(repo, "rev-parse", "HEAD")


@pytest.mark.parametrize(
    ("url", "recorded"),
    [
        ("https://user:token@github.com/x.git", "https://github.com/x.git"),
        ("https://ghp_token@github.com/x.git", "https://github.com/x.git"),
        ("git@github.com:x.git", "git@github.com:x.git"),
        ("ssh://git@github.com/x.git", "ssh://git@github.com/x.git"),
    ],
)
def test_remote_url_without_credentials(repo: Path, url: str, recorded: str) -> None:
    git(repo, "remote", "add", "origin", url)
    assert capture_git(repo, repo / "p.patch").remote_url == recorded


def test_remote_prefers_the_branch_upstream(repo: Path) -> None:
    git(repo, "remote", "add", "origin", "https://github.com/origin.git")
    git(repo, "remote", "add", "fork", "https://github.com/fork.git")
    git(repo, "config", "branch.main.remote", "fork")
    assert capture_git(repo, repo / "p.patch").remote_url == "https://github.com/fork.git"


def test_dirty_capture_lists_changes_and_leaves_the_user_state_alone(dirty_repo: Path) -> None:
    index = dirty_repo / ".git" / "index"
    index_before = index.read_bytes()
    status_before = git(dirty_repo, "status", "--porcelain")
    tree_before = tree_snapshot(dirty_repo)
    patch = dirty_repo / ".paddlectl" / "runs" / "r1" / "uncommitted.patch"

    info = capture_git(dirty_repo, patch)

    assert info.dirty
    assert sorted(info.changed) == ["data/weights.bin", "old.txt", "staged.py", "train.py"]
    assert sorted(info.untracked) == ["empty.txt", "notes.md", "pkg/blob.bin", "pkg/model.py", "run.sh"]
    assert info.patch_file == str(patch)
    data = patch.read_bytes()
    assert info.patch_bytes == len(data)
    assert info.patch_sha256 == hashlib.sha256(data).hexdigest()
    assert not info.patch_truncated
    assert b"GIT binary patch" in data
    assert b".paddlectl" not in data and b"never in a patch" not in data
    assert b"debug.log" not in data
    # The user's index, status and files are exactly as before.
    assert index.read_bytes() == index_before
    assert git(dirty_repo, "status", "--porcelain") == status_before
    assert tree_snapshot(dirty_repo) == tree_before
    assert not list(patch.parent.glob(".*.tmp"))


def test_round_trip_reproduces_the_working_tree(
    dirty_repo: Path, tmp_path: Path, worktrees: list[tuple[Path, Path]]
) -> None:
    patch = tmp_path / "uncommitted.patch"
    info = capture_git(dirty_repo, patch)
    assert info.commit is not None
    dest = tmp_path / "reproduce"
    worktrees.append((dirty_repo, dest))
    status_before = git(dirty_repo, "status", "--porcelain")

    assert apply_patch_in_worktree(dirty_repo, info.commit, patch, dest) == dest
    assert [entry.path for entry in info.outside_patch] == ["pkg/blob.bin"]  # binary: recorded, not inlined
    restore_untracked(dirty_repo, dest, info.outside_patch, "r1")

    expected = {name: content for name, content in tree_snapshot(dirty_repo).items() if name != "debug.log"}
    assert tree_snapshot(dest) == expected
    assert git(dest, "rev-parse", "HEAD") == info.commit
    assert git(dirty_repo, "status", "--porcelain") == status_before
    remove_worktree(dirty_repo, dest)
    assert not dest.exists()
    assert str(dest) not in git(dirty_repo, "worktree", "list")


def test_worktree_without_a_patch_is_the_commit(repo: Path, tmp_path: Path) -> None:
    commit = git(repo, "rev-parse", "HEAD")
    (repo / "train.py").write_text("changed\n")
    dest = apply_patch_in_worktree(repo, commit, None, tmp_path / "clean")
    try:
        assert (dest / "train.py").read_text() == "print('v1')\n"
    finally:
        remove_worktree(repo, dest)
    assert (repo / "train.py").read_text() == "changed\n"


def test_unknown_commit_is_a_usage_error(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot check out commit") as info:
        apply_patch_in_worktree(repo, "0" * 40, None, tmp_path / "wt")
    assert info.value.hint is not None and "git fetch" in info.value.hint


def test_patch_that_does_not_apply_removes_the_worktree(dirty_repo: Path, tmp_path: Path) -> None:
    patch = tmp_path / "p.patch"
    info = capture_git(dirty_repo, patch)
    assert info.commit is not None
    commit_all(dirty_repo, "second")  # the patch now belongs to the first commit only
    newer = git(dirty_repo, "rev-parse", "HEAD")
    dest = tmp_path / "wt"
    with pytest.raises(UsageError, match="does not apply"):
        apply_patch_in_worktree(dirty_repo, newer, patch, dest)
    assert not dest.exists()
    assert str(dest) not in git(dirty_repo, "worktree", "list")


def test_store_is_never_in_the_patch_even_without_its_gitignore(repo: Path) -> None:
    project = repo / "sub"
    (project / ".paddlectl" / "runs").mkdir(parents=True)
    (project / ".paddlectl" / "runs" / "m.yaml").write_text("x: 1\n")
    (repo / ".paddlectl").mkdir()
    (repo / ".paddlectl" / "top.yaml").write_text("x: 1\n")
    (project / "train.py").write_text("print('sub')\n")
    patch = repo / "p.patch"
    info = capture_git(project, patch)
    assert info.subdir == "sub"
    assert info.untracked == ["sub/train.py"]
    assert b".paddlectl" not in patch.read_bytes()


def test_patch_over_the_cap_is_hashed_not_written(dirty_repo: Path, tmp_path: Path) -> None:
    full = capture_git(dirty_repo, tmp_path / "full.patch")
    capped_path = tmp_path / "capped.patch"
    capped = capture_git(dirty_repo, capped_path, cap_bytes=100)
    assert full.patch_bytes > 100
    assert capped.patch_truncated
    assert capped.patch_file is None and not capped_path.exists()
    assert not list(tmp_path.glob(".capped.patch.*"))
    assert capped.patch_bytes == full.patch_bytes
    assert capped.patch_sha256 == full.patch_sha256
    assert capped.changed == full.changed and capped.untracked == full.untracked
    assert capped.patch_cap_bytes == 100
    assert capped.dirty


def test_repository_without_commits(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "fresh")
    (root / "a.py").write_text("A = 1\n")
    (root / "b.bin").write_bytes(b"\x00\x01\x02")
    git(root, "add", "a.py")
    (root / "c.txt").write_text("c\n")
    patch = tmp_path / "fresh.patch"
    info = capture_git(root, patch)
    assert info.is_repository and info.commit is None
    assert info.branch == "main"
    assert info.untracked == ["a.py", "b.bin", "c.txt"]
    assert info.changed == []
    assert info.dirty
    # The patch against the empty tree recreates every file but the untracked binary, which is recorded.
    assert [entry.path for entry in info.outside_patch] == ["b.bin"]
    target = make_repo(tmp_path / "target")
    git(target, "apply", "--binary", str(patch))
    assert tree_snapshot(target) == {name: data for name, data in tree_snapshot(root).items() if name != "b.bin"}


def test_require_clean_lists_at_most_five_files(repo: Path) -> None:
    for index in range(7):
        (repo / f"new{index}.py").write_text(f"{index}\n")
    info = capture_git(repo, repo / ".paddlectl" / "p.patch")
    with pytest.raises(UsageError) as raised:
        require_clean(info)
    message = raised.value.message
    assert "7 uncommitted" in message
    assert "and 2 more" in message
    assert sum(f"new{index}.py" in message for index in range(7)) == 5
    assert raised.value.hint == "commit or stash them, or drop --require-clean"


def test_require_clean_outside_a_repository() -> None:
    with pytest.raises(UsageError, match="not in a git repository") as raised:
        require_clean(GitInfo(is_repository=False))
    assert raised.value.hint is not None and "--require-clean" in raised.value.hint


def test_git_info_dict_round_trip(dirty_repo: Path, tmp_path: Path) -> None:
    info = capture_git(dirty_repo, tmp_path / "p.patch")
    again = load(GitInfo, {**dump(info), "added_later": 1})
    assert again.unknown_keys == {"added_later": 1}
    again.unknown_keys = {}
    assert again == info


def test_gitpython_is_not_imported() -> None:
    code = "import sys, paddlectl.train.git_capture; print('git' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_capture_time_for_a_thousand_files(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "big")
    for folder in range(20):
        (root / f"pkg{folder}").mkdir()
        for index in range(50):
            (root / f"pkg{folder}" / f"mod{index}.py").write_text(f"VALUE = {folder * 100 + index}\n" * 20)
    commit_all(root, "1000 files")
    for folder in range(0, 20, 2):
        (root / f"pkg{folder}" / "mod0.py").write_text("changed\n")
        (root / f"pkg{folder}" / "extra.py").write_text("new\n")
    timings = []
    for attempt in range(3):
        start = time.perf_counter()
        info = capture_git(root, tmp_path / f"big{attempt}.patch")
        timings.append(time.perf_counter() - start)
    assert len(info.changed) == 10 and len(info.untracked) == 10
    print(f"\ncapture_git on 1,000 files (10 changed, 10 untracked): {[f'{t * 1000:.0f} ms' for t in timings]}")
    assert min(timings) < 2.0


def test_capture_inside_a_linked_worktree(dirty_repo: Path, tmp_path: Path) -> None:
    info = capture_git(dirty_repo, tmp_path / "p.patch")
    assert info.commit is not None
    dest = apply_patch_in_worktree(dirty_repo, info.commit, tmp_path / "p.patch", tmp_path / "wt")
    try:
        restore_untracked(dirty_repo, dest, info.outside_patch, "r1")
        again = capture_git(dest, tmp_path / "again.patch")
        assert again.commit == info.commit and again.branch is None
        # git apply leaves new files unstaged, so the staged file is untracked there: same files, same patch.
        assert sorted(again.changed + again.untracked) == sorted(info.changed + info.untracked)
        assert again.patch_sha256 == info.patch_sha256
    finally:
        remove_worktree(dirty_repo, dest)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand the repository to another user")
def test_repository_of_another_user_is_reported(repo: Path) -> None:
    subprocess.run(["chown", "-R", "12345:12345", str(repo)], check=True)
    info = capture_git(repo, repo.parent / "p.patch")
    assert not info.is_repository
    assert info.warning is not None and "safe.directory" in info.warning


def test_embedded_repository_counts_as_one_untracked_entry(repo: Path, tmp_path: Path) -> None:
    vendor = make_repo(repo / "vendor")
    (vendor / "v.txt").write_text("v\n")
    commit_all(vendor, "vendored")
    info = capture_git(repo, tmp_path / "p.patch")
    assert info.untracked == ["vendor"]
    assert info.changed == []
    assert b"Subproject commit " + git(vendor, "rev-parse", "HEAD").encode() in (tmp_path / "p.patch").read_bytes()


def test_same_size_edit_in_the_second_of_the_commit_is_captured(repo: Path, tmp_path: Path) -> None:
    """git's "racily clean" case: an edit that leaves size and mtime as the index recorded them.

    git (built without USE_NSEC) compares mtimes in whole seconds: a same-size edit made in the same second as the
    commit looks clean unless the index is "racy" (its own mtime not older than the entry), which makes git compare
    contents. `git status` on the real index sees the edit; a copy of the index written later (the capture's
    intent-to-add step) did not, and the edit vanished from the patch (about 1 in 150 captures in CI). ctime
    cannot be set from user space, so the test turns it off the way core.trustctime=false does.
    """
    git(repo, "config", "core.trustctime", "false")
    target = repo / "racy.py"
    target.write_text("factor = 1.0\n", encoding="utf-8")
    past = time.time_ns() - 60 * 10**9
    os.utime(target, ns=(past, past))  # recorded in the index a minute ago...
    commit_all(repo, "racy")
    index = repo / ".git" / "index"
    os.utime(index, ns=(past, past))  # ...by an index written in that same second
    target.write_text("factor = 3.0\n", encoding="utf-8")  # same size
    os.utime(target, ns=(past, past))  # and, to the second, the same mtime
    (repo / "new.txt").write_text("untracked\n", encoding="utf-8")  # makes the capture rewrite its index copy
    status = subprocess.run(
        ["git", "status", "--porcelain"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
    )  # read-only: must not refresh the index
    assert "racy.py" in status.stdout  # git itself sees the edit
    info = capture_git(repo, tmp_path / "racy.patch")
    assert info.dirty and "racy.py" in info.changed
    assert "+factor = 3.0" in (tmp_path / "racy.patch").read_text(encoding="utf-8")


def test_binary_and_large_untracked_files_are_recorded_not_inlined(tmp_path: Path) -> None:
    """A release tarball left in the project made every later patch carry it (a 170 KB package, a 188 KB patch)."""
    from paddlectl.train.git_capture import UNTRACKED_INLINE_LIMIT, outside_patch_warning

    repo = make_repo(tmp_path / "repo")
    (repo / "train.py").write_text("print(1)\n")
    commit_all(repo)
    (repo / "notes.txt").write_text("a new text file\n")
    (repo / "model-1.0.0.tar").write_bytes(b"ustar\0" + os.urandom(20_000))
    (repo / "big.csv").write_text("x\n" * (UNTRACKED_INLINE_LIMIT // 2 + 1))
    info = capture_git(repo, tmp_path / "out" / "uncommitted.patch")
    patch = (tmp_path / "out" / "uncommitted.patch").read_text()
    assert "notes.txt" in patch and "model-1.0.0.tar" not in patch and "big.csv" not in patch
    outside = {entry.path: entry for entry in info.outside_patch}
    assert outside["model-1.0.0.tar"].reason == "binary"
    assert outside["big.csv"].reason == "larger than 1 MiB"
    data = (repo / "model-1.0.0.tar").read_bytes()
    assert outside["model-1.0.0.tar"] == OutsidePatchFile(
        "model-1.0.0.tar", len(data), hashlib.sha256(data).hexdigest(), "binary"
    )
    assert info.dirty and sorted(info.untracked) == ["big.csv", "model-1.0.0.tar", "notes.txt"]
    warning = outside_patch_warning(info)
    assert warning is not None and "model-1.0.0.tar" in warning and ".gitignore" in warning


def test_only_binary_untracked_files_still_count_as_dirty(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "train.py").write_text("print(1)\n")
    commit_all(repo)
    (repo / "weights.bin").write_bytes(b"\0\1\2" * 100)
    info = capture_git(repo, tmp_path / "uncommitted.patch")
    assert info.dirty and info.patch_file is None and [e.path for e in info.outside_patch] == ["weights.bin"]


def test_restoring_an_untracked_file_that_changed_since_the_run_is_refused(dirty_repo: Path, tmp_path: Path) -> None:
    info = capture_git(dirty_repo, tmp_path / "p.patch")
    assert info.commit is not None
    (dirty_repo / "pkg" / "blob.bin").write_bytes(b"\0other bytes")
    dest = apply_patch_in_worktree(dirty_repo, info.commit, tmp_path / "p.patch", tmp_path / "wt")
    try:
        with pytest.raises(UsageError, match=r"pkg/blob\.bin") as caught:
            restore_untracked(dirty_repo, dest, info.outside_patch, "r1")
        assert caught.value.hint is not None and "commit" in caught.value.hint
    finally:
        remove_worktree(dirty_repo, dest)
