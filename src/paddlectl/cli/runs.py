"""paddlectl runs: list, show, compare, diff, logs, stop, rm, gc, plot, gate.

Each command parses its options, calls one core function and renders the result (rich views in runs_view.py,
imported only for human output: `runs list --json` imports neither rich nor docker nor git).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from paddlectl.cli.lazygroup import CommandGroup
from paddlectl.cli.output import out
from paddlectl.cli.runs_gate import gate_command

if TYPE_CHECKING:
    from paddlectl.runs.cleanup import GcReport
    from paddlectl.runs.project_runs import ProjectRuns
    from paddlectl.runs.run_engines import RunEngines

app = typer.Typer(
    cls=CommandGroup,
    help="List, inspect, compare, clean up and gate recorded runs.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
RunArgument = Annotated[str, typer.Argument(help="Run id, unique id prefix, run name, 'last' or 'last~N'.")]
TABLE_LIMIT = 50  # the human table's default length; --limit 0 shows every run


def _engines_of(runs: ProjectRuns) -> RunEngines:
    assert runs.engines is not None, "_project_runs() always gives the project's engines"
    return runs.engines


def _project_runs() -> tuple[ProjectRuns, str, Path]:
    """The current project's runs (settled before they are read), its name and root; a usage error outside any."""
    from paddlectl.engine.docker_engine import connect
    from paddlectl.project.workspace import open_existing_project
    from paddlectl.runs.project_runs import ProjectRuns
    from paddlectl.runs.run_engines import RunEngines, host_entries
    from paddlectl.runs.store import RunStore

    project = open_existing_project()
    # Each run is settled, stopped and cleaned up on the engine it ran on, connected when a run first needs it.
    engines = RunEngines(connect, host_entries(project))
    return ProjectRuns(RunStore(project.runs_dir), engines, out.warn), project.config.name, project.root


@app.command("list")
def list_command(
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="running, succeeded, failed, interrupted, lost, bad or ended; repeatable or comma-separated.",
        ),
    ] = None,
    label: Annotated[list[str] | None, typer.Option("--label", help="KEY=VALUE (or KEY); repeatable.")] = None,
    image: Annotated[
        str | None, typer.Option("--image", help="Image reference, id or digest containing this (or a glob).")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="Started after: an age (2d, 12h) or a date.")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="KEY=VALUE a param must have; repeatable.")] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where", help="'acc>=0.9': metric (last value) or param against a value; ops >= <= > < == !=; repeatable."
        ),
    ] = None,
    sort: Annotated[
        list[str] | None,
        typer.Option(
            "--sort",
            help="Metric, param or column; '-' = descending (-acc); comma-separated keys. Default: newest first.",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help=f"At most N rows (table default {TABLE_LIMIT}; 0 = all).")
    ] = None,
    columns: Annotated[str | None, typer.Option("--columns", help="Table/CSV columns: id,status,lr,acc,...")] = None,
    json_output: JsonOption = False,
    csv_output: Annotated[bool, typer.Option("--csv", help="Print CSV on stdout.")] = False,
) -> None:
    """List runs (newest first), filtered and sorted; an unreadable manifest is one row with status 'bad'."""
    from paddlectl.errors import UsageError
    from paddlectl.runs.query import RunQuery

    out.json_mode = json_output
    if json_output and csv_output:
        raise UsageError("--json and --csv exclude each other", hint="choose one")
    table = not (json_output or csv_output)
    query = RunQuery.parse(
        status=status or (),
        label=label or (),
        image=image,
        since=since,
        param=param or (),
        where=where or (),
        sort=sort or (),
        limit=TABLE_LIMIT if table and limit is None else limit,
    )
    runs, _, _ = _project_runs()
    listing = runs.listing(query)
    for warning in listing.warnings:
        out.warn(warning)
    if json_output:
        # Rows are stored as compact JSON already: join them rather than re-encode 10,000 dicts.
        body = ",\n".join(entry.raw for entry in listing.entries)
        sys.stdout.write(f"[\n{body}\n]\n" if body else "[]\n")
        sys.stdout.flush()
        return
    from paddlectl.cli.runs_view import print_list, write_csv
    from paddlectl.runs.query import check_names

    chosen = [name.strip() for name in columns.split(",") if name.strip()] if columns else None
    rows = [entry.row for entry in listing.entries]
    check_names(chosen or [], rows)
    if csv_output:
        write_csv(rows, chosen)
    else:
        print_list(rows, chosen, listing.total, listing.matched)


