"""`paddlectl mlflow push`: put one recorded run on an MLflow server, idempotently and resumably.

The MLflow run is found by its `paddlectl.run_id` tag, so pushing twice updates the same run. Every step can be
repeated without changing what the server holds: params are re-sent with the same values (MLflow accepts that),
tags are overwritten, identical metric points are stored once, and artifact files are overwritten. Two progress
tags make a repeated or interrupted push cheap: `paddlectl.push.metrics` (`N/TOTAL SHA256`: the first N points of
metrics.jsonl with that digest are on the server; it rides in the same request as the points it counts, after
them) and `paddlectl.push.artifacts` (the digest of every artifact's path and sha256, set once all are up).
Order: points, artifacts, then params and tags with both progress tags in one request, then the status and end
time, so a run whose push was cut short still shows RUNNING on the server.
Nothing local is ever written.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from paddlectl.errors import PaddlectlError
from paddlectl.foundation.hashing import sha256_file
from paddlectl.mlflowapi.artifacts import store_for
from paddlectl.mlflowapi.client import TrackingClient
from paddlectl.runs.manifest import Manifest, RunStatus
from paddlectl.runs.store import RunPaths
from paddlectl.tracking.batches import LogBatch, Metric, Tag, encode, pack
from paddlectl.tracking.config import TrackingTarget
from paddlectl.tracking.record import RUN_ID_TAG, ArtifactFile, RunRecord, artifact_files, load_metrics, run_record

if TYPE_CHECKING:
    from paddlectl.runs.project_runs import ProjectRuns

METRICS_PROGRESS_TAG = "paddlectl.push.metrics"
ARTIFACTS_TAG = "paddlectl.push.artifacts"
PROGRESS_TAGS = frozenset({METRICS_PROGRESS_TAG, ARTIFACTS_TAG})
IN_FLIGHT = 2  # metric batches sent before the oldest must be answered: hides the round trip, uses two workers
_PROGRESS_ROOM = len(encode(Tag(METRICS_PROGRESS_TAG, f"{10**12}/{10**12} {'f' * 64}").as_json())) + 1


@dataclass
class MlflowRun:
    """The server's run for one paddlectl run."""

    run_id: str
    experiment_id: str
    artifact_uri: str
    status: str
    start_time: int
    end_time: int | None
    run_name: str
    tags: dict[str, str]
    created: bool = False

    @classmethod
    def from_json(cls, run: dict[str, Any], created: bool = False) -> MlflowRun:
        info, data = run.get("info") or {}, run.get("data") or {}
        return cls(
            run_id=str(info["run_id"]),
            experiment_id=str(info["experiment_id"]),
            artifact_uri=str(info.get("artifact_uri") or ""),
            status=str(info.get("status") or ""),
            start_time=int(info.get("start_time") or 0),
            end_time=int(info["end_time"]) if info.get("end_time") else None,
            run_name=str(info.get("run_name") or ""),
            tags={str(tag["key"]): str(tag.get("value", "")) for tag in data.get("tags") or []},
            created=created,
        )


@dataclass
class PushResult:
    run_id: str
    mlflow_run_id: str
    experiment_id: str
    url: str
    status: str
    created: bool
    params: int
    tags: int
    points: int
    points_sent: int
    artifacts: int
    artifacts_uploaded: int
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_url(client: TrackingClient, run: MlflowRun) -> str:
    return f"{client.display}/#/experiments/{run.experiment_id}/runs/{run.run_id}"


def find_run(client: TrackingClient, experiment_id: str, run_id: str) -> MlflowRun | None:
    """The active MLflow run tagged with this paddlectl run id; of several (a race), the oldest."""
    runs = [MlflowRun.from_json(run) for run in client.search_runs(experiment_id, _tag_filter(run_id))]
    if not runs:
        return None
    keep = min(runs, key=_age)
    for other in runs:
        if other.run_id != keep.run_id:
            client.delete_run(other.run_id)  # a duplicate from a concurrent first push: everyone keeps the oldest
    return keep


def find_or_create_run(client: TrackingClient, experiment_id: str, record: RunRecord) -> MlflowRun:
    """The MLflow run for `record`, created when there is none.

    Two first pushes at once (a live run and a manual push) may both create one; both then look again and keep
    the oldest, deleting the other, so one MLflow run remains.
    """
    found = find_run(client, experiment_id, record.run_id)
    if found is not None:
        return found
    tags = [{"key": RUN_ID_TAG, "value": record.run_id}, {"key": "mlflow.runName", "value": record.run_name}]
    created = MlflowRun.from_json(client.create_run(experiment_id, record.start_time, record.run_name, tags), True)
    winner = find_run(client, experiment_id, record.run_id)
    if winner is None or winner.run_id == created.run_id:
        return created
    return winner


