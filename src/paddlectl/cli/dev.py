"""paddlectl dev"""

from __future__ import annotations

from typing import Annotated

import typer

from paddlectl.cli.output import out


def command(
    image: Annotated[
        str | None,
        typer.Option(
            "--image", metavar="TAG", help="Dev image (default: the newest one built by 'paddlectl image build dev')."
        ),
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", metavar="N", help="Loopback port for JupyterLab (default: a free one).")
    ] = None,
    stop: Annotated[bool, typer.Option("--stop", help="Stop and remove the project's dev container.")] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", metavar="SECONDS", help="How long to wait for JupyterLab to answer (0: do not wait)."
        ),
    ] = 120.0,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Start JupyterLab in the dev image on this project, as you, on 127.0.0.1; print its URL with a token.

    The container runs detached until 'paddlectl dev --stop'; running 'paddlectl dev' again prints the same URL.
    """
    from paddlectl.engine.docker_engine import connect
    from paddlectl.errors import UsageError
    from paddlectl.images.dev_session import DevSessions
    from paddlectl.project.workspace import open_project

    out.json_mode = json_output
    if stop and (image is not None or port is not None):
        raise UsageError("--stop takes no --image or --port", hint="run: paddlectl dev --stop")
    if timeout < 0:
        raise UsageError(f"--timeout {timeout:g} is negative", hint="pass 0 to return without waiting")
    project = open_project()
    sessions = DevSessions(connect(), project)
    if stop:
        stopped = sessions.stop()
        if json_output:
            out.json({"stopped": stopped})
            return
        out.status(
            f"stopped {len(stopped)} dev container(s) of {project.config.name}"
            if stopped
            else f"no dev container of {project.config.name} was running"
        )
        return
    if not json_output:
        out.status(f"starting JupyterLab for {project.config.name} ...")
    session = sessions.start(image, port, wait_seconds=timeout)
    if json_output:
        out.json(session.as_dict())
        return
    out.data(session.url)
    what = "already running" if session.reused else "running"
    out.status(
        f"JupyterLab {what} in {session.container_id[:12]} ({session.image}), project mounted at "
        f"/workspace; stop it with: paddlectl dev --stop"
    )
