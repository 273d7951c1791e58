"""The files of a source tree as a run records them: tracked files (as they are now) plus untracked, not ignored ones.

This is the tree `train` captures in the manifest (the commit plus the uncommitted patch, train/git_capture.py),
and the tree paddlectl ships to a remote engine (engine/shipping.py): git-ignored files (datasets, outputs,
virtual environments) stay here. Outside a git repository (or without git) it is every file under the root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

_SKIP_DIRS = frozenset({".git"})


def source_files(root: Path, exclude_dir: str) -> list[str]:
    """Paths (relative to `root`, POSIX, sorted) of the regular files and links to ship; `exclude_dir` (the run
    store's folder name) is left out at any depth, as are `.git` folders."""
    listed = _git_listing(root, exclude_dir)
    if listed is None:
        return sorted(_walk(root, root, exclude_dir))
    found: set[str] = set()
    for name in listed:
        path = root / name
        if path.is_symlink() or path.is_file():
            found.add(name)
        elif path.is_dir():  # an embedded repository or a submodule: git lists only its folder
            found.update(_walk(root, path, exclude_dir))
    return sorted(found)


def _git_listing(root: Path, exclude_dir: str) -> list[str] | None:
    if shutil.which("git") is None:
        return None
    env = {key: value for key, value in os.environ.items() if key not in ("GIT_INDEX_FILE", "GIT_DIR", "GIT_WORK_TREE")}
    env.update(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    command = [
        "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
        ".", f":(glob,exclude)**/{exclude_dir}/**",
    ]  # fmt: skip
    try:
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, check=False)
    except OSError:
        return None
    if done.returncode != 0:
        return None  # not a repository (or one git refuses): the whole folder, as a bind mount would show it
    names = {item.decode("utf-8", "surrogateescape").rstrip("/") for item in done.stdout.split(b"\0") if item}
    return sorted(name for name in names if name)


def _walk(root: Path, start: Path, exclude_dir: str) -> Iterator[str]:
    for folder, dirs, files in os.walk(start):
        dirs[:] = [name for name in dirs if name not in _SKIP_DIRS and name != exclude_dir]
        for name in [*files, *(d for d in dirs if (Path(folder) / d).is_symlink())]:
            yield (Path(folder) / name).relative_to(root).as_posix()
