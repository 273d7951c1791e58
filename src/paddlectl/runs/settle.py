"""A run's outcome from its container's final state: status, exit code, OOM flag, reason and artifacts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from paddlectl.errors import ExitCode
from paddlectl.foundation.signals import signal_name
from paddlectl.runs.manifest import Manifest, RunStatus
from paddlectl.runs.provenance import artifact_records
from paddlectl.runs.store import RunPaths

STOP_REQUEST_REASON = "stopped by paddlectl runs stop"


def settle_from_state(
    manifest: Manifest,
    state: Any,
    interrupted_by: int | None,
    paths: RunPaths,
    secret_values: Sequence[str] = (),
) -> None:
    """Status, exit code, OOM flag and artifacts from the container's final state.

    `interrupted_by` is the stop signal the CLI received; a `runs stop` request (paths.stop_request) also makes
    the run `interrupted`, whatever code the stopped container exited with.
    """
    manifest.owner_pid = None
    manifest.artifacts = artifact_records(paths.outputs)
    manifest.logs.workers = sorted(p.name for p in paths.workers_dir.glob("*")) if paths.workers_dir.is_dir() else []
    if secret_values:
        mask_worker_logs(paths, secret_values)
    if state is not None:
        manifest.exit_code = state.exit_code
        manifest.oom_killed = state.oom_killed
    stop_request = read_stop_request(paths)
    if interrupted_by is not None:
        manifest.status = RunStatus.INTERRUPTED
        manifest.signal = signal_name(interrupted_by)
        manifest.reason = f"stopped by {manifest.signal}"
    elif stop_request is not None:
        manifest.status = RunStatus.INTERRUPTED
        manifest.reason = f"{STOP_REQUEST_REASON} ({stop_request})" if stop_request else STOP_REQUEST_REASON
    elif state is None:
        manifest.status = RunStatus.FAILED
        manifest.reason = "the container's final state is unknown"
    elif state.oom_killed:
        manifest.status = RunStatus.FAILED
        manifest.reason = "OOMKilled: the container ran out of memory (raise --memory)"
    elif state.exit_code == 0:
        manifest.status = RunStatus.SUCCEEDED
    else:
        manifest.status = RunStatus.FAILED
        manifest.reason = f"exited with code {state.exit_code}" + (f": {state.error}" if state.error else "")


def exit_code_for(manifest: Manifest) -> int:
    """The CLI's exit code for a settled run: 0, the script's own code, or 128+n for a signal."""
    if manifest.status is RunStatus.INTERRUPTED:
        codes = {"SIGINT": ExitCode.SIGINT, "SIGTERM": ExitCode.SIGTERM, "SIGHUP": ExitCode.SIGHUP}
        if manifest.signal in codes:
            return int(codes[manifest.signal])
        return manifest.exit_code or int(ExitCode.SIGTERM)  # stopped from outside (runs stop): what it exited with
    if manifest.status is RunStatus.SUCCEEDED:
        return 0
    if manifest.exit_code:
        return manifest.exit_code
    return int(ExitCode.FAILED)


def read_stop_request(paths: RunPaths) -> str | None:
    """Who asked `runs stop` for this run ("" when unknown), or None when nobody did."""
    try:
        return paths.stop_request.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def mask_worker_logs(paths: RunPaths, secret_values: Sequence[str]) -> None:
    """Mask secret values in the worker logs paddle.distributed.launch wrote into the run store."""
    from paddlectl.foundation.secrets import ValueMasker

    mask = ValueMasker(secret_values)
    if not mask or not paths.workers_dir.is_dir():
        return
    for log in paths.workers_dir.rglob("*"):
        if log.is_file() and not log.is_symlink():
            text = log.read_text(encoding="utf-8", errors="replace")
            masked = mask(text)
            if masked != text:
                log.write_text(masked, encoding="utf-8")
