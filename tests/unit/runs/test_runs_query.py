"""Resolving RUN arguments, --where conditions, filters, sorting and limits."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from paddlectl.errors import UsageError
from paddlectl.foundation.clock import parse_duration
from paddlectl.runs.manifest import RunStatus
from paddlectl.runs.project_runs import ProjectRuns
from paddlectl.runs.query import (
    RunQuery,
    parse_condition,
    parse_since,
    resolve_run,
)
from paddlectl.runs.store import RunStore
from tests.unit.runs.runs_factory import BASE_TIME, make_run


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path / "proj"


@pytest.fixture
def store(project: Path) -> RunStore:
    return RunStore(project / ".paddlectl" / "runs")


@pytest.fixture
def sweep(project: Path) -> list[str]:
    """Five runs with varied params, metrics, statuses and labels, oldest first."""
    return [
        make_run(
            project,
            minutes=0,
            name="base",
            params={"lr": 0.1, "opt": "sgd"},
            metrics={"acc": 0.80, "loss": 0.9},
            labels={"team": "cv"},
        ).run_id,
        make_run(
            project,
            minutes=10,
            name="lower-lr",
            params={"lr": 0.01, "opt": "sgd"},
            metrics={"acc": 0.91, "loss": 0.4},
            labels={"team": "cv"},
        ).run_id,
        make_run(
            project,
            minutes=20,
            name="adam",
            params={"lr": 0.001, "opt": "adam"},
            metrics={"acc": 0.95, "loss": 0.2},
            labels={"team": "nlp"},
            image="paddlepaddle/paddle:3.2.0-gpu",
        ).run_id,
        make_run(
            project,
            minutes=30,
            name="broken",
            params={"lr": 0.5, "opt": "sgd"},
            metrics={"loss": 9.0},
            status=RunStatus.FAILED,
        ).run_id,
        make_run(
            project,
            minutes=40,
            name="adam",
            params={"lr": 0.001, "opt": "adam"},
            metrics={"acc": 0.93},
            status=RunStatus.INTERRUPTED,
        ).run_id,
    ]


def ids(store: RunStore, **options: object) -> list[str]:
    return [entry.id for entry in ProjectRuns(store).listing(RunQuery.parse(**options)).entries]  # type: ignore[arg-type]


# ---- resolve_run ------------------------------------------------------------------------------------------


def test_resolve_full_id_last_and_last_n(store: RunStore, sweep: list[str]) -> None:
    assert resolve_run(store, sweep[2]).run_id == sweep[2]
    assert resolve_run(store, "last").run_id == sweep[-1]
    assert resolve_run(store, "last~1").run_id == sweep[-2]
    assert resolve_run(store, "last~4").run_id == sweep[0]
    with pytest.raises(UsageError, match="only 5 run"):
        resolve_run(store, "last~5")


def test_resolve_unique_prefix(store: RunStore, sweep: list[str]) -> None:
    # ids differ in the minute: "...-0820" is only the third run
    target = sweep[2]
    prefix = target[: target.index("-", 9) + 5]
    assert resolve_run(store, prefix).run_id == target


def test_ambiguous_prefix_lists_candidates(store: RunStore, sweep: list[str]) -> None:
    with pytest.raises(UsageError) as caught:
        resolve_run(store, "20261101")
    message = caught.value.message
    assert "matches 5 runs" in message
    assert all(run_id in message for run_id in sweep)
    assert "\n" not in message and caught.value.hint


def test_ambiguous_prefix_names_at_most_ten(store: RunStore, project: Path) -> None:
    made = [make_run(project, minutes=minute).run_id for minute in range(12)]
    with pytest.raises(UsageError) as caught:
        resolve_run(store, "2026")
    assert "and 2 more" in caught.value.message
    assert made[-1] in caught.value.message and made[0] not in caught.value.message


def test_a_name_resolves_only_when_one_run_carries_it(store: RunStore, sweep: list[str]) -> None:
    """After `reproduce fast-lr` copied the name, `fast-lr` meant the reproduction and `package fast-lr` failed:
    a name carried twice (a store from before names were unique) now lists its runs instead of guessing."""
    assert resolve_run(store, "base").run_id == sweep[0]
    with pytest.raises(UsageError, match="carried by 2 runs") as caught:
        resolve_run(store, "adam")
    assert sweep[4] in caught.value.message and caught.value.hint is not None and "id" in caught.value.hint


def test_resolve_unknown_and_traversal(store: RunStore, sweep: list[str]) -> None:
    for target in ("nope", "..", "../runs", "", f"{sweep[0]}/.."):
        with pytest.raises(UsageError, match="no run matches"):
            resolve_run(store, target)


def test_resolve_in_empty_store(store: RunStore) -> None:
    with pytest.raises(UsageError, match="no runs yet"):
        resolve_run(store, "last")


# ---- conditions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["acc>=0.9", " acc >= 0.9 ", "acc=>0.9x", "loss<", ">0.5", "acc>>0.9", "acc~0.9", "acc>=high"]
)
def test_condition_parsing(text: str) -> None:
    if text.strip().replace(" ", "") == "acc>=0.9":
        condition = parse_condition(text)
        assert (condition.name, condition.op, condition.value) == ("acc", ">=", "0.9")
    else:
        with pytest.raises(UsageError) as caught:
            parse_condition(text)
        assert "\n" not in caught.value.message and caught.value.hint


def test_condition_semantics() -> None:
    row = {
        "metrics": {"acc": 0.9, "loss": None},
        "params": {"opt": "adam", "lr": "0.01", "acc": 0.1},
        "status": "succeeded",
    }
    assert parse_condition("acc>=0.9").test(row)  # metrics win over a param of the same name
    assert not parse_condition("acc>0.9").test(row)
    assert parse_condition("params.acc<0.5").test(row)
    assert parse_condition("lr==0.010").test(row)  # numeric strings compare as numbers
    assert parse_condition("opt==adam").test(row) and parse_condition("opt!=sgd").test(row)
    assert not parse_condition("opt>1").test(row)  # a string never orders against a number
    assert not parse_condition("missing>0").test(row) and not parse_condition("missing!=1").test(row)
    assert parse_condition("status==succeeded").test(row)


def test_durations_and_since() -> None:
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration("90s") == timedelta(seconds=90)
    now = datetime(2026, 11, 22, tzinfo=timezone.utc)
    assert parse_since("12h", now) == now - timedelta(hours=12)
    assert parse_since("2026-11-01T08:00:00+00:00", now) == datetime(2026, 11, 1, 8, tzinfo=timezone.utc)
    assert parse_since("2026-11-01T08:00:00Z", now) == datetime(2026, 11, 1, 8, tzinfo=timezone.utc)  # 3.10 too
    for bad in ("2 days", "yesterday", "-1d"):
        with pytest.raises(UsageError):
            parse_since(bad, now)


# ---- filters, sorting, limits ----------------------------------------------------------------------------


def test_default_order_is_newest_first(store: RunStore, sweep: list[str]) -> None:
    assert ids(store) == sweep[::-1]


def test_filters(store: RunStore, sweep: list[str]) -> None:
    assert ids(store, status=["failed,interrupted"]) == [sweep[4], sweep[3]]
    assert ids(store, status=["ended"]) == sweep[::-1]
    assert ids(store, label=["team=cv"]) == [sweep[1], sweep[0]]
    assert ids(store, label=["team"]) == [sweep[2], sweep[1], sweep[0]]
    assert ids(store, image="gpu") == [sweep[2]]
    assert ids(store, image="*3.2.0-cpu") == [sweep[4], sweep[3], sweep[1], sweep[0]]
    assert ids(store, param=["opt=adam"]) == [sweep[4], sweep[2]]
    assert ids(store, param=["lr=0.010"]) == [sweep[1]]
    assert ids(store, where=["acc>=0.9"]) == [sweep[4], sweep[2], sweep[1]]
    assert ids(store, where=["acc>=0.9", "loss<0.3"]) == [sweep[2]]
    assert ids(store, where=["opt==sgd"], status=["succeeded"]) == [sweep[1], sweep[0]]


def test_since(store: RunStore, project: Path, sweep: list[str]) -> None:
    cutoff = (BASE_TIME + timedelta(minutes=25)).isoformat()
    assert ids(store, since=cutoff) == [sweep[4], sweep[3]]
    fresh = make_run(project, minutes=0, started=datetime.now(timezone.utc) - timedelta(hours=2)).run_id
    assert ids(store, since="1d") == [fresh]
    assert ids(store, since="1h") == []


def test_sort_and_limit(store: RunStore, sweep: list[str]) -> None:
    assert ids(store, sort=["-acc"]) == [sweep[2], sweep[4], sweep[1], sweep[0], sweep[3]]  # no acc: last
    assert ids(store, sort=["acc"]) == [sweep[0], sweep[1], sweep[4], sweep[2], sweep[3]]  # still last
    # adam (equal lr: newest first), then sgd by lr descending; "a,b" and two --sort options agree
    expected = [sweep[4], sweep[2], sweep[3], sweep[0], sweep[1]]
    assert ids(store, sort=["opt,-lr"]) == expected == ids(store, sort=["opt", "-lr"])
    assert ids(store, sort=["-acc"], limit=2) == [sweep[2], sweep[4]]
    assert ids(store, sort=["name"]) == [sweep[4], sweep[2], sweep[0], sweep[3], sweep[1]]
    listing = ProjectRuns(store).listing(RunQuery.parse(where=["acc>0"], limit=1))
    assert (listing.total, listing.matched, len(listing.entries)) == (5, 4, 1)


def test_bad_options_are_usage_errors() -> None:
    for options in ({"status": ["done"]}, {"sort": ["-"]}, {"limit": -1}, {"label": ["=x"]}, {"since": "soon"}):
        with pytest.raises(UsageError):
            RunQuery.parse(**options)  # type: ignore[arg-type]


def test_bad_row_is_listed_and_filtered_by_status(store: RunStore, sweep: list[str]) -> None:
    broken = store.paths(sweep[1])
    broken.manifest.write_text("")
    assert ids(store, status=["bad"]) == [sweep[1]]
    assert sweep[1] in ids(store)
    assert sweep[1] not in ids(store, where=["acc>0"])
