"""paddlectl image: build the layered images (base, dev, prod) and list the ones built for this project."""

from __future__ import annotations

import sys
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from paddlectl.cli.lazygroup import CommandGroup
from paddlectl.cli.output import out
from paddlectl.foundation.sizes import human_size
from paddlectl.images.tags import ImageRole

if TYPE_CHECKING:
    from rich.live import Live

    from paddlectl.images.build import BuildResult
    from paddlectl.images.records import ImageRow

app = typer.Typer(
    cls=CommandGroup,
    help="Build the base, dev and prod images (tagged by content) and list the ones built for this project.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
TAIL_LINES = 12
_NOISE = (" ---> ", "Removing intermediate container")  # the classic builder's bookkeeping, not the build's output


class BuildView:
    """The build's progress on stderr: a live tail of the engine's output on a terminal, plain lines otherwise."""

    def __init__(self) -> None:
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._status = "starting"
        self._live: Live | None = None

    def _render(self) -> Any:
        from rich.console import Group
        from rich.spinner import Spinner
        from rich.text import Text

        lines = [Text(line[: out.console.width - 4], style="dim", no_wrap=True) for line in self._tail]
        return Group(Spinner("dots", text=Text(self._status, style="bold")), *lines)

    def status(self, message: str) -> None:
        self._status = message
        if not out.interactive:
            out.status(f"[dim]paddlectl:[/dim] {message}")
            return
        if self._live is None:
            from rich.live import Live

            self._live = Live(self._render(), console=out.console, transient=True, refresh_per_second=8)
            self._live.start()
        self._live.console.print(f"[dim]paddlectl:[/dim] {message}")
        self._live.update(self._render())

    def output(self, line: str) -> None:
        if not line.strip() or line.startswith(_NOISE):
            return
        self._tail.append(line)
        if self._live is None:
            if not out.quiet:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
            return
        if line.startswith("Step "):
            self._status = line
        self._live.update(self._render())

    def close(self, failed: bool) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
            if failed:  # the live tail vanished with the view: keep the lines that led to the error
                for line in self._tail:
                    out.console.print(line, markup=False, highlight=False)


@app.command("build")
def build(
    role: Annotated[
        ImageRole,
        typer.Argument(
            help="base, dev (builds base first) or prod (serves --package).", case_sensitive=False, show_default=False
        ),
    ],
    paddle_image: Annotated[
        str | None,
        typer.Option(
            "--paddle-image",
            metavar="IMAGE",
            help="Pinned Paddle image to build on (default: the project's image for its GPU setting).",
        ),
    ] = None,
    package: Annotated[
        Path | None,
        typer.Option(
            "--package", metavar="PKG", help="prod: the NAME-X.Y.Z.tar to serve (verified before and during the build)."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            metavar="REF",
            help="prod: serve a registered version instead, e.g. NAME@production (verified through the registry).",
        ),
    ] = None,
    key: Annotated[
        Path | None, typer.Option("--key", metavar="PUB", help="prod: require a valid signature by this public key.")
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Build even when the content tag already exists.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Build an image from pinned inputs, offline, tagged by content; unchanged inputs reuse the tag.

    Wheels are downloaded on the host for the image's own Python and platform (cached under ~/.cache/paddlectl);
    the build itself never reaches a network. Prints the image's tag on stdout.
    """
    from paddlectl.engine.docker_engine import connect
    from paddlectl.images.build import BuildRequest, build_images
    from paddlectl.project.workspace import open_project

    out.json_mode = json_output
    if model is not None:
        package = _registered_package(model, package, role)
    request = BuildRequest(role=role, paddle_image=paddle_image, package=package, key=key, rebuild=rebuild)
    project = open_project()
    view = BuildView()
    failed = True
    try:
        results = build_images(connect, project, request, view)
        failed = False
    finally:
        view.close(failed)
    if json_output:
        out.json({"image": results[-1].as_dict(), "layers": [result.as_dict() for result in results]})
        return
    for result in results:
        _summary(result)
    out.data(results[-1].image.tag)


def _registered_package(reference: str, package: Path | None, role: ImageRole) -> Path:
    """The registry's verified copy of the version REF names (the registry's signature policy applies)."""
    from paddlectl.errors import UsageError
    from paddlectl.registry.pull import verified_package
    from paddlectl.registry.store import open_registry

    if role is not ImageRole.PROD:
        raise UsageError("--model is for prod images", hint=f"drop it, or build prod --model {reference}")
    if package is not None:
        raise UsageError("--model and --package exclude each other", hint="choose one")
    with open_registry() as registry:
        path, record, _ = verified_package(registry, reference)
    out.status(f"[dim]paddlectl:[/dim] {reference} is {record.ref} (sha256 {record.sha256[:12]}), verified")
    return path


def _summary(result: BuildResult) -> None:
    image = result.image
    how = "reused" if result.reused else f"built in {result.seconds:.1f} s"
    out.status(f"{image.role}: {image.tag} ({image.id[7:19]}, {human_size(image.size)}) {how}")


@app.command("ls")
def list_command(json_output: JsonOption = False) -> None:
    """List the images built for this project, newest first, and whether each is still present locally."""
    from paddlectl.errors import UnavailableError
    from paddlectl.images.records import ImageStore, list_images
    from paddlectl.project.workspace import open_project

    out.json_mode = json_output
    project = open_project()
    engine = None
    warnings = []
    try:
        from paddlectl.engine.docker_engine import connect

        engine = connect()
    except UnavailableError as error:
        warnings.append(f"{error.message}: presence not checked")
    rows, read_warnings = list_images(ImageStore(project.store), engine)
    warnings += read_warnings
    for warning in warnings:
        out.warn(warning)
    if json_output:
        out.json({"images": [row.as_dict() for row in rows], "warnings": warnings})
        return
    if not rows:
        out.status("no images built for this project yet: paddlectl image build base|dev|prod")
        return
    _table(rows)


def _table(rows: list[ImageRow]) -> None:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("ROLE", "TAG", "ID", "SIZE", "BUILT", "STATE"):
        table.add_column(column, no_wrap=True)
    colours = {"present": "green", "moved": "yellow", "missing": "red"}
    for row in rows:
        image = row.image
        state = row.state
        colour = colours.get(state)
        table.add_row(
            image.role,
            image.tag,
            image.id[7:19],
            human_size(image.size),
            image.built_at,
            f"[{colour}]{state}[/{colour}]" if colour else state,
        )
    out.table(table)
