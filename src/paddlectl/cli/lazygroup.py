"""The root command group that imports and builds a sub-command only when that sub-command runs.

Typer builds every command's parameters (type hints included) before it does anything, so each command added to
an eager app slows down every invocation, `--help` included. Here `paddlectl --help` prints each command's summary
from a table, and `paddlectl runs list` builds only `runs`. This is click's documented lazy-loading pattern.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from difflib import get_close_matches
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
        target = _imported(self.target)
        # A holder app gives the command the same settings it would get when registered on the root app.
        holder = typer.Typer(add_completion=False, rich_markup_mode=None)
        holder.callback()(_no_op)
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=name)
        else:
            settings = dict(self.settings)
            if isinstance(settings.get("cls"), str):  # "module:Class", imported only now, like the command
                settings["cls"] = _imported(settings["cls"])
            holder.command(name, **settings)(target)
        group = typer.main.get_command(holder)
        command: click.Command = group.commands[name]  # type: ignore[attr-defined]
        return command


def _imported(reference: str) -> Any:
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _no_op() -> None:
    """Unused: makes the holder a group, so that its one command keeps its name."""


def click_usage_error() -> type[click.UsageError]:
    """click's UsageError, from the click Typer uses (Typer 0.26+ vendors its own copy)."""
    try:
        from typer._click import UsageError  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from click import UsageError
    return UsageError  # type: ignore[no-any-return,unused-ignore]


def suggestion(word: str, candidates: list[str]) -> str:
    """` Did you mean 'x'?` (or one of several) for a mistyped name, or "" when nothing is close."""
    starting = [candidate for candidate in candidates if word and candidate.startswith(word)]
    matches = list(dict.fromkeys([*starting, *get_close_matches(word, candidates)]))
    if not matches:
        return ""
    if len(matches) == 1:
        return f" Did you mean {matches[0]!r}?"
    return f" Did you mean one of {', '.join(repr(match) for match in matches)}?"


class CommandGroup(TyperGroup):
    """A TyperGroup whose "No such command" error suggests a close name once.

    click (8.2 and later) and Typer both append "Did you mean ...?", so the message said it twice; and a lazy
    group's suggestions must come from every command it lists, not only the ones already imported.
    """

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click_usage_error() as error:
            name = args[0] if args else None
            if name is None or self.get_command(ctx, name) is not None:
                raise
            error.message = f"No such command {name!r}.{suggestion(name, self.list_commands(ctx))}"
            if hasattr(error, "possibilities"):
                error.possibilities = None
            raise


class LazyCommandGroup(CommandGroup):
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
