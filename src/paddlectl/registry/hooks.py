"""Named points inside registry state changes where a test stops a process on purpose (the kill -9 trials).

Production code calls `checkpoint(point)`, which does nothing unless a test installed a pause with `set_pause`
(in a forked child it then kills); random kill moments alone would almost never land inside a transaction.
"""

from __future__ import annotations

from collections.abc import Callable

POINTS = (
    "register:blob-written",  # the blob is stored, no transaction yet: a blob without a row
    "register:row-inserted",  # inside the transaction: the row is there, its event not yet
    "register:event-appended",  # inside the transaction, before COMMIT
    "promote:before-transaction",  # verified, not yet holding the write lock
    "promote:production-read",  # inside: the production version read, nothing written yet (on MLflow: no lock)
    "promote:demoted",  # inside: the old production is archived, the new one not yet production
    "promote:event-appended",  # inside, before COMMIT
    "append:head-read",  # MLflow only: the log's last event read, the new one not yet written
    "register:version-creating",  # MLflow only: checked that NAME@VERSION is free, its model version not created yet
)

_pause: Callable[[str], object] | None = None


def set_pause(pause: Callable[[str], object] | None) -> None:
    global _pause
    _pause = pause


def checkpoint(point: str) -> None:
    if _pause is not None:
        _pause(point)
