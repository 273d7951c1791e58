"""Run a short container to completion and collect its output (runtime probes, export, image checks)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from paddlectl.engine.protocol import ContainerEngine, ContainerSpec


@dataclass(frozen=True)
class OneshotResult:
    exit_code: int
    oom_killed: bool
    output: str


def run_oneshot(engine: ContainerEngine, spec: ContainerSpec, timeout: float | None = None) -> OneshotResult:
    """Create, start, wait for and remove a container; never leaves it behind, even on errors or Ctrl-C."""
    container = engine.create(spec)
    try:
        engine.start(container)
        state = container.wait(timeout=timeout)
        output = container.output().decode("utf-8", errors="replace")
        return OneshotResult(exit_code=state.exit_code or 0, oom_killed=state.oom_killed, output=output)
    finally:
        with contextlib.suppress(Exception):
            container.remove()
