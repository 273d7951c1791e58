"""How `paddlectl runs ...` looks to a person: rich tables and sections (data on stdout, notes on stderr)."""

from __future__ import annotations

import csv
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

from rich import box
from rich.cells import cell_len
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from paddlectl.cli.fitting import table_width
from paddlectl.cli.output import out
from paddlectl.cli.values import fmt
from paddlectl.foundation import clock
from paddlectl.runs.index import RowStatus, row_status
from paddlectl.runs.query import COLUMN_ALIASES, lookup
from paddlectl.runs.series import read_series, sparkline

if TYPE_CHECKING:
    from paddlectl.ci.gate import GateResult
    from paddlectl.runs.compare import Change, Comparison, RunDiff
    from paddlectl.runs.manifest import Manifest
    from paddlectl.runs.store import RunPaths

STATUS_STYLES = {
    RowStatus.RUNNING: "cyan",
    RowStatus.SUCCEEDED: "green",
    RowStatus.FAILED: "red",
    RowStatus.INTERRUPTED: "yellow",
    RowStatus.LOST: "magenta",
    RowStatus.BAD: "bold red",
}
MAX_PARAMS = 4
MAX_METRICS = 4
BASE_COLUMNS = ["id", "name", "status", "image", "commit"]
TAIL_COLUMNS = ["duration", "started"]
# Which default columns of `runs list` a terminal too narrow for all of them keeps, most important first: id
# and status (never dropped, never cut), then what tells runs apart (name, metrics, the params that vary), then
# when they ran, then the bad-row problem, then where they came from (commit, image: usually the same for all).
COLUMN_PRIORITY = (
    "id",
    "status",
    "name",
    "metrics.*",
    "params.*",
    "started_at",
    "duration_seconds",
    "problem",
    "commit",
    "image",
)
NEVER_DROPPED = ("id", "status")


def _table(**options: Any) -> Table:
    return Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False, **options)


# ---- formatting values ------------------------------------------------------------------------------------


def fmt_duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return ""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def fmt_time(value: Any) -> str:
    moment = clock.parse_utc(value)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else fmt(value)


def short_image(reference: Any) -> str:
    """`registry/org/paddle:3.2.0` -> `paddle:3.2.0`; digests cut to 12 characters."""
    if not reference:
        return ""
    text = str(reference).rsplit("/", 1)[-1]
    name, at, digest = text.partition("@")
    return f"{name}@{digest[:19]}" if at else text


def short_commit(row: dict[str, Any]) -> str:
    commit = row.get("commit")
    if not commit:
        return ""
    return str(commit)[:8] + ("*" if row.get("dirty") else "")


def _status(value: Any) -> Text:
    text = str(value or "")
    status = row_status(text)
    return Text(text, style=STATUS_STYLES[status] if status is not None else "")


def _running_duration(row: dict[str, Any]) -> str:
    if row.get("status") == RowStatus.RUNNING:
        started = clock.parse_utc(row.get("started_at"))
        if started is not None:
            return fmt_duration((clock.now() - started).total_seconds()) + "…"
    return fmt_duration(row.get("duration_seconds"))


# ---- runs list ----------------------------------------------------------------------------------------------


def default_columns(rows: list[dict[str, Any]]) -> list[str]:
    """Base columns, the params that vary between these runs, the most common metrics, duration, start."""
    values: dict[str, set[str]] = {}
    present: Counter[str] = Counter()
    metric_count: Counter[str] = Counter()
    for row in rows:
        for key, value in (row.get("params") or {}).items():
            values.setdefault(key, set()).add(repr(value))
            present[key] += 1
        metric_count.update((row.get("metrics") or {}).keys())
    varying = [key for key in values if len(values[key]) > 1 or 0 < present[key] < len(rows)]
    metrics = [name for name, _ in sorted(metric_count.items(), key=lambda item: (-item[1], item[0]))]
    columns = BASE_COLUMNS + [f"params.{key}" for key in varying[:MAX_PARAMS]]
    columns += [f"metrics.{name}" for name in metrics[:MAX_METRICS]] + TAIL_COLUMNS
    if any(row.get("problem") for row in rows):
        columns.append("problem")
    return columns


def _header(column: str) -> str:
    section, dot, rest = column.partition(".")
    return rest if dot and section in ("params", "metrics", "labels") else column


