"""The root command group that imports and builds a sub-command only when that sub-command runs.

Typer builds every command's parameters (type hints included) before it does anything, so each command added to
an eager app slows down every invocation, `--help` included. Here `paddlectl --help` prints each command's summary
from a table, and `paddlectl runs list` builds only `runs`. This is click's documented lazy-loading pattern.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    import click


@dataclass(frozen=True)
class LazyCommand:
    """A sub-command by reference: `module:function` (a command) or `module:app` (a Typer group)."""

    target: str
    summary: str  # what `paddlectl --help` lists; tests check it against the command's own docstring
    settings: dict[str, Any] = field(default_factory=dict)  # keyword arguments for Typer.command()

    def build(self, name: str) -> click.Command:
        module_name, _, attribute = self.target.partition(":")
        target = getattr(importlib.import_module(module_name), attribute)
        # A holder app gives the command the same settings it would get when registered on the root app.
        holder = typer.Typer(add_completion=False, rich_markup_mode=None)
        holder.callback()(_no_op)
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=name)
        else:
            holder.command(name, **self.settings)(target)
        group = typer.main.get_command(holder)
        command: click.Command = group.commands[name]  # type: ignore[attr-defined]
        return command


def _no_op() -> None:
    """Unused: makes the holder a group, so that its one command keeps its name."""


class LazyCommandGroup(TyperGroup):
    """A TyperGroup whose `lazy` commands are imported on first use. Commands registered eagerly still work."""

    lazy: dict[str, LazyCommand] = {}  # noqa: RUF012 - set once, by the app that uses this class

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *(name for name in super().list_commands(ctx) if name not in self.lazy)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            self.add_command(self.lazy[cmd_name].build(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own listing, with summaries of commands not built yet taken from the table."""
        from click.utils import make_default_short_help

        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is None:
                rows.append((name, make_default_short_help(self.lazy[name].summary, limit)))
            elif not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
