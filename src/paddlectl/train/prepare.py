"""What `paddlectl train` was asked for, checked against the project before anything is created (no engine)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paddlectl.engine.gpus import GpuRequest, parse_gpus
from paddlectl.engine.hosts import EngineHost
from paddlectl.engine.protocol import ContainerSpec, Mount
from paddlectl.errors import UsageError
from paddlectl.project.config import ProfileConfig
from paddlectl.project.workspace import Project
from paddlectl.runs.manifest import ProfileRecord
from paddlectl.train.request import (
    TrainRequest,
    build_container_spec,
    check_size,
    container_command,
    gpu_count,
    resolve_mount,
    script_in_project,
)


@dataclass
class PreparedRun:
    """A train request checked against the project, before anything is created."""

    request: TrainRequest
    code_root: Path
    image: str
    script: str | None
    module: str | None
    gpus_text: str
    gpus: GpuRequest | None
    params: dict[str, Any]
    param_sources: dict[str, str]
    command: list[str]
    env: dict[str, str]
    labels: dict[str, str]
    mounts: list[Mount]
    shm_size: str
    memory: str | None
    distributed: bool
    masked_env: dict[str, str] = field(default_factory=dict)
    masked_command: list[str] = field(default_factory=list)
    secret_values: list[str] = field(default_factory=list)  # masked wherever they would be printed or saved
    param_types: dict[str, str] = field(default_factory=dict)  # str, int, float, bool, null (train/params.py)
    profile: ProfileRecord | None = None  # the manifest's record of `--profile NAME` (params masked)
    host: EngineHost | None = None  # the engine to train on (None: the default one, resolved when connecting)


def prepare(request: TrainRequest, project: Project, cwd: Path) -> PreparedRun:
    """Check everything that can be checked without the engine; raise UsageError for bad input."""
    from paddlectl.foundation.image_ref import PinnedImage
    from paddlectl.foundation.secrets import mask_argv, mask_mapping
    from paddlectl.train.params import params_to_args, resolve_params

    if bool(request.script) == bool(request.module):
        raise UsageError("give a SCRIPT or -m MODULE (one of them)", hint="e.g. paddlectl train train.py")
    if request.nproc < 1:
        raise UsageError(f"--nproc must be at least 1, not {request.nproc}")
    if request.grace_seconds < 0:
        raise UsageError(
            f"--grace must be 0 or more seconds, not {request.grace_seconds}",
            hint="the seconds a stopped run gets to exit after SIGTERM before it is killed, e.g. --grace 10",
        )
    code_root = (request.code_root or project.root).resolve()
    profile = project.config.profile(request.profile) if request.profile else None
    host = _engine_host(request, project)
    gpus_text = next(
        text
        for text in (request.gpus, profile.gpus if profile else None, host.gpus, project.config.gpus)
        if text is not None
    )
    gpus = parse_gpus(gpus_text)
    image = request.image or project.config.image_for("none" if gpus is None else gpus_text)
    try:
        PinnedImage.parse(image)
    except UsageError as error:
        if request.image is None and project.config.path is not None:  # say where the configured one is
            key = "images.cpu" if gpus is None else "images.gpu"
            raise UsageError(f"{project.config.path} {key}: {error.message}", hint=error.hint) from None
        raise
    script = script_in_project(request.script, code_root, cwd) if request.script else None
    if request.fixed_params is not None:
        fixed = resolve_params(request.fixed_params, None, request.params)
        resolved = type(fixed)(
            fixed.values,
            {
                key: "cli" if source == "cli" else f"reproduce:{request.reproduces}"
                for key, source in fixed.sources.items()
            },
        )
    else:
        resolved = resolve_params(
            project.config.params,
            request.params_file,
            request.params,
            profile=(profile.name, profile.params) if profile else None,
        )
    refuse_args_that_set_params(request.script_args, resolved.values)
    env = {setting.name: setting.resolved(os.environ) for setting in request.env}
    labels = dict(request.labels)
    mounts = [resolve_mount(mount, cwd, host.label if host.remote else None) for mount in request.mounts]
    shm_size = check_size(request.shm_size or project.config.shm_size, "--shm-size")
    memory = check_size(request.memory, "--memory") if request.memory else None
    devices = gpu_count(gpus)
    distributed = request.nproc > 1 or (devices is not None and devices > 1)
    command = container_command(
        script=script,
        module=request.module,
        args=[*params_to_args(_on_the_command_line(resolved.values, request.secret_args)), *request.script_args],
        nproc=request.nproc,
        gpus=gpus,
    )
    masked_env = mask_mapping(env)
    secret_values = [value for key, value in env.items() if masked_env.get(key) != value and value]
    secret_values += [
        str(value)
        for key, value in resolved.values.items()
        if mask_mapping({key: value}).get(key) != value and value not in (None, "")
    ]
    return PreparedRun(
        request=request,
        code_root=code_root,
        image=image,
        script=script,
        module=request.module,
        gpus_text=gpus_text,
        gpus=gpus,
        params=resolved.values,
        param_sources=resolved.sources,
        command=command,
        env=env,
        labels=labels,
        mounts=mounts,
        shm_size=shm_size,
        memory=memory,
        distributed=distributed,
        masked_env=masked_env,
        masked_command=mask_argv(command, secret_values),
        secret_values=secret_values,
        param_types=dict(resolved.types),
        profile=_profile_record(request, profile),
        host=host,
    )


def _profile_record(request: TrainRequest, profile: ProfileConfig | None) -> ProfileRecord | None:
    """What the manifest records of the profile: the original's record when reproducing, else the one chosen."""
    from paddlectl.foundation.secrets import mask_mapping

    if request.fixed_profile is not None:
        return request.fixed_profile
    if profile is None:
        return None
    return ProfileRecord(profile.name, mask_mapping(dict(profile.params)), profile.gpus)


