"""paddlectl export"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from paddlectl.cli.output import out

if TYPE_CHECKING:
    from paddlectl.export.run import ExportOutcome


def command(
    run: Annotated[
        str | None, typer.Argument(metavar="[RUN]", help="A run id (or run directory) whose weights to export.")
    ] = None,
    weights: Annotated[
        Path | None,
        typer.Option(
            "--weights",
            metavar="PATH",
            help="The .pdparams to export (with RUN: relative to its outputs/; default: the only one).",
        ),
    ] = None,
    random_init: Annotated[
        bool,
        typer.Option(
            "--random-init",
            help="No weights: export the factory's random initialisation, for smoke-testing that a model exports.",
        ),
    ] = False,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            metavar="MODULE:CALLABLE",
            help="Factory module:callable, importable from the project root or e.g. paddle.vision.models:resnet18.",
        ),
    ] = None,
    model_arg: Annotated[
        list[str] | None,
        typer.Option("--model-arg", metavar="K=V", help="Factory argument k=v, typed as YAML (repeatable)."),
    ] = None,
    input_spec: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            metavar="NAME:DTYPE:SHAPE",
            help="Input name:dtype:shape, -1 or ? for a dynamic dim (repeatable).",
        ),
    ] = None,
    sample_shape: Annotated[
        list[str] | None,
        typer.Option(
            "--sample-shape",
            metavar="NAME:SHAPE",
            help="Concrete sample shape name:2,1,8,8 for dynamic dims (repeatable).",
        ),
    ] = None,
    samples: Annotated[int, typer.Option("--samples", metavar="N", help="Random samples to verify with.")] = 8,
    inputs_file: Annotated[
        Path | None,
        typer.Option(
            "--inputs-file",
            metavar="FILE",
            help="Verify with these inputs instead (.npz keyed by input name, or .npy).",
        ),
    ] = None,
    atol: Annotated[float, typer.Option("--atol", metavar="X", help="Absolute tolerance.")] = 1e-5,
    rtol: Annotated[float, typer.Option("--rtol", metavar="X", help="Relative tolerance.")] = 1e-4,
    latency_runs: Annotated[int, typer.Option("--latency-runs", metavar="M", help="Timed predictor runs.")] = 50,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            metavar="IMAGE",
            help="Image to export in (default: the run's own, else the project's CPU image).",
        ),
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option("-o", "--output", metavar="DIR", help="Export directory without RUN (default ./export)."),
    ] = None,
    allow_failed: Annotated[
        bool, typer.Option("--allow-failed", help="Export a run that failed or was interrupted (what it saved).")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the export record as JSON on stdout.")] = False,
) -> None:
    """Export a model to a static graph in a pinned image and verify the predictor matches the dynamic graph.

    A run's export runs in the run's own image on the engine it trained on (a remote host too).
    Writes model.json (or model.pdmodel), model.pdiparams, samples.npz and export.yaml. Exits 1 when the outputs
    differ beyond --atol/--rtol (the export is kept, marked unverified) or the conversion fails, 2 for a bad
    factory, weights or input spec, 3 when the image is gone.
    """
    from paddlectl.engine.docker_engine import connect
    from paddlectl.engine.hosts import host_of_record
    from paddlectl.errors import ExitCode, PaddlectlError
    from paddlectl.export.run import ExportOptions, plan_export, run_export
    from paddlectl.project.workspace import open_existing_project
    from paddlectl.runs.run_engines import host_entries

    out.json_mode = json_output
    options = ExportOptions(
        run=run,
        weights=weights,
        random_init=random_init,
        model=model,
        model_args=tuple(model_arg or ()),
        inputs=tuple(input_spec or ()),
        sample_shapes=tuple(sample_shape or ()),
        samples=samples,
        inputs_file=inputs_file,
        atol=atol,
        rtol=rtol,
        latency_runs=latency_runs,
        image=image,
        output_dir=output_dir,
        allow_failed=allow_failed,
    )
    project = open_existing_project()
    plan = plan_export(project, options)
    for warning in plan.warnings:
        out.warn(warning)
    host = host_of_record(plan.run.engine, host_entries(project)) if plan.run is not None else None
    where = f" on {host.label}" if host is not None and host.remote else ""
    out.status(f"exporting {plan.factory} to {plan.export_dir}{where} ...")
    outcome = run_export(connect(host), plan)  # a run's export runs on the run's engine, in its image
    if json_output:
        out.json(outcome.record)
    else:
        _summary(outcome)
    if not outcome.verified:
        if json_output:
            raise typer.Exit(int(ExitCode.FAILED))
        raise PaddlectlError(
            f"verification failed: {_worst(outcome.record)} exceeds atol {atol:g} / rtol {rtol:g}; "
            "the export is kept and marked unverified",
            hint="look for ops that differ between the dynamic graph and the predictor, or loosen --atol/--rtol",
            code=ExitCode.FAILED,
        )


def _worst(record: dict[str, Any]) -> str:
    parts = [
        f"{o['name']} max abs diff {o['max_abs_diff']:.3g}, max rel diff {o['max_rel_diff']:.3g}"
        for o in record["verification"]["outputs"]
    ]
    return "; ".join(parts) or "no output"


def _summary(outcome: ExportOutcome) -> None:
    from rich.markup import escape

    record = outcome.record
    verification = record["verification"]
    latency = record.get("latency_ms") or {}
    size_mb = (record.get("size_bytes") or 0) / 1e6
    out.status(
        f"exported {escape(record['model']['factory'])} to {escape(str(outcome.export_dir))}: "
        f"{record['format']}, {size_mb:.2f} MB, Paddle {record['paddle_version']}, "
        f"files {', '.join(record['files'])}"
    )
    colour = "green" if outcome.verified else "red"
    out.status(
        f"verification [{colour}]{verification['status']}[/{colour}] over {verification['samples']} "
        f"sample(s) (atol {verification['atol']:g}, rtol {verification['rtol']:g}): {escape(_worst(record))}"
    )
    out.status(
        f"predictor latency p50 {latency.get('p50')} ms, p95 {latency.get('p95')} ms "
        f"over {latency.get('runs')} runs; took {outcome.duration_s:.1f} s"
    )
