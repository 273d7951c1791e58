"""Where output goes: data on stdout, everything human on stderr through one rich console; and whose.

An `Application` is one invocation of paddlectl (hatch's): `main()` makes one for each run and hands it to click
as the context's object (the root callback makes one when the app is invoked another way, as click's test runner
does). `out` always means the running invocation's Output: commands set `json_mode` / `quiet` on it from their
options, the error boundary reads the same invocation's, and nothing a command sets outlives it.
"""

from __future__ import annotations

import json
import os
import sys
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from paddlectl.errors import PaddlectlError


class Output:
    """The process's one console (stderr) and its stdout data channel."""

    def __init__(self) -> None:
        self.json_mode = False
        self.quiet = False
        self.debug = bool(os.environ.get("PADDLECTL_DEBUG"))

    @cached_property
    def console(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, highlight=False, soft_wrap=True, **_plain_when_asked())

    @cached_property
    def stdout_console(self) -> Console:
        """For rich tables that are a command's data (listings): stdout, plain when piped.

        Lines are never wrapped by rich (soft wrap): a path or digest broken in two is not the same value.
        Tables go through `table()`, which prints them whole when piped.
        """
        from rich.console import Console

        return Console(highlight=False, soft_wrap=True, **_plain_when_asked())

    def table(self, table: Table, *, whole: bool = False) -> None:
        """Print a data table on stdout; piped (or `whole`), at its natural width: a pipe has no width to squeeze
        it into, and a value cut to fit would be a different value."""
        console = self.stdout_console
        if console.is_terminal and not whole:
            console.print(table)
            return
        natural = console.measure(table, options=console.options.update_width(10_000)).maximum
        previous, console.width = console.width, max(natural, 40)
        try:
            with console.capture() as captured:
                console.print(table, crop=False)
        finally:
            console.width = previous
        # the padding rich adds to the last column is not data
        self.data("\n".join(line.rstrip() for line in captured.get().rstrip("\n").split("\n")))

    @property
    def interactive(self) -> bool:
        """Progress displays only on a real terminal, and not when NO_COLOR is set."""
        return self.console.is_terminal and "NO_COLOR" not in os.environ and not self.quiet

    def status(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message)

    def warn(self, message: str) -> None:
        self.console.print(f"[yellow]warning:[/yellow] {message}")

    def data(self, text: str) -> None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()

    def json(self, document: Any) -> None:
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
        sys.stdout.flush()

    def error(self, error: PaddlectlError) -> None:
        """One line for the error and one for its hint, whatever text from outside they quote."""
        from rich.markup import escape

        from paddlectl.foundation.display import printable

        if self.json_mode:
            self.json({"error": error.message, "hint": error.hint, "exit_code": int(error.code)})
        self.console.print(f"[bold red]error:[/bold red] {escape(printable(error.message))}")
        if error.hint:
            self.console.print(f"[dim]hint:[/dim] {escape(printable(error.hint))}")


def _plain_when_asked() -> dict[str, Any]:
    """NO_COLOR (no-color.org) set and not empty: no escape codes at all, bold and dim too (rich drops only colour)."""
    return {"color_system": None} if os.environ.get("NO_COLOR") else {}


class Application:
    """One invocation of paddlectl: its output and the modes its options set."""

    def __init__(self) -> None:
        self.output = Output()


_OUTSIDE = Application()  # what `out` means outside any command: code called directly (a test rendering a view)


def current() -> Application:
    """The running invocation's Application (the nearest on click's context), else the one outside commands."""
    import click

    context = click.get_current_context(silent=True)
    found = context.find_object(Application) if context is not None else None
    return found if found is not None else _OUTSIDE


class _CurrentOutput:
    """Forwards to the running invocation's Output (attribute reads and writes alike)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(current().output, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(current().output, name, value)


out = cast(Output, _CurrentOutput())
