"""paddlectl reproduce"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from paddlectl.cli.output import out

if TYPE_CHECKING:
    from paddlectl.project.workspace import Project
    from paddlectl.runs.manifest import Manifest


def command(
    run: Annotated[
        str, typer.Argument(help="Run id, unique prefix, name, or last; or a registered NAME@VERSION (or @production).")
    ],
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance for metrics.")] = 0.0,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance for metrics.")] = 0.0,
    param: Annotated[list[str] | None, typer.Option("-p", "--param", help="Override (secret params).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the verdict.")] = False,
) -> None:
    """Run RUN again (same image digest, commit + patch, params, settings) and compare its metrics.

    NAME@VERSION reruns a registered version from the provenance inside its package alone (run record and patch,
    verified) in this git clone, and compares with the card's metrics. Exits 0 only when the metrics are
    identical or within --rtol/--atol; 1 otherwise.
    """
    from paddlectl.cli.train import CliTrainEvents
    from paddlectl.engine.docker_engine import connect
    from paddlectl.project.workspace import open_existing_project
    from paddlectl.train.reproduce import reproduce

    out.json_mode = json_output
    out.quiet = quiet
    project = open_existing_project()
    with contextlib.ExitStack() as stack:
        original, patch = _original(run, project, stack)
        events = CliTrainEvents(json_mode=json_output, quiet=quiet)
        try:
            outcome, verdict = reproduce(
                project, original, list(param or []), connect, events, rtol=rtol, atol=atol, patch=patch
            )
        finally:
            events.close()
        if outcome.signal is not None:  # interrupted: there is no verdict to give
            out.status(f"run {outcome.manifest.id} {outcome.manifest.status.value} ({outcome.manifest.reason})")
            raise typer.Exit(outcome.exit_code)
    if json_output:
        out.json(verdict.as_dict())
    elif quiet:
        out.data(verdict.overall)
    else:
        from rich.table import Table

        table = Table(box=None, header_style="bold")
        for column in ("metric", original.id, outcome.manifest.id, "verdict"):
            table.add_column(column)
        for metric in verdict.metrics:
            colour = {"identical": "green", "within-tolerance": "yellow"}.get(metric.verdict, "red")
            table.add_row(
                metric.name, _fmt(metric.original), _fmt(metric.reproduced), f"[{colour}]{metric.verdict}[/{colour}]"
            )
        out.table(table)
        out.status(f"verdict: {verdict.overall} (run {outcome.manifest.id} {outcome.manifest.status.value})")
    raise typer.Exit(0 if verdict.reproduced else 1)


def _original(run: str, project: Project, stack: contextlib.ExitStack) -> tuple[Manifest, Path | None]:
    """The run to repeat and the patch to apply instead of the run store's: a registered version's come from its
    package (verified), a run's from the project's run store."""
    from paddlectl.registry.model import ModelRef

    if ModelRef.looks_like(run):
        from paddlectl.registry.reproduction import registered_run
        from paddlectl.registry.store import open_registry

        source = stack.enter_context(registered_run(stack.enter_context(open_registry()), run))
        out.status(f"reproducing {source.record.ref} (run {source.manifest.id}) from its package")
        return source.manifest, source.patch
    from paddlectl.engine.docker_engine import connect
    from paddlectl.runs.project_runs import ProjectRuns
    from paddlectl.runs.store import RunStore

    return ProjectRuns(RunStore(project.runs_dir), connect, out.warn).read(run), None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"
