"""paddlectl package"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paddlectl.cli.output import out
from paddlectl.foundation.sizes import human_size


def command(
    target: Annotated[str, typer.Argument(help="A run id, a run folder, or an export folder.")],
    name: Annotated[str, typer.Option("--name", help="Package name: [a-z0-9][a-z0-9._-]*.")],
    version: Annotated[str, typer.Option("--version", help="Semantic version, e.g. 1.0.0.")],
    output_dir: Annotated[
        Path, typer.Option("-o", "--output", help="Folder for NAME-VERSION.tar (default dist/, git-ignored by init).")
    ] = Path("dist"),
    sign: Annotated[
        Path | None, typer.Option("--sign", help="Sign with this ed25519 private key (paddlectl keys generate).")
    ] = None,
    status: Annotated[str, typer.Option("--status", help="staging, production or archived.")] = "staging",
    task: Annotated[str | None, typer.Option("--task", help="What the model does, e.g. classification.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing archive.")] = False,
    allow_unverified: Annotated[
        bool, typer.Option("--allow-unverified", help="Package an export whose equivalence check did not pass.")
    ] = False,
    allow_failed: Annotated[
        bool, typer.Option("--allow-failed", help="Package the export of a run that failed or was interrupted.")
    ] = False,
    no_patch: Annotated[
        bool,
        typer.Option(
            "--no-patch",
            help="Leave the run's uncommitted changes (RUN.patch) out; the package then cannot be reproduced from.",
        ),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Package an export as NAME-VERSION.tar: inference files, MODEL.yaml, SHA256SUMS (and a signature)."""
    from paddlectl.packaging import PackageRequest, build_package, parse_status, resolve_export_dir
    from paddlectl.project.workspace import open_existing_project, open_project

    out.json_mode = json_output
    # An export folder can be packaged from anywhere; a RUN needs the project that recorded it.
    project = open_project() if Path(target).expanduser().is_dir() else open_existing_project()
    request = PackageRequest(
        export_dir=resolve_export_dir(target, project),
        name=name,
        version=version,
        output_dir=output_dir,
        status=parse_status(status),
        task=task,
        sign_key=sign,
        force=force,
        allow_unverified=allow_unverified,
        allow_failed=allow_failed,
        include_patch=not no_patch,
    )
    result = build_package(request)
    for warning in result.warnings:
        out.warn(warning)
    if json_output:
        out.json(result.as_dict())
        return
    out.data(f"{result.sha256}  {result.path}")
    out.status(
        f"packaged {name} {version} ({len(result.files)} files, {human_size(result.size)}, "
        f"{'signed' if result.signed else 'unsigned'}) into {result.path}"
    )
