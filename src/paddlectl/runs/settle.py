"""A run's outcome from its container's final state: status, exit code, OOM flag, reason and artifacts."""

from __future__ import annotations

import signal
from typing import Any

from paddlectl.errors import ExitCode
from paddlectl.runs.manifest import Manifest, RunStatus
from paddlectl.runs.provenance import artifact_records
from paddlectl.runs.store import RunPaths

SIGNAL_EXIT = {2: ExitCode.SIGINT, 15: ExitCode.SIGTERM, 1: ExitCode.SIGHUP}


def settle_from_state(manifest: Manifest, state: Any, interrupted_by: int | None, paths: RunPaths) -> None:
    """Status, exit code, OOM flag and artifacts from the container's final state."""
    manifest.owner_pid = None
    manifest.artifacts = artifact_records(paths.outputs)
    manifest.logs["workers"] = sorted(p.name for p in paths.workers_dir.glob("*")) if paths.workers_dir.is_dir() else []
    if state is not None:
        manifest.exit_code = state.exit_code
        manifest.oom_killed = state.oom_killed
    if interrupted_by is not None:
        manifest.status = RunStatus.INTERRUPTED
        manifest.reason = f"stopped by {_signal_name(interrupted_by)}"
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
    if manifest.status is RunStatus.INTERRUPTED:
        reason = manifest.reason or ""
        for signum, code in SIGNAL_EXIT.items():
            if _signal_name(signum) in reason:
                return int(code)
        return int(ExitCode.SIGINT)
    if manifest.status is RunStatus.SUCCEEDED:
        return 0
    if manifest.exit_code:
        return manifest.exit_code
    return int(ExitCode.FAILED)


def _signal_name(signum: int) -> str:
    return signal.Signals(signum).name
