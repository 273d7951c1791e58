"""Operations that change runs: stop a run's container, remove runs, collect garbage (old runs, orphaned containers)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from paddlectl.errors import ExitCode, PaddlectlError, UsageError
from paddlectl.foundation import clock
from paddlectl.foundation.names import RUN_LABEL
from paddlectl.runs.index import ENDED_STATUSES, RowStatus, RunIndex
from paddlectl.runs.project_runs import ProjectRuns
from paddlectl.runs.query import parse_statuses, resolve_run

if TYPE_CHECKING:
    from paddlectl.engine.protocol import Container, ContainerEngine, EngineFactory
    from paddlectl.runs.run_engines import RunEngines
    from paddlectl.runs.store import RunPaths, RunStore

STOP_GRACE_SECONDS = 10
DEFAULT_GC_STATUSES = ENDED_STATUSES - {RowStatus.SUCCEEDED}  # what gc considers when --status is not given


def run_status(paths: RunPaths) -> RowStatus:
    """The status a run's manifest records, or `bad` when it cannot be read."""
    from paddlectl.runs.store import RunStore

    stored = RunStore.load(paths)
    return RowStatus(stored.manifest.status.value) if stored.manifest is not None else RowStatus.BAD


def gc_statuses(values: Iterable[str]) -> frozenset[RowStatus]:
    """The statuses `runs gc --status` names; UsageError for one gc never removes (running, bad)."""
    statuses = parse_statuses(values)
    if RowStatus.RUNNING in statuses or RowStatus.BAD in statuses:
        raise UsageError("gc only removes ended runs", hint="use 'paddlectl runs rm RUN' (with --force if running)")
    return statuses


def _discard(paths: RunPaths) -> None:
    """Delete a run folder (and its private files, if any); renamed to a hidden name first so no reader ever sees
    half a run.

    Raises FileNotFoundError when it is already gone, PaddlectlError when it cannot be moved (permissions).
    """
    from paddlectl.runs.private_files import private_files_of
    from paddlectl.runs.store import RunStore

    stored = RunStore.load(paths)
    private = private_files_of(stored.manifest.container.private_dir) if stored.manifest is not None else None
    if private is not None:
        private.remove()
    hidden = paths.root.with_name(f".deleting-{paths.run_id}-{secrets.token_hex(3)}")
    try:
        os.replace(paths.root, hidden)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise PaddlectlError(
            f"cannot remove run {paths.run_id}: {exc.strerror}", hint=f"check the permissions of {paths.root.parent}"
        ) from exc
    shutil.rmtree(hidden, ignore_errors=True)


def _settle_container(container: Container, grace_seconds: int) -> None:
    if container.state().running:
        container.stop(grace_seconds)
    container.remove()


# ---- stop -------------------------------------------------------------------------------------------------


@dataclass
class StopResult:
    run: str
    status: str
    stopped: list[str] = field(default_factory=list)  # container ids asked to stop
    already_stopped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def stop_run(
    store: RunStore, target: str, engine_factory: EngineFactory, grace_seconds: int = STOP_GRACE_SECONDS
) -> StopResult:
    """Stop the containers labelled with a run marked running; the run's owner or reconciliation records it.

    The request is written into the run folder first, so whoever settles the run records it `interrupted`
    ("stopped by paddlectl runs stop"), not failed with the stopped container's exit code.
    Raises UsageError when the run is not marked running (the engine is not contacted then).
    """
    from paddlectl.foundation.atomic import write_atomic
    from paddlectl.runs.run_engines import RunEngines
    from paddlectl.runs.store import RunStore

    paths = resolve_run(store, target)
    status = run_status(paths)
    if status is not RowStatus.RUNNING:
        raise UsageError(f"run {paths.run_id} is not running ({status})", hint="nothing to stop")
    result = StopResult(paths.run_id, status)
    manifest = RunStore.load(paths).manifest
    engines = RunEngines.of(engine_factory)
    engine = engines.for_manifest(manifest) if manifest is not None else engines()  # the run's own host
    try:
        write_atomic(paths.stop_request, f"by {_user()}@{socket.gethostname()}\n")
    except OSError as exc:
        raise PaddlectlError(
            f"cannot record the stop request in {paths.root}: {exc.strerror}",
            hint="fix the permissions of the run folder",
            code=ExitCode.IO,
        ) from exc
    for container in engine.containers({RUN_LABEL: paths.run_id}):
        if container.state().running:
            container.stop(grace_seconds)
            result.stopped.append(container.id)
        else:
            result.already_stopped.append(container.id)
    return result


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


