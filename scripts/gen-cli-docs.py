#!/usr/bin/env python3
"""Generate docs/cli.md from the `--help` of every paddlectl command, so the reference never drifts.

    python scripts/gen-cli-docs.py           rewrite docs/cli.md
    python scripts/gen-cli-docs.py --check   exit 1 when docs/cli.md differs from what would be generated

Help is rendered in-process with COLUMNS=100 and NO_COLOR=1: exactly what
`COLUMNS=100 NO_COLOR=1 paddlectl ... --help` prints, and the same from one machine to the next.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer.main

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "cli.md"
HEADER = """\
# paddlectl command reference

Generated from each command's `--help` by `python scripts/gen-cli-docs.py`; do not edit by hand.
The unit tests run `python scripts/gen-cli-docs.py --check`, which fails when this file is stale.
"""
HELP_ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every visible command and sub-command, parents first, in the order `--help` lists them."""
    yield path, command
    # Duck-typed: recent Typer ships its own copy of click, so its groups are not click.Group instances.
    if hasattr(command, "list_commands"):
        context = command.context_class(command, info_name="paddlectl")
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, (*path, name))


def help_text(root: Any, path: tuple[str, ...]) -> str:
    """What `COLUMNS=100 NO_COLOR=1 paddlectl PATH --help` prints, rendered in this process."""
    saved = {key: os.environ.get(key) for key in HELP_ENV}
    os.environ.update(HELP_ENV)
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            code = root.main([*path, "--help"], prog_name="paddlectl", standalone_mode=False)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if code not in (None, 0):
        raise SystemExit(f"paddlectl {' '.join(path)} --help failed ({code}):\n{buffer.getvalue()}")
    return buffer.getvalue().rstrip() + "\n"


def render() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from paddlectl.cli.app import app

    sections = [HEADER]
    root = typer.main.get_command(app)
    for path, _command in walk(root):
        title = " ".join(("paddlectl", *path))
        sections.append(f"## `{title}`\n\n```text\n{help_text(root, path)}```\n")
    return "\n".join(sections)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when docs/cli.md is stale; write nothing")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current == text:
            return 0
        diff = difflib.unified_diff(current.splitlines(), text.splitlines(), "docs/cli.md", "generated", lineterm="")
        print("\n".join(list(diff)[:60]), file=sys.stderr)
        print("docs/cli.md is stale: run python scripts/gen-cli-docs.py", file=sys.stderr)
        return 1
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
