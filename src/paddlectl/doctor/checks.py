"""`paddlectl doctor`: is this machine ready to train? Each check says how to fix what fails.

A failing check's `fix` is lines to follow in order; `commands` are the lines that are shell commands, each one
working when pasted as printed (doctor/fixes.py). tests/engine/test_doctor.py pastes every one of them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from paddlectl.doctor.fixes import Fix, engine_fix, git_fix, offline_cpu_fix, pull_fix
from paddlectl.engine.hosts import EngineHost
from paddlectl.engine.protocol import ContainerEngine
from paddlectl.errors import PaddlectlError
from paddlectl.foundation.git_values import git_line
from paddlectl.foundation.image_ref import PinnedImage
from paddlectl.project.workspace import Project

MIN_FREE_BYTES = 5 * 1024**3


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None  # lines to follow, in order (one per line)
    required: bool = True
    data: dict[str, Any] | None = None
    commands: tuple[str, ...] = ()  # the lines of `fix` that are shell commands

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["commands"] = list(self.commands)
        return document


def _failed(name: str, detail: str, fix: Fix, *, required: bool = True, data: dict[str, Any] | None = None) -> Check:
    return Check(name, False, detail, fix.text, required, data, fix.commands)


@dataclass(frozen=True)
class DoctorReport:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks if check.required)


def run_checks(
    project: Project, connect: Callable[[], ContainerEngine], host: EngineHost | None = None
) -> DoctorReport:
    """Every check; `host` is the engine `connect` reaches when it is not the default one (doctor --host)."""
    checks: list[Check] = []
    engine: ContainerEngine | None = None
    try:
        engine = connect()
        info = engine.info()
        remote = engine.host.remote
        where = f"{engine.host.label}: " if remote else ""
        checks.append(
            Check(
                "docker engine",
                True,
                f"{where}{info.server_version} (API {info.api_version}), storage {info.storage_driver}, {info.os}",
                data={
                    "version": info.server_version,
                    "api_version": info.api_version,
                    "storage_driver": info.storage_driver,
                    "os": info.os,
                    **({"host": engine.host.record(), "id": info.id} if remote else {}),
                },
            )
        )
        gpu_ok = info.gpu_capable
        unseen = " (a toolkit hook on that host cannot be seen from here)" if remote else ""
        checks.append(
            Check(
                "gpu support",
                gpu_ok,
                "NVIDIA runtime or toolkit hook present"
                if gpu_ok
                else f"no NVIDIA runtime{' or toolkit hook' if not remote else ''} "
                f"(runtimes: {', '.join(info.runtimes)}){unseen}",
                fix=None
                if gpu_ok
                else "install the NVIDIA Container Toolkit for --gpus (docs.nvidia.com/datacenter/cloud-native); "
                "CPU runs work without it",
                required=False,
                data={"runtimes": list(info.runtimes)},
            )
        )
    except PaddlectlError as error:
        remote_fix = Fix.note(error.hint) if host is not None and host.remote else None
        checks.append(_failed("docker engine", error.message, remote_fix or engine_fix(error)))

    config = project.config
    for role, reference in (("cpu", config.cpu_image), ("gpu", config.gpu_image)):
        checks.append(
            _image_check(
                role,
                reference,
                engine,
                project,
                required=(role == "cpu" and config.gpus == "none") or (role == "gpu" and config.gpus != "none"),
            )
        )
    checks.append(_git_check(project.root))
    checks.append(_store_check(project))
    checks.append(_disk_check(project.root, images_here=engine is None or not engine.host.remote))
    return DoctorReport(checks)


def _image_check(
    role: str, reference: str, engine: ContainerEngine | None, project: Project, *, required: bool
) -> Check:
    name = f"{role} image"
    try:
        PinnedImage.parse(reference)
    except PaddlectlError as error:
        return _failed(name, f"{reference}: {error.message}", Fix.note(error.hint), required=required)
    if engine is None:
        return _failed(
            name, f"{reference}: engine unreachable", Fix.note("start the engine first (above)"), required=required
        )
    image = engine.image(reference)
    if image is None:
        return _missing_image(name, role, reference, engine, project, required=required)
    digest = image.repo_digests[0].split("@", 1)[1] if image.repo_digests else None
    where = f"digest {digest}" if digest else "no registry digest (built locally)"
    detail = f"{reference} id {image.id[7:19]}, {where}"
    return Check(
        name,
        True,
        detail,
        required=required,
        data={"reference": reference, "id": image.id, "digest": digest, "size": image.size},
    )


def _missing_image(
    name: str, role: str, reference: str, engine: ContainerEngine, project: Project, *, required: bool
) -> Check:
    """An absent pinned image: pull it when its registry has it; otherwise the offline route (CPU images)."""
    data = {"reference": reference}
    problem = engine.registry_problem(reference)
    if problem is None:
        return _failed(
            name,
            f"{reference} is not present locally (its registry has it)",
            pull_fix(reference),
            required=required,
            data=data,
        )
    detail = f"{reference} is not present locally and cannot be pulled: {problem}"
    if role == "cpu":
        fix = offline_cpu_fix(reference, project.config.path, project.root, engine.image)
    else:
        fix = Fix.note(
            "load it from a machine that can pull it (docker save there, docker load here), "
            "or run on CPU with train.gpus: none"
        )
    return _failed(name, detail, fix, required=required, data={**data, "pull_problem": problem})


def _git_check(root: Path) -> Check:
    top = git_line(root, "rev-parse", "--show-toplevel")
    if top is None:  # not a repository, or git missing
        return Check(
            "git repository",
            False,
            "not inside a git repository: runs will not record code versions",
            fix=git_fix(root),
            commands=(git_fix(root),),
            required=False,
        )
    commit = git_line(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    return Check(
        "git repository",
        True,
        f"{top} at {commit[:10] if commit else 'no commits'}",
        required=False,
        data={"root": top, "commit": commit},
    )


def _store_check(project: Project) -> Check:
    """Can runs be recorded here? Checked without creating anything: doctor must leave no trace."""
    store = project.store
    existing = next(folder for folder in (store, *store.parents) if folder.exists())
    if os.access(existing, os.W_OK | os.X_OK):
        state = "exists" if existing == store else "will be created"
        return Check("run store", True, f"{store} is writable ({state})", data={"path": str(store)})
    return Check(
        "run store",
        False,
        f"{existing} is not writable, so runs cannot be recorded in {store}",
        fix=f"make {existing} writable for you (its owner can chmod or chown it)",
    )


def _disk_check(root: Path, *, images_here: bool = True) -> Check:
    usage = shutil.disk_usage(root)
    ok = usage.free >= MIN_FREE_BYTES
    detail = f"{usage.free / 1024**3:.1f} GiB free at {root}"
    docker_root = Path("/var/lib/docker")
    if images_here and docker_root.exists() and os.access(docker_root, os.R_OK):
        detail += f", {shutil.disk_usage(docker_root).free / 1024**3:.1f} GiB for images"
    return Check(
        "free disk",
        ok,
        detail,
        fix=None if ok else "free at least 5 GiB for images and runs ('docker system df' shows what images take)",
        data={"free_bytes": usage.free},
    )
