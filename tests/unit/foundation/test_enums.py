"""Enum members print as their words on every supported Python (a plain str enum does not since 3.11)."""

from __future__ import annotations

import json

from paddlectl.foundation.enums import TextEnum
from paddlectl.runs.index import RowStatus
from paddlectl.runs.manifest import RunStatus


class Colour(TextEnum):
    RED = "red"


def test_members_print_as_their_words() -> None:
    assert f"{Colour.RED}" == str(Colour.RED) == "red"
    assert f"[{RunStatus.LOST:>6}]" == "[  lost]"
    assert f"run {RowStatus.BAD}" == "run bad"
    assert json.dumps({"status": RowStatus.INTERRUPTED}) == '{"status": "interrupted"}'
    assert RowStatus.RUNNING == "running" and {"running": 1}[RowStatus.RUNNING] == 1
