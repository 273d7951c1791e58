"""The root command and the one error boundary that maps exceptions to exit codes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from paddlectl import __version__
from paddlectl.cli.lazygroup import LazyCommand, LazyCommandGroup
from paddlectl.cli.output import Output, out

if TYPE_CHECKING:
    from paddlectl.errors import PaddlectlError


class RootGroup(LazyCommandGroup):
    """paddlectl's commands, each imported only when it runs (Typer builds a command's options eagerly).

    Add a command here: "name": LazyCommand("paddlectl.cli.MODULE:command" or ":app" for a group, "summary").
    The summary is the first line of the command's docstring (tests/unit/cli/test_cli_basics.py checks it).
    """

    lazy = {  # noqa: RUF012 - read-only table
        "doctor": LazyCommand(
            "paddlectl.cli.doctor:command",
            "Check the engine, GPU support, images, git, run store and disk; exit 1 if a required check fails.",
        ),
        "init": LazyCommand(
            "paddlectl.cli.init:command",
            "Write a commented paddlectl.yaml and create the .paddlectl/ run store (git-ignored).",
        ),
        "export": LazyCommand(
            "paddlectl.cli.export:command",
            "Export a model to a static graph in a pinned image and verify the predictor matches the dynamic graph.",
        ),
        "package": LazyCommand(
            "paddlectl.cli.package:command",
            "Package an export as NAME-VERSION.tar: inference files, MODEL.yaml, SHA256SUMS (and a signature).",
        ),
        "verify": LazyCommand(
            "paddlectl.cli.verify:command",
            "Check every checksum, the file list, the model card and the signature; exit 4 tampered, 5 unsigned.",
        ),
        "unpack": LazyCommand(
            "paddlectl.cli.unpack:command",
            "Verify a package and unpack it; links, devices and paths outside DIR are refused, nothing half-written.",
        ),
        "keys": LazyCommand(
            "paddlectl.cli.keys:app",
            "Create the ed25519 keys that sign packages (package --sign) and check them (verify --key).",
        ),
        "runs": LazyCommand("paddlectl.cli.runs:app", "List, inspect, compare, clean up and gate recorded runs."),
        "ci": LazyCommand(
            "paddlectl.cli.ci:app",
            "Pipeline files for CI: train on a sample on a GPU runner, gate against production, report.",
        ),
        "registry": LazyCommand(
            "paddlectl.cli.registry:app",
            "Versions of packages with statuses, promotion, rollback, an audit trail and cold storage.",
        ),
        "image": LazyCommand(
            "paddlectl.cli.image:app",
            "Build the base, dev and prod images (tagged by content) and list the ones built for this project.",
        ),
        "dev": LazyCommand(
            "paddlectl.cli.dev:command",
            "Start JupyterLab in the dev image on this project, as you, on 127.0.0.1; print its URL with a token.",
        ),
        "mlflow": LazyCommand(
            "paddlectl.cli.mlflow:app",
            "Push runs to an MLflow tracking server: params, every metric point, tags, status and artifacts.",
        ),
        "reproduce": LazyCommand(
            "paddlectl.cli.reproduce:command",
            "Run RUN again (same image digest, commit + patch, params, settings) and compare its metrics.",
        ),
        "train": LazyCommand(
            "paddlectl.cli.train:command",
            "Train a script in a pinned PaddlePaddle container and record the run.",
            {
                "cls": "paddlectl.cli.train_args:TrainCommand",
                "context_settings": {"allow_extra_args": True, "ignore_unknown_options": False},
            },
        ),
    }


app = typer.Typer(
    name="paddlectl",
    cls=RootGroup,
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
    context: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks (also PADDLECTL_DEBUG=1).")] = False,
) -> None:
    """Train PaddlePaddle models in pinned containers, record every run, export and package them."""
    from paddlectl.cli.output import Application

    context.ensure_object(Application)  # main() gave one; click's test runner did not
    if debug:
        out.debug = True


def main() -> None:
    """Run the CLI; paddlectl's own errors become one line, a hint and an exit code."""
    from paddlectl.cli.output import Application
    from paddlectl.foundation.signals import Interrupted, signals

    signals.install()  # SIGINT, SIGTERM and SIGHUP unwind every command through its cleanup (foundation/signals.py)
    application = Application()
    try:
        code = app(standalone_mode=False, obj=application)
        late = signals.pending  # a signal whose exception Python swallowed (in a weakref callback, say)
        if late is not None:
            raise Interrupted(late)
    except SystemExit:
        raise
    except BaseException as error:  # the boundary: every exception (signals too) becomes a line and an exit code
        sys.exit(_reported(error, application.output))
    sys.exit(code if isinstance(code, int) else 0)


