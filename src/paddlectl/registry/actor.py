"""Who made a change: the OS user@host, and git's user.email when one is configured."""

from __future__ import annotations

import functools
import os
import subprocess

GIT_TIMEOUT_SECONDS = 5


@functools.lru_cache(maxsize=1)
def git_email() -> str | None:
    try:
        result = subprocess.run(
            ["git", "config", "--get", "user.email"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    email = result.stdout.strip()
    return email if result.returncode == 0 and email else None


@functools.lru_cache(maxsize=1)
def current_actor() -> str:
    """`user@host <email>`, or `user@host` without a git email (events record it as given)."""
    from paddlectl.packaging.card import created_by

    email = git_email()
    return f"{created_by()} <{email}>" if email else created_by()
