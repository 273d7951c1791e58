"""`paddlectl reproduce RUN`: run again exactly as recorded, then say whether the metrics came out the same.

Same image by digest (or local id), same commit with the recorded uncommitted patch applied in a temporary git
worktree (the user's working tree is never touched), same params, env names and container settings, on the same
engine (a run trained on a remote host is reproduced there: runs/run_engines.py).
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paddlectl.engine.hosts import EngineHost
from paddlectl.engine.protocol import ContainerEngine
from paddlectl.errors import UsageError
from paddlectl.foundation.git_values import git_line
from paddlectl.foundation.secrets import MASK
from paddlectl.foundation.signals import signals
from paddlectl.project.workspace import Project
from paddlectl.runs.manifest import Manifest, RunStatus
from paddlectl.train.launch import TrainEvents, TrainOutcome, train
from paddlectl.train.prepare import prepare
from paddlectl.train.request import EnvSetting, MountRequest, TrainRequest


@dataclass(frozen=True)
class MetricVerdict:
    name: str
    original: float | None
    reproduced: float | None
    verdict: str  # identical | within-tolerance | different | missing

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "original": self.original, "reproduced": self.reproduced, "verdict": self.verdict}


@dataclass
class Verdict:
    """Did the re-run reproduce the original? identical, within tolerance, or different (with the numbers)."""

    original: str
    reproduction: str
    rtol: float
    atol: float
    metrics: list[MetricVerdict] = field(default_factory=list)
    run_status: str = "succeeded"

    @property
    def overall(self) -> str:
        if self.run_status != RunStatus.SUCCEEDED.value:
            return "failed"
        verdicts = {metric.verdict for metric in self.metrics}
        if verdicts & {"different", "missing"}:
            return "different"
        return "within-tolerance" if "within-tolerance" in verdicts else "identical"

    @property
    def reproduced(self) -> bool:
        return self.overall in ("identical", "within-tolerance")

    def as_dict(self) -> dict[str, Any]:
        return {
            "original": self.original,
            "reproduction": self.reproduction,
            "verdict": self.overall,
            "reproduced": self.reproduced,
            "rtol": self.rtol,
            "atol": self.atol,
            "run_status": self.run_status,
            "metrics": [metric.as_dict() for metric in self.metrics],
        }


def compare_metrics(original: Manifest, again: Manifest, rtol: float, atol: float) -> Verdict:
    verdict = Verdict(original.id, again.id, rtol, atol, run_status=again.status.value)
    for name in sorted(original.metrics.summary):
        a, b = original.metrics.last(name), again.metrics.last(name)
        if b is None and a is not None:
            kind = "missing"
        elif a == b or (a is not None and b is not None and math.isnan(a) and math.isnan(b)):
            kind = "identical"
        elif a is not None and b is not None and abs(a - b) <= atol + rtol * abs(a):
            kind = "within-tolerance"
        else:
            kind = "different"
        verdict.metrics.append(MetricVerdict(name, a, b, kind))
    return verdict


def reproduce_request(original: Manifest, overrides: list[str]) -> TrainRequest:
    """The train request that repeats a run; masked secrets must come from the environment or -p overrides."""
    values = dict(original.params.values)
    override_keys = {item.split("=", 1)[0] for item in overrides}
    masked = [key for key, value in values.items() if value == MASK and key not in override_keys]
    if masked:
        raise UsageError(
            f"params {', '.join(masked)} were secret and are not recorded",
            hint="pass them again with -p " + " -p ".join(f"{key}=..." for key in masked),
        )
    env = []
    for name in original.container.env_names:
        recorded = original.container.env.get(name)
        if recorded is None or recorded == MASK:
            if name not in os.environ:
                raise UsageError(
                    f"env {name} was secret and is not recorded", hint=f"export {name}=... before running reproduce"
                )
            env.append(EnvSetting(name))  # this process's value
        else:
            env.append(EnvSetting(name, recorded))
    return TrainRequest(
        script=original.command.script,
        module=original.command.module,
        script_args=list(original.command.args),
        params=list(overrides),
        fixed_params=values,
        fixed_profile=original.profile,
        gpus=original.container.gpus,
        nproc=original.container.nproc,
        name=None,  # named `<original>~reproN` when recorded (train/launch.py), never the original's own name
        reproduction_of=original.name or original.id,
        labels=dict(original.labels),
        env=env,
        mounts=[MountRequest(m.source, m.target, m.read_only) for m in original.container.mounts],
        shm_size=original.container.shm_size,
        memory=original.container.mem_limit,
        code_writable=not original.container.code_read_only,
        secret_args=original.command.secret_args,
        reproduces=original.id,
    )


@contextlib.contextmanager
def recorded_code(project: Project, original: Manifest, patch: Path | None = None) -> Iterator[Path]:
    """The code as it was: the recorded commit plus its uncommitted patch in a temporary worktree.

    `patch`, when given, is applied instead of the run store's copy (a registered package carries its own).
    """
    git = original.git
    if not git.is_repository or not git.commit:
        yield project.root  # not recorded in git: the current tree is all there is (the CLI warns)
        return
    if git.patch_truncated:
        raise UsageError(
            f"run {original.id}'s uncommitted changes were larger than the patch cap and were not saved",
            hint="commit your changes before training runs you want to reproduce",
        )
    from paddlectl.train.git_capture import apply_patch_in_worktree, remove_worktree, restore_untracked

    top = Path(git_line(project.root, "rev-parse", "--show-toplevel") or project.root)
    if patch is None:
        patch = Path(git.patch_file) if git.patch_file else None
        if patch is not None and not patch.is_absolute():
            patch = project.runs_dir / original.id / patch
    with tempfile.TemporaryDirectory(prefix="paddlectl-reproduce-") as tmp:
        dest = Path(tmp) / "code"
        apply_patch_in_worktree(top, git.commit, patch if patch and patch.is_file() else None, dest)
        try:
            restore_untracked(top, dest, git.outside_patch, original.id)
            yield dest / (git.subdir or ".")
        finally:
            remove_worktree(top, dest)


def reproduce(
    project: Project,
    original: Manifest,
    overrides: list[str],
    connect: Callable[[EngineHost | None], ContainerEngine],
    events: TrainEvents,
    rtol: float = 0.0,
    atol: float = 0.0,
    patch: Path | None = None,
) -> tuple[TrainOutcome, Verdict]:
    """Run `original` again as recorded and compare the metrics (`patch`: see recorded_code).

    Stop signals are held while the worktree is made and removed (a `git worktree add` cut short leaves a
    registered worktree behind); one before the run is recorded propagates as Interrupted, after the worktree is
    gone; one during the run is part of the outcome (outcome.signal).
    """
    from paddlectl.engine.hosts import host_of_record
    from paddlectl.engine.image_lookup import recorded_image_reference
    from paddlectl.runs.run_engines import host_entries

    request = reproduce_request(original, overrides)
    request.host = host_of_record(
        original.engine.address(), host_entries(project)
    )  # None: the default engine, as before
    with signals.held():
        with signals.interruptible():  # connecting creates nothing (an ssh login may be cut short)
            engine = connect(request.host)
        request.image = recorded_image_reference(
            engine, original.image.reference, original.image.digest, original.image.id
        )
        request.image_tag = original.image.reference
        signals.phase("worktree")
        with recorded_code(project, original, patch) as code_root:
            signals.checkpoint()
            request.code_root = code_root
            if not original.git.is_repository:
                events.warning(f"run {original.id} was not in a git repository: reproducing with the current code")
            prepared = prepare(request, project, code_root)
            outcome = train(prepared, project, lambda: engine, events)
        return outcome, compare_metrics(original, outcome.manifest, rtol, atol)
