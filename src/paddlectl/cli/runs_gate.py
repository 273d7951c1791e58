"""paddlectl runs gate: a run against a baseline by reference (a run, registry:NAME@production,
mlflow:models:/NAME@ALIAS), thresholds beyond the noise, and reports where CI systems look.

Parses the options, calls paddlectl.ci.gate.run_gate, writes the reports, renders the result. Only typer is
imported at module level (runs.py registers this command, so every `paddlectl runs ...` imports this module).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paddlectl.cli.output import out


def gate_command(
    run: Annotated[str, typer.Argument(help="Run id, unique id prefix, run name, 'last' or 'last~N'.")],
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="What to compare against: a RUN, registry:NAME@production (its card's metrics), "
            "mlflow:models:/NAME@ALIAS or mlflow:models:/NAME/VERSION.",
        ),
    ] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri",
            help="The MLflow server of an mlflow: baseline [default: MLFLOW_REGISTRY_URI, MLFLOW_TRACKING_URI, "
            "registry.mlflow.uri, then mlflow.tracking_uri].",
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            help="NAME[:OPTIONS] to hold against the baseline, e.g. val_acc:max-drop=1% or loss:lower,max-rise=0.02; "
            "repeatable.",
        ),
    ] = None,
    max_drop: Annotated[
        str,
        typer.Option("--max-drop", help="Allowed regression of a bare --metric NAME: 2% (of the baseline) or 0.01."),
    ] = "0",
    lower_is_better: Annotated[
        bool, typer.Option("--lower-is-better", help="A bare --metric NAME is loss-like.")
    ] = False,
    require: Annotated[
        list[str] | None, typer.Option("--require", help="'acc>=0.95' the run must satisfy; repeatable.")
    ] = None,
    on_missing_baseline: Annotated[
        str,
        typer.Option(
            "--on-missing-baseline",
            help="fail (exit 1), warn or pass when the baseline does not exist yet (a model's first run).",
        ),
    ] = "fail",
    allow_different: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-different",
            help="Gate even though these differ: dataset, dataset_digest, profile, image or an evaluation param; "
            "repeatable or comma-separated.",
        ),
    ] = None,
    eval_param: Annotated[
        list[str] | None,
        typer.Option(
            "--eval-param", help="A param that defines the evaluation (beside gate.evaluation_params); repeatable."
        ),
    ] = None,
    noise_from: Annotated[
        int,
        typer.Option(
            "--noise-from",
            help="Widen each limit by the spread (2 sd) of the last K passed gates against the same baseline model.",
        ),
    ] = 0,
    repeats: Annotated[
        int,
        typer.Option(
            "--repeats",
            help="Run the candidate N times in all (seed, seed+1, ...): gate the mean, widen by the spread.",
        ),
    ] = 1,
    seed_param: Annotated[str, typer.Option("--seed-param", help="The param --repeats varies.")] = "seed",
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Write a JUnit XML report (one test case per check).")
    ] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Write a Markdown report.")] = None,
    record: Annotated[
        bool, typer.Option("--record/--no-record", help="Record this gate in the gate history (--noise-from reads it).")
    ] = True,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Check a run against a baseline and requirements; exit 1 on a regression, 7 when they are not comparable.

    A --metric or --require name that neither the run nor the baseline recorded is a usage error (exit 2) that
    lists what the run has; a metric only one of them recorded fails its check (exit 1). The Markdown report also
    goes to $GITHUB_STEP_SUMMARY when it is set.
    """
    from paddlectl.ci.gate import GateRequest, run_gate
    from paddlectl.ci.reports import write_reports
    from paddlectl.foundation.clock import utc_now
    from paddlectl.project.workspace import open_existing_project

    out.json_mode = json_output
    request = GateRequest(
        run=run,
        baseline=baseline,
        metrics=list(metric or []),
        max_drop=max_drop,
        lower_is_better=lower_is_better,
        require=list(require or []),
        on_missing_baseline=on_missing_baseline,
        allow_different=list(allow_different or []),
        eval_params=list(eval_param or []),
        noise_from=noise_from,
        repeats=repeats,
        seed_param=seed_param,
        record=record,
        tracking_uri=tracking_uri,
    )
    project = open_existing_project()
    if repeats > 1:
        from paddlectl.cli.train import CliTrainEvents
        from paddlectl.engine.docker_engine import connect

        events = CliTrainEvents(json_mode=True, quiet=True)  # the repeats' output stays in their logs
        try:
            result = run_gate(request, project, connect=connect, events=events)
        finally:
            events.close()
    else:
        result = run_gate(request, project)
    for warning in result.warnings:
        out.warn(warning)
    written = write_reports(result, junit=junit, markdown_file=markdown, timestamp=utc_now("seconds"))
    if json_output:
        out.json(result.as_dict())
    else:
        from paddlectl.cli.runs_view import print_gate

        print_gate(result)
    for path in written:
        out.status(f"wrote {path}")
    raise typer.Exit(int(result.exit_code))