# ---- rm ---------------------------------------------------------------------------------------------------


@dataclass
class RemovedRun:
    id: str
    status: str
    path: str
    containers: list[str] = field(default_factory=list)
    warning: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def remove_runs(
    store: RunStore,
    targets: list[str],
    *,
    force: bool = False,
    dry_run: bool = False,
    engine_factory: EngineFactory | None = None,
) -> list[RemovedRun]:
    """Remove run folders (all targets resolved first); a running run needs `force`, which also removes its container.

    Raises UsageError (exit 2) naming the running runs when `force` is not given; nothing is removed then.
    """
    chosen: dict[str, RunPaths] = {}
    for target in targets:
        paths = resolve_run(store, target)
        chosen.setdefault(paths.run_id, paths)
    plan = [RemovedRun(run_id, run_status(paths), str(paths.root)) for run_id, paths in chosen.items()]
    running = [item.id for item in plan if item.status is RowStatus.RUNNING]
    if running and not force:
        raise UsageError(
            f"refusing to remove running run(s): {', '.join(running)}",
            hint=f"stop it first with 'paddlectl runs stop {running[0]}', or pass --force to stop and remove",
        )
    if dry_run:
        return plan
    from paddlectl.runs.run_engines import RunEngines
    from paddlectl.runs.store import RunStore

    engines = RunEngines.of(engine_factory) if engine_factory is not None else None
    for item in plan:
        if force and engines is not None:
            try:
                manifest = RunStore.load(chosen[item.id]).manifest
                engine = engines.for_manifest(manifest) if manifest is not None else engines()
                for container in engine.containers({RUN_LABEL: item.id}):
                    _settle_container(container, STOP_GRACE_SECONDS)
                    item.containers.append(container.id)
            except PaddlectlError as error:  # the folder still goes; `runs gc` removes the container later
                item.warning = f"could not remove the container: {error.message}"
        with contextlib.suppress(FileNotFoundError):  # removed by someone else meanwhile: the result is the same
            _discard(chosen[item.id])
    return plan


# ---- gc ---------------------------------------------------------------------------------------------------