@app.command("show")
def show_command(run: RunArgument, json_output: JsonOption = False) -> None:
    """Everything a run's manifest records, with metric sparklines; --json prints the manifest itself."""
    out.json_mode = json_output
    runs, _, _ = _project_runs()
    paths = runs.resolve(run)
    stored = runs.load(paths)
    if stored.manifest is not None and stored.manifest.read_only:
        from paddlectl.runs.manifest import READ_ONLY_HINT

        out.warn(f"{stored.manifest.read_only_reason()}; {READ_ONLY_HINT}")
    if stored.manifest is None:
        from paddlectl.errors import UsageError

        raise UsageError(f"run {paths.run_id}: {stored.problem}", hint=f"look at {paths.manifest}")
    if json_output:
        out.json(stored.manifest.to_dict())
        return
    from paddlectl.cli.runs_view import print_manifest

    print_manifest(stored.manifest, paths)


@app.command("compare")
def compare_command(
    runs: Annotated[list[str], typer.Argument(help="Two or more runs.")],
    json_output: JsonOption = False,
) -> None:
    """Params, metrics (last), image and commit of several runs side by side; differing rows highlighted."""
    from paddlectl.errors import UsageError
    from paddlectl.runs.compare import compare_runs

    out.json_mode = json_output
    if len(runs) < 2:
        raise UsageError("compare needs at least two runs", hint="e.g. paddlectl runs compare last~1 last")
    project_runs, _, _ = _project_runs()
    manifests = [project_runs.read(target) for target in runs]
    comparison = compare_runs(manifests)
    if json_output:
        out.json(comparison.as_dict())
        return
    from paddlectl.cli.runs_view import print_comparison

    print_comparison(comparison, manifests)


@app.command("diff")
def diff_command(
    a: Annotated[str, typer.Argument(help="Run A.")],
    b: Annotated[str, typer.Argument(help="Run B.")],
    patch: Annotated[bool, typer.Option("--patch", help="Also print the full git diff between the commits.")] = False,
    json_output: JsonOption = False,
) -> None:
    """What differs between two runs: params, env, image, runtime versions, commits and uncommitted patches.

    Exits 0 when the runs are the same in all of these, 1 when they differ (like diff and git diff --exit-code),
    2 for a RUN that does not resolve.
    """
    from paddlectl.runs.compare import diff_runs

    out.json_mode = json_output
    runs, _, root = _project_runs()
    paths_a, paths_b = runs.resolve(a), runs.resolve(b)
    result = diff_runs(runs.read(paths_a.run_id), runs.read(paths_b.run_id), paths_a, paths_b, root)
    if json_output:
        out.json(result.as_dict())
    else:
        from paddlectl.cli.runs_view import print_diff

        print_diff(result, show_patch=patch)
    if not result.identical:
        from paddlectl.errors import ExitCode

        raise typer.Exit(int(ExitCode.FAILED))


