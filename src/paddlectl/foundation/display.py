"""Text from outside (file names, archive members, engine messages) made safe to put in a one-line message."""

from __future__ import annotations


def printable(text: str) -> str:
    """`text` with every character that is not printable escaped (`\\n`, `\\x1e`, `\\u2028`): it stays on one line
    whatever it holds, and a terminal never interprets it."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)
