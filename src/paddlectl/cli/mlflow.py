"""paddlectl mlflow: put recorded runs on an MLflow tracking server"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from paddlectl.cli.output import out

if TYPE_CHECKING:
    from paddlectl.engine.protocol import ContainerEngine
    from paddlectl.tracking.push import PushResult

app = typer.Typer(
    help="Push runs to an MLflow tracking server: params, every metric point, tags, status and artifacts.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _connect() -> ContainerEngine:
    from paddlectl.engine.docker_engine import connect

    return connect()


@app.command("push")
def push_command(
    runs: Annotated[
        list[str], typer.Argument(help="Runs: id, unique id prefix, run name, 'last' or 'last~N'.", show_default=False)
    ],
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri", help="http(s)://HOST:PORT [default: MLFLOW_TRACKING_URI, then mlflow.tracking_uri]."
        ),
    ] = None,
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment", help="Experiment name [default: MLFLOW_EXPERIMENT_NAME, mlflow.experiment, the project]."
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Push runs to an MLflow server: params, every metric point, tags, status, artifacts; again changes nothing.

    The MLflow run is found by its paddlectl.run_id tag, so a second push, or one after an interrupted push, leaves
    the server as one push would. Exits 3 when the server cannot be reached or refuses the credentials.
    """
    from paddlectl.project.workspace import open_project
    from paddlectl.runs.project_runs import ProjectRuns
    from paddlectl.runs.store import RunStore
    from paddlectl.tracking.config import read_mlflow_config, resolve_target
    from paddlectl.tracking.push import push_runs

    out.json_mode = json_output
    project = open_project()
    target = resolve_target(
        read_mlflow_config(project.config.path),
        project_name=project.config.name,
        tracking_uri=tracking_uri,
        experiment=experiment,
        environ=os.environ,
    )
    report = push_runs(ProjectRuns(RunStore(project.runs_dir), _connect, out.warn), runs, target)
    from rich.markup import escape

    for warning in [*report.warnings, *(warning for result in report.results for warning in result.warnings)]:
        out.warn(escape(warning))
    if json_output:
        out.json(
            {
                "tracking_uri": target.display_uri,
                "experiment": target.experiment,
                "runs": [result.as_dict() for result in report.results],
                "warnings": report.warnings,
            }
        )
        return
    for result in report.results:
        out.data(f"{result.run_id}\t{result.mlflow_run_id}\t{result.url}")
        out.status(escape(_summary(result, target.experiment)))


def _summary(result: PushResult, experiment: str) -> str:
    if not result.created and not result.points_sent and not result.artifacts_uploaded:
        return f"run {result.run_id} was already up to date in MLflow experiment {experiment!r} ({result.status})"
    verb = "pushed run {} to" if result.created else "updated run {} in"
    return (
        f"{verb.format(result.run_id)} MLflow experiment {experiment!r} as {result.status}: "
        f"{result.params} params, {result.tags} tags, {result.points_sent:,} of {result.points:,} metric points "
        f"sent, {result.artifacts_uploaded} of {result.artifacts} artifacts uploaded"
    )
