"""`paddlectl doctor`: is this machine ready to train? Each check says how to fix what fails."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from paddlectl.engine.protocol import ContainerEngine
from paddlectl.errors import PaddlectlError
from paddlectl.foundation.image_ref import PinnedImage
from paddlectl.project.workspace import Project

MIN_FREE_BYTES = 5 * 1024**3


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None
    required: bool = True
    data: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DoctorReport:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks if check.required)


def run_checks(project: Project, connect: Callable[[], ContainerEngine]) -> DoctorReport:
    checks: list[Check] = []
    engine: ContainerEngine | None = None
    try:
        engine = connect()
        info = engine.info()
        checks.append(
            Check(
                "docker engine",
                True,
                f"{info.server_version} (API {info.api_version}), storage {info.storage_driver}, {info.os}",
                data={
                    "version": info.server_version,
                    "api_version": info.api_version,
                    "storage_driver": info.storage_driver,
                    "os": info.os,
                },
            )
        )
        gpu_ok = info.gpu_capable
        checks.append(
            Check(
                "gpu support",
                gpu_ok,
                "NVIDIA runtime or toolkit hook present"
                if gpu_ok
                else f"no NVIDIA runtime or toolkit hook (runtimes: {', '.join(info.runtimes)})",
                fix=None if gpu_ok else "install the NVIDIA Container Toolkit for --gpus; CPU runs work without it",
                required=False,
                data={"runtimes": list(info.runtimes)},
            )
        )
    except PaddlectlError as error:
        checks.append(Check("docker engine", False, error.message, fix=error.hint))

    config = project.config
    for role, reference in (("cpu", config.cpu_image), ("gpu", config.gpu_image)):
        checks.append(
            _image_check(
                role,
                reference,
                engine,
                required=(role == "cpu" and config.gpus == "none") or (role == "gpu" and config.gpus != "none"),
            )
        )
    checks.append(_git_check(project.root))
    checks.append(_store_check(project))
    checks.append(_disk_check(project.root))
    return DoctorReport(checks)


def _image_check(role: str, reference: str, engine: ContainerEngine | None, *, required: bool) -> Check:
    name = f"{role} image"
    try:
        PinnedImage.parse(reference)
    except PaddlectlError as error:
        return Check(name, False, f"{reference}: {error.message}", fix=error.hint, required=required)
    if engine is None:
        return Check(name, False, f"{reference}: engine unreachable", fix="start the engine first", required=required)
    image = engine.image(reference)
    if image is None:
        return Check(
            name,
            False,
            f"{reference} is not present locally",
            fix=f"docker pull {reference} (or paddlectl train --pull; bash scripts/build-paddle-image.sh offline)",
            required=required,
            data={"reference": reference},
        )
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


def _git_check(root: Path) -> Check:
    try:
        import git

        repo = git.Repo(root, search_parent_directories=True)
        commit = repo.head.commit.hexsha if repo.head.is_valid() else None
        return Check(
            "git repository",
            True,
            f"{repo.working_tree_dir} at {commit[:10] if commit else 'no commits'}",
            required=False,
            data={"root": repo.working_tree_dir, "commit": commit},
        )
    except Exception:  # not a repository, or git missing
        return Check(
            "git repository",
            False,
            "not inside a git repository: runs will not record code versions",
            fix="git init && git add . && git commit",
            required=False,
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
        fix=f"fix the permissions of {existing}",
    )


def _disk_check(root: Path) -> Check:
    usage = shutil.disk_usage(root)
    ok = usage.free >= MIN_FREE_BYTES
    detail = f"{usage.free / 1024**3:.1f} GiB free at {root}"
    docker_root = Path("/var/lib/docker")
    if docker_root.exists() and os.access(docker_root, os.R_OK):
        detail += f", {shutil.disk_usage(docker_root).free / 1024**3:.1f} GiB for images"
    return Check(
        "free disk",
        ok,
        detail,
        fix=None if ok else "free at least 5 GiB for images and runs",
        data={"free_bytes": usage.free},
    )
