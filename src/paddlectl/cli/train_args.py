"""How `paddlectl train`'s command line is parsed: an unknown option after the script says how to pass it on.

click would suggest the nearest of train's own options (`train.py --epoch 3` -> `--detach`). An option after
SCRIPT is almost always meant for the script: as a param (`-p epoch=3`, recorded with the run) or after `--`
(passed as is). Only typer and the standard library are imported here; app.py names the class by reference.
"""

from __future__ import annotations

from difflib import get_close_matches
from typing import TYPE_CHECKING

from typer.core import TyperCommand

from paddlectl.cli.lazygroup import click_usage_error, suggestion

if TYPE_CHECKING:
    import click


class TrainCommand(TyperCommand):
    """`paddlectl train`, whose unknown options after the script say how to pass them to the script."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)  # click's parser consumes the list it is given
        try:
            return super().parse_args(ctx, args)
        except click_usage_error() as error:
            option = getattr(error, "option_name", None)
            if option is not None:
                message = script_option_message(self, given, option)
                if message is not None:
                    error.message = message
                    error.possibilities = None  # type: ignore[attr-defined]
            raise


def script_option_message(command: click.Command, args: list[str], option: str) -> str | None:
    """The error for an unknown `option` that comes after the script (or -m module); None when it comes before."""
    valued = {
        name
        for param in command.params
        if param.param_type_name == "option" and not getattr(param, "is_flag", False)
        for name in param.opts
    }  # options that take the next argument as their value
    target = None
    position = 0
    while position < len(args):
        arg = args[position]
        if arg == "--" or arg.partition("=")[0] == option:
            break
        if arg in ("-m", "--module") and position + 1 < len(args):
            target = f"-m {args[position + 1]}"
            position += 1
        elif arg.startswith("-") and arg != "-":
            position += 1 if arg in valued else 0
        elif target is None:
            target = arg
        position += 1
    if target is None or position >= len(args):
        return None
    inline, has_inline, given = args[position].partition("=")
    after = args[position + 1] if position + 1 < len(args) else None
    value = given if has_inline else (after if after is not None and not after.startswith("-") else None)
    passed = " ".join(part for part in (inline, value) if part is not None)
    long_options = sorted(name for param in command.params for name in getattr(param, "opts", []) if name[:2] == "--")
    close = suggestion(inline, long_options) if _close_enough(inline, long_options) else ""
    as_param = ""
    if value is not None and inline.startswith("--"):  # a flag or a short option has no `-p` spelling
        as_param = f"as a param: -p {inline[2:]}={value} (recorded with the run), or "
    return (
        f"No such option: {inline}.{close} If it is for {target.removeprefix('-m ')}, pass it "
        f"{as_param}after '--': paddlectl train {target} -- {passed} (passed as is)."
    )


def _close_enough(option: str, names: list[str]) -> bool:
    return bool(get_close_matches(option, names, cutoff=0.8))
