"""rm, gc, stop (against a fake engine), gate, compare, diff, sparklines and log following."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from paddlectl.engine.hosts import EngineHost
from paddlectl.engine.protocol import ContainerState
from paddlectl.errors import ExitCode, PaddlectlError, UnavailableError, UsageError
from paddlectl.foundation.names import PROJECT_LABEL, RUN_LABEL, STORE_LABEL, store_value
from paddlectl.runs.cleanup import collect_garbage, remove_runs, stop_run
from paddlectl.runs.compare import compare_runs, diff_runs, split_patch
from paddlectl.runs.gate import MaxDrop, MetricCheck, gate
from paddlectl.runs.logs import RunWatch, follow_log
from paddlectl.runs.manifest import RunStatus
from paddlectl.runs.project_runs import ProjectRuns
from paddlectl.runs.query import RunQuery, parse_condition, parse_statuses
from paddlectl.runs.series import read_series, sparkline
from paddlectl.runs.store import RunStore
from tests.unit.runs.runs_factory import BASE_TIME, make_run


@dataclass
class FakeContainer:
    id: str
    labels: dict[str, str]
    running: bool = True
    events: list[str] = field(default_factory=list)

    def state(self) -> ContainerState:
        return ContainerState("running" if self.running else "exited", None if self.running else 0, False, "")

    def stop(self, grace_seconds: int) -> None:
        self.events.append(f"stop {grace_seconds}")
        self.running = False

    def remove(self) -> None:
        self.events.append("remove")


@dataclass
class FakeEngine:
    """Just what runs ops use: containers by label (with removal reflected)."""

    all: list[FakeContainer] = field(default_factory=list)
    host: EngineHost = field(default_factory=lambda: EngineHost("unix:///var/run/docker.sock"))

    def add(self, run_id: str, project: str = "proj", running: bool = True, store: Path | None = None) -> FakeContainer:
        labels = {RUN_LABEL: run_id, PROJECT_LABEL: project, **({STORE_LABEL: store_value(store)} if store else {})}
        container = FakeContainer(f"c{len(self.all):063d}", labels, running)
        self.all.append(container)
        return container

    def containers(self, labels: dict[str, str]) -> list[FakeContainer]:
        return [
            c
            for c in self.all
            if "remove" not in c.events and all(c.labels.get(key) == value for key, value in labels.items())
        ]

    def container(self, container_id: str) -> FakeContainer | None:
        return next((c for c in self.all if c.id == container_id), None)

    def list_images(self, labels: dict[str, str | None], *, dangling: bool = False) -> list[object]:
        return []


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path / "proj"


@pytest.fixture
def store(project: Path) -> RunStore:
    return RunStore(project / ".paddlectl" / "runs")


# ---- rm ---------------------------------------------------------------------------------------------------


def test_rm_refuses_a_running_run_and_removes_nothing(store: RunStore, project: Path) -> None:
    done = make_run(project, minutes=1)
    running = make_run(project, minutes=2, status=RunStatus.RUNNING)
    with pytest.raises(UsageError) as caught:
        remove_runs(store, [done.run_id, running.run_id])
    assert caught.value.code == 2 and running.run_id in caught.value.message
    assert "--force" in (caught.value.hint or "")
    assert done.root.is_dir() and running.root.is_dir()


def test_rm_dry_run_then_real(store: RunStore, project: Path) -> None:
    first = make_run(project, minutes=1, name="first")
    second = make_run(project, minutes=2, status=RunStatus.FAILED)
    planned = remove_runs(store, ["first", second.run_id, "last"], dry_run=True)
    assert [(item.id, item.status) for item in planned] == [(first.run_id, "succeeded"), (second.run_id, "failed")]
    assert first.root.is_dir() and second.root.is_dir()
    removed = remove_runs(store, ["first"])
    assert [item.id for item in removed] == [first.run_id]
    assert not first.root.exists() and second.root.is_dir()
    assert [entry.id for entry in ProjectRuns(store).listing(RunQuery()).entries] == [second.run_id]
    assert not any(path.name.startswith(".deleting") for path in store.runs_dir.iterdir())


def test_rm_force_stops_and_removes_the_container(store: RunStore, project: Path) -> None:
    running = make_run(project, minutes=1, status=RunStatus.RUNNING)
    engine = FakeEngine()
    container = engine.add(running.run_id)
    other = engine.add("someone-else")
    [item] = remove_runs(store, [running.run_id], force=True, engine_factory=lambda: engine)  # type: ignore[arg-type,return-value]
    assert item.containers == [container.id]
    assert container.events == ["stop 10", "remove"] and other.events == []
    assert not running.root.exists()


def test_rm_force_without_engine_still_removes_the_folder(store: RunStore, project: Path) -> None:
    running = make_run(project, minutes=1, status=RunStatus.RUNNING)

    def no_engine() -> FakeEngine:
        raise UnavailableError("cannot reach the Docker engine")

    [item] = remove_runs(store, [running.run_id], force=True, engine_factory=no_engine)  # type: ignore[arg-type]
    assert item.warning and "cannot reach" in item.warning
    assert not running.root.exists()


def test_rm_can_remove_a_bad_run(store: RunStore, project: Path) -> None:
    bad = make_run(project, minutes=1)
    bad.manifest.write_text("")
    [item] = remove_runs(store, [bad.run_id])
    assert item.status == "bad" and not bad.root.exists()


# ---- stop -------------------------------------------------------------------------------------------------


def test_stop_stops_the_labelled_container(store: RunStore, project: Path) -> None:
    running = make_run(project, minutes=1, status=RunStatus.RUNNING, name="train-it")
    engine = FakeEngine()
    container = engine.add(running.run_id)
    result = stop_run(store, "train-it", lambda: engine, grace_seconds=3)  # type: ignore[arg-type,return-value]
    assert result.stopped == [container.id] and container.events == ["stop 3"]
    assert store.read(running.run_id).status is RunStatus.RUNNING  # recording it is the owner's job


def test_stop_refuses_an_ended_run(store: RunStore, project: Path) -> None:
    done = make_run(project, minutes=1)
    with pytest.raises(UsageError, match="not running"):
        stop_run(store, done.run_id, lambda: pytest.fail("the engine is not needed"))


# ---- gc ---------------------------------------------------------------------------------------------------


def _gc_runs(project: Path) -> list[str]:
    statuses = [
        RunStatus.SUCCEEDED,
        RunStatus.FAILED,
        RunStatus.SUCCEEDED,
        RunStatus.INTERRUPTED,
        RunStatus.FAILED,
        RunStatus.RUNNING,
    ]
    return [make_run(project, minutes=24 * 60 * day, status=status).run_id for day, status in enumerate(statuses)]


def test_gc_keep_counts_per_status_and_spares_succeeded_runs(store: RunStore, project: Path) -> None:
    runs = _gc_runs(project)  # oldest first: succeeded, failed, succeeded, interrupted, failed, running
    now = BASE_TIME + timedelta(days=6)
    keep1 = collect_garbage(store, "proj", keep=1, dry_run=True, now=now)
    assert [item["id"] for item in keep1.runs] == [runs[1]]  # the older failed run; succeeded ones never
    keep0 = collect_garbage(store, "proj", keep=0, dry_run=True, now=now)
    assert [item["id"] for item in keep0.runs] == [runs[4], runs[3], runs[1]]  # every failure, no success
    old = collect_garbage(store, "proj", older_than=timedelta(days=3, hours=12), dry_run=True, now=now)
    assert [item["id"] for item in old.runs] == [runs[1]]
    named = collect_garbage(store, "proj", statuses=frozenset({"succeeded"}), keep=1, dry_run=True, now=now)
    assert [item["id"] for item in named.runs] == [runs[0]]  # succeeded runs go only when named
    ended = collect_garbage(store, "proj", statuses=parse_statuses(["ended"]), keep=1, dry_run=True, now=now)
    assert [item["id"] for item in ended.runs] == [runs[1], runs[0]]
    both = collect_garbage(store, "proj", keep=0, older_than=timedelta(days=2, hours=12), dry_run=True, now=now)
    assert [item["id"] for item in both.runs] == [runs[3], runs[1]]
    assert all(store.paths(run_id).root.is_dir() for run_id in runs)  # dry runs only


def test_gc_keep_2_never_takes_the_only_succeeded_run(store: RunStore, project: Path) -> None:
    """The first-hour report: one succeeded run and two newer interrupted ones, `gc --keep 2` took the success."""
    succeeded = make_run(project, minutes=1).run_id
    interrupted = [make_run(project, minutes=m, status=RunStatus.INTERRUPTED).run_id for m in (2, 3, 4)]
    report = collect_garbage(store, "proj", keep=2)
    assert [item["id"] for item in report.runs] == [interrupted[0]]
    assert store.paths(succeeded).root.is_dir()


def test_gc_deletes_and_nothing_without_selectors(store: RunStore, project: Path) -> None:
    runs = _gc_runs(project)
    assert collect_garbage(store, "proj").runs == []
    report = collect_garbage(store, "proj", keep=1)
    assert [item["id"] for item in report.runs] == [runs[1]]
    assert [entry.id for entry in ProjectRuns(store).listing(RunQuery()).entries] == [
        runs[5],
        runs[4],
        runs[3],
        runs[2],
        runs[0],
    ]


def test_gc_removes_only_the_confirmed_runs(store: RunStore, project: Path) -> None:
    """What the user confirmed is the most that goes, even when the selection grew after the question."""
    runs = _gc_runs(project)
    report = collect_garbage(store, "proj", keep=0, only=frozenset({runs[1]}))
    assert [item["id"] for item in report.runs] == [runs[1]]
    assert store.paths(runs[3]).root.is_dir() and store.paths(runs[4]).root.is_dir()


def test_gc_removes_leftover_containers_only(store: RunStore, project: Path) -> None:
    ended = make_run(project, minutes=1)
    running = make_run(project, minutes=2, status=RunStatus.RUNNING)
    engine = FakeEngine()
    of_ended = engine.add(ended.run_id, running=False)
    of_gone = engine.add("20261101-000000-000aaaaaa", store=project / ".paddlectl")  # its run folder was removed
    of_running = engine.add(running.run_id)
    other_project = engine.add("20261101-000000-000bbbbbb", project="elsewhere")
    # the running run's owner is gone; reconciliation leaves it alone because its container still runs
    dry = collect_garbage(store, "proj", dry_run=True, engine_factory=lambda: engine)  # type: ignore[arg-type,return-value]
    assert {(c["id"], c["why"]) for c in dry.containers} == {
        (of_ended.id, "run succeeded"),
        (of_gone.id, "run folder gone"),
    }
    assert of_gone.events == []
    report = collect_garbage(store, "proj", engine_factory=lambda: engine)  # type: ignore[arg-type,return-value]
    assert len(report.containers) == 2
    assert of_gone.events == ["stop 10", "remove"] and of_ended.events == ["remove"]
    assert of_running.events == [] and other_project.events == []


def test_gc_without_engine_warns_and_still_deletes_runs(store: RunStore, project: Path) -> None:
    runs = _gc_runs(project)

    def no_engine() -> FakeEngine:
        raise UnavailableError("cannot reach the Docker engine")

    report = collect_garbage(store, "proj", keep=1, engine_factory=no_engine)  # type: ignore[arg-type]
    assert report.warnings and "cannot reach" in report.warnings[0]
    assert [item["id"] for item in report.runs] == [runs[1]]


# ---- gate -------------------------------------------------------------------------------------------------


def _gate_pair(store: RunStore, project: Path) -> tuple[object, object]:
    base = make_run(project, minutes=1, metrics={"f1": 0.90, "loss": 0.30, "acc": 0.96})
    cand = make_run(project, minutes=2, metrics={"f1": 0.885, "loss": 0.32, "acc": 0.95}, params={"lr": 0.01})
    return store.read(cand.run_id), store.read(base.run_id)


def test_gate_relative_and_absolute_drops(store: RunStore, project: Path) -> None:
    cand, base = _gate_pair(store, project)
    two_pct = gate(cand, base, [MetricCheck("f1", MaxDrop.parse("2%"))], [])  # type: ignore[arg-type]
    assert two_pct.passed and two_pct.checks[0].limit == pytest.approx(0.882)
    one_pct = gate(cand, base, [MetricCheck("f1", MaxDrop.parse("1%"))], [])  # type: ignore[arg-type]
    assert not one_pct.passed and "beyond the limit" in one_pct.checks[0].message
    absolute = gate(cand, base, [MetricCheck("f1", MaxDrop.parse("0.02"))], [])  # type: ignore[arg-type]
    assert absolute.passed and absolute.checks[0].limit == pytest.approx(0.88)


def test_gate_lower_is_better(store: RunStore, project: Path) -> None:
    cand, base = _gate_pair(store, project)
    loose = gate(cand, base, [MetricCheck("loss", MaxDrop.parse("10%"), lower_is_better=True)], [])  # type: ignore[arg-type]
    assert loose.passed and loose.checks[0].limit == pytest.approx(0.33)
    tight = gate(cand, base, [MetricCheck("loss", MaxDrop.parse("5%"), lower_is_better=True)], [])  # type: ignore[arg-type]
    assert not tight.passed


def test_gate_requirements_and_metrics_missing_from_one_run(store: RunStore, project: Path) -> None:
    cand, base = _gate_pair(store, project)
    report = gate(
        cand,
        base,
        [MetricCheck("f1", MaxDrop.parse("1%"))],  # type: ignore[arg-type]
        [
            parse_condition("acc>=0.95"),
            parse_condition("acc>0.99"),
            parse_condition("lr<=0.01"),
        ],
    )
    assert [check.passed for check in report.checks] == [False, True, False, True]
    assert not report.passed
    only_base = make_run(project, minutes=3, metrics={"f1": 0.9, "bleu": 0.3})
    lost = gate(cand, store.read(only_base.run_id), [MetricCheck("bleu", MaxDrop.parse("1%"))], [])  # type: ignore[arg-type]
    assert not lost.passed and "missing from run" in lost.checks[0].message  # a metric the run lost: FAIL


def test_gate_names_no_run_recorded_are_usage_errors(store: RunStore, project: Path) -> None:
    cand, base = _gate_pair(store, project)
    with pytest.raises(UsageError) as info:
        gate(cand, base, [MetricCheck("nosuch", MaxDrop.parse("1%"))], [])  # type: ignore[arg-type]
    assert info.value.code == ExitCode.USAGE
    assert "nosuch" in info.value.message and "neither run" in info.value.message
    assert info.value.hint is not None and "metrics f1, loss, acc" in info.value.hint
    with pytest.raises(UsageError) as info:
        gate(cand, None, [], [parse_condition("recall>0.5")])  # type: ignore[arg-type]
    assert "recall" in info.value.message
    assert info.value.hint is not None and "params lr" in info.value.hint and "acc" in info.value.hint


def test_gate_usage_errors(store: RunStore, project: Path) -> None:
    cand, _ = _gate_pair(store, project)
    with pytest.raises(UsageError, match="nothing to check"):
        gate(cand, None, [], [])  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="baseline"):
        gate(cand, None, [MetricCheck("f1", MaxDrop.parse("1%"))], [])  # type: ignore[arg-type]
    for bad in ("two", "-1%", "%"):
        with pytest.raises(UsageError):
            MaxDrop.parse(bad)


# ---- compare / diff --------------------------------------------------------------------------------------


def test_compare_flags_differing_rows(store: RunStore, project: Path) -> None:
    a = make_run(project, minutes=1, params={"lr": 0.1, "bs": 32}, metrics={"acc": 0.9})
    b = make_run(project, minutes=2, params={"lr": 0.01, "bs": 32}, metrics={"acc": 0.9, "f1": 0.8})
    comparison = compare_runs([store.read(a.run_id), store.read(b.run_id)])
    rows = {(row.section, row.key): row for row in comparison.rows}
    assert rows[("params", "lr")].differs and rows[("params", "lr")].values == [0.1, 0.01]
    assert not rows[("params", "bs")].differs
    assert not rows[("metrics", "acc")].differs and rows[("metrics", "f1")].values == [None, 0.8]
    assert not rows[("image", "reference")].differs and not rows[("git", "commit")].differs


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def test_diff_params_env_image_runtime_and_code(store: RunStore, project: Path) -> None:
    project.mkdir(parents=True, exist_ok=True)
    _git(project, "init", "-q")
    _git(project, "config", "user.email", "t@example.com")
    _git(project, "config", "user.name", "t")
    (project / "train.py").write_text("print('v1')\n")
    _git(project, "add", "train.py")
    _git(project, "commit", "-qm", "v1")
    first = _git(project, "rev-parse", "HEAD")
    (project / "train.py").write_text("print('v2')\n")
    (project / "model.py").write_text("x = 1\n")
    _git(project, "add", ".")
    _git(project, "commit", "-qm", "v2")
    second = _git(project, "rev-parse", "HEAD")
    a = make_run(
        project,
        minutes=1,
        params={"lr": 0.1, "bs": 32},
        commit=first,
        runtime={"paddle_version": "3.2.0", "python": "3.10.12"},
    )
    b = make_run(
        project,
        minutes=2,
        params={"lr": 0.01, "seed": 1},
        commit=second,
        image="paddle:3.3.0",
        runtime={"paddle_version": "3.3.0", "python": "3.10.12", "cuda": "12.6"},
    )
    patch_a = "diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-x\n+y\n"
    patch_b = patch_a + "diff --git a/extra.py b/extra.py\n--- /dev/null\n+++ b/extra.py\n@@ -0,0 +1 @@\n+z\n"
    for paths, patch in ((a, patch_a), (b, patch_b)):
        paths.patch.write_text(patch)
        manifest = store.read(paths.run_id)
        manifest.git.dirty, manifest.git.patch_file = True, paths.patch.name
        manifest.container.env_names = ["A", "B"] if paths is a else ["B", "C"]
        store.write(manifest)
    result = diff_runs(store.read(a.run_id), store.read(b.run_id), a, b, project)
    assert {(c.key, c.kind) for c in result.params} == {("lr", "changed"), ("bs", "removed"), ("seed", "added")}
    assert {(c.key, c.kind) for c in result.env_names} == {("A", "removed"), ("C", "added")}
    assert [c.key for c in result.image] == ["reference"]
    assert {(c.key, c.kind) for c in result.runtime} == {("paddle_version", "changed"), ("cuda", "added")}
    code = result.code
    assert not code.same_commit and code.git_problem is None
    assert sorted(code.git_files) == ["A model.py", "M train.py"]
    assert code.git_diff and "+print('v2')" in code.git_diff
    assert not code.same_patch and code.patch_files_differing == ["extra.py"]
    assert code.patch_files_a == ["train.py"] and code.patch_files_b == ["extra.py", "train.py"]
    assert not result.identical


def test_diff_commit_missing_from_repository(store: RunStore, project: Path) -> None:
    a = make_run(project, minutes=1, commit="1" * 40)
    b = make_run(project, minutes=2, commit="2" * 40)
    result = diff_runs(store.read(a.run_id), store.read(b.run_id), a, b, project)
    assert result.code.git_problem and result.code.git_diff is None


def test_split_patch() -> None:
    patch = "diff --git a/x.py b/x.py\n+1\ndiff --git a/d/y.py b/d/y.py\n+2\n"
    assert split_patch(patch) == {"x.py": "+1\n", "d/y.py": "+2\n"}


# ---- series, sparklines, logs ----------------------------------------------------------------------------


def test_read_series_skips_broken_lines(project: Path) -> None:
    paths = make_run(project, minutes=1, series={"loss": [3.0, 2.0, 1.0]})
    with paths.metrics.open("a") as handle:
        handle.write('{"name": "loss", "value": NaN, "step": 9}\n{"name": "loss", "val')  # cut short by a crash
    assert read_series(paths.metrics) == {"loss": [(0.0, 3.0), (1.0, 2.0), (2.0, 1.0)]}
    assert read_series(project / "missing.jsonl") == {}


def test_sparkline() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 5, 5]) == "▅▅▅"
    assert sparkline([]) == ""
    long = sparkline([float(i) for i in range(1000)], width=10)
    assert len(long) == 10 and long[0] == "▁" and long[-1] == "█"


def test_follow_log_reads_until_the_run_ends(project: Path) -> None:
    paths = make_run(project, minutes=1, log="first\n")
    polls: list[int] = []

    def still_running() -> bool:
        polls.append(1)
        if len(polls) == 2:
            with paths.log.open("a") as handle:
                handle.write("second\n")
        if len(polls) == 3:
            with paths.log.open("a") as handle:
                handle.write("last\n")  # written just as the run ends: must not be lost
            return False
        return True

    chunks = list(follow_log(paths, still_running, sleep=lambda _: None))
    assert b"".join(chunks) == b"first\nsecond\nlast\n"


def test_engine_errors_in_listing_are_warnings(store: RunStore, project: Path) -> None:
    make_run(project, minutes=1, status=RunStatus.RUNNING)

    def no_engine() -> FakeEngine:
        raise PaddlectlError("cannot reach the Docker engine")

    warnings: list[str] = []
    listing = ProjectRuns(store, no_engine, warnings.append).listing(RunQuery())  # type: ignore[arg-type]
    assert len(listing.entries) == 1 and listing.entries[0].status == "running"
    assert len(warnings) == 1 and "could not be checked" in warnings[0]


def test_listing_settles_a_run_whose_container_vanished(store: RunStore, project: Path) -> None:
    orphan = make_run(project, minutes=1, status=RunStatus.RUNNING)
    calls: list[int] = []

    def engine() -> FakeEngine:
        calls.append(1)
        return FakeEngine()

    assert ProjectRuns(store).listing(RunQuery()).entries[0].status == "running"  # no engine given: nothing settled
    listing = ProjectRuns(store, engine).listing(RunQuery())  # type: ignore[arg-type]
    assert listing.reconciled == [orphan.run_id] and listing.entries[0].status == "lost"
    ProjectRuns(store, engine).listing(RunQuery())  # type: ignore[arg-type]
    assert calls == [1]  # nothing marked running any more: the engine is not contacted again


def test_run_watch_settles_a_run_whose_owner_is_gone(store: RunStore, project: Path) -> None:
    orphan = make_run(project, minutes=1, status=RunStatus.RUNNING)
    warnings: list[str] = []

    def no_engine() -> FakeEngine:
        raise UnavailableError("cannot reach the Docker engine")

    now = [0.0]
    watch = RunWatch(ProjectRuns(store, no_engine), orphan, warnings.append, settle_every=10, clock=lambda: now[0])  # type: ignore[arg-type]
    assert watch() and watch()  # engine unreachable: keep following, warn once
    now[0] = 11
    assert watch()
    assert len(warnings) == 1 and "could not be checked" in warnings[0]
    settled = RunWatch(ProjectRuns(store, FakeEngine), orphan, warnings.append)
    assert settled() is False  # no container: reconciliation records it lost, following stops
    assert store.read(orphan.run_id).status is RunStatus.LOST
