"""paddlectl registry: register, list, show, promote, rollback, history, pull, compare, verify, archive, restore.

Each command parses its options, calls one function of paddlectl.registry and renders the result (tables in
registry_view.py, imported only for human output). Exit codes: 2 bad input, 4 verification failed, 6 refused by
the signature policy.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from paddlectl.cli.lazygroup import LazyCommand, LazyCommandGroup
from paddlectl.cli.output import out

if TYPE_CHECKING:
    from collections.abc import Callable

    from paddlectl.registry.store import Registry


class RegistryCommands(LazyCommandGroup):
    """Each sub-command is built only when it runs (Typer would build all eleven for `registry show`)."""


app = typer.Typer(
    cls=RegistryCommands,
    help="Versions of packages with statuses, promotion, rollback, an audit trail and cold storage.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def group() -> None:
    """Versions of packages with statuses, promotion, rollback, an audit trail and cold storage."""


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
NameArgument = Annotated[str, typer.Argument(help="The model's name (the package name).")]
NoteOption = Annotated[str | None, typer.Option("--note", help="Why: recorded in the event log.")]


def _open(write: bool = False, policy: bool = True) -> Registry:
    from paddlectl.registry.store import open_registry

    return open_registry(write=write, policy=policy)


def register_command(
    package: Annotated[Path, typer.Argument(help="The package (.tar) written by paddlectl package.")],
    status: Annotated[
        str, typer.Option("--status", help="staging, or production (the signature policy applies).")
    ] = "staging",
    note: NoteOption = None,
    label: Annotated[list[str] | None, typer.Option("--label", help="KEY=VALUE, added to the run's labels.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Verify a package and register it as NAME@VERSION; the same bytes again return the existing version."""
    from paddlectl.packaging.layout import parse_status
    from paddlectl.registry.register import parse_labels, register_package

    out.json_mode = json_output
    wanted = parse_status(status)
    with _open(write=True) as registry:
        result = register_package(registry, package, status=wanted, note=note, labels=parse_labels(label or []))
    if json_output:
        out.json(result.as_dict())
        return
    record = result.record
    out.data(f"{record.ref}  {record.sha256}")
    if not result.created:
        out.status(f"{record.ref} is registered already with these bytes ({record.status.value}); nothing changed")
        if record.status is not wanted:
            out.warn(
                f"--status {wanted.value} applies to a new version only: "
                f"paddlectl registry promote {record.name} {record.version} --to {wanted.value}"
            )
        return
    replaced = f"; {record.name}@{result.replaced} archived" if result.replaced else ""
    out.status(f"registered {record.ref} as {record.status.value} (signature: {record.signature.value}){replaced}")


def list_command(
    name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    status: Annotated[
        list[str] | None, typer.Option("--status", help="staging, production or archived; repeatable.")
    ] = None,
    where: Annotated[
        list[str] | None, typer.Option("--where", help="'hmean>=0.89': a card metric or param; repeatable.")
    ] = None,
    label: Annotated[list[str] | None, typer.Option("--label", help="KEY=VALUE (or KEY); repeatable.")] = None,
    json_output: JsonOption = False,
) -> None:
    """List registered versions (by model, oldest first) with status, storage, signature and metrics."""
    from paddlectl.registry.query import VersionQuery, check_query, list_json, list_versions

    out.json_mode = json_output
    query = VersionQuery.parse(name, status or [], where or [], label or [])
    with _open(policy=False) as registry:
        if json_output:
            # Rows are stored as JSON already: join them rather than decode and re-encode 10,000 of them.
            body = ",\n".join(list_json(registry, query))
            if not body:
                check_query(registry, query)
            sys.stdout.write(f"[\n{body}\n]\n" if body else "[]\n")
            sys.stdout.flush()
            return
        records = list_versions(registry, query)
        if not records:
            check_query(registry, query)
    from paddlectl.cli.registry_view import print_versions

    print_versions(records, filtered=bool(query.statuses or query.where or query.labels))


