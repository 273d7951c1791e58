"""paddlectl doctor"""

from __future__ import annotations

from typing import Annotated

import typer

from paddlectl.cli.output import out


def command(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Check the engine, GPU support, images, git, the run store and disk; exit 1 when a required check fails."""
    from paddlectl.core.doctor import run_checks
    from paddlectl.core.project import open_project
    from paddlectl.engine.docker_engine import connect

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
            mark = "[green]ok[/green]" if check.ok else ("[red]FAIL[/red]" if check.required else "[yellow]warn[/yellow]")
            detail = check.detail + (f"\n  [dim]fix: {check.fix}[/dim]" if check.fix and not check.ok else "")
            table.add_row(check.name, mark, detail)
        out.stdout_console.print(table)
    if not report.ok:
        raise typer.Exit(1)