def _engine_host(request: TrainRequest, project: Project) -> EngineHost:
    """The engine the run goes to: --host, else DOCKER_HOST, the docker context, the local socket (engine/hosts.py)."""
    from paddlectl.engine.hosts import resolve_host
    from paddlectl.runs.run_engines import host_entries

    if isinstance(request.host, EngineHost):  # reproduce: the engine the original ran on
        return request.host
    return resolve_host(request.host, host_entries(project))


def refuse_args_that_set_params(script_args: list[str], params: dict[str, Any]) -> None:
    """Raise UsageError for a script argument that would set a param behind the manifest's back.

    paddlectl passes params as `--key value` before the script's own arguments, and argparse lets a later option
    win, so `-p epochs=1 -- --epochs 2` would train 2 epochs while the run records 1. argparse also accepts any
    unambiguous prefix (`--epoch`) and scripts often spell `_` as `-`, so those count too. Arguments after a bare
    `--` are the script's positional ones and are left alone.
    """
    wanted = {key.replace("-", "_"): key for key in params}
    for arg in script_args:
        if arg == "--":
            return
        if not arg.startswith("--") or len(arg) == 2:
            continue
        option = arg[2:].split("=", 1)[0].replace("-", "_")
        hits = [key for norm, key in wanted.items() if norm == option] or [
            key for norm, key in wanted.items() if norm.startswith(option)
        ]
        if hits:
            key = hits[0]
            raise UsageError(
                f"script argument {arg.split('=', 1)[0]} would set the param '{key}' (recorded as "
                f"{params[key]!r}), and the run would not record what the script used",
                hint=f"set it with -p {key}=VALUE instead, so the manifest records the value the script gets",
            )


def _on_the_command_line(values: dict[str, Any], secret_args: bool) -> dict[str, Any]:
    """The params the script gets as `--key value`: all, or (with --no-secret-args) all but the secret ones."""
    from paddlectl.foundation.secrets import is_secret_name

    return values if secret_args else {key: value for key, value in values.items() if not is_secret_name(key)}


def dry_run_spec(prepared: PreparedRun, project: Project) -> dict[str, Any]:
    """The container that would be created, secrets masked, as a plain document; UsageError for a name another
    run has (the real train refuses it too)."""
    from paddlectl.foundation.secrets import mask_mapping
    from paddlectl.runs.query import refuse_taken_name
    from paddlectl.runs.runtime_probe import lib_dir
    from paddlectl.runs.store import RunStore

    if prepared.request.reproduction_of is None:
        refuse_taken_name(RunStore(project.runs_dir), prepared.request.name)

    spec = container_spec_for(
        prepared, project, "<run-id>", project.runs_dir / "<run-id>", lib_dir(), Path("<private-dir>") / "params.json"
    )
    shipped: dict[str, Any] = {}
    if prepared.host is not None and prepared.host.remote:  # nothing bind-mounted there: sent and fetched instead
        from paddlectl.engine.shipping import shipment_for

        shipment = shipment_for(spec, keep=[mount.target for mount in prepared.mounts])
        spec = shipment.spec
        shipped = {
            "host": prepared.host.label,
            "sent": [{"source": str(u.source), "target": u.target, "read_only": u.read_only} for u in shipment.uploads],
            "fetched": [{"target": d.target, "into": str(d.destination)} for d in shipment.downloads],
        }
    return {
        "image": spec.image,
        "command": prepared.masked_command,
        "working_dir": spec.working_dir,
        "user": spec.user,
        "environment": mask_mapping(spec.environment),
        "mounts": [{"source": m.source, "target": m.target, "read_only": m.read_only} for m in spec.mounts],
        "labels": spec.labels,
        "shm_size": spec.shm_size if spec.ipc_mode != "host" else None,
        "mem_limit": spec.mem_limit,
        "gpus": prepared.gpus_text,
        "ipc_mode": spec.ipc_mode,
        "ulimits": [{"name": u.name, "soft": u.soft, "hard": u.hard} for u in spec.ulimits],
        "init": spec.init,
        "params": mask_mapping(prepared.params),
        **shipped,
    }


def container_spec_for(
    prepared: PreparedRun, project: Project, run_id: str, run_dir: Path, lib: Path, params_file: Path
) -> ContainerSpec:
    return build_container_spec(
        image=prepared.image,
        command=prepared.command,
        run_id=run_id,
        project_name=project.config.name,
        store=project.store,
        code_root=prepared.code_root,
        run_dir=run_dir,
        lib_dir=lib,
        env=prepared.env,
        mounts=prepared.mounts,
        gpus=prepared.gpus,
        shm_size=prepared.shm_size,
        memory=prepared.memory,
        code_writable=prepared.request.code_writable,
        distributed=prepared.distributed,
        params_file=params_file,
    )
