"""Run a short container to completion and collect its output (runtime probes, export, image checks).

The container carries the kind's labels and its owner (this process, `host:pid`), so one left behind by a CLI that
was killed with SIGKILL is found and removed by `runs gc` and the reapers once its owner is gone. On a remote engine
its mounts of local paths are shipped instead (engine/shipping.py): sent in before start, and the writable folders
fetched back after it ended, before it is removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from paddlectl.engine.protocol import ContainerEngine, ContainerSpec
from paddlectl.engine.shipping import download, owner_of, shipment_for, upload
from paddlectl.foundation.names import KIND_LABEL, OWNER_LABEL, PROJECT_LABEL, owner_value
from paddlectl.foundation.signals import signals


@dataclass(frozen=True)
class OneshotResult:
    exit_code: int
    oom_killed: bool
    output: str


def read_marked_json(output: str, marker: str) -> dict[str, Any] | None:
    """The JSON object on the last output line starting with `marker` (how in-container probes answer), or None."""
    for line in reversed(output.splitlines()):
        if line.startswith(marker):
            try:
                found = json.loads(line[len(marker) :])
            except ValueError:
                return None
            return found if isinstance(found, dict) else None
    return None


def run_oneshot(
    engine: ContainerEngine,
    spec: ContainerSpec,
    kind: str,
    timeout: float | None = None,
    project: str | None = None,
    trees: Mapping[str, Iterable[str]] | None = None,
) -> OneshotResult:
    """Create, start, wait for and remove a container; never leaves it behind, on errors and stop signals too.

    `project` labels the container with the project it works for, so only that project's CLIs reap it once its
    owner is gone (a one-shot of no project may be reaped by any).

    Creating, starting, uploading and fetching happen with stop signals held (a request cut in two can leave a
    container the client never heard of); the wait may be cut short by one, which then propagates as Interrupted
    once the container is removed. `trees`: on a remote engine, the only files to send of a mounted folder.
    """
    labels = {**spec.labels, KIND_LABEL: kind, OWNER_LABEL: owner_value()}
    if project is not None:
        labels[PROJECT_LABEL] = project
    labelled = dataclasses.replace(spec, labels=labels)
    shipment = shipment_for(labelled, trees=trees) if engine.host.remote else None
    with signals.held():
        container = engine.create(shipment.spec if shipment is not None else labelled)
        try:
            signals.phase(f"{kind}-created")
            if shipment is not None:
                upload(container, shipment.uploads, owner_of(labelled.user))
            signals.checkpoint()
            engine.start(container)
            signals.phase(f"{kind}-started")
            with signals.interruptible():
                state = container.wait(timeout=timeout)
            for item in shipment.downloads if shipment is not None else ():
                download(container, item)
            output = container.output().decode("utf-8", errors="replace")
            return OneshotResult(exit_code=state.exit_code or 0, oom_killed=state.oom_killed, output=output)
        finally:
            with contextlib.suppress(Exception):
                container.remove()
