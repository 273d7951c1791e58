"""The container runner's logic against the fake engine: lines saved once, signals, engine loss, cleanup."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from fakes import FakeEngine
from paddlectl.engine.protocol import ContainerSpec
from paddlectl.errors import UnavailableError
from paddlectl.train.runner import run_container


def spec() -> ContainerSpec:
    return ContainerSpec(image="img:1", command=["python3", "t.py"], labels={"io.paddlectl.run": "r1"})


def test_every_line_saved_once_from_split_frames(tmp_path: Path) -> None:
    text = "first line\nsecond é line\n🙂 third\nlast line without newline"
    data = text.encode()
    engine = FakeEngine(script=[data[i : i + 3] for i in range(0, len(data), 3)])
    shown: list[str] = []
    result = run_container(engine, spec(), log_path=tmp_path / "log", on_output=shown.append)
    result.finish_cleanup()
    saved = (tmp_path / "log").read_text(encoding="utf-8")
    assert saved == text + "\n"
    assert "".join(shown) == saved
    assert result.lines == 4
    assert result.state is not None and result.state.exit_code == 0
    assert engine.created[0].removed


def test_keep_leaves_the_container(tmp_path: Path) -> None:
    engine = FakeEngine(script=[b"x\n"])
    result = run_container(engine, spec(), log_path=tmp_path / "log", keep=True)
    assert result.cleanup is None
    assert not engine.created[0].removed


def test_progress_redraws_are_not_saved_but_reported(tmp_path: Path) -> None:
    engine = FakeEngine(script=[b"step 1/3 loss: 3\rstep 2/3 loss: 2\rstep 3/3 loss: 1\n"])
    redraws: list[str] = []
    run_container(engine, spec(), log_path=tmp_path / "log", on_redraw=redraws.append)
    assert (tmp_path / "log").read_text() == "step 3/3 loss: 1\n"
    assert redraws[:2] == ["step 1/3 loss: 3", "step 2/3 loss: 2"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_first_signal_stops_with_grace_and_log_is_rebuilt(tmp_path: Path, signum: int) -> None:
    engine = FakeEngine(script=[b"ready\n", b"more\n", b"end\n"])
    original = engine.create

    def create(container_spec: ContainerSpec):  # type: ignore[no-untyped-def]
        container = original(container_spec)
        container.on_chunk = lambda index: os.kill(os.getpid(), signum) if index == 1 else None
        return container

    engine.create = create  # type: ignore[method-assign]
    result = run_container(engine, spec(), log_path=tmp_path / "log", grace_seconds=7)
    result.finish_cleanup()
    container = engine.created[0]
    assert result.interrupted_by == signum
    assert container.stopped_with == 7 and not container.killed
    assert container.removed
    # the stream was cut short: the log comes from the engine's complete copy, every line once
    assert (tmp_path / "log").read_text() == "ready\nmore\nend\n"
    assert result.log_rebuilt
    assert signal.getsignal(signum) is not None  # handlers restored


def test_second_signal_kills(tmp_path: Path) -> None:
    engine = FakeEngine(script=[b"ready\n", b"x\n"])
    original = engine.create

    def create(container_spec: ContainerSpec):  # type: ignore[no-untyped-def]
        container = original(container_spec)
        container.on_chunk = lambda index: os.kill(os.getpid(), signal.SIGINT) if index == 1 else None

        def stop(grace: int) -> None:
            os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C again while we wait

        container.stop = stop  # type: ignore[method-assign]
        return container

    engine.create = create  # type: ignore[method-assign]
    result = run_container(engine, spec(), log_path=tmp_path / "log", grace_seconds=60)
    result.finish_cleanup()
    assert engine.created[0].killed
    assert result.interrupted_by == signal.SIGINT
    assert engine.created[0].removed


def test_engine_lost_mid_run_is_reported_not_succeeded(tmp_path: Path) -> None:
    engine = FakeEngine(script=[b"a\n", b"b\n", b"c\n"])
    original = engine.create

    def create(container_spec: ContainerSpec):  # type: ignore[no-untyped-def]
        container = original(container_spec)
        container.stream_breaks_after = 1
        engine.down = True
        return container

    engine.create = create  # type: ignore[method-assign]
    result = run_container(engine, spec(), log_path=tmp_path / "log")
    assert result.engine_error is not None
    assert result.state is None
    assert not engine.created[0].removed  # left for reconciliation
    assert (tmp_path / "log").read_text() == "a\n"


def test_failed_start_leaves_nothing(tmp_path: Path) -> None:
    engine = FakeEngine(script=[b"x\n"], fail_start="GPUs were requested but this Docker engine has no NVIDIA runtime")
    with pytest.raises(UnavailableError, match="NVIDIA"):
        run_container(engine, spec(), log_path=tmp_path / "log")
    assert engine.created[0].removed
    assert not engine.live


class RlimitRefusingEngine(FakeEngine):
    """An engine that, like some daemons, cannot start a container that asks for ulimits."""

    def start(self, container):  # type: ignore[no-untyped-def,override]
        if container.spec.ulimits:
            container.remove()
            raise UnavailableError("starting the container: error setting rlimit type 8: operation not permitted")
        container.start()


def test_refused_ulimit_is_a_warning_and_the_run_goes_on(tmp_path: Path) -> None:
    from paddlectl.engine.protocol import Ulimit

    engine = RlimitRefusingEngine(script=[b"ran\n"])
    refused = spec()
    refused.ulimits = [Ulimit("memlock", -1, -1)]
    warnings: list[str] = []
    result = run_container(engine, refused, log_path=tmp_path / "log", on_warning=warnings.append)
    result.finish_cleanup()
    assert result.state is not None and result.state.exit_code == 0
    assert len(warnings) == 1 and "memlock" in warnings[0]
    assert [c.spec.ulimits for c in engine.created] == [refused.ulimits, []]
    assert all(c.removed for c in engine.created)  # the refused attempt left nothing behind


def test_other_start_errors_are_not_retried(tmp_path: Path) -> None:
    engine = FakeEngine(script=[b"x\n"], fail_start="GPUs were requested but this Docker engine has no NVIDIA runtime")
    with pytest.raises(UnavailableError, match="NVIDIA"):
        run_container(engine, spec(), log_path=tmp_path / "log", on_warning=lambda message: None)
    assert len(engine.created) == 1


@pytest.mark.parametrize("step", ["create", "attach", "start"])
def test_a_signal_while_the_container_is_set_up_removes_it(tmp_path: Path, step: str) -> None:
    """With signals held (as train holds them), a signal during create, attach or start never tears the request:
    the container that step made is known, then removed, and the run comes back interrupted with no state."""
    from paddlectl.foundation.signals import signals

    engine = FakeEngine(script=[b"never shown\n"])
    original_create, original_start = engine.create, engine.start

    def create(container_spec: ContainerSpec):  # type: ignore[no-untyped-def]
        container = original_create(container_spec)
        if step == "create":
            os.kill(os.getpid(), signal.SIGTERM)  # lands while the engine answers the create
        original_stream = container.stream_output

        def stream():  # type: ignore[no-untyped-def]
            if step == "attach":
                os.kill(os.getpid(), signal.SIGTERM)
            return original_stream()

        container.stream_output = stream  # type: ignore[method-assign]
        return container

    def start(container):  # type: ignore[no-untyped-def]
        if step == "start":
            os.kill(os.getpid(), signal.SIGTERM)
        original_start(container)

    engine.create = create  # type: ignore[method-assign]
    engine.start = start  # type: ignore[method-assign]
    with signals.held():
        result = run_container(engine, spec(), log_path=tmp_path / "log")
        signals.consume()
    assert result.interrupted_by == signal.SIGTERM
    assert result.state is None
    [container] = engine.created
    assert container.removed, f"a signal during {step} left the container behind"
    assert engine.live == {}
