"""paddlectl train"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from paddlectl.cli.output import out

if TYPE_CHECKING:
    from paddlectl.engine.protocol import PullProgress
    from paddlectl.project.workspace import Project
    from paddlectl.tracking.live import LiveTracking


class CliTrainEvents:
    """Shows a run: its output live (stdout, or stderr with --json, nothing with --quiet), status on stderr."""

    def __init__(self, *, json_mode: bool, quiet: bool) -> None:
        self._stream = None if quiet else (sys.stderr if json_mode else sys.stdout)
        self._pull: Any = None
        self._tasks: dict[str, Any] = {}

    def status(self, message: str) -> None:
        out.status(f"[dim]paddlectl:[/dim] {message}")

    def warning(self, message: str) -> None:
        out.warn(message)

    def output(self, text: str) -> None:
        if self._stream is not None:
            self._stream.write(text)
            self._stream.flush()

    def pull_progress(self, progress: PullProgress) -> None:
        if not out.interactive:
            if progress.status.startswith(("Pulling from", "Digest", "Status")):
                out.status(f"pull: {progress.status}")
            return
        if self._pull is None:
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

            self._pull = Progress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=out.console, transient=True
            )
            self._pull.start()
        if not progress.layer:
            return
        task = self._tasks.get(progress.layer)
        if task is None:
            task = self._tasks[progress.layer] = self._pull.add_task(progress.layer, total=progress.total)
        self._pull.update(
            task,
            description=f"{progress.layer} {progress.status}",
            completed=progress.current or 0,
            total=progress.total,
        )

    def close(self) -> None:
        if self._pull is not None:
            self._pull.stop()


def command(
    argv: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="SCRIPT [-- SCRIPT_ARGS...]",
            help="The training script (a path in the project) and its arguments.",
            show_default=False,
        ),
    ] = None,
    module: Annotated[str | None, typer.Option("-m", "--module", help="Run a module (python -m) instead.")] = None,
    image: Annotated[str | None, typer.Option("--image", help="Pinned image (default from paddlectl.yaml).")] = None,
    param: Annotated[
        list[str] | None, typer.Option("-p", "--param", help="key=value, typed as YAML (repeatable).")
    ] = None,
    params_file: Annotated[Path | None, typer.Option("--params-file", help="YAML/JSON mapping of params.")] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="Use profiles.NAME of paddlectl.yaml: its params over train.params, its gpus."),
    ] = None,
    gpus: Annotated[str | None, typer.Option("--gpus", help="all, none, or device ids like 0,1.")] = None,
    nproc: Annotated[int, typer.Option("--nproc", help="Workers under paddle.distributed.launch.")] = 1,
    name: Annotated[str | None, typer.Option("--name", help="A name for the run.")] = None,
    label: Annotated[list[str] | None, typer.Option("--label", help="key=value label (repeatable).")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="KEY=VALUE, or KEY to pass yours.")] = None,
    mount: Annotated[
        list[str] | None,
        typer.Option(
            "--mount", help="SRC:DST[:ro] (repeatable). With a remote --host, SRC is a folder on that host (datasets)."
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            metavar="NAME|URL",
            help="Train on this Docker engine: a hosts: name in paddlectl.yaml, ssh://user@host[:port] or "
            "tcp://host:2376 (TLS). Default: DOCKER_HOST, the docker context, the local engine.",
        ),
    ] = None,
    shm_size: Annotated[str | None, typer.Option("--shm-size", help="Shared memory size (default 2g).")] = None,
    memory: Annotated[str | None, typer.Option("--memory", help="Memory limit, e.g. 8g.")] = None,
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Start the run and print its id on stdout; do not follow it.")
    ] = False,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the container after it ends.")] = False,
    pull: Annotated[bool, typer.Option("--pull", help="Pull the image when it is missing.")] = False,
    require_clean: Annotated[bool, typer.Option("--require-clean", help="Refuse uncommitted changes.")] = False,
    code_writable: Annotated[bool, typer.Option("--code-writable", help="Mount the code read-write.")] = False,
    secret_args: Annotated[
        bool,
        typer.Option(
            "--secret-args/--no-secret-args",
            help="Pass secret-looking params on the script's command line too (visible to docker inspect), "
            "or only in the params file.",
        ),
    ] = True,
    grace: Annotated[int, typer.Option("--grace", help="Seconds to wait after SIGTERM before killing.")] = 10,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the container spec; run nothing.")] = False,
    mlflow: Annotated[
        bool | None,
        typer.Option(
            "--mlflow/--no-mlflow",
            help="Mirror the run live on the MLflow server (mlflow: in paddlectl.yaml) [default: mlflow.live].",
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the final manifest as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the run id (on stdout).")] = False,
) -> None:
    """Train a script in a pinned PaddlePaddle container and record the run.

    On a remote --host nothing is bind-mounted: the code the run records (tracked files and uncommitted changes,
    git-ignored files left out) is sent into the container, and its outputs come back into the run's folder.
    Exits with the script's exit code (130/143/129 when interrupted; see README for paddlectl's own codes).
    """
    from paddlectl.project.workspace import open_project
    from paddlectl.train.launch import train
    from paddlectl.train.params import parse_key_value, repeated_keys
    from paddlectl.train.prepare import prepare
    from paddlectl.train.request import EnvSetting, MountRequest, TrainRequest

    out.json_mode = json_output
    out.quiet = quiet
    for key in repeated_keys(param or ()):
        out.warn(f"-p {key} is given more than once: the last value is the one the run uses")
    positional = list(argv or [])
    script = None if module else (positional.pop(0) if positional else None)
    request = TrainRequest(
        script=script,
        module=module,
        script_args=positional,
        image=image,
        params=list(param or []),
        profile=profile,
        params_file=params_file,
        gpus=gpus,
        nproc=nproc,
        name=name,
        labels=dict(parse_key_value(item, "--label") for item in label or ()),
        env=[EnvSetting.parse(item) for item in env or ()],
        mounts=[MountRequest.parse(item) for item in mount or ()],
        shm_size=shm_size,
        memory=memory,
        detach=detach,
        keep=keep,
        pull=pull,
        require_clean=require_clean,
        code_writable=code_writable,
        secret_args=secret_args,
        grace_seconds=grace,
        host=host,
    )
    project = open_project()
    prepared = prepare(request, project, Path.cwd())
    if dry_run:
        from paddlectl.train.prepare import dry_run_spec

        spec = dry_run_spec(prepared, project)
        if json_output:
            out.json(spec)
        else:
            from paddlectl.foundation.yamlio import dump_yaml

            out.data(dump_yaml(spec))
        return
    from paddlectl.engine.docker_engine import connect

    live = _live_tracking(mlflow, project, detach)
    events = CliTrainEvents(json_mode=json_output, quiet=quiet)
    try:
        outcome = train(prepared, project, lambda: connect(prepared.host), events, observer=live)
    except BaseException:
        if live is not None:
            live.abandon()
        raise
    finally:
        events.close()
    if live is not None:
        live.finish(outcome.manifest)
    manifest = outcome.manifest
    if json_output:
        out.json(manifest.to_dict())
        raise typer.Exit(outcome.exit_code)
    if not quiet:
        _summary(manifest.to_dict())
    if quiet or detach:  # the run id is data: RID=$(paddlectl train x.py --detach)
        out.data(manifest.id)
    raise typer.Exit(outcome.exit_code)


def _code_state(git: dict[str, Any]) -> str:
    """`code abc12345 (clean)`, or `code abc12345 + uncommitted changes (3 files)`: a dirty run is said up front."""
    if not git.get("is_repository"):
        return "code not in a git repository (not recorded)"
    commit = str(git.get("commit") or "no commit yet")[:8]
    if not git.get("dirty"):
        return f"code {commit} (clean)"
    files = len(git.get("changed") or []) + len(git.get("untracked") or [])
    return f"[yellow]code {commit} + uncommitted changes ({files} file{'s' if files != 1 else ''})[/yellow]"


def _live_tracking(wanted: bool | None, project: Project, detach: bool) -> LiveTracking | None:
    """The live MLflow mirror for this run, when --mlflow or mlflow.live asks for one (--no-mlflow: never)."""
    if wanted is False:
        return None
    from rich.markup import escape

    from paddlectl.tracking.config import read_mlflow_config, resolve_target

    config = read_mlflow_config(project.config.path)
    if not (config.live if wanted is None else wanted):
        return None
    if detach:
        if wanted:
            from paddlectl.errors import UsageError

            raise UsageError(
                "--mlflow follows a run from this process, and --detach leaves at once",
                hint="drop --detach, or push the run when it has ended: paddlectl mlflow push RUN",
            )
        out.status("[dim]paddlectl:[/dim] mlflow: a detached run is not mirrored live; push it later (mlflow push)")
        return None
    from paddlectl.tracking.live import LiveTracking

    target = resolve_target(config, project_name=project.config.name, environ=os.environ)
    return LiveTracking(
        target,
        on_status=lambda message: out.status(f"[dim]paddlectl:[/dim] {escape(message)}"),
        on_warning=lambda message: out.warn(escape(message)),
    )


def _summary(manifest: dict[str, Any]) -> None:
    status = manifest["status"]
    colour = {"succeeded": "green", "running": "cyan"}.get(status, "red")
    reason = f" ({manifest['reason']})" if manifest.get("reason") else ""
    out.status(f"[{colour}]run {manifest['id']} {status}[/{colour}]{reason}; {_code_state(manifest.get('git') or {})}")
    summary = (manifest.get("metrics") or {}).get("summary") or {}
    if summary:
        shown = ", ".join(
            f"{name}={values.get('last'):.4g}"
            for name, values in list(summary.items())[:8]
            if isinstance(values.get("last"), (int, float))
        )
        out.status(f"  metrics: {shown}")
    if manifest.get("duration_seconds") is not None:
        lines = manifest["logs"].get("lines", 0)
        out.status(f"  duration: {manifest['duration_seconds']:.1f}s, log: {lines} line{'' if lines == 1 else 's'}")
