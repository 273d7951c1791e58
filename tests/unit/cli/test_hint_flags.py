"""Every paddlectl flag an error, hint or warning names exists: a renamed option cannot leave a hint pointing at
nothing ("pass --force" when the option is now --yes).

The messages are read from the source (every string given to an *Error(...), warn(...), warning(...) or
status(...) call, f-strings included); a flag that follows another program's name in the same quoted command
(`docker pull --platform`, `pip install --no-deps`, `mlflow server --artifacts-destination`) is that program's.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import click
import typer.main

from paddlectl.cli.app import app

SRC = Path(__file__).resolve().parents[3] / "src" / "paddlectl"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9]")
OTHER_PROGRAM = re.compile(
    r"\b(docker|dockerd|pip|git|ssh-keyscan|ssh-keygen|mlflow|python3?|apt-get|curl|tar|nvidia-ctk|sha256sum)\b"
)
MESSAGE_CALLS = ("Error", "warn", "warning", "status")


def _texts(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.JoinedStr):
        yield "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)  # type: ignore[misc]
    elif isinstance(node, ast.BinOp):
        yield from _texts(node.left)
        yield from _texts(node.right)


def _is_paddlectl_flag(text: str, start: int) -> bool:
    """Is the flag at `start` paddlectl's? Not when another program is named after the last 'paddlectl' before it
    in the same quoted or comma-separated part of the message."""
    part = re.split(r"['`\"]|; |, or |, ", text[:start])[-1]
    others = OTHER_PROGRAM.findall(part)
    return not others or part.rfind("paddlectl") > part.rfind(others[-1])


def flags_named_in_messages() -> dict[str, list[str]]:
    named: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        if "incontainer" in path.parts:  # runs in the Paddle image: its messages are not paddlectl's
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", "")
            if not name.endswith(MESSAGE_CALLS):
                continue
            for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
                for text in _texts(argument):
                    for match in FLAG.finditer(text):
                        if _is_paddlectl_flag(text, match.start()):
                            where = f"{path.relative_to(SRC)}:{node.lineno}"
                            named.setdefault(match.group(), []).append(where)
    return named


def every_option() -> set[str]:
    options: set[str] = {"--help"}  # click gives every command one

    def walk(command: click.Command) -> None:
        for parameter in command.params:
            options.update(o for o in [*parameter.opts, *parameter.secondary_opts] if o.startswith("--"))
        if isinstance(command, click.Group):
            context = click.Context(command)
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                assert sub is not None
                walk(sub)

    walk(typer.main.get_command(app))
    return options


def test_every_flag_a_message_names_exists() -> None:
    named = flags_named_in_messages()
    assert len(named) > 40, "the scan finds the hints (it found most of the ~60 flags they name when written)"
    missing = {flag: places for flag, places in named.items() if flag not in every_option()}
    assert missing == {}, f"hints name options no command has: {missing}"


def test_the_scan_would_catch_a_renamed_option() -> None:
    source = 'raise UsageError("x", hint="pass --frobnicate, or docker pull --platform y")'
    flags = [
        match.group()
        for text in _texts(ast.parse(source).body[0].exc.keywords[0].value)  # type: ignore[attr-defined]
        for match in FLAG.finditer(text)
        if _is_paddlectl_flag(text, match.start())
    ]
    assert flags == ["--frobnicate"] and "--frobnicate" not in every_option()
