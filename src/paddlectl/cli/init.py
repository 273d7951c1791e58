"""paddlectl init"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paddlectl.cli.output import out


def command(
    directory: Annotated[Path, typer.Argument(help="Project folder.")] = Path(),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing paddlectl.yaml.")] = False,
    cpu_image: Annotated[str | None, typer.Option("--cpu-image", help="Pinned CPU image.")] = None,
    gpu_image: Annotated[str | None, typer.Option("--gpu-image", help="Pinned GPU image.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Write a commented paddlectl.yaml and create the .paddlectl/ run store (git-ignored)."""
    from paddlectl.project.create import init_project

    out.json_mode = json_output
    result = init_project(directory, force=force, cpu_image=cpu_image, gpu_image=gpu_image)
    if json_output:
        out.json({"config": str(result.config_path), "store": str(result.store_path), "overwrote": result.overwrote})
    else:
        out.status(f"wrote {result.config_path}; runs will be recorded in {result.store_path}/")
