"""paddlectl verify"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paddlectl.cli.output import out


def command(
    package: Annotated[Path, typer.Argument(help="The package (.tar) to check.")],
    key: Annotated[
        Path | None, typer.Option("--key", help="Public key (.pub): the package must carry a valid signature by it.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Check every checksum, the file list, the model card and the signature; exit 4 tampered, 5 unsigned."""
    from paddlectl.packaging import SignatureState, verify_package

    out.json_mode = json_output
    report = verify_package(package, key=key)
    if json_output:
        out.json(report.as_dict())
        if not report.ok:
            raise typer.Exit(int(report.exit_code))
        return
    report.raise_for_problems()
    out.data(f"{report.sha256}  {report.path}")
    card = report.card or {}
    out.status(f"verified {card.get('name')} {card.get('version')}: {len(report.files)} files, checksums match")
    if report.signature is SignatureState.VALID:
        out.status(f"signature valid ({report.key_fingerprint})")
    elif report.signature is SignatureState.UNCHECKED:
        out.warn("the package is signed, but the signature was not checked: pass --key PUBKEY")
    else:
        out.status("not signed")
