"""paddlectl doctor"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from paddlectl.cli.output import out

if TYPE_CHECKING:
    from paddlectl.doctor.checks import Check


def command(
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            metavar="NAME|URL",
            help="Check this Docker engine instead: a hosts: name in paddlectl.yaml, ssh://user@host[:port] or "
            "tcp://host:2376.",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Check the engine, GPU support, images, git, run store and disk; exit 1 if a required check fails.

    Each failing check prints what to do as `fix:` lines; a fix that is a command works when pasted as printed.
    A pinned CPU image that is absent and cannot be pulled gets the offline route: the command that builds the
    local CPU image without a registry, and the line that pins it in paddlectl.yaml. With --host, the engine,
    GPU and image checks are made on that host (over its ssh login or TLS connection).
    """
    from paddlectl.doctor.checks import run_checks
    from paddlectl.engine.docker_engine import connect
    from paddlectl.engine.hosts import resolve_host
    from paddlectl.project.workspace import open_project
    from paddlectl.runs.run_engines import host_entries

    out.json_mode = json_output
    project = open_project()
    engine_host = resolve_host(host, host_entries(project))
    report = run_checks(project, lambda: connect(engine_host), engine_host)
    if json_output:
        out.json({"ok": report.ok, "checks": [check.as_dict() for check in report.checks]})
    else:
        from rich.markup import escape
        from rich.table import Table

        table = Table(show_header=True, header_style="bold", box=None)
        for column in ("check", "", "detail"):
            table.add_column(column)
        for check in report.checks:
            failed = "[red]FAIL[/red]" if check.required else "[yellow]warn[/yellow]"
            mark = "[green]ok[/green]" if check.ok else failed
            fixes = check.fix.splitlines() if check.fix and not check.ok else []
            detail = escape(check.detail) + "".join(f"\n  [dim]fix: {escape(line)}[/dim]" for line in fixes)
            table.add_row(check.name, mark, detail)
        out.table(table)
    if not report.ok:
        _say_what_failed([check for check in report.checks if check.required and not check.ok])
        raise typer.Exit(1)


def _say_what_failed(failed: list[Check]) -> None:
    """End with one error line and one hint on stderr (also under --json, where stdout holds the report)."""
    from rich.markup import escape

    first = failed[0]
    if first.name == "docker engine" and first.detail.startswith("cannot reach "):  # a remote host names itself
        message = first.detail
    elif first.name == "docker engine":
        message = f"the Docker engine is not reachable ({first.detail.removeprefix('connecting: ')})"
    else:
        names = ", ".join(check.name for check in failed)
        message = f"{len(failed)} required check{'s' if len(failed) > 1 else ''} failed: {names}"
    out.console.print(f"[bold red]error:[/bold red] {escape(message)}", soft_wrap=True)
    for line in (first.fix or "").splitlines():  # one hint line per fix line: each command stays pasteable
        out.console.print(f"[dim]hint:[/dim] {escape(line)}", soft_wrap=True)
