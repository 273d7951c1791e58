"""ProjectRuns: every read settles a run whose owner is gone, the engine is reached only when one needs it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from fakes import FakeEngine, sleeping_process
from paddlectl.errors import UnavailableError
from paddlectl.runs.manifest import RunStatus
from paddlectl.runs.project_runs import ProjectRuns
from paddlectl.runs.query import RunQuery
from paddlectl.runs.store import RunStore
from tests.unit.runs.runs_factory import make_run


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "proj" / ".paddlectl" / "runs")


class CountingFactory:
    """An engine factory that counts how often it is asked to connect (and can be down)."""

    def __init__(self, down: bool = False) -> None:
        self.calls = 0
        self.down = down
        self.engine = FakeEngine()

    def __call__(self) -> FakeEngine:
        self.calls += 1
        if self.down:
            raise UnavailableError("cannot reach the Docker engine")
        return self.engine


def test_reading_an_orphaned_run_settles_it_first(store: RunStore) -> None:
    orphan = make_run(store.runs_dir.parent.parent, minutes=1, status=RunStatus.RUNNING)  # no owner, no container
    factory = CountingFactory()
    runs = ProjectRuns(store, factory)
    manifest = runs.read(orphan.run_id)
    assert manifest.status is RunStatus.LOST, "read() settles before it returns"
    assert "container is gone" in (manifest.reason or "")
    assert runs.read(orphan.run_id).status is RunStatus.LOST
    assert factory.calls == 1, "connected once, and only while a run needed settling"


def test_nothing_to_settle_never_reaches_the_engine(store: RunStore) -> None:
    project = store.runs_dir.parent.parent
    ended = make_run(project, minutes=1)
    factory = CountingFactory(down=True)
    warnings: list[str] = []
    runs = ProjectRuns(store, factory, warnings.append)
    assert [entry.id for entry in runs.listing(RunQuery()).entries] == [ended.run_id]
    assert runs.read(ended.run_id).status is RunStatus.SUCCEEDED
    assert runs.settle_all().changed == []
    assert (factory.calls, warnings) == (0, [])


def test_a_run_whose_owner_lives_is_left_to_it(store: RunStore) -> None:
    paths = make_run(store.runs_dir.parent.parent, minutes=1, status=RunStatus.RUNNING)
    owner = sleeping_process("paddlectl")
    try:
        manifest = store.read(paths.run_id)
        manifest.owner_pid, manifest.owner_host = owner.pid, socket.gethostname()
        store.write(manifest)
        factory = CountingFactory()
        assert ProjectRuns(store, factory).read(paths.run_id).status is RunStatus.RUNNING
        assert factory.calls == 0
    finally:
        owner.kill()
        owner.wait()


def test_an_unreachable_engine_is_one_warning_and_the_run_stays_running(store: RunStore) -> None:
    project = store.runs_dir.parent.parent
    orphan = make_run(project, minutes=1, status=RunStatus.RUNNING)
    warnings: list[str] = []
    runs = ProjectRuns(store, CountingFactory(down=True), warnings.append)
    assert runs.read(orphan.run_id).status is RunStatus.RUNNING
    listing = runs.listing(RunQuery())
    assert listing.entries[0].status == "running" and listing.reconciled == []
    assert warnings == ["1 run(s) marked running could not be checked: cannot reach the Docker engine"]


def test_without_an_engine_factory_nothing_is_settled(store: RunStore) -> None:
    orphan = make_run(store.runs_dir.parent.parent, minutes=1, status=RunStatus.RUNNING)
    assert ProjectRuns(store).read(orphan.run_id).status is RunStatus.RUNNING