def show_command(
    reference: Annotated[str, typer.Argument(help="NAME, NAME@VERSION or NAME@STATUS (e.g. digits@production).")],
    json_output: JsonOption = False,
) -> None:
    """One version in full (card, provenance, registry fields), or a model and its versions."""
    from paddlectl.registry.query import ModelOverview, show

    out.json_mode = json_output
    with _open(policy=False) as registry:
        found = show(registry, reference)
    if json_output:
        out.json(found.as_dict())
        return
    from paddlectl.cli import registry_view

    if isinstance(found, ModelOverview):
        registry_view.print_versions(found.versions)
    else:
        registry_view.print_version(found)


def promote_command(
    name: NameArgument,
    version: Annotated[str, typer.Argument(help="The version to promote.")],
    to: Annotated[str, typer.Option("--to", help="staging or production.")],
    note: NoteOption = None,
    json_output: JsonOption = False,
) -> None:
    """Give a version a status; at most one production version per model, the one it replaces becomes archived.

    Production re-verifies the version's bytes first (exit 4) and applies registry.require_signature (exit 6).
    """
    from paddlectl.packaging.layout import parse_status
    from paddlectl.registry.promote import promote

    out.json_mode = json_output
    target = parse_status(to)
    with _open(write=True) as registry:
        result = promote(registry, name, version, target, note)
    if json_output:
        out.json(result.as_dict())
        return
    from paddlectl.cli.registry_view import print_transition

    print_transition(result)


def rollback_command(
    name: NameArgument,
    to: Annotated[str | None, typer.Option("--to", help="This version (default: the previous production).")] = None,
    restore: Annotated[bool, typer.Option("--restore", help="Fetch the target from cold storage first.")] = False,
    note: NoteOption = None,
    json_output: JsonOption = False,
) -> None:
    """Production goes back to the version that was production before (or --to), after verifying its bytes.

    Refused when they no longer match (exit 4), the signature policy refuses them (exit 6), or the blob is in cold
    storage and --restore is not given (exit 2). The version it replaces becomes archived.
    """
    from paddlectl.registry.promote import rollback

    out.json_mode = json_output
    with _open(write=True) as registry:
        result = rollback(registry, name, to, note, restore)
    if json_output:
        out.json(result.as_dict())
        return
    from paddlectl.cli.registry_view import print_transition

    print_transition(result)


