"""What paddlectl created and nobody will remove: containers and build stages, found by label once their owner is gone.

Every container and image stage paddlectl makes carries `io.paddlectl.kind` (foundation/names.py). A leftover is:
- run: a run container of this project whose run has ended, or whose folder is gone (the run's CLI, or
  reconciliation, removes the container of a run it settles; this catches the rest);
- probe, export, image-probe (one-shot containers) of this project, or of none: their owner, the CLI named by
  `io.paddlectl.owner` (host:pid), is no longer alive on this host; probes made before owner labels: ended over
  two minutes ago. Another project's are its own CLIs' to reap (its gc may be looking at them). A detached
  run's probe (no owner, labelled with the run): its run has ended (settling the run reads and removes it);
- dev: this project's dev container once it no longer runs (`paddlectl dev --stop` removes a running one);
- build: this project's untagged stage images (every Dockerfile stage is labelled `io.paddlectl.stage` and the
  project): the classic builder keeps a multi-stage build's first stage, an interrupted build every finished step;
  left alone while a build of the project holds its build lock (its steps stand on them). The daemon itself
  removes the step containers of a build whose client went away.
On a remote engine, which other clients share, only run containers labelled with this store (`io.paddlectl.store`)
and one-shots owned by this machine's CLIs count; dev containers and builds are local matters.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from paddlectl.engine.protocol import Container, ContainerEngine
from paddlectl.errors import PaddlectlError
from paddlectl.foundation import clock
from paddlectl.foundation.locks import is_locked
from paddlectl.foundation.names import (
    FOR_RUN_LABEL,
    KIND_BUILD,
    KIND_DEV,
    KIND_LABEL,
    KIND_PROBE,
    KIND_RUN,
    ONE_SHOT_KINDS,
    OWNER_LABEL,
    PROBE_LABEL,
    PROJECT_LABEL,
    RUN_LABEL,
    STAGE_LABEL,
    STORE_LABEL,
    parse_owner,
    store_value,
)
from paddlectl.runs.index import RowStatus
from paddlectl.runs.reconcile import owner_process_alive
from paddlectl.runs.store import RunPaths, RunStore

LEGACY_PROBE_AGE_SECONDS = 120.0
STOP_GRACE_SECONDS = 10


@dataclass(frozen=True)
class Leftover:
    kind: str  # run, probe, export, image-probe, dev, build
    what: str  # container or image
    id: str
    why: str
    run: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_leftovers(
    store: RunStore,
    project_name: str,
    engine: ContainerEngine,
    build_lock: Path,
    run_status: Callable[[RunPaths], RowStatus],
) -> list[Leftover]:
    """Every leftover of this project, and the one-shot containers of no project whose owner is gone."""
    found = [
        *_run_containers(store, project_name, engine, run_status),
        *_run_probes(store, project_name, engine, run_status),
        *one_shot_leftovers(engine, project_name),
    ]
    if engine.host.remote:
        return found
    ours = store_value(store.runs_dir.parent)  # a namesake project's dev containers and build stages are not ours
    for container in engine.containers({KIND_LABEL: KIND_DEV, PROJECT_LABEL: project_name, STORE_LABEL: ours}):
        if not container.state().running:
            found.append(Leftover(KIND_DEV, "container", container.id, "dev container stopped"))
    if not is_locked(build_lock):
        stages = {STAGE_LABEL: None, PROJECT_LABEL: project_name, STORE_LABEL: ours}
        for image in engine.list_images(stages, dangling=True):
            stage = image.labels.get(STAGE_LABEL, "?")
            found.append(Leftover(KIND_BUILD, "image", image.id, f"untagged {stage} stage of a build"))
    return found


def one_shot_leftovers(engine: ContainerEngine, project_name: str) -> list[Leftover]:
    """This project's (or no project's) probe, export and image-probe containers whose owning CLI is gone."""
    found = []
    for kind in ONE_SHOT_KINDS:
        for container in engine.containers({KIND_LABEL: kind}):
            if container.labels.get(PROJECT_LABEL, project_name) != project_name:
                continue
            owner = parse_owner(container.labels.get(OWNER_LABEL))
            if owner is None or owner[0] != socket.gethostname() or owner_process_alive(owner[1], owner[0]):
                continue  # another host's, or alive: not ours to judge
            found.append(Leftover(kind, "container", container.id, f"its CLI (pid {owner[1]}) is gone"))
    for container in engine.containers({PROBE_LABEL: "1"}):  # probes made before kinds and owners
        if KIND_LABEL not in container.labels and _ended_long_ago(container):
            found.append(Leftover("probe", "container", container.id, "probe ended long ago"))
    return found


def remove_leftover(engine: ContainerEngine, leftover: Leftover) -> None:
    """Remove one leftover; a container still running is stopped first (a one-shot whose owner died)."""
    if leftover.what == "image":
        engine.remove_image(leftover.id)
        return
    container = engine.container(leftover.id)
    if container is None:
        return
    if container.state().running and leftover.kind == KIND_RUN:
        container.stop(STOP_GRACE_SECONDS)
    container.remove()


def reap_one_shots(engine: ContainerEngine, project_name: str) -> list[str]:
    """Remove this project's one-shot containers whose CLI is gone; return their ids (gc reports any error)."""
    removed = []
    for leftover in one_shot_leftovers(engine, project_name):
        with contextlib.suppress(PaddlectlError):
            remove_leftover(engine, leftover)
            removed.append(leftover.id)
    return removed