def _tag_filter(run_id: str) -> str:
    return f"tags.`{RUN_ID_TAG}` = '{run_id}'"


def _age(run: MlflowRun) -> tuple[int, str]:
    return run.start_time, run.run_id


class RunPusher:
    """Pushes one run's record, points and artifacts to an MLflow run; each step may be repeated safely."""

    def __init__(
        self,
        client: TrackingClient,
        paths: RunPaths,
        manifest: Manifest,
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.client = client
        self.paths = paths
        self.manifest = manifest
        self.record = run_record(manifest)
        self.metrics = load_metrics(paths, self.record.warnings)
        self.on_batch = on_batch  # called with the number of points in each batch sent (progress display)

    def push(
        self,
        experiment: str,
        *,
        run: MlflowRun | None = None,
        already_sent: Collection[Metric] = (),
        uploaded: dict[str, str] | None = None,
    ) -> PushResult:
        """Push everything. Live tracking knows more: `run` skips the lookup, `already_sent` skips those points,
        and `uploaded` (path -> sha256 of what this process put in this MLflow run, updated here) skips files."""
        client, record = self.client, self.record
        if run is None:
            run = find_or_create_run(client, client.ensure_experiment(experiment), record)
        sent, metrics_done = self.send_metrics(run, already_sent)
        files = artifact_files(self.paths, self.manifest, record)
        copied, artifacts_done = self.send_artifacts(run, files, uploaded)
        # One request for params, tags and both progress tags (they claim only what was answered above).
        self.send_record(run, closing=[tag for tag in (metrics_done, artifacts_done) if tag is not None])
        if (run.status, run.end_time, run.run_name) != (record.status, record.end_time, record.run_name):
            client.update_run(run.run_id, record.status, record.end_time, record.run_name)
        return PushResult(
            run_id=record.run_id,
            mlflow_run_id=run.run_id,
            experiment_id=run.experiment_id,
            url=run_url(client, run),
            status=record.status,
            created=run.created,
            params=len(record.params),
            tags=len(record.tags),
            points=len(self.metrics),
            points_sent=sent,
            artifacts=len(files),
            artifacts_uploaded=copied,
            warnings=list(record.warnings),
        )

    def send_record(self, run: MlflowRun, closing: Sequence[Tag] = ()) -> None:
        """Params and tags, then `closing` tags (in the last request): one request for most runs. Tags the run
        no longer has under `paddlectl.` are deleted first."""
        record = self.record
        current = {tag.key for tag in record.tags}
        for key in sorted(run.tags):
            if key.startswith("paddlectl.") and key not in current and key not in PROGRESS_TAGS:
                self.client.delete_tag(run.run_id, key)
                del run.tags[key]
        for batch in pack(run.run_id, [*record.params, *record.tags, *closing]):
            self.client.log_batch(batch.body())
        run.tags.update({tag.key: tag.value for tag in [*record.tags, *closing]})

    def metrics_digest(self) -> str:
        return sha256_file(self.paths.metrics) if self.paths.metrics.is_file() else hashlib.sha256(b"").hexdigest()

    def send_metrics(self, run: MlflowRun, already_sent: Collection[Metric] = ()) -> tuple[int, Tag | None]:
        """Send the points the server may lack, two requests in flight; return how many were sent, and the
        progress tag that says all are there (None when the server has it already) for the caller to send.

        Each batch carries the progress tag, claiming only the points whose batches were answered before it was
        sent: whatever order the server commits two batches in, a claim is never ahead of what it holds.
        """
        from concurrent.futures import Future, ThreadPoolExecutor

        points, digest = self.metrics, self.metrics_digest()
        total = len(points)
        confirmed = _resume_from(run.tags.get(METRICS_PROGRESS_TAG), digest, total)
        skip = already_sent if isinstance(already_sent, set | frozenset) else set(already_sent)
        pending = [(index, point) for index, point in enumerate(points[confirmed:], confirmed) if point not in skip]
        in_flight: deque[tuple[Future[None], int, int]] = deque()
        sent = 0

        def settle_oldest() -> None:
            nonlocal confirmed, sent
            future, end, count = in_flight.popleft()
            future.result()
            confirmed, sent = end, sent + count
            if self.on_batch is not None:
                self.on_batch(count)

        with ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="paddlectl-push") as pool:
            try:
                for batch, end in _metric_batches(run.run_id, pending):
                    batch.add_reserved(Tag(METRICS_PROGRESS_TAG, f"{confirmed}/{total} {digest}"))
                    in_flight.append((pool.submit(self.client.log_batch, batch.body()), end, batch.count("metrics")))
                    if len(in_flight) >= IN_FLIGHT:
                        settle_oldest()
                while in_flight:
                    settle_oldest()
            finally:
                for future, _, _ in in_flight:
                    future.cancel()
        done = f"{total}/{total} {digest}"
        if sent or run.tags.get(METRICS_PROGRESS_TAG) != done:
            return sent, Tag(METRICS_PROGRESS_TAG, done)
        return sent, None

    def send_artifacts(
        self, run: MlflowRun, files: Sequence[ArtifactFile], uploaded: dict[str, str] | None = None
    ) -> tuple[int, Tag | None]:
        """Upload the files unless the server's artifact digest says it has exactly these (and, with `uploaded`,
        skip those this process already put there); return how many, and the digest tag to send once all are up
        (None when the server had them)."""
        contents = {item.path: file_digest(item) for item in files}
        digest = artifacts_digest(contents)
        if run.tags.get(ARTIFACTS_TAG) == digest:
            return 0, None
        if not run.artifact_uri:
            raise PaddlectlError(f"the MLflow run {run.run_id} has no artifact location on {self.client.display}")
        store = store_for(run.artifact_uri, self.client)
        count = 0
        for item in files:
            if uploaded is not None and uploaded.get(item.path) == contents[item.path]:
                continue
            store.upload(item.source, item.path)
            count += 1
            if uploaded is not None:
                uploaded[item.path] = contents[item.path]
        return count, Tag(ARTIFACTS_TAG, digest)