def cell(row: dict[str, Any], column: str) -> Text:
    """A table cell, formatted for people (Text: values are never read as rich markup)."""
    value = _cell(row, column)
    return value if isinstance(value, Text) else Text(value)


def _cell(row: dict[str, Any], column: str) -> str | Text:
    name = COLUMN_ALIASES.get(column, column)
    if name == "status":
        status = _status(row.get("status"))
        return status.append(" (read-only)", style="dim") if row.get("read_only") else status
    if name == "image":
        return short_image(row.get("image"))
    if name == "commit":
        return short_commit(row)
    if name == "duration_seconds":
        return _running_duration(row)
    if name in ("started_at", "ended_at"):
        return fmt_time(row.get(name))
    if name in ("labels", "params", "metrics"):
        return fmt(row.get(name))
    return fmt(lookup(row, column))


def _rank(column: str) -> int:
    name = COLUMN_ALIASES.get(column, column)
    section = column.partition(".")[0] if "." in column else None
    for position, wanted in enumerate(COLUMN_PRIORITY):
        if wanted in (name, column) or (section and wanted == f"{section}.*"):
            return position
    return len(COLUMN_PRIORITY)


def fit_columns(columns: list[str], widths: dict[str, int], width: int) -> list[str]:
    """The columns to show in `width` terminal cells: least important ones dropped first (COLUMN_PRIORITY).

    `widths` is each column's natural width (header or widest cell). id and status are always kept, whole.
    """
    from paddlectl.cli.fitting import fit_columns as fit

    keep = [column for column in columns if COLUMN_ALIASES.get(column, column) in NEVER_DROPPED]
    return fit(columns, widths, width, _rank, keep)


def print_list(rows: list[dict[str, Any]], columns: list[str] | None, total: int, matched: int) -> None:
    """The runs table on stdout. On a terminal too narrow for every default column, the least important ones
    are left out (never id or status; see COLUMN_PRIORITY) and stderr says which; piped, every column is printed.
    Columns given with --columns are all shown, whole: wider than the terminal, its lines wrap.
    """
    if not rows:
        out.status("no runs" if total == 0 else f"no run matches (of {total})")
        return
    chosen = columns or default_columns(rows)
    cells = {column: [cell(row, column) for row in rows] for column in chosen}
    widths = {column: max(cell_len(_header(column)), *(text.cell_len for text in cells[column])) for column in chosen}
    console = out.stdout_console
    shown = chosen
    if columns is None and console.is_terminal:
        shown = fit_columns(chosen, widths, console.width)
    table = _table()
    for column in shown:
        numeric = column.startswith(("metrics.", "params."))
        table.add_column(_header(column), justify="right" if numeric else "left", no_wrap=True)
    for index in range(len(rows)):
        table.add_row(*(cells[column][index] for column in shown))
    # Columns asked for by name are printed whole even when wider than the terminal (it wraps the lines).
    out.table(table, whole=table_width(shown, widths) > console.width)
    dropped = [column for column in chosen if column not in shown]
    if dropped:
        example = ",".join(["id", "status", *(_header(column) for column in dropped[:2])])
        out.status(
            f"[dim]left out to fit {console.width} columns: {', '.join(_header(c) for c in dropped)}; "
            f"--columns brings them back (e.g. --columns {example}), and piped output has them all[/dim]"
        )
    if matched > len(rows):
        out.status(f"[dim]showing {len(rows)} of {matched} matching runs ({total} in all); --limit 0 shows all[/dim]")


def write_csv(rows: list[dict[str, Any]], columns: list[str] | None) -> None:
    """CSV of raw values: the given columns, or base columns plus every param and metric."""
    if columns is None:
        base = ["id", "name", "status", "image", "commit", "dirty", "started_at", "duration_seconds", "problem"]
        params = sorted({key for row in rows for key in row.get("params") or {}})
        metrics = sorted({key for row in rows for key in row.get("metrics") or {}})
        taken = set(base)
        columns = list(base)
        for section, names in (("params", params), ("metrics", metrics)):
            for name in names:
                clash = name in taken or (section == "params" and name in metrics)
                columns.append(f"{section}.{name}" if clash else name)
                taken.add(name)
        lookups = base + [f"params.{n}" for n in params] + [f"metrics.{n}" for n in metrics]
    else:
        lookups = [COLUMN_ALIASES.get(column, column) for column in columns]
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if (value := _raw(row, key)) is None else _csv_value(value) for key in lookups])
    sys.stdout.flush()


