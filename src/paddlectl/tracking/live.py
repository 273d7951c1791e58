"""`paddlectl train --mlflow`: the run on an MLflow server while it trains, from the CLI process.

The CLI already parses metric points out of the log; `metrics()` puts them on a queue and returns (a deque
append: the log stream never waits on the network). A background thread creates the MLflow run as soon as the
run starts (params, tags, status RUNNING), then every second sends what the queue and the in-container helper's
file (container/metrics.jsonl, read incrementally) gave since, in batches. Once the run's end is recorded
(`finished`, called by train while the container is being removed) the thread pushes the complete record as
`mlflow push` would (metrics.jsonl, status, end time, artifacts), skipping the points the server already has;
the CLI's `finish` waits for it within a time budget.

A slow or dead server costs training nothing: requests have short timeouts and no retries while the run goes on,
failures are warned about once and retried every few seconds, and points that could not be sent (or overflowed
the queue) are simply sent at the end, from metrics.jsonl, or by a later `paddlectl mlflow push`. Nothing here
raises into the run.

Known limit: when a script logs a metric with the helper under a name the log parser also found, paddlectl's
record keeps the helper's series only. Log points of that name sent live before the helper's first point are
then on the server too (MLflow cannot delete metric points); `finish` says so in a warning.
"""

from __future__ import annotations

import copy
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from paddlectl.errors import PaddlectlError
from paddlectl.mlflowapi.client import TrackingClient
from paddlectl.runs.manifest import Manifest, RunStatus
from paddlectl.runs.metrics import MetricPoint, read_helper_points
from paddlectl.runs.store import RunPaths, RunStore
from paddlectl.tracking.batches import Metric, pack, valid_key
from paddlectl.tracking.config import TrackingTarget
from paddlectl.tracking.push import MlflowRun, PushResult, RunPusher, find_or_create_run, run_url
from paddlectl.tracking.record import to_metric

SEND_INTERVAL = 1.0
RETRY_AFTER = 5.0
LIVE_TIMEOUT = 10.0  # seconds per request while the run goes on
FINISH_SECONDS = 30.0
QUEUE_LIMIT = 200_000  # points held for sending; beyond that they wait for the final push (metrics.jsonl)

Notify = Callable[[str], None]


