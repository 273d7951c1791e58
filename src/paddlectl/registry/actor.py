"""Who made a change: the OS user@host, and git's user.email when one is configured."""

from __future__ import annotations

import functools

from paddlectl.foundation.git_values import git_line


@functools.lru_cache(maxsize=1)
def git_email() -> str | None:
    return git_line(None, "config", "--get", "user.email")


@functools.lru_cache(maxsize=1)
def current_actor() -> str:
    """`user@host <email>`, or `user@host` without a git email (events record it as given)."""
    from paddlectl.packaging.card import created_by

    email = git_email()
    return f"{created_by()} <{email}>" if email else created_by()