def _raw(row: dict[str, Any], key: str) -> Any:
    if key in row:
        return row[key]
    return lookup(row, key)


def _csv_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        import json

        return json.dumps(value)
    return value


# ---- runs show ----------------------------------------------------------------------------------------------


def _kv_table() -> Table:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    return table


def _flatten(prefix: str, value: Any, into: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, into)
    else:
        into.append((prefix, value))


def _section(title: str, value: Any) -> None:
    console = out.stdout_console
    if value in (None, {}, []):
        return
    console.print(f"\n[bold]{escape(title)}[/bold]")
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        keys: dict[str, None] = {}
        for item in value:
            keys.update(dict.fromkeys(item))
        table = _table()
        for key in keys:
            table.add_column(key, overflow="fold")
        for item in value:
            table.add_row(*(escape(fmt(item.get(key))) for key in keys))
        out.table(table)
        return
    pairs: list[tuple[str, Any]] = []
    _flatten("", value if isinstance(value, dict) else {"": value}, pairs)
    table = _kv_table()
    for key, item in pairs:
        table.add_row(escape(key), escape(fmt(item)))
    out.table(table)


def print_manifest(manifest: Manifest, paths: RunPaths) -> None:
    """Every field of the manifest, grouped; params with their sources, metrics with sparklines."""
    document = manifest.to_dict()
    console = out.stdout_console
    title = Text.assemble(("run ", "bold"), (manifest.id, "bold"), "  ", _status(manifest.status.value))
    if manifest.name:
        title.append(f"  {manifest.name}")
    console.print(title)
    facts = {key: document.pop(key) for key in list(document) if not isinstance(document[key], dict | list)}
    facts.pop("id", None)
    facts.pop("status", None)
    facts.pop("duration_seconds", None)
    facts["duration"] = fmt_duration(manifest.duration_seconds) or None
    facts["folder"] = str(paths.root)
    facts["labels"] = document.pop("labels", None) or None
    _section("run", {key: value for key, value in facts.items() if value not in (None, False, "")})
    image = document.pop("image")
    _section("image", image)
    if image.get("moved_from"):
        out.warn(f"the image tag moved since an earlier run (it pointed at {image['moved_from']})")
    _section("command", document.pop("command"))
    params = document.pop("params", {}) or {}
    values, sources = params.get("values") or {}, params.get("sources") or {}
    types = params.get("types") or {}
    if values:
        table = _table()
        for column in ("param", "value", "type", "source") if types else ("param", "value", "source"):
            table.add_column(column, overflow="fold")
        for key, value in values.items():
            typed = (escape(fmt(types.get(key))),) if types else ()
            table.add_row(escape(str(key)), escape(fmt(value)), *typed, escape(fmt(sources.get(key))))
        console.print("\n[bold]params[/bold]")
        out.table(table)
    _print_metrics(document.pop("metrics", {}) or {}, paths)
    for key, value in document.items():
        _section(key, value)


def _print_metrics(metrics: dict[str, Any], paths: RunPaths) -> None:
    summary = metrics.get("summary") or {}
    if not summary:
        return
    series = read_series(paths.metrics, summary.keys())
    table = _table()
    for column in ("metric", "last", "min", "max", "count", "last step", "source", "trend"):
        table.add_column(column, justify="right" if column in ("last", "min", "max", "count", "last step") else "left")
    for name, found in summary.items():
        entry = found if isinstance(found, dict) else {}
        trend = sparkline([value for _, value in series.get(name, [])])
        numbers = (escape(fmt(entry.get(key))) for key in ("last", "min", "max", "count", "last_step", "source"))
        table.add_row(escape(str(name)), *numbers, trend)
    out.stdout_console.print("\n[bold]metrics[/bold]")
    out.table(table)


# ---- runs compare / diff ------------------------------------------------------------------------------------


