"""The batcher against MLflow's limits, exactly: counts per kind, items in all, bytes per request."""

from __future__ import annotations

import json

import pytest

from paddlectl.tracking.batches import (
    MAX_ITEMS,
    MAX_METRICS,
    MAX_PARAMS,
    MAX_REQUEST_BYTES,
    MAX_TAGS,
    LogBatch,
    Metric,
    Param,
    Tag,
    pack,
    valid_key,
)

RUN = "0123456789abcdef0123456789abcdef"


def decoded(batch: LogBatch) -> dict[str, list[dict[str, object]]]:
    body = batch.body()
    assert len(body) == batch.size  # the running count is the real size
    assert len(body) <= MAX_REQUEST_BYTES
    document = json.loads(body)
    assert document["run_id"] == RUN
    assert len(document["metrics"]) <= MAX_METRICS
    assert len(document["params"]) <= MAX_PARAMS
    assert len(document["tags"]) <= MAX_TAGS
    assert len(document["metrics"]) + len(document["params"]) + len(document["tags"]) <= MAX_ITEMS
    return document


def metrics(count: int) -> list[Metric]:
    return [Metric(f"m{i % 7}", i * 0.5, 1_700_000_000_000 + i, i) for i in range(count)]


def test_metrics_fill_batches_of_exactly_1000_in_order() -> None:
    points = metrics(2_501)
    batches = list(pack(RUN, points))
    assert [len(batch) for batch in batches] == [1000, 1000, 501]
    sent = [item for batch in batches for item in decoded(batch)["metrics"]]
    assert sent == [point.as_json() for point in points]


def test_params_and_tags_stop_at_100_each_in_order() -> None:
    items = [Param(f"p{i}", "v") for i in range(250)] + [Tag(f"t{i}", "v") for i in range(250)]
    batches = list(pack(RUN, items))
    counts = [(len(decoded(b)["params"]), len(decoded(b)["tags"])) for b in batches]
    assert counts == [(100, 0), (100, 0), (50, 100), (0, 100), (0, 50)]


def test_items_in_all_stop_at_1000_when_metrics_fill_the_rest() -> None:
    batch = LogBatch(RUN)
    for i in range(100):
        assert batch.add(Param(f"p{i}", "1"))
    added = sum(batch.add(point) for point in metrics(1000))
    assert added == MAX_ITEMS - 100
    assert not batch.add(Tag("t", "1"))
    decoded(batch)


def test_bytes_stop_at_one_megabyte_counted_in_utf8_not_characters() -> None:
    value = "\U0001f600" * 6000  # 6,000 characters, 24,000 bytes each
    batches = list(pack(RUN, [Param(f"p{i}", value) for i in range(100)]))
    assert len(batches) > 2  # 100 of them are 2.4 MB: the size limit splits long before the count limit
    for index, batch in enumerate(batches):
        document = decoded(batch)
        if index < len(batches) - 1:  # full: one more would not fit
            assert batch.size + len(json.dumps({"key": "p00", "value": value}, ensure_ascii=False).encode()) + 1 > (
                MAX_REQUEST_BYTES
            )
        assert all(param["value"] == value for param in document["params"])
    assert sum(len(batch) for batch in batches) == 100


def test_a_request_of_exactly_one_megabyte_is_accepted_and_one_byte_more_is_not() -> None:
    batch = LogBatch(RUN)
    assert batch.add(Tag("a", "x"))
    room = MAX_REQUEST_BYTES - batch.size - len(b',{"key":"b","value":""}')
    assert not LogBatch(RUN).add(Tag("b", "y" * (MAX_REQUEST_BYTES)))
    exact = LogBatch(RUN)
    assert exact.add(Tag("a", "x"))
    assert not exact.add(Tag("b", "y" * (room + 1)))
    assert exact.add(Tag("b", "y" * room))
    assert exact.size == len(exact.body()) == MAX_REQUEST_BYTES


def test_reserved_room_keeps_one_tag_free_at_every_limit() -> None:
    progress = Tag("paddlectl.push.metrics", "999/999 " + "f" * 64)
    batch = LogBatch(RUN, reserve_tags=1, reserve_bytes=len(json.dumps(progress.as_json()).encode()) + 1)
    added = sum(batch.add(point) for point in metrics(1000))
    assert added == MAX_ITEMS - 1
    batch.add_reserved(progress)
    document = decoded(batch)
    assert len(document["metrics"]) == 999 and document["tags"] == [progress.as_json()]


def test_an_item_too_big_for_any_request_is_refused_loudly() -> None:
    with pytest.raises(ValueError, match="too big"):
        list(pack(RUN, [Tag("huge", "x" * MAX_REQUEST_BYTES)]))


def test_nan_is_sent_the_way_mlflow_reads_it() -> None:
    assert Metric("loss", None, 1, 0).as_json()["value"] == "NaN"
    batch = LogBatch(RUN)
    assert batch.add(Metric("loss", None, 1, 0))
    assert json.loads(batch.body())["metrics"][0]["value"] == "NaN"


@pytest.mark.parametrize("key", ["loss", "eval/acc", "rank0/loss", "a b", "a:b", "a.b-c_d", "é"])
def test_keys_mlflow_accepts(key: str) -> None:
    assert valid_key(key)


@pytest.mark.parametrize("key", ["", "a=b", "a//b", "/abs", "../up", ".", "a/./b", "x" * 251, "loss(train)", "a,b"])
def test_keys_mlflow_refuses(key: str) -> None:
    assert not valid_key(key)