def file_digest(item: ArtifactFile) -> str:
    return hashlib.sha256(item.source).hexdigest() if isinstance(item.source, bytes) else sha256_file(item.source)


def artifacts_digest(contents: Mapping[str, str]) -> str:
    """sha256 over `path sha256` lines of every file (path order): equal digests, equal artifacts."""
    digest = hashlib.sha256()
    for path in sorted(contents):
        digest.update(f"{path}\t{contents[path]}\n".encode())
    return digest.hexdigest()


def _resume_from(progress: str | None, digest: str, total: int) -> int:
    """How many leading points the server already has by the progress tag (0 when it is for another file)."""
    if not progress:
        return 0
    counts, _, tagged = progress.partition(" ")
    done, _, _ = counts.partition("/")
    if tagged != digest or not done.isdigit():
        return 0
    return min(int(done), total)


def _metric_batches(run_id: str, pending: list[tuple[int, Metric]]) -> Iterator[tuple[LogBatch, int]]:
    """Full batches of points, with room kept for the progress tag; each with the index after its last point.

    Lazy: a batch is built only when the previous one has been handed over, so its claim can be up to date.
    """
    batch = LogBatch(run_id, reserve_tags=1, reserve_bytes=_PROGRESS_ROOM)
    end = 0
    for index, point in pending:
        if not batch.add(point):
            yield batch, end
            batch = LogBatch(run_id, reserve_tags=1, reserve_bytes=_PROGRESS_ROOM)
            if not batch.add(point):
                raise ValueError(f"metric {point.key} is too big for one MLflow request")
        end = index + 1
    if len(batch):
        yield batch, end


@dataclass
class PushReport:
    target: TrackingTarget
    results: list[PushResult]
    warnings: list[str]


def push_runs(
    project_runs: ProjectRuns,
    runs: Sequence[str],
    target: TrackingTarget,
    *,
    environ: Mapping[str, str] | None = None,
) -> PushReport:
    """Push each RUN (id, prefix, name, `last`) to `target`, in order; stops at the first error, which it raises.

    A run still marked running whose paddlectl process is gone is settled first (ProjectRuns does that); one
    that is really running is pushed as RUNNING (push it again when it has ended).
    """
    chosen: list[RunPaths] = []
    for spec in runs:
        paths = project_runs.resolve(spec)
        if paths not in chosen:
            chosen.append(paths)
    warnings: list[str] = []
    results = []
    client = TrackingClient(target.uri, environ=environ)
    try:
        for paths in chosen:
            manifest = project_runs.read(paths.run_id)
            if manifest.status is RunStatus.RUNNING:
                warnings.append(f"run {paths.run_id} is still running: pushed as RUNNING; push it again when it ends")
            results.append(RunPusher(client, paths, manifest).push(target.experiment))
    finally:
        client.close()
    return PushReport(target, results, warnings)
