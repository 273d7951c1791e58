"""The root command and the one error boundary that maps exceptions to exit codes."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from paddlectl import __version__
from paddlectl.cli import doctor, init, train
from paddlectl.cli.output import out

app = typer.Typer(
    name="paddlectl",
    help="Train PaddlePaddle models in pinned containers, record every run, export and package them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        out.data(f"paddlectl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks (also PADDLECTL_DEBUG=1).")] = False,
) -> None:
    """Train PaddlePaddle models in pinned containers, record every run, export and package them."""
    if debug:
        out.debug = True


app.command("doctor")(doctor.command)
app.command("init")(init.command)
app.command(
    "train",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": False},
)(train.command)


def main() -> None:
    """Run the CLI; paddlectl's own errors become one line, a hint and an exit code."""
    import click

    from paddlectl.errors import ExitCode, PaddlectlError

    try:
        code = app(standalone_mode=False)
    except PaddlectlError as error:
        if out.debug:
            out.console.print_exception(show_locals=False)
        out.error(error)
        sys.exit(int(error.code))
    except click.exceptions.Abort:
        out.console.print("aborted")
        sys.exit(int(ExitCode.SIGINT))
    except KeyboardInterrupt:
        sys.exit(int(ExitCode.SIGINT))
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except Exception as error:  # a bug: say so in one line unless debugging
        if out.debug:
            out.console.print_exception(show_locals=False)
        else:
            out.console.print(
                f"[bold red]internal error:[/bold red] {type(error).__name__}: {error}\n"
                "[dim]hint:[/dim] run again with --debug for the traceback, and report it"
            )
        sys.exit(int(ExitCode.INTERNAL))
    sys.exit(code if isinstance(code, int) else 0)
