"""Concurrent writers and kill -9, made to happen on purpose: forked processes meet at a barrier inside the
dangerous window, or stop at a named checkpoint (registry/hooks.py) and are SIGKILLed there."""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from paddlectl.packaging.layout import ModelStatus
from paddlectl.registry import hooks
from paddlectl.registry.audit import verify_registry
from paddlectl.registry.history import check_chain
from paddlectl.registry.promote import promote
from paddlectl.registry.register import register_package
from paddlectl.registry.store import Registry, open_registry
from registry.conftest import PackageFactory

FORK = multiprocessing.get_context("fork")
ARRIVAL_TIMEOUT = 60.0


def _run_child(work: Callable[[], None]) -> None:
    """The body of a forked child: never returns into pytest."""
    code = 0
    try:
        work()
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def _fork(work: Callable[[], None]) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        _run_child(work)
    return pid


def _wait(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _invariants(registry: Registry, versions: int, events: int) -> None:
    """What must hold after anything: whole versions only, one production at most, an intact chain."""
    records = registry.backend.find()
    assert len(records) == versions
    assert len(registry.backend.events()) == events
    assert check_chain(registry.backend.events(), registry.backend.head()) == []
    assert len([r for r in records if r.status is ModelStatus.PRODUCTION]) <= 1
    for record in records:
        assert registry.backend.blobs.has(record.sha256), f"{record.ref} points to a missing blob"
    report = verify_registry(registry)
    assert report.ok, report.findings


def test_64_concurrent_registers_give_64_versions_and_64_events(
    registry_env: Path, make_package: PackageFactory
) -> None:
    packages = [make_package(f"1.{i}.0") for i in range(64)]
    barrier = FORK.Barrier(len(packages))

    def register(package: Path) -> None:
        # Every process has its blob stored and waits here, so all 64 ask for the write lock at once.
        hooks.set_pause(lambda point: barrier.wait(ARRIVAL_TIMEOUT) if point == "register:blob-written" else None)
        with open_registry(write=True) as registry:
            register_package(registry, package)

    workers = [FORK.Process(target=register, args=(package,)) for package in packages]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(180)
    assert [worker.exitcode for worker in workers] == [0] * len(workers)
    with open_registry() as registry:
        records = registry.backend.find("digits")
        assert sorted(r.version for r in records) == sorted(f"1.{i}.0" for i in range(64))
        events = registry.backend.events()
        assert [e.seq for e in events] == list(range(1, 65))
        assert sorted(e.version for e in events) == sorted(r.version for r in records)
        _invariants(registry, 64, 64)


def test_32_concurrent_promotions_leave_one_production_and_32_events_in_sequence(
    open_reg: Callable[[], Registry], make_package: PackageFactory
) -> None:
    registry = open_reg()
    versions = [f"2.{i}.0" for i in range(32)]
    for version in versions:
        register_package(registry, make_package(version))
    registry.backend.close()
    barrier = FORK.Barrier(len(versions))

    def promote_one(version: str) -> None:
        # Verified and about to take the lock: all 32 leave this point together.
        hooks.set_pause(lambda p: barrier.wait(ARRIVAL_TIMEOUT) if p == "promote:before-transaction" else None)
        with open_registry(write=True) as mine:
            promote(mine, "digits", version, ModelStatus.PRODUCTION)

    workers = [FORK.Process(target=promote_one, args=(version,)) for version in versions]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(180)
    assert [worker.exitcode for worker in workers] == [0] * len(workers)
    with open_registry() as after:
        promotions = after.backend.events()[32:]
        assert [e.seq for e in promotions] == list(range(33, 65))
        assert sorted(e.version for e in promotions) == sorted(versions)
        # Each promotion replaced exactly the one before it: no two were production at once.
        assert [e.replaced for e in promotions] == [None, *(e.version for e in promotions[:-1])]
        production = after.backend.find("digits", ModelStatus.PRODUCTION)
        assert [r.version for r in production] == [promotions[-1].version]
        archived = {r.version for r in after.backend.find("digits", ModelStatus.ARCHIVED)}
        assert archived == set(versions) - {promotions[-1].version}
        _invariants(after, 32, 64)


def _stop_at(point: str, work: Callable[[], None]) -> tuple[int, int]:
    """Fork `work`, which stops for good at `point` after saying so on a pipe; returns (pid, pipe)."""
    read_end, write_end = os.pipe()

    def child() -> None:
        os.close(read_end)

        def pause(reached: str) -> None:
            if reached == point:
                os.write(write_end, b"!")
                time.sleep(3600)

        hooks.set_pause(pause)
        work()

    pid = _fork(child)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], ARRIVAL_TIMEOUT)
    assert ready and os.read(read_end, 1) == b"!", f"the child never reached {point}"
    return pid, read_end


