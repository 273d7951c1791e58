"""One value read from git (a commit, a config key, the work tree's top): the command, run safely, or None.

Like the run's git capture (train/git_capture.py): the repository of `cwd` whatever GIT_DIR says, no optional
locks (looking never rewrites the user's index), no prompt, and a timeout. The capture itself, which writes a
private index and diffs, keeps its own runner there.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_TIMEOUT_SECONDS = 10


def git_line(cwd: Path | None, *args: str) -> str | None:
    """The output of `git ARGS` in `cwd` (stripped), or None when git fails (no repository, no commit, no such
    key), says nothing, times out, or is not installed."""
    env = {key: value for key, value in os.environ.items() if key not in ("GIT_DIR", "GIT_WORK_TREE")}
    env.update(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, timeout=GIT_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = done.stdout.decode("utf-8", "surrogateescape").strip()
    return (text or None) if done.returncode == 0 else None
