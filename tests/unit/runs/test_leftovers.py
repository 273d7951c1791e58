"""Leftovers by kind: one-shot containers once their CLI is gone, run containers of ended runs, stopped dev
containers, build stages while no build holds the lock."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from fakes import FakeEngine, sleeping_process
from paddlectl.engine.protocol import ContainerSpec, ImageInfo
from paddlectl.foundation.locks import held_lock
from paddlectl.foundation.names import (
    FOR_RUN_LABEL,
    KIND_LABEL,
    KIND_PROBE,
    OWNER_LABEL,
    PROBE_LABEL,
    PROJECT_LABEL,
    RUN_LABEL,
    STAGE_LABEL,
    STORE_LABEL,
    store_value,
)
from paddlectl.runs.cleanup import collect_garbage, run_status
from paddlectl.runs.leftovers import find_leftovers, reap_one_shots
from paddlectl.runs.manifest import RunStatus
from paddlectl.runs.store import RunStore
from tests.unit.runs.runs_factory import make_run

HOST = socket.gethostname()


def dead_pid() -> int:
    """The pid of a process that has ended (and was reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def add(engine: FakeEngine, labels: dict[str, str], status: str = "exited") -> str:
    container = engine.create(ContainerSpec(image="img:1", command=["true"], labels=labels))
    container.status = status
    return container.id


def test_one_shots_whose_cli_is_gone_are_reaped_and_live_ones_kept() -> None:
    engine = FakeEngine()
    # A live paddlectl CLI (the owner test also checks the pid's command line, against pid reuse).
    cli = sleeping_process("paddlectl", "export")
    try:
        gone = add(engine, {KIND_LABEL: "export", OWNER_LABEL: f"{HOST}:{dead_pid()}"}, status="running")
        probe_gone = add(engine, {KIND_LABEL: "probe", OWNER_LABEL: f"{HOST}:{dead_pid()}"})
        alive = add(engine, {KIND_LABEL: "probe", OWNER_LABEL: f"{HOST}:{cli.pid}"}, status="running")
        reused = add(engine, {KIND_LABEL: "probe", OWNER_LABEL: f"{HOST}:{os.getpid()}"})  # alive, but not paddlectl
        elsewhere = add(engine, {KIND_LABEL: "image-probe", OWNER_LABEL: f"another-host:{dead_pid()}"})
        unowned = add(engine, {KIND_LABEL: "export"})  # no owner to judge by: never ours to remove
        ours = add(engine, {KIND_LABEL: "probe", OWNER_LABEL: f"{HOST}:{dead_pid()}", PROJECT_LABEL: "proj"})
        # Another project's: its own CLIs reap it (its gc may be showing it to someone right now).
        theirs = add(engine, {KIND_LABEL: "probe", OWNER_LABEL: f"{HOST}:{dead_pid()}", PROJECT_LABEL: "other"})
        removed = reap_one_shots(engine, "proj")
        left = set(engine.live)
        removed_by_other = reap_one_shots(engine, "other")
    finally:
        cli.kill()
        cli.wait()
    assert sorted(removed) == sorted([gone, probe_gone, reused, ours])
    assert left == {alive, elsewhere, unowned, theirs}
    assert removed_by_other == [theirs]


def test_probes_from_before_owner_labels_go_once_they_ended_long_ago() -> None:
    engine = FakeEngine()
    old = add(engine, {PROBE_LABEL: "1"})
    engine.live[old].state = lambda: _state("exited", "2020-01-01T00:00:00.000000000Z")  # type: ignore[method-assign]
    recent = add(engine, {PROBE_LABEL: "1"})
    engine.live[recent].state = lambda: _state("exited", _now())  # type: ignore[method-assign]
    assert reap_one_shots(engine, "proj") == [old]


def test_gc_finds_each_kind(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    ended = make_run(project, minutes=1)
    running = make_run(project, minutes=2, status=RunStatus.RUNNING)
    store = RunStore(project / ".paddlectl" / "runs")
    engine = FakeEngine()
    of_ended = add(engine, {KIND_LABEL: "run", RUN_LABEL: ended.run_id, PROJECT_LABEL: "proj"})
    of_running = add(engine, {KIND_LABEL: "run", RUN_LABEL: running.run_id, PROJECT_LABEL: "proj"}, "running")
    export_gone = add(engine, {KIND_LABEL: "export", OWNER_LABEL: f"{HOST}:{dead_pid()}"})
    ours = {PROJECT_LABEL: "proj", STORE_LABEL: store_value(project / ".paddlectl")}
    namesake = {PROJECT_LABEL: "proj", STORE_LABEL: store_value(tmp_path / "copy" / "proj" / ".paddlectl")}
    dev_stopped = add(engine, {KIND_LABEL: "dev", **ours})
    dev_running = add(engine, {KIND_LABEL: "dev", **ours}, "running")
    dev_namesake = add(engine, {KIND_LABEL: "dev", **namesake})  # stopped, but another copy's
    stage = ImageInfo("sha256:" + "5" * 64, (), (), 1, "", {STAGE_LABEL: "base-install", **ours})
    tagged = ImageInfo("sha256:" + "6" * 64, ("proj/x:1",), (), 1, "", {STAGE_LABEL: "base", **ours})
    other = ImageInfo("sha256:" + "7" * 64, (), (), 1, "", {STAGE_LABEL: "base-install", PROJECT_LABEL: "other"})
    building = ImageInfo("sha256:" + "8" * 64, (), (), 1, "", {STAGE_LABEL: "base-install", **namesake})
    engine.images = {stage.id: stage, "proj/x:1": tagged, other.id: other, building.id: building}

    report = collect_garbage(store, "proj", dry_run=True, engine_factory=lambda: engine)
    kinds = {(entry["kind"], entry["id"]) for entry in report.containers}
    assert kinds == {("run", of_ended), ("export", export_gone), ("dev", dev_stopped)}
    assert [entry["id"] for entry in report.images] == [stage.id]
    assert len(engine.live) == 6 and not engine.removed_images, "a dry run removes nothing"

    collect_garbage(store, "proj", engine_factory=lambda: engine)
    assert set(engine.live) == {of_running, dev_running, dev_namesake}
    assert engine.removed_images == [stage.id]


def test_gc_judges_only_containers_of_its_own_store_when_projects_share_a_name(tmp_path: Path) -> None:
    mine, theirs = tmp_path / "a" / "digits", tmp_path / "b" / "digits"  # two copies of one example
    ended_here = make_run(mine, minutes=1)
    running_there = make_run(theirs, minutes=2, status=RunStatus.RUNNING)
    store = RunStore(mine / ".paddlectl" / "runs")
    engine = FakeEngine()

    def labels(project: Path, run: str, kind: str = "run") -> dict[str, str]:
        base = {KIND_LABEL: kind, PROJECT_LABEL: "digits", STORE_LABEL: store_value(project / ".paddlectl")}
        return {**base, (RUN_LABEL if kind == "run" else FOR_RUN_LABEL): run}

    of_mine = add(engine, labels(mine, ended_here.run_id))
    gone_here = add(engine, labels(mine, "20261101-000000-00000000a"))  # its run folder was removed: ours to remove
    of_theirs = add(engine, labels(theirs, running_there.run_id), "running")
    their_probe = add(engine, labels(theirs, running_there.run_id, KIND_PROBE), "running")
    # Made before store labels: ours only while its run folder is here.
    old_theirs = add(engine, {KIND_LABEL: "run", RUN_LABEL: running_there.run_id, PROJECT_LABEL: "digits"})
    old_mine = add(engine, {KIND_LABEL: "run", RUN_LABEL: ended_here.run_id, PROJECT_LABEL: "digits"})

    report = collect_garbage(store, "digits", dry_run=True, engine_factory=lambda: engine)
    assert {entry["id"] for entry in report.containers} == {of_mine, gone_here, old_mine}
    collect_garbage(store, "digits", engine_factory=lambda: engine)
    assert set(engine.live) == {of_theirs, their_probe, old_theirs}


def test_build_stages_are_left_alone_while_a_build_holds_the_lock(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    store = RunStore(project / ".paddlectl" / "runs")
    lock = project / ".paddlectl" / "build.lock"
    engine = FakeEngine()
    labels = {STAGE_LABEL: "dev-install", PROJECT_LABEL: "proj", STORE_LABEL: store_value(project / ".paddlectl")}
    stage = ImageInfo("sha256:" + "5" * 64, (), (), 1, "", labels)
    engine.images = {stage.id: stage}
    holding, release = threading.Event(), threading.Event()

    def build() -> None:
        with held_lock(lock):
            holding.set()
            release.wait(10)

    builder = threading.Thread(target=build)
    builder.start()
    try:
        holding.wait(10)
        assert find_leftovers(store, "proj", engine, lock, run_status) == []
    finally:
        release.set()
        builder.join()
    assert [leftover.id for leftover in find_leftovers(store, "proj", engine, lock, run_status)] == [stage.id]


def _state(status: str, finished: str):  # type: ignore[no-untyped-def]
    from paddlectl.engine.protocol import ContainerState

    return ContainerState(status, 0, False, "", None, finished)


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def test_an_owner_is_a_process_that_names_paddlectl_not_one_whose_path_passes_through_it(tmp_path: Path) -> None:
    """A Python in ~/.cache/paddlectl/venvs is not a paddlectl CLI (the unit venvs of test.sh are exactly that)."""
    from paddlectl.runs.reconcile import owner_process_alive

    venv_python = tmp_path / "paddlectl" / "venvs" / "3.10" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.symlink_to(sys.executable)
    other = sleeping_process(python=str(venv_python))
    cli = sleeping_process("/usr/local/bin/paddlectl", "train")
    try:
        assert not owner_process_alive(other.pid, HOST)
        assert owner_process_alive(cli.pid, HOST)
    finally:
        for process in (other, cli):
            process.kill()
            process.wait()
    assert not owner_process_alive(cli.pid, HOST), "an ended process is nobody's owner"
