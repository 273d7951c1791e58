"""paddlectl ci init: write the pipeline file (GitLab or GitHub) that trains on a sample and gates against
production. The file is written at the repository's top; the gate runs `paddlectl runs gate`."""

from __future__ import annotations

from typing import Annotated

import typer

from paddlectl.cli.lazygroup import CommandGroup
from paddlectl.cli.output import out

app = typer.Typer(
    cls=CommandGroup,
    help="Pipeline files for CI: train on a sample on a GPU runner, gate against production, report.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def group() -> None:
    """Pipeline files for CI: train on a sample on a GPU runner, gate against production, report."""


@app.command("init")
def init_command(
    provider: Annotated[str, typer.Option("--provider", help="gitlab (.gitlab-ci.yml) or github (.github/workflows).")],
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", help="What the gate holds against production, e.g. val_acc:max-drop=1%; repeatable."),
    ] = None,
    require: Annotated[
        list[str] | None, typer.Option("--require", help="'val_acc>=0.9' every sample run must meet; repeatable.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="The registry name (default: the project's name).")
    ] = None,
    script: Annotated[str, typer.Option("--script", help="The training script, in the project.")] = "train.py",
    profile: Annotated[str, typer.Option("--profile", help="The profile the pipeline trains (profiles.NAME).")] = "ci",
    on_missing_baseline: Annotated[
        str, typer.Option("--on-missing-baseline", help="fail, warn or pass while there is no production version.")
    ] = "warn",
    noise_from: Annotated[
        int, typer.Option("--noise-from", help="The gate's --noise-from K (0: thresholds alone).")
    ] = 10,
    register: Annotated[
        bool, typer.Option("--register/--no-register", help="Add the job that registers a passed run as staging.")
    ] = True,
    state_dir: Annotated[
        str,
        typer.Option("--state-dir", help="On the GPU runner: where the registry and the gate history live."),
    ] = "/srv/paddlectl",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing pipeline file.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Write the CI pipeline file: unit tests, train --profile ci on a GPU runner, the gate, register as staging."""
    from paddlectl.ci.pipelines import init_pipeline
    from paddlectl.project.workspace import open_existing_project

    out.json_mode = json_output
    written = init_pipeline(
        open_existing_project(),
        provider,
        metrics=list(metric or []),
        require=list(require or []),
        model=model,
        script=script,
        profile=profile,
        on_missing_baseline=on_missing_baseline,
        noise_from=noise_from,
        register=register,
        state_dir=state_dir,
        force=force,
    )
    warning = _image_warning(written.settings.cpu_image)
    if warning:
        out.warn(warning)
    if json_output:
        out.json({"path": str(written.path), "provider": provider, "overwrote": written.overwrote})
        return
    out.data(str(written.path))
    out.status(
        f"wrote the {provider} pipeline for {written.settings.model} ({'replaced' if written.overwrote else 'new'}); "
        "set up the GPU runner as its comments say (docs/ci.md), then commit it"
    )


def _image_warning(reference: str) -> str | None:
    """Whether a runner could pull the unit-test job's image, judged by the local engine when one answers."""
    from paddlectl.ci.pipelines import unpullable_image_warning
    from paddlectl.engine.docker_engine import connect
    from paddlectl.engine.hosts import resolve_host
    from paddlectl.errors import PaddlectlError

    try:
        engine = connect(resolve_host(None, {}))
        return unpullable_image_warning(reference, engine.image)
    except PaddlectlError:  # no engine here: nothing to judge by, and the pipeline is written all the same
        return None