@pytest.mark.parametrize("point", ["register:blob-written", "register:row-inserted", "register:event-appended"])
def test_kill_9_inside_register_never_leaves_a_half_registered_version(
    point: str, open_reg: Callable[[], Registry], make_package: PackageFactory
) -> None:
    registry = open_reg()
    register_package(registry, make_package("1.0.0"))
    registry.backend.close()
    package = make_package("1.1.0")

    def work() -> None:
        with open_registry(write=True) as mine:
            register_package(mine, package)

    pid, pipe = _stop_at(point, work)
    os.kill(pid, signal.SIGKILL)
    assert _wait(pid) == -signal.SIGKILL
    os.close(pipe)
    with open_registry(write=True) as after:
        assert after.backend.get("digits", "1.1.0") is None
        _invariants(after, 1, 1)
        garbage = verify_registry(after).garbage
        assert len(garbage) == 1  # the killed register's blob: no row points to it
        assert verify_registry(after, fix=True).removed == garbage
        assert verify_registry(after).garbage == []
        # The write lock died with the process: the next writer gets it at once.
        assert register_package(after, package).created
        _invariants(after, 2, 2)


@pytest.mark.parametrize("point", ["promote:before-transaction", "promote:demoted", "promote:event-appended"])
def test_kill_9_inside_promote_never_leaves_two_productions_or_a_broken_chain(
    point: str, open_reg: Callable[[], Registry], make_package: PackageFactory
) -> None:
    registry = open_reg()
    for version in ("1.0.0", "1.1.0"):
        register_package(registry, make_package(version))
    promote(registry, "digits", "1.0.0", ModelStatus.PRODUCTION)
    registry.backend.close()

    def work() -> None:
        with open_registry(write=True) as mine:
            promote(mine, "digits", "1.1.0", ModelStatus.PRODUCTION)

    pid, pipe = _stop_at(point, work)
    os.kill(pid, signal.SIGKILL)
    assert _wait(pid) == -signal.SIGKILL
    os.close(pipe)
    with open_registry(write=True) as after:
        assert [r.version for r in after.backend.find("digits", ModelStatus.PRODUCTION)] == ["1.0.0"]
        assert after.record("digits", "1.1.0").status is ModelStatus.STAGING
        _invariants(after, 2, 3)
        assert promote(after, "digits", "1.1.0", ModelStatus.PRODUCTION).replaced == "1.0.0"
        _invariants(after, 2, 4)


def test_a_garbage_sweep_while_a_register_waits_does_not_lose_its_blob(
    open_reg: Callable[[], Registry], make_package: PackageFactory
) -> None:
    """verify --fix runs while a register has stored its blob but not committed: the register writes it again."""
    package = make_package("1.0.0")
    go_read, go_write = os.pipe()
    arrived_read, arrived_write = os.pipe()

    def pause(point: str) -> None:
        if point == "register:blob-written":
            os.write(arrived_write, b"!")
            os.read(go_read, 1)  # until the parent has swept

    def work() -> None:
        hooks.set_pause(pause)
        with open_registry(write=True) as mine:
            register_package(mine, package)

    pid = _fork(work)
    ready, _, _ = select.select([arrived_read], [], [], ARRIVAL_TIMEOUT)
    assert ready and os.read(arrived_read, 1) == b"!"
    registry = open_reg()
    swept = verify_registry(registry, fix=True)
    assert len(swept.removed) == 1  # the waiting register's blob looked like garbage, and was removed
    os.write(go_write, b"!")
    assert _wait(pid) == 0
    for fd in (go_read, go_write, arrived_read, arrived_write):
        os.close(fd)
    record = registry.record("digits", "1.0.0")
    assert registry.backend.blobs.path(record.sha256).read_bytes() == package.read_bytes()
    _invariants(registry, 1, 1)