class LiveTracking:
    """Mirrors one attached run on an MLflow server; implements train's RunObserver (started, metrics)."""

    def __init__(
        self,
        target: TrackingTarget,
        *,
        on_status: Notify,
        on_warning: Notify,
        environ: Mapping[str, str] | None = None,
        interval: float = SEND_INTERVAL,
        finish_seconds: float = FINISH_SECONDS,
        queue_limit: int = QUEUE_LIMIT,
    ) -> None:
        self.target = target
        self._on_status, self._on_warning = on_status, on_warning
        self._environ = environ
        self._interval, self._finish_seconds, self._queue_limit = interval, finish_seconds, queue_limit
        self._queue: deque[MetricPoint] = deque()
        self._overflowed = False
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._finals: queue.SimpleQueue[Manifest | None] = queue.SimpleQueue()  # None: no more
        self._last_final: dict[str, Any] | None = None
        self._paths: RunPaths | None = None
        self._snapshot: Manifest | None = None
        # Only the sender thread touches what follows.
        self.mlflow_run: MlflowRun | None = None
        self.sent: set[Metric] = set()
        self._pending: list[Metric] = []
        self._positions: dict[str, int] = {}
        self._helper_offset = 0
        self._helper_names: set[str] = set()
        self._warned = False
        self._final_failed = False
        self.uploaded: dict[str, str] = {}  # artifact path -> sha256 this process put into the MLflow run

    # ---- train's RunObserver: every call returns at once ------------------------------------------------

    def started(self, manifest: Manifest, paths: RunPaths) -> None:
        self._paths = paths
        self._snapshot = Manifest.from_dict(copy.deepcopy(manifest.to_dict()))  # train goes on changing its own
        self._thread = threading.Thread(target=self._run, name="paddlectl-mlflow", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        """Points waiting for the sender thread."""
        return len(self._queue)

    def metrics(self, points: list[MetricPoint]) -> None:
        if len(self._queue) + len(points) <= self._queue_limit:
            self._queue.extend(points)
        else:
            self._overflowed = True  # these reach the server with the final push, from metrics.jsonl

    def finished(self, manifest: Manifest) -> None:
        """The run's end is recorded: the final push starts in the background (while train removes the container)."""
        if self._thread is None:
            return
        document = manifest.to_dict()
        self._last_final = document
        self._finals.put(Manifest.from_dict(copy.deepcopy(document)))
        self._stop.set()

    # ---- the end, called by the CLI --------------------------------------------------------------------

    def finish(self, manifest: Manifest) -> None:
        """Wait for the final push, at most `finish_seconds`; never raises.

        `manifest` is the run's last record: when train wrote it again after `finished` (the runtime probe of a
        first run on an image), it is pushed too, with only the files that changed.
        """
        if self._thread is None or self._paths is None:
            return
        if self._last_final != manifest.to_dict():
            self.finished(manifest)
        self._finals.put(None)
        run_id = self._paths.run_id
        try:
            finished = self._done.wait(self._finish_seconds)
        except KeyboardInterrupt:
            self._on_warning(f"mlflow: interrupted; the rest reaches the server with 'paddlectl mlflow push {run_id}'")
            return
        if not finished:
            self._on_warning(
                f"mlflow: the server did not take the run's record within {self._finish_seconds:g} s; "
                f"the rest reaches it with 'paddlectl mlflow push {run_id}'"
            )

    def abandon(self) -> None:
        """The train command failed: finish with the recorded manifest if the run ended, else stop sending."""
        if self._thread is None or self._paths is None:
            return
        stored = RunStore.load(self._paths)
        if stored.manifest is not None and stored.manifest.status is not RunStatus.RUNNING:
            self.finish(stored.manifest)
            return
        self._stop.set()
        self._finals.put(None)
        self._on_warning(
            f"mlflow: run {self._paths.run_id} stays RUNNING on the server until it is settled here; "
            f"then 'paddlectl mlflow push {self._paths.run_id}'"
        )

    # ---- the sender thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        client = TrackingClient(self.target.uri, environ=self._environ, timeout=LIVE_TIMEOUT, retries=0)
        try:
            self._send_while_running(client)
            client.retries = 2
            last: tuple[RunPusher, PushResult] | None = None
            late = 0
            while (final := self._finals.get()) is not None:
                pushed = self._push_final(client, final)
                if pushed is not None:
                    last, late = pushed, late + pushed[1].points_sent
            if last is not None:
                self._report(*last, late)
        except Exception as error:  # a bug must not end the training run: say it, and leave the rest to push
            self._on_warning(f"mlflow: live tracking stopped: {type(error).__name__}: {error}")
        finally:
            client.close()
            self._done.set()

    def _send_while_running(self, client: TrackingClient) -> None:
        retry_at = 0.0
        while True:
            stopping = self._stop.is_set()
            if time.monotonic() >= retry_at:
                try:
                    if self.mlflow_run is None:
                        self._open(client)
                    self._send_new_points(client)
                except PaddlectlError as error:
                    retry_at = time.monotonic() + RETRY_AFTER
                    self._warn_unreachable(error)
            if stopping:
                return
            self._stop.wait(self._interval)

    def _open(self, client: TrackingClient) -> None:
        assert self._paths is not None and self._snapshot is not None
        pusher = RunPusher(client, self._paths, self._snapshot)
        run = find_or_create_run(client, client.ensure_experiment(self.target.experiment), pusher.record)
        pusher.send_record(run)
        self.mlflow_run = run
        self._on_status(f"mlflow: run {self._paths.run_id} is live at {run_url(client, run)}")

    def _send_new_points(self, client: TrackingClient) -> None:
        assert self._paths is not None and self.mlflow_run is not None
        helper, self._helper_offset, _ = read_helper_points(self._paths.helper_metrics, self._helper_offset)
        self._helper_names.update(point.name for point in helper)
        parsed = []
        while self._queue:
            parsed.append(self._queue.popleft())
        for point in [*parsed, *helper]:
            position = self._positions.get(point.name, 0)
            self._positions[point.name] = position + 1
            if point.source == "log" and point.name in self._helper_names:
                continue  # the script logs this one itself: paddlectl's record keeps the script's series
            if valid_key(point.name):
                self._pending.append(to_metric(point, position))
        if len(self._pending) > self._queue_limit:
            del self._pending[: len(self._pending) - self._queue_limit]  # sent at the end from metrics.jsonl
            self._overflowed = True
        while self._pending:
            batch = next(pack(self.mlflow_run.run_id, self._pending))
            client.log_batch(batch.body())
            count = batch.count("metrics")
            self.sent.update(self._pending[:count])
            del self._pending[:count]

    def _warn_unreachable(self, error: PaddlectlError) -> None:
        if self._warned:
            return
        self._warned = True
        run_id = self._paths.run_id if self._paths else "RUN"
        self._on_warning(
            f"mlflow: {error.message}; training goes on, and what was not sent goes at the end "
            f"or with 'paddlectl mlflow push {run_id}'"
        )

    def _push_final(self, client: TrackingClient, manifest: Manifest) -> tuple[RunPusher, PushResult] | None:
        assert self._paths is not None
        try:
            pusher = RunPusher(client, self._paths, manifest)
            result = pusher.push(
                self.target.experiment, run=self.mlflow_run, already_sent=self.sent, uploaded=self.uploaded
            )
        except PaddlectlError as error:
            if not self._final_failed:  # one line, also when the record was written (and pushed) twice
                self._final_failed = True
                self._on_warning(
                    f"mlflow: {error.message}; the run is recorded here: push it later with "
                    f"'paddlectl mlflow push {self._paths.run_id}'"
                )
            return None
        return pusher, result

    def _report(self, pusher: RunPusher, result: PushResult, late: int) -> None:
        for warning in result.warnings:
            self._on_warning(f"mlflow: {warning}")
        extra = self.sent - set(pusher.metrics)
        if extra:
            names = ", ".join(sorted({point.key for point in extra}))
            self._on_warning(
                f"mlflow: {len(extra)} point(s) of {names} parsed from the log were sent live before the script "
                f"logged the same metric itself; the server keeps them, paddlectl's record keeps the script's"
            )
        note = f"; {late:,} came only now (the live queue was full)" if self._overflowed else ""
        self._on_status(
            f"mlflow: run {result.run_id} is {result.status} at {result.url} "
            f"({result.points:,} metric points, {result.artifacts} artifacts{note})"
        )