def _run_containers(
    store: RunStore, project_name: str, engine: ContainerEngine, run_status: Callable[[RunPaths], RowStatus]
) -> list[Leftover]:
    found, ours = [], store_value(store.runs_dir.parent)
    for container in engine.containers({PROJECT_LABEL: project_name}):
        run_id = container.labels.get(RUN_LABEL)
        if not run_id or container.labels.get(KIND_LABEL, KIND_RUN) != KIND_RUN:
            continue
        if not _recorded_here(store, ours, container.labels, run_id, engine.host.remote):
            continue
        why = _why_run_is_over(store, run_id, run_status)
        if why is not None:
            found.append(Leftover(KIND_RUN, "container", container.id, why, run_id))
    return found


def _run_probes(
    store: RunStore, project_name: str, engine: ContainerEngine, run_status: Callable[[RunPaths], RowStatus]
) -> list[Leftover]:
    """Probes started beside a detached run that its settlement did not collect (it found one still probing)."""
    found, ours = [], store_value(store.runs_dir.parent)
    for container in engine.containers({KIND_LABEL: KIND_PROBE, PROJECT_LABEL: project_name}):
        run_id = container.labels.get(FOR_RUN_LABEL)
        if not run_id or OWNER_LABEL in container.labels:
            continue  # an owned one-shot: one_shot_leftovers judges it by its owner
        if not _recorded_here(store, ours, container.labels, run_id, engine.host.remote):
            continue
        why = _why_run_is_over(store, run_id, run_status)
        if why is not None:
            found.append(Leftover(KIND_PROBE, "container", container.id, f"probe of a detached run: {why}", run_id))
    return found


def _recorded_here(store: RunStore, ours: str, labels: Mapping[str, str], run_id: str, remote: bool) -> bool:
    """Whether the container works for a run of this store, so gc may judge it: its store label says so.

    Another project can share the name (every copy of an example is `digits`) and the engine, and its running
    containers must never look like ours with their run folder gone. A local container made before store labels
    counts as ours only while its run folder is here; on a remote engine (many clients) only a label counts.
    """
    label = labels.get(STORE_LABEL)
    if label is not None:
        return label == ours
    if remote:
        return False
    paths = store.paths(run_id)
    return "/" not in run_id and not run_id.startswith(".") and paths.root.is_dir()


def _why_run_is_over(store: RunStore, run_id: str, run_status: Callable[[RunPaths], RowStatus]) -> str | None:
    """Why a container working for `run_id` is left over ("run failed", "run folder gone"), or None (it runs)."""
    paths = store.paths(run_id)
    if "/" in run_id or run_id.startswith(".") or not paths.root.is_dir():
        return "run folder gone"
    status = run_status(paths)
    return f"run {status.value}" if status.ended else None


def _ended_long_ago(container: Container) -> bool:
    state = container.state()
    finished = clock.parse_utc(state.finished_at)
    if state.running or finished is None:
        return False
    return (clock.now() - finished).total_seconds() >= LEGACY_PROBE_AGE_SECONDS
