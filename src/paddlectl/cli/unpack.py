"""paddlectl unpack"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paddlectl.cli.output import out


def command(
    package: Annotated[Path, typer.Argument(help="The package (.tar) to unpack.")],
    directory: Annotated[Path, typer.Argument(help="A new or empty folder to unpack into.")],
    key: Annotated[
        Path | None, typer.Option("--key", help="Public key (.pub): require a valid signature by it.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Verify a package and unpack it; links, devices and paths outside DIR are refused, nothing half-written."""
    from paddlectl.packaging import SignatureState, unpack_package

    out.json_mode = json_output
    result = unpack_package(package, directory, key=key)
    report = result.report
    card = report.card or {}
    if report.signature is SignatureState.UNCHECKED:
        out.warn("the package is signed, but the signature was not checked: pass --key PUBKEY")
    if json_output:
        out.json({**report.as_dict(), "directory": str(result.directory)})
        return
    out.data(str(result.directory))
    out.status(
        f"unpacked {card.get('name')} {card.get('version')} ({len(report.files)} files, verified"
        f"{', signature valid' if report.signature is SignatureState.VALID else ''}) into {result.directory}"
    )
