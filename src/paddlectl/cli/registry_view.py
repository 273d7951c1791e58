"""How `paddlectl registry ...` looks to a person: tables on stdout, notes on stderr."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from paddlectl.cli.fitting import fit_columns, table_width
from paddlectl.cli.output import out
from paddlectl.cli.values import fmt
from paddlectl.foundation.sizes import human_size

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

    from paddlectl.registry.audit import AuditReport
    from paddlectl.registry.model import VersionRecord
    from paddlectl.registry.promote import Transition
    from paddlectl.registry.query import VersionComparison

STATUS_STYLES = {"production": "bold green", "staging": "cyan", "archived": "dim"}
SIGNATURE_STYLES = {"valid": "green", "untrusted": "red", "unchecked": "yellow", "absent": "dim"}
MAX_METRICS = 3


# rich is imported by the tables only: `registry show NAME@VERSION` prints plain lines and stays quick.


# In order of importance: what a version is and where it stands first; metrics after these, dropped first.
LIST_COLUMNS = ("name", "version", "status", "storage", "signature", "registered", "run", "commit")
NEVER_DROPPED = ("name", "version", "status")


def _table() -> Table:
    from rich import box
    from rich.table import Table

    return Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False)


def _text(value: str, style: str = "") -> Text:
    from rich.text import Text

    return Text(value, style=style)


def _styled(value: str, styles: dict[str, str]) -> Text:
    return _text(value, styles.get(value, ""))


def print_versions(records: list[VersionRecord], filtered: bool = False) -> None:
    if not records:
        if filtered:
            out.status("no version matches (drop --status, --where or --label to see them all)")
        else:
            out.status("no versions registered (paddlectl registry register PACKAGE)")
        return
    counts: Counter[str] = Counter()
    for record in records:
        counts.update((record.summary.get("metrics") or {}).keys())
    metrics = [name for name, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))][:MAX_METRICS]
    columns = [*LIST_COLUMNS, *metrics]
    cells: dict[str, list[Text]] = {column: [] for column in columns}
    for record in records:
        row = record.row()
        commit = str(row.get("git_commit") or "")[:8] + ("*" if row.get("git_dirty") else "")
        values = [
            _text(record.name),
            _text(record.version),
            _styled(record.status.value, STATUS_STYLES),
            _text(record.storage.value),
            _styled(record.signature.value, SIGNATURE_STYLES),
            _text(str(row["registered_at"])[:19].replace("T", " ")),
            _text(str(row.get("run_id") or "")),
            _text(commit),
            *(_text(fmt((row.get("metrics") or {}).get(name))) for name in metrics),
        ]
        for column, value in zip(columns, values, strict=True):
            cells[column].append(value)
    widths = {column: max(len(column), *(text.cell_len for text in cells[column])) for column in columns}
    shown = columns
    console = out.stdout_console
    if console.is_terminal:
        rank = {column: position for position, column in enumerate(LIST_COLUMNS)}
        shown = fit_columns(columns, widths, console.width, lambda c: rank.get(c, len(rank)), NEVER_DROPPED)
    table = _table()
    for column in shown:
        table.add_column(column, no_wrap=True)
    for index in range(len(records)):
        table.add_row(*(cells[column][index] for column in shown))
    out.table(table, whole=table_width(shown, widths) > console.width)
    dropped = [column for column in columns if column not in shown]
    if dropped:
        out.status(
            f"[dim]left out to fit {console.width} columns: {', '.join(dropped)}; "
            "piped output and --json have them all[/dim]"
        )


def print_version(record: VersionRecord) -> None:
    row = record.as_dict()
    card = record.card
    provenance = card.get("provenance") or {}
    image = provenance.get("image") or {}
    lines = [
        ("version", record.ref),
        ("status", record.status.value),
        ("storage", record.storage.value + (f" ({record.cold_location})" if record.cold_location else "")),
        ("sha256", record.sha256),
        ("size", human_size(record.size)),
        ("signature", record.signature.value + (f" ({record.key_fingerprint})" if record.key_fingerprint else "")),
        ("registered", f"{row['registered_at']} by {record.registered_by}"),
        ("task", card.get("task")),
        ("format", f"{card.get('format')} (Paddle {card.get('paddle_version')})"),
        ("inputs", fmt(card.get("input_shape"))),
        ("outputs", fmt(card.get("output_type"))),
        ("dataset", card.get("dataset")),
        ("created", f"{card.get('created_at')} by {card.get('created_by')}"),
        ("run", f"{provenance.get('run_id')} ({provenance.get('run_status') or 'status not recorded'})"),
        ("image", f"{image.get('reference')} {image.get('digest') or image.get('id') or ''}".strip()),
        ("commit", fmt(row.get("git_commit")) + (" + uncommitted patch" if row.get("git_dirty") else "")),
        ("params", fmt(row.get("params"))),
        ("metrics", fmt(row.get("metrics"))),
        ("labels", fmt(row.get("labels"))),
    ]
    width = max(len(key) for key, _ in lines)
    out.data("\n".join(f"{key:<{width}}  {fmt(value)}".rstrip() for key, value in lines))


def print_transition(result: Transition) -> None:
    record = result.record
    out.data(f"{record.ref}  {record.status.value}")
    if result.event is None:
        out.status(f"{record.ref} is {record.status.value} already; nothing changed")
        return
    event = result.event
    replaced = f"; {record.name}@{result.replaced} archived" if result.replaced else ""
    out.status(f"{event.action} {record.ref}: {event.from_status} -> {event.to_status}{replaced} (event {event.seq})")


def print_history(document: dict[str, Any]) -> None:
    events = document["events"]
    if events:
        table = _table()
        for column in ("seq", "time", "actor", "action", "version", "from -> to", "replaced", "note"):
            table.add_column(column, no_wrap=column not in ("note", "actor"))
        for event in events:
            change = f"{event['from_status'] or '-'} -> {event['to_status'] or '-'}"
            table.add_row(
                str(event["seq"]),
                event["time"],
                _text(event["actor"]),
                event["action"],
                event["version"],
                change,
                event["replaced"] or "",
                _text(event["note"] or ""),
            )
        out.table(table)
    if "at" in document:
        production = document["production_at"] or "none"
        out.data(f"production at {document['at']}: {production}")
    for race in document.get("races") or []:
        _warn_race(race["seq"], race["name"], race["version"], race["reason"])


def _warn_race(seq: int, name: str, version: str, reason: str) -> None:
    from rich.markup import escape

    out.warn(escape(f"race at event {seq} ({name}@{version}): {reason}"))


def print_comparison(comparison: VersionComparison) -> None:
    from rich.markup import escape

    table = _table()
    table.add_column("")
    table.add_column("field")
    for version in comparison.versions:
        table.add_column(f"{comparison.name}@{version}", overflow="fold")
    for row in comparison.rows:
        values = [escape(fmt(value)) for value in row.values]
        table.add_row(row.section, row.key, *values, style="bold yellow" if row.differs else None)
    out.table(table)
    differing = sum(row.differs for row in comparison.rows)
    source = "their runs" if comparison.runs_compared else "their cards (the runs are not available)"
    out.status(f"[dim]{differing} of {len(comparison.rows)} rows differ (highlighted); compared from {source}[/dim]")


def print_audit(report: AuditReport) -> None:
    for finding in report.findings:
        out.data(f"{finding.kind}: {finding}")
    for sha in report.garbage:
        if sha not in report.removed:
            out.warn(f"garbage blob {sha} (no version points to it): paddlectl registry verify --fix removes it")
    for item in report.removed:
        out.status(f"removed {item}")
    summary = (
        f"{report.versions} versions ({report.blobs_verified} blobs verified, {report.cold} cold), "
        f"{report.events} events in {report.location}"
    )
    signatures = ", ".join(f"{count} {state}" for state, count in sorted(report.signatures.items())) or "none"
    for race in report.races:
        _warn_race(race.seq, race.name, race.version, race.reason)
    for note in report.trust_notes:
        out.warn(f"{note} (registry.trusted_keys differs from then; promote and rollback apply the keys read here)")
    if report.ok:
        out.status(f"registry verified: {summary}; every sha256 and the event chain match; signatures: {signatures}")
        for name, seq, digest in report.heads:
            model = f" of {name}" if name else ""
            out.status(f"[dim]last event{model} {seq}: {digest}[/dim]")
    else:
        failed = f"{len(report.findings)} problem(s)"
        out.console.print(f"[bold red]registry verification failed[/bold red]: {failed}; {summary}")
