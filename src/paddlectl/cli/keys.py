"""paddlectl keys: signing keys for packages"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paddlectl.cli.lazygroup import CommandGroup
from paddlectl.cli.output import out

app = typer.Typer(
    cls=CommandGroup,
    help="Create the ed25519 keys that sign packages (package --sign) and check them (verify --key).",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command("generate")
def generate(
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for the keys [default: ~/.config/paddlectl/keys].")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Key name: NAME.key and NAME.pub.")] = "paddlectl",
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Write a new key pair: NAME.key (private, 0600) and NAME.pub (public); never overwrites."""
    from paddlectl.packaging import generate_keypair

    out.json_mode = json_output
    pair = generate_keypair(out_dir, name)
    if json_output:
        out.json(
            {"private_key": str(pair.private_key), "public_key": str(pair.public_key), "fingerprint": pair.fingerprint}
        )
        return
    out.data(f"{pair.private_key}\n{pair.public_key}")
    out.status(
        f"private key {pair.private_key} (mode 0600: keep it secret; sign with: package --sign {pair.private_key})"
    )
    out.status(f"public key  {pair.public_key} ({pair.fingerprint}; share it: verify --key {pair.public_key})")