@app.command("logs")
def logs_command(
    run: RunArgument,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new output while the run is marked running.")
    ] = False,
) -> None:
    """Print a run's saved output; -f follows it until the run ends (Ctrl-C stops following)."""
    from paddlectl.foundation.signals import Interrupted, signals
    from paddlectl.runs.cleanup import run_status
    from paddlectl.runs.index import RowStatus
    from paddlectl.runs.logs import RunWatch, follow_log, read_log

    runs, _, _ = _project_runs()
    paths = runs.resolve(run)
    runs.load(paths)  # a run whose CLI died gets its complete log from the engine first
    if not paths.log.exists() and run_status(paths) is not RowStatus.RUNNING:
        out.warn(f"run {paths.run_id} has no saved output ({paths.log.name})")
    chunks = follow_log(paths, RunWatch(runs, paths, out.warn)) if follow else read_log(paths)
    try:
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
    except Interrupted as interrupt:  # Ctrl-C (or SIGTERM/SIGHUP) ends following, quietly
        signals.silence()
        raise typer.Exit(interrupt.exit_code) from None
    except BrokenPipeError:  # `runs logs X | head`: the reader left, which is fine
        sys.stderr.close()
        raise typer.Exit(0) from None


@app.command("stop")
def stop_command(
    run: RunArgument,
    grace: Annotated[int, typer.Option("--grace", help="Seconds between SIGTERM and SIGKILL.")] = 10,
    json_output: JsonOption = False,
) -> None:
    """Stop a running run's container (found by its label); the run's owner or the next listing records it."""
    from paddlectl.runs.cleanup import stop_run

    out.json_mode = json_output
    runs = _project_runs()[0]
    result = stop_run(runs.store, run, _engines_of(runs), grace)
    if json_output:
        out.json(result.as_dict())
        return
    if result.stopped:
        out.status(f"stopped run {result.run} (container {', '.join(c[:12] for c in result.stopped)})")
    else:
        out.warn(f"run {result.run} is marked running but has no running container; the next listing settles it")


