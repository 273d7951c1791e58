"""Stop signals (SIGINT, SIGTERM, SIGHUP) for the whole process: raised where that is safe, held where it is not.

`install()` (called once by the CLI's entry point) gives all three one handler. Outside any region a signal raises
`Interrupted` at once, the way Ctrl-C raises KeyboardInterrupt, so every command unwinds through its `finally`
blocks; SIGTERM and SIGHUP included, which would otherwise end the process on the spot.

Code that must not be torn in the middle (creating a container, writing a record) runs under `held()`: a signal
is only recorded there. Inside it, `interruptible()` marks a wait that a signal may cut short (a pull, following a
container, waiting for a probe): a signal held earlier, or one arriving inside, raises `Interrupted` there.
`checkpoint()` raises a held signal at a phase boundary. `killable()` marks a graceful stop: the *next* signal
raises `ForceKill`, so a second Ctrl-C kills at once.

A signal stays pending until the code that caught its exception says it is `handled()` (or `consume()`s every
signal). A handler raises between any two bytecodes, also inside a weakref callback or a `__del__`, where Python
swallows exceptions; a signal whose exception vanished that way is still pending, so the next checkpoint or region
raises it again, and the CLI's entry point exits with its code when the command returns. (Python would also print
the swallowed exception, "Exception ignored in ..." with a traceback: `install()` keeps that quiet for Interrupted,
and only for it.)

Handlers run in the main thread only; in other threads every region is a no-op.

Tests pause a command at named phases with `PADDLECTL_TEST_PAUSE_AT=<phase>[,<phase>...]` (see `phase()`), so that a
signal can be sent at exactly that instant rather than at a lucky one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PAUSE_ENV = "PADDLECTL_TEST_PAUSE_AT"
PAUSE_SECONDS = 60.0


class Interrupted(BaseException):
    """A stop signal arrived. A BaseException, so `except Exception` never swallows it."""

    def __init__(self, signum: int, index: int = 0) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum
        self.index = index  # its position in StopSignals.received

    @property
    def exit_code(self) -> int:
        """128 + the signal number: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP (what shells report)."""
        return 128 + self.signum


class ForceKill(Interrupted):
    """A further stop signal during a graceful stop: kill now."""


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


class _Mode(Enum):
    RAISE = "raise"
    HOLD = "hold"
    KILL = "kill"


class StopSignals:
    """The process's stop-signal state: what arrived, what was raised, and how the current region treats a signal."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._handled = 0  # how many of `received` (the oldest) have been handled
        self._mode = _Mode.RAISE
        self._installed = False

    # ---- set-up ---------------------------------------------------------------------------------------------
    def install(self) -> None:
        """Handle SIGINT, SIGTERM and SIGHUP from now on (main thread only; a second call does nothing)."""
        if self._installed or not _in_main_thread():
            return
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._handle)
        sys.unraisablehook = _quiet_about_interrupts(sys.unraisablehook)
        self._installed = True

    def uninstall(self) -> None:
        """Back to Python's default handlers (tests)."""
        if not self._installed or not _in_main_thread():
            return
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        sys.unraisablehook = sys.__unraisablehook__
        self._installed = False

    def reset(self) -> None:
        """Forget every signal (tests that run several commands in one process)."""
        self.received.clear()
        self._handled = 0
        self._mode = _Mode.RAISE

    # ---- what arrived ---------------------------------------------------------------------------------------
    @property
    def first(self) -> int | None:
        """The first stop signal received, if any."""
        return self.received[0] if self.received else None

    @property
    def pending(self) -> int | None:
        """The oldest signal not handled yet, if any."""
        return self.received[self._handled] if len(self.received) > self._handled else None

    def mark(self) -> int:
        """A position in the signal history, for `consume(since=...)`."""
        return len(self.received)

    def handled(self, interrupt: Interrupted) -> None:
        """The code that caught `interrupt` acts on it: its signal (and any before it) is not raised again."""
        self._handled = max(self._handled, interrupt.index + 1)

    def consume(self, since: int = 0) -> int | None:
        """Mark every signal so far as handled (never raised later); return the first one received since `since`."""
        self._handled = len(self.received)
        return self.received[since] if len(self.received) > since else None

    def silence(self) -> None:
        """From now on only record signals (the process is on its way out, saying why)."""
        self.consume()
        self._mode = _Mode.HOLD

    # ---- regions --------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Record signals without raising; on leaving, a signal still pending is raised (unless consumed)."""
        with self._region(_Mode.HOLD):
            yield
        self._deliver()

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A wait a signal may cut short: a pending signal raises at once, a new one raises where it lands."""
        with self._region(_Mode.RAISE):
            self._deliver()
            yield

    @contextlib.contextmanager
    def killable(self) -> Iterator[None]:
        """A graceful stop: the next signal (one already pending, or a new one) raises ForceKill."""
        with self._region(_Mode.KILL):
            self._deliver()
            yield

    def checkpoint(self) -> None:
        """Raise a held signal now (a phase boundary where stopping is safe)."""
        if _in_main_thread():
            previous, self._mode = self._mode, _Mode.RAISE
            try:
                self._deliver()
            finally:
                self._mode = previous

    def phase(self, name: str) -> None:
        """A named point of a command. Under PADDLECTL_TEST_PAUSE_AT=name, wait here until a signal arrives.

        The pause announces itself on stderr (`paddlectl-test: paused at NAME`) so a test knows when to signal (or
        to kill the process: in a thread other than the main one, only a signal to the process, its death or the
        time limit ends the pause).
        """
        if name not in os.environ.get(PAUSE_ENV, "").split(","):
            return
        sys.stderr.write(f"paddlectl-test: paused at {name}\n")
        sys.stderr.flush()
        deadline = time.monotonic() + PAUSE_SECONDS
        count = len(self.received)
        while len(self.received) == count and time.monotonic() < deadline:
            time.sleep(0.02)  # a signal raises here when the region raises, else it is recorded and we go on

    # ---- internals ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _region(self, mode: _Mode) -> Iterator[None]:
        if not _in_main_thread():
            yield
            return
        previous, self._mode = self._mode, mode
        try:
            yield
        finally:
            self._mode = previous

    def _handle(self, signum: int, frame: object) -> None:
        self.received.append(signum)
        self._deliver()

    def _deliver(self) -> None:
        signum = self.pending
        if signum is None or self._mode is _Mode.HOLD or not _in_main_thread():
            return
        if self._mode is _Mode.KILL:
            raise ForceKill(signum, self._handled)
        raise Interrupted(signum, self._handled)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


signals = StopSignals()
"""The process's one instance."""


def _quiet_about_interrupts(previous: Callable[[Any], object]) -> Callable[[Any], object]:
    """An unraisable-exception hook that says nothing of an Interrupted Python swallowed (it stays pending and is
    raised again; see the module docstring) and hands every other exception to `previous`."""

    def hook(unraisable: Any) -> object:
        if isinstance(unraisable.exc_value, Interrupted):
            return None
        return previous(unraisable)

    return hook