def history_command(
    name: NameArgument,
    at: Annotated[
        str | None, typer.Option("--at", help="Also say what was production then: a date/time or an age (2d).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Every event of a model in sequence order (who, when in ns, what, from -> to), and production at --at."""
    from paddlectl.registry.history import history_document
    from paddlectl.registry.model import ModelRef

    out.json_mode = json_output
    moment = None
    if at is not None:
        from paddlectl.runs.query import parse_since

        moment = parse_since(at)
    ModelRef.parse(name)
    with _open(policy=False) as registry:
        events = registry.backend.events(name)
    if not events:
        from paddlectl.errors import UsageError

        raise UsageError(f"no model {name} in the registry", hint="see what is: paddlectl registry list")
    document = history_document(events, name, moment)
    if json_output:
        out.json(document)
        return
    from paddlectl.cli.registry_view import print_history

    print_history(document)


def pull_command(
    reference: Annotated[str, typer.Argument(help="NAME@VERSION or NAME@STATUS, e.g. digits@production.")],
    output_dir: Annotated[Path, typer.Option("-o", "--output", help="Folder for NAME-VERSION.tar.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Replace a different file of that name.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Write the package of a version into a folder, verified again (and allowed by the signature policy)."""
    from paddlectl.registry.pull import pull

    out.json_mode = json_output
    with _open() as registry:
        result = pull(registry, reference, output_dir, force)
    if json_output:
        out.json(result.as_dict())
        return
    out.data(str(result.path))
    out.status(f"pulled {result.record.ref} ({result.record.status.value}), verified: sha256 {result.record.sha256}")


def compare_command(
    name: NameArgument,
    v1: Annotated[str, typer.Argument(help="A version.")],
    v2: Annotated[str, typer.Argument(help="Another version.")],
    json_output: JsonOption = False,
) -> None:
    """Two versions side by side: registry fields, then their runs (params, metrics, image, commit)."""
    from paddlectl.project.workspace import open_project
    from paddlectl.registry.query import compare_versions

    out.json_mode = json_output
    runs_dir = open_project().runs_dir
    with _open(policy=False) as registry:
        comparison = compare_versions(registry, name, [v1, v2], runs_dir if runs_dir.is_dir() else None)
    if json_output:
        out.json(comparison.as_dict())
        return
    from paddlectl.cli.registry_view import print_comparison

    print_comparison(comparison)


def verify_command(
    fix: Annotated[
        bool, typer.Option("--fix", help="Remove garbage: blobs no version points to, unfinished writes.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Check every blob's sha256 and signature and the event log's hash chain; exit 4 when anything is wrong."""
    from paddlectl.registry.audit import verify_registry

    out.json_mode = json_output
    with _open(write=fix) as registry:
        report = verify_registry(registry, fix)
    if json_output:
        out.json(report.as_dict())
    else:
        from paddlectl.cli.registry_view import print_audit

        print_audit(report)
    if not report.ok:
        raise typer.Exit(int(report.exit_code))


def archive_command(
    name: NameArgument,
    older_than: Annotated[
        str, typer.Option("--older-than", help="Registered longer ago than this: 90d, 12h, 30m.")
    ] = "90d",
    keep: Annotated[int, typer.Option("--keep", help="Never archive the N newest versions.", min=0)] = 3,
    json_output: JsonOption = False,
) -> None:
    """Move old versions' blobs to the cold store (S3-compatible, create-only); they stay listed as storage: cold.

    Production is never archived. Credentials come from the usual AWS variables and are never printed or stored.
    """
    from paddlectl.foundation.clock import parse_duration
    from paddlectl.registry.cold import archive_versions

    out.json_mode = json_output
    age = parse_duration(older_than)
    with _open(write=True) as registry:
        moved = archive_versions(registry, name, age, keep)
    if json_output:
        out.json({"archived": [item.as_dict() for item in moved]})
        return
    for item in moved:
        out.data(f"{item.record.ref}  {item.location}")
    out.status(f"archived {len(moved)} version(s) of {name} to the cold store")


def restore_command(
    name: NameArgument,
    version: Annotated[str, typer.Argument(help="The version to bring back.")],
    json_output: JsonOption = False,
) -> None:
    """Fetch a version's blob back from the cold store, re-verify its sha256 and signature, make it hot."""
    from paddlectl.registry.cold import restore_version

    out.json_mode = json_output
    with _open(write=True) as registry:
        result = restore_version(registry, name, version)
    if json_output:
        out.json(result.as_dict())
        return
    out.data(f"{result.record.ref}  {result.record.storage.value}")
    out.status(f"restored {result.record.ref} from {result.location}: sha256 and signature verified")


def _lazy(function: Callable[..., None]) -> LazyCommand:
    """The command by reference, its summary its docstring's first line (what `registry --help` lists)."""
    summary = (function.__doc__ or "").strip().splitlines()[0]
    return LazyCommand(f"{__name__}:{function.__name__}", summary)


_COMMANDS: dict[str, Callable[..., None]] = {
    "register": register_command,
    "list": list_command,
    "show": show_command,
    "promote": promote_command,
    "rollback": rollback_command,
    "history": history_command,
    "pull": pull_command,
    "compare": compare_command,
    "verify": verify_command,
    "archive": archive_command,
    "restore": restore_command,
}
RegistryCommands.lazy = {name: _lazy(function) for name, function in _COMMANDS.items()}