def _reported(error: BaseException, out: Output) -> int:
    """Say what ended the command, in one line (and a hint) unless debugging, and give its exit code.

    `out` is the invocation's own output: after the command has returned or raised, its modes are still there.
    With --json on the command line every error is also a JSON document on stdout, one click raised while parsing
    (before the command could set its mode) and a bug included.
    """
    try:  # Typer 0.26+ vendors its own click and raises that copy's exceptions, not the click package's
        from typer._click import ClickException  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from click import ClickException  # type: ignore[assignment,unused-ignore]

    from paddlectl.errors import ExitCode, PaddlectlError
    from paddlectl.foundation.signals import Interrupted, signals

    if isinstance(error, Interrupted):
        signals.silence()  # a further signal while we say so changes nothing
        out.console.print(f"interrupted ({error})")
        return error.exit_code
    if isinstance(error, typer.Abort):
        out.console.print("aborted")
        return int(ExitCode.SIGINT)
    if isinstance(error, KeyboardInterrupt):
        return int(ExitCode.SIGINT)
    if type(error).__name__ == "NoArgsIsHelpError":  # `paddlectl runs` alone: the group's help, as click shows it
        error.show()  # type: ignore[attr-defined]
        return int(getattr(error, "exit_code", ExitCode.USAGE))
    if _json_requested(sys.argv[1:]):
        out.json_mode = True
    error = _as_paddlectl_error(error, ClickException)
    if isinstance(error, PaddlectlError):
        if out.debug:
            out.console.print_exception(show_locals=False)
        out.error(error)
        return int(error.code)
    if out.debug:  # a bug: say so in one line unless debugging
        out.console.print_exception(show_locals=False)
        return int(ExitCode.INTERNAL)
    bug = PaddlectlError(
        f"internal error: {type(error).__name__}: {error}",
        hint="run it again as paddlectl --debug ... for the traceback, and report it",
        code=ExitCode.INTERNAL,
    )
    out.error(bug)
    return int(ExitCode.INTERNAL)


def _as_paddlectl_error(error: BaseException, click_exception: type[Exception]) -> BaseException:
    """Click's usage errors and the system's refusals as paddlectl's errors; anything else as it is (a bug)."""
    from paddlectl.errors import PaddlectlError

    if isinstance(error, click_exception):
        return _from_click(error)
    if isinstance(error, OSError) and not isinstance(error, PaddlectlError):
        return _from_os_error(error)
    return error


def _json_requested(argv: list[str]) -> bool:
    """--json among paddlectl's own arguments (those after `--` are the training script's)."""
    own = argv[: argv.index("--")] if "--" in argv else argv
    return "--json" in own


def _from_click(error: Exception) -> PaddlectlError:
    """Click's usage error as paddlectl's: its message on one line, the command's --help as the hint."""
    from paddlectl.errors import ExitCode, PaddlectlError

    context = getattr(error, "ctx", None)
    command = context.command_path if context is not None else _command_in(sys.argv)
    message = error.format_message() if hasattr(error, "format_message") else str(error)
    message = " ".join(message.split())  # click lays choices out on lines and tabs: one line says them all
    code = getattr(error, "exit_code", ExitCode.USAGE)
    known = code in {int(item) for item in ExitCode}
    return PaddlectlError(message, hint=f"{command} --help", code=ExitCode(code) if known else ExitCode.USAGE)


def _command_in(argv: list[str]) -> str:
    """`paddlectl runs list` from the command line, for an error click raised without a context (an option given
    no value): the command and sub-command words it names, as far as they are commands."""
    import click

    command: click.Command = typer.main.get_command(app)
    words = ["paddlectl"]
    for word in argv[1:]:
        if word.startswith("-"):  # the root's own options (--debug) come before the command
            continue
        if not isinstance(command, click.Group):
            break
        found = command.get_command(click.Context(command), word)
        if found is None:
            break
        command, words = found, [*words, word]
    return " ".join(words)


def _from_os_error(error: OSError) -> PaddlectlError:
    """A file or folder the system refused (a parent that is a file, /proc, a directory where a file goes)."""
    from paddlectl.errors import ExitCode, PaddlectlError

    where = f": {error.filename}" if error.filename else ""
    reason = error.strerror or type(error).__name__
    return PaddlectlError(
        f"{reason}{where}", hint="check the path and its permissions, then run it again", code=ExitCode.IO
    )
