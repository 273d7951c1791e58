"""doctor's git check through the `git` command: the repository's top and HEAD, and the fix outside one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from paddlectl.doctor.checks import _git_check
from paddlectl.doctor.fixes import git_fix


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path, with git stopping there: a repository around the test's temporary folder is never found."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    (tmp_path / "gitconfig").write_text("[user]\n\tname = Doctor Test\n\temail = doctor@example.invalid\n")
    return tmp_path


def repository(path: Path, *, commit: bool) -> str | None:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    if not commit:
        return None
    (path / "train.py").write_text("print(1)\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first")
    return git(path, "rev-parse", "HEAD")


def test_a_repository_with_a_commit(isolated: Path) -> None:
    root = isolated / "project"
    head = repository(root, commit=True)
    assert head is not None
    check = _git_check(root)
    assert (check.ok, check.required, check.fix, check.commands) == (True, False, None, ())
    assert check.detail == f"{root} at {head[:10]}"
    assert check.data == {"root": str(root), "commit": head}


def test_a_project_below_the_top_names_the_top(isolated: Path) -> None:
    top = isolated / "mono"
    head = repository(top, commit=True)
    (top / "models" / "digits").mkdir(parents=True)
    check = _git_check(top / "models" / "digits")
    assert check.ok
    assert check.data == {"root": str(top), "commit": head}


def test_a_repository_without_commits(isolated: Path) -> None:
    root = isolated / "fresh"
    repository(root, commit=False)
    check = _git_check(root)
    assert check.ok
    assert check.detail == f"{root} at no commits"
    assert check.data == {"root": str(root), "commit": None}


def test_git_dir_in_the_environment_does_not_change_the_answer(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, other = isolated / "project", isolated / "other"
    head = repository(root, commit=True)
    repository(other, commit=True)
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    assert _git_check(root).data == {"root": str(root), "commit": head}


def _expect_the_git_init_fix(root: Path) -> None:
    check = _git_check(root)
    assert (check.ok, check.required, check.data) == (False, False, None)
    assert check.detail == "not inside a git repository: runs will not record code versions"
    assert check.fix == git_fix(root)
    assert check.commands == (git_fix(root),)


def test_outside_a_repository(isolated: Path) -> None:
    root = isolated / "plain"
    root.mkdir()
    _expect_the_git_init_fix(root)


def test_without_git_installed(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = isolated / "project"
    repository(root, commit=True)
    empty = isolated / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # a repository is there, but no git command to read it
    _expect_the_git_init_fix(root)


def test_doctor_does_not_import_gitpython(isolated: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from paddlectl.doctor.checks import _git_check; "
        f"_git_check(Path({str(isolated)!r})); "
        "print(sorted(m for m in sys.modules if m == 'git' or m.startswith('git.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
