"""paddlectl export"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from paddlectl.cli.output import out

if TYPE_CHECKING:
    from paddlectl.export.run import ExportOptions, ExportOutcome, ExportPlan

# The options, one alias each, so that the command reads as what it does.
RunArgument = Annotated[
    str | None, typer.Argument(metavar="[RUN]", help="A run id (or run directory) whose weights to export.")
]
WeightsOption = Annotated[
    Path | None,
    typer.Option(
        "--weights",
        metavar="PATH",
        help="The .pdparams to export (with RUN: relative to its outputs/; default: the only one).",
    ),
]
RandomInitOption = Annotated[
    bool,
    typer.Option(
        "--random-init",
        help="No weights: export the factory's random initialisation, for smoke-testing that a model exports.",
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        metavar="MODULE:CALLABLE",
        help="Factory module:callable, importable from the project root or e.g. paddle.vision.models:resnet18.",
    ),
]
ModelArgOption = Annotated[
    list[str] | None,
    typer.Option("--model-arg", metavar="K=V", help="Factory argument k=v, typed as YAML (repeatable)."),
]
InputOption = Annotated[
    list[str] | None,
    typer.Option(
        "--input",
        metavar="NAME:DTYPE:SHAPE",
        help="Input name:dtype:shape, -1 or ? for a dynamic dim (repeatable).",
    ),
]
SampleShapeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--sample-shape",
        metavar="NAME:SHAPE",
        help="Concrete sample shape name:2,1,8,8 for dynamic dims (repeatable).",
    ),
]
SamplesOption = Annotated[int, typer.Option("--samples", metavar="N", help="Random samples to verify with.")]
InputsFileOption = Annotated[
    Path | None,
    typer.Option(
        "--inputs-file",
        metavar="FILE",
        help="Verify with these inputs instead (.npz keyed by input name, or .npy).",
    ),
]
AtolOption = Annotated[float, typer.Option("--atol", metavar="X", help="Absolute tolerance.")]
RtolOption = Annotated[float, typer.Option("--rtol", metavar="X", help="Relative tolerance.")]
LatencyRunsOption = Annotated[int, typer.Option("--latency-runs", metavar="M", help="Timed predictor runs.")]
ImageOption = Annotated[
    str | None,
    typer.Option(
        "--image",
        metavar="IMAGE",
        help="Image to export in (default: the run's own, else the project's CPU image).",
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option("-o", "--output", metavar="DIR", help="Export directory without RUN (default ./export)."),
]
AllowFailedOption = Annotated[
    bool, typer.Option("--allow-failed", help="Export a run that failed or was interrupted (what it saved).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the export record as JSON on stdout.")]


def command(
    run: RunArgument = None,
    weights: WeightsOption = None,
    random_init: RandomInitOption = False,
    model: ModelOption = None,
    model_arg: ModelArgOption = None,
    input_spec: InputOption = None,
    sample_shape: SampleShapeOption = None,
    samples: SamplesOption = 8,
    inputs_file: InputsFileOption = None,
    atol: AtolOption = 1e-5,
    rtol: RtolOption = 1e-4,
    latency_runs: LatencyRunsOption = 50,
    image: ImageOption = None,
    output_dir: OutputOption = None,
    allow_failed: AllowFailedOption = False,
    json_output: JsonOption = False,
) -> None:
    """Export a model to a static graph in a pinned image and verify the predictor matches the dynamic graph.

    A run's export runs in the run's own image on the engine it trained on (a remote host too).
    Writes model.json (or model.pdmodel), model.pdiparams, samples.npz and export.yaml. Exits 1 when the outputs
    differ beyond --atol/--rtol (the export is kept, marked unverified) or the conversion fails, 2 for a bad
    factory, weights or input spec, 3 when the image is gone.
    """
    from paddlectl.engine.docker_engine import connect
    from paddlectl.engine.hosts import host_of_record
    from paddlectl.export.run import ExportOptions, plan_export, run_export
    from paddlectl.project.workspace import open_existing_project
    from paddlectl.runs.run_engines import RunEngines, host_entries

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
    entries = host_entries(project)
    plan = plan_export(project, options, RunEngines(connect, entries))  # settles the run on its own engine first
    host = host_of_record(plan.run.engine.address(), entries) if plan.run is not None else None
    _announce(plan, f" on {host.label}" if host is not None and host.remote else "")
    outcome = run_export(connect(host), plan)  # a run's export runs on the run's engine, in its image
    _render(outcome, options, json_output=json_output)


def _announce(plan: ExportPlan, where: str) -> None:
    for warning in plan.warnings:
        out.warn(warning)
    out.status(f"exporting {plan.factory} to {plan.export_dir}{where} ...")


def _render(outcome: ExportOutcome, options: ExportOptions, *, json_output: bool) -> None:
    """The record (JSON) or a summary (stderr); then exit 1 when the predictor did not match the dynamic graph.

    Raises typer.Exit(1) with --json (the document is the answer), else a PaddlectlError saying by how much.
    """
    from paddlectl.errors import ExitCode, PaddlectlError

    if json_output:
        out.json(outcome.record.to_dict())
    else:
        _summary(outcome)
    if outcome.verified:
        return
    if json_output:
        raise typer.Exit(int(ExitCode.FAILED))
    raise PaddlectlError(
        f"verification failed: {outcome.record.verification.worst()} exceeds atol {options.atol:g} / "
        f"rtol {options.rtol:g}; the export is kept and marked unverified",
        hint="look for ops that differ between the dynamic graph and the predictor, or loosen --atol/--rtol",
        code=ExitCode.FAILED,
    )


def _summary(outcome: ExportOutcome) -> None:
    from rich.markup import escape

    record = outcome.record
    verification = record.verification
    latency = record.latency_ms
    size_mb = (record.size_bytes or 0) / 1e6
    out.status(
        f"exported {escape(record.model.factory or '?')} to {escape(str(outcome.export_dir))}: "
        f"{record.format}, {size_mb:.2f} MB, Paddle {record.paddle_version}, "
        f"files {', '.join(record.files)}"
    )
    colour = "green" if outcome.verified else "red"
    out.status(
        f"verification [{colour}]{verification.status}[/{colour}] over {verification.samples} "
        f"sample(s) (atol {verification.atol or 0:g}, rtol {verification.rtol or 0:g}): "
        f"{escape(verification.worst())}"
    )
    timed = (
        f"predictor latency p50 {latency.p50} ms, p95 {latency.p95} ms over {latency.runs} runs"
        if latency is not None
        else "predictor latency not measured"
    )
    out.status(f"{timed}; took {outcome.duration_s:.1f} s")