def print_comparison(comparison: Comparison, manifests: list[Manifest]) -> None:
    table = _table()
    table.add_column("")
    table.add_column("field")
    for manifest in manifests:
        table.add_column(manifest.id + (f"\n{manifest.name}" if manifest.name else ""), overflow="fold")
    for row in comparison.rows:
        values = [short_commit({"commit": v}) if row.key == "commit" else fmt(v) for v in row.values]
        if row.section == "run" and row.key == "started_at":
            values = [fmt_time(v) for v in row.values]
        table.add_row(row.section, row.key, *map(escape, values), style="bold yellow" if row.differs else None)
    out.table(table)
    differing = sum(row.differs for row in comparison.rows)
    out.status(f"[dim]{differing} of {len(comparison.rows)} rows differ (highlighted)[/dim]")


def _changes(title: str, changes: list[Change]) -> None:
    if not changes:
        return
    console = out.stdout_console
    console.print(f"[bold]{escape(title)}[/bold]")
    for change in changes:
        if change.kind == "added":
            console.print(f"  [green]+ {escape(change.key)}: {escape(fmt(change.b))}[/green]")
        elif change.kind == "removed":
            console.print(f"  [red]- {escape(change.key)}: {escape(fmt(change.a))}[/red]")
        else:
            before, after = escape(fmt(change.a)), escape(fmt(change.b))
            console.print(f"  [yellow]~ {escape(change.key)}: {before} → {after}[/yellow]")


def print_diff(diff: RunDiff, show_patch: bool = False) -> None:
    console = out.stdout_console
    console.print(f"[bold]A[/bold] {diff.a}\n[bold]B[/bold] {diff.b}")
    _changes("params", diff.params)
    _changes("env names", diff.env_names)
    _changes("env values", diff.env)
    _changes("image", diff.image)
    _changes("runtime", diff.runtime)
    code = diff.code
    if code.same_commit:
        console.print(f"[bold]code[/bold]: same commit {escape(str(code.commit_a or '(none)'))[:12]}")
    else:
        before, after = escape(str(code.commit_a))[:12], escape(str(code.commit_b))[:12]
        console.print(f"[bold]code[/bold]: commit {before} → {after}")
        if code.git_problem:
            console.print(f"  [dim]no git diff: {escape(code.git_problem)}[/dim]")
        for line in code.git_files:
            console.print(f"  {escape(line)}")
        if show_patch and code.git_diff:
            console.print(Text(code.git_diff))
    if code.same_patch:
        if code.patch_sha256_a:
            console.print("[bold]uncommitted changes[/bold]: the same patch in both runs")
    else:
        console.print("[bold]uncommitted changes[/bold]: [yellow]the patches differ[/yellow]")
        console.print(f"  A: {escape(', '.join(code.patch_files_a) or '(no patch)')}")
        console.print(f"  B: {escape(', '.join(code.patch_files_b) or '(no patch)')}")
        if code.patch_files_differing:
            console.print(f"  files whose changes differ: {escape(', '.join(code.patch_files_differing))}")
    if diff.identical:
        out.status("the runs have the same params, env, image, runtime and code")


# ---- runs gate ---------------------------------------------------------------------------------------------


def print_gate(result: GateResult) -> None:
    """The gate's checks as a table on stdout, the verdict on stderr."""
    table = _table()
    for column in ("check", "actual", "baseline", "limit", "noise", "result", "detail"):
        table.add_column(
            column, justify="right" if column in ("actual", "baseline", "limit", "noise") else "left", overflow="fold"
        )
    marks = {
        "pass": Text("PASS", style="green"),
        "fail": Text("FAIL", style="bold red"),
        "skip": Text("SKIP", style="yellow"),
    }
    for check in result.checks:
        table.add_row(
            escape(check.check),
            fmt(check.actual),
            fmt(check.baseline),
            fmt(check.limit),
            fmt(check.noise or None),
            marks[check.outcome.value],
            escape(check.message),
        )
    out.table(table)
    failed = sum(not check.passed for check in result.checks)
    against = f" against {escape(result.baseline.facts.label)}" if result.baseline else ""
    if not result.comparable:
        different = [d.key for d in result.differences if not d.allowed]
        verb = "differs" if len(different) == 1 else "differ"
        out.status(f"[bold red]gate not comparable[/bold red]{against}: {escape(', '.join(different))} {verb} (exit 7)")
    elif failed:
        out.status(f"[bold red]gate failed[/bold red]{against}: {failed} of {len(result.checks)} check(s) failed")
    else:
        out.status(f"[green]gate passed[/green]{against}: {len(result.checks)} check(s)")