@dataclass
class GcReport:
    """What gc removed (or would remove, in a dry run)."""

    runs: list[dict[str, Any]] = field(default_factory=list)  # id, status, started_at
    containers: list[dict[str, Any]] = field(default_factory=list)  # id, kind, run, why
    images: list[dict[str, Any]] = field(default_factory=list)  # untagged build stages: id, kind, why
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def select_old_runs(
    store: RunStore,
    *,
    keep: int | None,
    older_than: timedelta | None,
    statuses: frozenset[str],
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The ended runs gc deletes, newest first: of each status, those beyond the newest `keep` runs of that status
    (and, with `older_than`, started longer ago than that).

    `keep` counts per status, so ten interrupted runs never push out the only succeeded one. Succeeded runs are
    only selected when `statuses` names them (`--status succeeded` or `ended`): they are the results, and a
    cleanup of failures must not cost one. Runs marked running and unreadable runs are never selected.
    """
    now = now or clock.now()
    eligible = (statuses or DEFAULT_GC_STATUSES) - {RowStatus.RUNNING, RowStatus.BAD}
    newest: Counter[str] = Counter()
    chosen = []
    for entry in reversed(RunIndex.of(store).refresh()):
        if entry.status not in eligible:
            continue
        newest[entry.status] += 1
        if keep is not None and newest[entry.status] <= keep:
            continue
        started = clock.parse_utc(entry.row.get("started_at"))
        if older_than is not None and (started is None or now - started < older_than):
            continue
        chosen.append({"id": entry.id, "status": entry.status, "started_at": entry.row.get("started_at")})
    return chosen


def collect_garbage(
    store: RunStore,
    project_name: str,
    *,
    keep: int | None = None,
    older_than: timedelta | None = None,
    statuses: frozenset[str] = frozenset(),
    dry_run: bool = False,
    engine_factory: EngineFactory | None = None,
    now: datetime | None = None,
    only: Collection[str] | None = None,
) -> GcReport:
    """Remove ended runs selected by keep/age/status, then every leftover container and build stage.

    Without keep, older_than or statuses no run is selected (only leftovers are cleaned; runs/leftovers.py says
    what counts as one). With `only`, a run is removed only if it is also among those ids (what the user confirmed
    from a dry run). The engine being unreachable is a warning.
    """
    from paddlectl.runs.run_engines import RunEngines

    report = GcReport(dry_run=dry_run)
    engines = RunEngines.of(engine_factory) if engine_factory is not None else None
    engine = _default_engine(engines, report) if engines is not None else None
    if engines is not None:
        settlement = ProjectRuns(store, engines).settle_all()  # each run on its own engine
        report.warnings.extend([settlement.warning] if settlement.warning else [])
    if keep is not None or older_than is not None or statuses:
        selected = select_old_runs(store, keep=keep, older_than=older_than, statuses=statuses, now=now)
        report.runs = [item for item in selected if only is None or item["id"] in only]
    for item in report.runs:
        paths = store.paths(item["id"])
        if not run_status(paths).ended:  # it changed under us: leave it
            item["skipped"] = True
            continue
        if not dry_run:
            with contextlib.suppress(FileNotFoundError):  # another gc got there first
                _discard(paths)
    report.runs = [item for item in report.runs if not item.pop("skipped", False)]
    if engine is not None:
        _collect_leftovers(store, project_name, engine, report)
    if engines is not None:
        _collect_remote_leftovers(store, project_name, engines, engine, report)
    return report


def _default_engine(engines: RunEngines, report: GcReport) -> ContainerEngine | None:
    """The project's default engine; None (and a warning) when it is away. A DOCKER_HOST or --host that cannot be
    read is bad input (UsageError), never an engine that is away."""
    try:
        return engines()
    except UsageError:
        raise
    except PaddlectlError as error:
        report.warnings.append(f"containers not checked: {error.message}")
        return None


def _collect_remote_leftovers(
    store: RunStore, project_name: str, engines: RunEngines, default: ContainerEngine | None, report: GcReport
) -> None:
    """Leftovers on every remote host this store's runs ran on (only this store's containers: others share them)."""
    from paddlectl.runs.run_engines import remote_hosts_of

    for record in remote_hosts_of([entry.row for entry in RunIndex.of(store).refresh()]):
        try:
            engine = engines.for_record(record)
        except PaddlectlError as error:
            where = record.get("name") or record.get("url")
            report.warnings.append(f"containers on {where} not checked: {error.message}")
            continue
        if engine is not default:  # DOCKER_HOST may name that host: checked above already
            _collect_leftovers(store, project_name, engine, report)


def _collect_leftovers(store: RunStore, project_name: str, engine: ContainerEngine, report: GcReport) -> None:
    """Every leftover container and build stage (runs/leftovers.py), removed unless this is a dry run."""
    from paddlectl.foundation.names import BUILD_LOCK_NAME
    from paddlectl.runs.leftovers import find_leftovers, remove_leftover

    for leftover in find_leftovers(store, project_name, engine, store.runs_dir.parent / BUILD_LOCK_NAME, run_status):
        if not report.dry_run:
            try:
                remove_leftover(engine, leftover)
            except PaddlectlError as error:
                report.warnings.append(
                    f"could not remove {leftover.kind} {leftover.what} {leftover.id[:12]}: {error.message}"
                )
                continue
        entry = {"id": leftover.id, "kind": leftover.kind, "run": leftover.run, "why": leftover.why}
        (report.images if leftover.what == "image" else report.containers).append(entry)
