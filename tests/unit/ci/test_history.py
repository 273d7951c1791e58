"""The gate history: appended whole under a lock, read back leniently, and the noise it gives."""

from __future__ import annotations

import multiprocessing
import statistics
from pathlib import Path

import pytest

from paddlectl.ci.history import GateHistory, GateRecord, NoiseEstimate, history_path, noise_from_history


def _record(
    run: str,
    value: float,
    *,
    passed: bool = True,
    comparable: bool = True,
    key: str = "registry:digits",
    profile: str | None = "ci",
) -> GateRecord:
    return GateRecord("2026-12-01T00:00:00Z", run, key, "digits@1.0.0", profile, comparable, passed, {"val_acc": value})


def test_recent_keeps_passed_comparable_gates_of_the_same_model_and_profile(tmp_path: Path) -> None:
    history = GateHistory(tmp_path / "h.jsonl")
    for record in (
        _record("a", 0.95),
        _record("b", 0.10, passed=False),  # a caught regression never widens the band
        _record("c", 0.96, comparable=False),
        _record("d", 0.97, key="registry:other"),
        _record("e", 0.98, profile=None),
        _record("f", 0.94),
        _record("g", 0.93),
    ):
        history.append(record)
    assert [r.run for r in history.recent("registry:digits", "ci", 10, exclude_run="g")] == ["a", "f"]
    assert [r.run for r in history.recent("registry:digits", "ci", 2, exclude_run="x")] == ["f", "g"]
    assert history.recent("registry:digits", "ci", 0, exclude_run="x") == []


def test_a_run_gated_again_counts_once_where_it_was_gated_last(tmp_path: Path) -> None:
    history = GateHistory(tmp_path / "h.jsonl")
    for record in (_record("a", 0.95), _record("b", 0.96), _record("a", 0.95, passed=False)):
        history.append(record)
    assert [r.run for r in history.recent("registry:digits", "ci", 10, exclude_run="x")] == ["b"]


def test_a_torn_or_foreign_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    history = GateHistory(path)
    history.append(_record("a", 0.95))
    with path.open("a") as handle:
        handle.write('{"time": "x", "run": "b", "baseline_key": "registry:digits", "metr')  # a crash mid-line
        handle.write("\n[1, 2]\n\n")
    history.append(_record("c", 0.96))
    assert [r.run for r in history.records()] == ["a", "c"]
    assert history.unreadable == 2  # the torn line and the foreign one; the blank line is nothing


def _append_many(path: str, prefix: str) -> None:
    history = GateHistory(Path(path))
    for number in range(100):
        history.append(_record(f"{prefix}{number}", 0.9 + number / 1000))


def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_append_many, args=(str(path), prefix)) for prefix in "abcd"]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(30)
    assert all(writer.exitcode == 0 for writer in writers)
    records = list(GateHistory(path).records())
    assert len(records) == 400 and len(path.read_text().splitlines()) == 400


def test_noise_is_two_sample_standard_deviations() -> None:
    records = [_record(run, value) for run, value in (("a", 0.95), ("b", 0.97), ("c", 0.96))]
    estimate = noise_from_history(records, "val_acc")
    assert estimate.values == [0.95, 0.97, 0.96] and estimate.runs == ["a", "b", "c"]
    assert estimate.spread == pytest.approx(2 * statistics.stdev([0.95, 0.97, 0.96]))
    assert NoiseEstimate("val_acc", "history", [0.95], ["a"]).spread == 0.0
    assert noise_from_history(records, "loss").values == []


def test_the_history_lives_in_the_project_unless_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PADDLECTL_GATE_HISTORY", raising=False)
    assert history_path(tmp_path / ".paddlectl") == tmp_path / ".paddlectl" / "gate-history.jsonl"
    monkeypatch.setenv("PADDLECTL_GATE_HISTORY", str(tmp_path / "shared.jsonl"))
    assert history_path(tmp_path / ".paddlectl") == tmp_path / "shared.jsonl"
