"""MLflow's entities and limits, and packing them into `runs/log-batch` requests the server accepts whole.

The limits are MLflow's own (mlflow/utils/validation.py): per request 1,000 metrics, 100 params, 100 tags,
1,000 items in all and 1 MB; a key of at most 250 characters from letters, digits and `_ - . : / space`.
Over-long values are not cut here (the server would cut a param at 6,000 characters and answer 200):
record.py moves them into artifacts before they get this far.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

MAX_METRICS = 1000
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_ITEMS = 1000
MAX_REQUEST_BYTES = 1_000_000
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000

Kind = Literal["metrics", "params", "tags"]
_KEY = re.compile(r"[/\w.\- :]+")


def valid_key(key: str) -> bool:
    """Whether MLflow accepts `key` as a param, tag or metric name (a relative, normalised path of allowed chars)."""
    if not key or len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        return False
    normal = posixpath.normpath(key)
    return normal == key and normal != "." and not normal.startswith(("..", "/"))


@dataclass(frozen=True, slots=True)
class Param:
    key: str
    value: str

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value}


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value}


@dataclass(frozen=True, slots=True)
class Metric:
    """One point as MLflow stores it; `value` None is NaN (metrics.jsonl keeps every non-finite value as null)."""

    key: str
    value: float | None
    timestamp: int  # milliseconds since the epoch
    step: int

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": "NaN" if self.value is None else self.value,
            "timestamp": self.timestamp,
            "step": self.step,
        }


Item = Param | Tag | Metric
_KIND: dict[type, Kind] = {Metric: "metrics", Param: "params", Tag: "tags"}
_KIND_LIMIT: dict[Kind, int] = {"metrics": MAX_METRICS, "params": MAX_PARAMS, "tags": MAX_TAGS}


def encode(document: Any) -> bytes:
    """Compact UTF-8 JSON, the bytes a request carries (and the ones its size is counted in)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


class LogBatch:
    """One `runs/log-batch` request being filled; `add` refuses an item that would break a limit.

    `reserve_tags` keeps room (a count and bytes) for tags added last with `add_reserved`, such as the progress
    tag that rides in each batch of metric points.
    """

    def __init__(self, run_id: str, *, reserve_tags: int = 0, reserve_bytes: int = 0) -> None:
        self.run_id = run_id
        self.items: dict[Kind, list[bytes]] = {"metrics": [], "params": [], "tags": []}
        self._count = 0
        self._reserve_tags = reserve_tags
        self._reserve_bytes = reserve_bytes
        # The body is {"run_id":...,"metrics":[...],"params":[...],"tags":[...]}; each item adds its bytes and,
        # after the first of its list, one comma.
        self.size = len(self._render())

    def _render(self) -> bytes:
        parts = [b'{"run_id":' + encode(self.run_id)]
        for kind, encoded in self.items.items():
            parts.append(b',"' + kind.encode() + b'":[' + b",".join(encoded) + b"]")
        return b"".join(parts) + b"}"

    def __len__(self) -> int:
        return self._count

    def count(self, kind: Kind) -> int:
        return len(self.items[kind])

    def _fits(self, kind: Kind, encoded: bytes, reserved: bool) -> bool:
        tags_room = 0 if reserved else self._reserve_tags
        bytes_room = 0 if reserved else self._reserve_bytes
        limit = _KIND_LIMIT[kind] - (tags_room if kind == "tags" else 0)
        grown = self.size + len(encoded) + (1 if self.items[kind] else 0)
        return (
            len(self.items[kind]) < limit
            and self._count + tags_room < MAX_ITEMS
            and grown + bytes_room <= MAX_REQUEST_BYTES
        )

    def add(self, item: Item, *, reserved: bool = False) -> bool:
        """Add `item` if the request stays within every limit; False (and nothing added) otherwise."""
        kind = _KIND[type(item)]
        encoded = encode(item.as_json())
        if not self._fits(kind, encoded, reserved):
            return False
        self.size += len(encoded) + (1 if self.items[kind] else 0)
        self.items[kind].append(encoded)
        self._count += 1
        return True

    def add_reserved(self, tag: Tag) -> None:
        """Add a tag into the room kept by `reserve_tags`/`reserve_bytes`; ValueError if it is bigger than that."""
        if not self.add(tag, reserved=True):
            raise ValueError(f"tag {tag.key} does not fit the room reserved for it")

    def body(self) -> bytes:
        return self._render()


def pack(run_id: str, items: Iterable[Item]) -> Iterator[LogBatch]:
    """Requests holding `items` in order, each as full as the limits allow.

    Raises ValueError for an item that cannot fit a request on its own (record.py never makes one).
    """
    batch = LogBatch(run_id)
    for item in items:
        if batch.add(item):
            continue
        if len(batch):
            yield batch
        batch = LogBatch(run_id)
        if not batch.add(item):
            raise ValueError(f"{type(item).__name__.lower()} {item.key} is too big for one MLflow request")
    if len(batch):
        yield batch
