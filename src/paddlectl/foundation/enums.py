"""`TextEnum`: the base of every enum whose members are words in files and messages (statuses, kinds, roles)."""

from __future__ import annotations

from enum import Enum


class TextEnum(str, Enum):
    """A str enum that prints as its word: `f"{RunStatus.LOST}"` is `lost` on every Python paddlectl supports.

    A plain `(str, Enum)` formats as `RunStatus.LOST` in f-strings since Python 3.11 and as `lost` before, so a
    message changes with the interpreter; StrEnum, which fixes it, is 3.11+ only.
    """

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return str(self.value).__format__(spec)
