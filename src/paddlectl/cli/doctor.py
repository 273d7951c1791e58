"""paddlectl doctor"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from paddlectl.cli.output import out

if TYPE_CHECKING:
    from paddlectl.doctor.checks import Check


def command(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Check the engine, GPU support, images, git, run store and disk; exit 1 if a required check fails."""
    from paddlectl.doctor.checks import run_checks
    from paddlectl.engine.docker_engine import connect
    from paddlectl.project.workspace import open_project

    out.json_mode = json_output
    report = run_checks(open_project(), connect)
    if json_output:
        out.json({"ok": report.ok, "checks": [check.as_dict() for check in report.checks]})
    else:
        from rich.table import Table

        table = Table(show_header=True, header_style="bold", box=None)
        for column in ("check", "", "detail"):
            table.add_column(column)
        for check in report.checks:
            failed = "[red]FAIL[/red]" if check.required else "[yellow]warn[/yellow]"
            mark = "[green]ok[/green]" if check.ok else failed
            detail = check.detail + (f"\n  [dim]fix: {check.fix}[/dim]" if check.fix and not check.ok else "")
            table.add_row(check.name, mark, detail)
        out.table(table)
    if not report.ok:
        _say_what_failed([check for check in report.checks if check.required and not check.ok])
        raise typer.Exit(1)


def _say_what_failed(failed: list[Check]) -> None:
    """End with one error line and one hint on stderr (also under --json, where stdout holds the report)."""
    from rich.markup import escape

    first = failed[0]
    if first.name == "docker engine":
        message = f"the Docker engine is not reachable ({first.detail.removeprefix('connecting: ')})"
    else:
        names = ", ".join(check.name for check in failed)
        message = f"{len(failed)} required check{'s' if len(failed) > 1 else ''} failed: {names}"
    out.console.print(f"[bold red]error:[/bold red] {escape(message)}", soft_wrap=True)
    if first.fix:
        out.console.print(f"[dim]hint:[/dim] {escape(first.fix)}", soft_wrap=True)
