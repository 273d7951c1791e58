"""export.yaml is read in one place, as a typed record: wrong types are one-line errors, unknown keys survive."""

from __future__ import annotations

from pathlib import Path

import pytest

from paddlectl.errors import UsageError
from paddlectl.export.record import read_export_record
from paddlectl.foundation.yamlio import dump_yaml, load_yaml

RECORD = {
    "schema_version": 1,
    "format": "json",
    "files": ["model.json", "model.pdiparams"],
    "outputs": [{"name": "out", "dtype": "float32", "shape": [-1, 10], "layout": "NC"}],
    "verification": {"status": "passed", "atol": 1e-4, "rtol": 1e-3, "samples": 8, "outputs": []},
    "latency_ms": {"p50": 0.5, "p95": 0.9, "runs": 50},
    "from_a_newer_paddlectl": {"kept": True},
}


def test_a_record_reads_typed_and_writes_back_what_it_did_not_know(tmp_path: Path) -> None:
    path = tmp_path / "export.yaml"
    path.write_text(dump_yaml(RECORD), encoding="utf-8")
    record = read_export_record(path)
    assert record.verified and record.latency_ms is not None and record.latency_ms.runs == 50
    assert record.outputs[0].shape_text() == "float32[-1,10]"
    written = load_yaml(dump_yaml(record.to_dict()), "x")
    assert written["from_a_newer_paddlectl"] == {"kept": True}
    assert written["outputs"][0]["layout"] == "NC"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"files": "model.json"}, "does not read as an export record"),
        ({"latency_ms": {"p50": "fast"}}, "latency_ms.p50"),
        ({"schema_version": 2}, "this paddlectl reads 1"),
    ],
)
def test_a_broken_record_is_one_line_saying_where(tmp_path: Path, change: dict[str, object], says: str) -> None:
    path = tmp_path / "export.yaml"
    path.write_text(dump_yaml({**RECORD, **change}), encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        read_export_record(path)
    assert says in caught.value.message and "\n" not in caught.value.message
    assert caught.value.hint