@app.command("rm")
def rm_command(
    runs: Annotated[list[str], typer.Argument(help="Runs to remove.")],
    force: Annotated[
        bool, typer.Option("--force", help="Also remove running runs (stopping their container).")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be removed.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Remove runs and their folders; a running run needs --force."""
    from paddlectl.runs.cleanup import remove_runs

    out.json_mode = json_output
    project_runs = _project_runs()[0]
    removed = remove_runs(
        project_runs.store, runs, force=force, dry_run=dry_run, engine_factory=_engines_of(project_runs)
    )
    if json_output:
        out.json({"dry_run": dry_run, "runs": [item.as_dict() for item in removed]})
        return
    verb = "would remove" if dry_run else "removed"
    for item in removed:
        extra = f" and container {', '.join(c[:12] for c in item.containers)}" if item.containers else ""
        out.status(f"{verb} run {item.id} ({item.status}){extra}")
        if item.warning:
            out.warn(item.warning)


@app.command("gc")
def gc_command(
    keep: Annotated[
        int | None, typer.Option("--keep", help="Keep the newest N runs of each status; delete the older ones.")
    ] = None,
    older_than: Annotated[
        str | None, typer.Option("--older-than", help="Only runs started longer ago (30d, 12h).")
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="Only these statuses (failed,interrupted,lost,succeeded or ended); default: all but succeeded.",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be removed.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete the selected runs without asking.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Delete old ended runs (--keep, --older-than, --status) and leftover containers of ended or gone runs.

    --keep N keeps the newest N runs of each status (succeeded, failed, interrupted, lost) and selects the older
    ones. Succeeded runs are deleted only when --status names them (succeeded, or ended). Before deleting runs, gc
    lists them and asks on a terminal; without a terminal it refuses (exit 2) unless --yes is given. --dry-run
    only lists. Leftover containers are removed without asking.
    """
    from paddlectl.errors import UsageError
    from paddlectl.foundation.clock import parse_duration
    from paddlectl.runs.cleanup import gc_statuses

    out.json_mode = json_output
    if keep is not None and keep < 0:
        raise UsageError("--keep must be 0 or more", hint="e.g. --keep 20")
    statuses = gc_statuses(status or ())
    age = parse_duration(older_than) if older_than else None
    runs, project_name, _ = _project_runs()
    store, engines = runs.store, _engines_of(runs)  # one connection per engine for the plan and the removal

    def collect(dry: bool, only: frozenset[str] | None = None) -> GcReport:
        from paddlectl.runs.cleanup import collect_garbage

        return collect_garbage(
            store,
            project_name,
            keep=keep,
            older_than=age,
            statuses=statuses,
            dry_run=dry,
            engine_factory=engines,
            only=only,
        )

    confirmed = None
    if not dry_run and not yes:
        plan = collect(True)
        if plan.runs:
            confirmed = _confirm_gc(plan)
    report = collect(dry_run, confirmed)
    for warning in report.warnings:
        out.warn(warning)
    if json_output:
        out.json(report.as_dict())
        return
    if keep is None and older_than is None and not statuses:
        out.status("no runs selected (give --keep, --older-than or --status to delete runs)")
    _print_gc(report, dry_run=dry_run)


def _print_gc(report: GcReport, *, dry_run: bool) -> None:
    """What gc removed (or would): runs, then containers, then images; stderr, for people."""
    verb = "would remove" if dry_run else "removed"
    for item in report.runs:
        out.status(f"{verb} run {item['id']} ({item['status']}, started {item['started_at']})")
    for item in report.containers:
        owner = f" of run {item['run']}" if item.get("run") else ""
        out.status(f"{verb} {item['kind']} container {item['id'][:12]}{owner} ({item['why']})")
    for item in report.images:
        out.status(f"{verb} {item['kind']} image {item['id'][7:19]} ({item['why']})")
    if not report.runs and not report.containers and not report.images:
        out.status("nothing to remove")


def _confirm_gc(plan: GcReport) -> frozenset[str]:
    """List the runs a gc would delete and ask (on a terminal); the ids confirmed. Refuses without a terminal.

    Raises UsageError without a terminal to ask on, and typer.Exit(1) when the answer is no: nothing is removed.
    """
    from paddlectl.errors import UsageError

    count = len(plan.runs)
    if not sys.stdin.isatty():
        raise UsageError(
            f"gc would delete {count} run(s) and asks first, but there is no terminal to ask on",
            hint="pass --yes to delete them, or --dry-run to list them",
        )
    by_status: dict[str, int] = {}
    for item in plan.runs:
        out.console.print(f"will delete run {item['id']} ({item['status']}, started {item['started_at']})")
        by_status[item["status"]] = by_status.get(item["status"], 0) + 1
    summary = ", ".join(f"{number} {status}" for status, number in by_status.items())
    if not typer.confirm(f"Delete these {count} run(s) ({summary})?", default=False, err=True):
        out.status("nothing removed")
        raise typer.Exit(1)
    return frozenset(item["id"] for item in plan.runs)


@app.command("plot")
def plot_command(
    runs: Annotated[list[str], typer.Argument(help="Runs to draw, one line each.")],
    metric: Annotated[str, typer.Option("--metric", "-m", help="The metric to draw over steps.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="PNG file to write (default plots/METRIC.png).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Draw one metric over steps as a PNG line chart, one line per run (needs paddlectl[plot]).

    The legend names each run by its name and an id prefix that resolves to it (e.g. runs show PREFIX).
    """
    from paddlectl.runs.plot import collect_run_lines, plot_png

    out.json_mode = json_output
    store = _project_runs()[0].store
    lines = collect_run_lines(store, runs, metric)
    written = plot_png(lines, metric, output or Path("plots") / f"{metric}.png")
    if json_output:
        out.json(
            {
                "output": str(written),
                "metric": metric,
                "runs": [{"id": line.run, "label": line.label, "points": len(line.points)} for line in lines],
            }
        )
        return
    out.status(f"wrote {written} ({metric}, {len(lines)} run(s))")
    for line in lines:
        if not line.points:
            out.warn(f"run {line.run} has no '{metric}' points")


app.command("gate")(gate_command)
