"""Finding runs: resolve `RUN` arguments, filter, `--where` expressions, sorting, and the listing itself."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from paddlectl.errors import UsageError
from paddlectl.foundation import clock
from paddlectl.runs.index import ENDED_STATUSES, IndexEntry, RowStatus, RunIndex, row_status

if TYPE_CHECKING:
    from paddlectl.runs.store import RunPaths, RunStore

COLUMNS = (
    "id",
    "name",
    "status",
    "image",
    "image_id",
    "image_digest",
    "commit",
    "dirty",
    "started_at",
    "ended_at",
    "duration_seconds",
    "exit_code",
    "reason",
    "problem",
)
COLUMN_ALIASES = {"started": "started_at", "ended": "ended_at", "duration": "duration_seconds", "exit": "exit_code"}
MAX_CANDIDATES = 10

_CONDITION = re.compile(r"^\s*([^<>=!\s]+)\s*(>=|<=|==|!=|=|>|<)\s*(.*?)\s*$")
_LAST = re.compile(r"^last(?:~(\d+))?$")
_ORDERINGS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


# ---- resolving RUN arguments -------------------------------------------------------------------------------


class NoSuchRun(UsageError):
    """No run is the one asked for (as opposed to a target that names several): `runs gate` treats `last~N` past
    the history as a baseline that does not exist yet, anything else as a typo."""


def resolve_run(store: RunStore, target: str) -> RunPaths:
    """The run a user means: full id, `last` / `last~N`, unique id prefix, or a run name.

    Names are unique within a project (`train --name` refuses a taken one); a store from before that rule may
    hold a name twice, and then the name resolves to nothing and the error lists the runs that carry it, as for an
    ambiguous prefix. Raises NoSuchRun (a UsageError) for no match, UsageError for an ambiguous target (naming up
    to 10 candidates). Only
    folder names from the store are ever matched, so a target like `../x` cannot point outside it.
    """
    index = RunIndex.of(store)
    run_ids = index.run_ids()
    target = target.strip()
    if target in run_ids:
        return store.paths(target)
    last = _LAST.match(target)
    if last:
        back = int(last.group(1) or 0)
        if back >= len(run_ids):
            have = f"only {len(run_ids)} run(s)" if run_ids else "no runs yet"
            raise NoSuchRun(f"there is no run '{target}': {have}", hint="list them with 'paddlectl runs list'")
        return store.paths(run_ids[-1 - back])
    matches = [run_id for run_id in run_ids if target and run_id.startswith(target)]
    if len(matches) == 1:
        return store.paths(matches[0])
    named = runs_named(store, target)
    if len(named) == 1:
        return store.paths(named[0])
    if len(named) > 1:
        shown = ", ".join(reversed(named[-MAX_CANDIDATES:]))
        raise UsageError(
            f"the name '{target}' is carried by {len(named)} runs: {shown}",
            hint="name the run by its id (or a unique id prefix); new runs get names no other run has",
        )
    if matches:
        shown = ", ".join(reversed(matches[-MAX_CANDIDATES:]))
        more = f" and {len(matches) - MAX_CANDIDATES} more" if len(matches) > MAX_CANDIDATES else ""
        raise UsageError(
            f"'{target}' matches {len(matches)} runs: {shown}{more}",
            hint="give more characters of the run id",
        )
    raise NoSuchRun(f"no run matches '{target}'", hint="list runs with 'paddlectl runs list' (or use 'last')")


def refuse_taken_name(store: RunStore, name: str | None) -> None:
    """UsageError when another run of the store has `name`: run names are unique in a project."""
    if name is not None and runs_named(store, name):
        raise UsageError(
            f"a run named '{name}' already exists: names are unique in a project",
            hint="choose another --name, or remove that run first (paddlectl runs rm NAME)",
        )


def runs_named(store: RunStore, name: str) -> list[str]:
    """The ids of the runs named `name`, oldest first."""
    return [
        entry.id
        for entry in RunIndex.of(store).refresh()
        if entry.status is not RowStatus.BAD and entry.row["name"] == name
    ]


def reproduction_name(store: RunStore, base: str) -> str:
    """The name of the next reproduction of a run named `base` (or of a run id): `base~repro1`, `base~repro2`, ..."""
    taken = {entry.row["name"] for entry in RunIndex.of(store).refresh() if entry.status is not RowStatus.BAD}
    number = 1
    while f"{base}~repro{number}" in taken:
        number += 1
    return f"{base}~repro{number}"


# ---- values, conditions and filters ------------------------------------------------------------------------


def lookup(row: dict[str, Any], name: str) -> Any:
    """A name's value in a row: `metrics.X` / `params.X` / `labels.X` explicitly, else metric, param, column."""
    section, dot, rest = name.partition(".")
    if dot and section in ("metrics", "params", "labels"):
        holder = row.get(section) or {}
        if rest in holder:
            return holder[rest]
    for section in ("metrics", "params"):
        holder = row.get(section) or {}
        if name in holder:
            return holder[name]
    column = COLUMN_ALIASES.get(name, name)
    if column in COLUMNS:
        return row.get(column)
    return None


def check_names(names: Iterable[str], rows: Iterable[dict[str, Any]], option: str = "--columns") -> None:
    """UsageError for a name (of `--columns`, `--where`, `--sort`) that no row has: a typo would otherwise give
    an empty column, no match or no order, in silence. Nothing is checked while there are no runs."""
    names, rows = list(names), list(rows)
    if not names or not rows:
        return
    known = set(COLUMNS) | set(COLUMN_ALIASES)
    for section in ("params", "metrics", "labels"):
        for row in rows:
            keys = (row.get(section) or {}).keys()
            known.update(keys)
            known.update(f"{section}.{key}" for key in keys)
    unknown = [name for name in names if name not in known]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
        maybe = f" (did you mean {close[0]}?)" if close else ""
        raise UsageError(
            f"{option}: no run here has {', '.join(unknown)}{maybe}",
            hint=f"columns: {', '.join(COLUMNS)}, or a param, metric or label name (params.X, metrics.X, labels.X)",
        )


def as_number(value: Any) -> float | None:
    """A finite number from a value (numbers, numeric strings), else None; bools are not numbers here."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _loose_equal(actual: Any, wanted: str) -> bool:
    number, target = as_number(actual), as_number(wanted)
    if number is not None and target is not None:
        return number == target
    if isinstance(actual, bool):
        return wanted.lower() in (("true", "1", "yes") if actual else ("false", "0", "no"))
    return str(actual) == wanted


@dataclass(frozen=True)
class Condition:
    """`name OP value` with OP one of >=, <=, >, <, ==, !=; ordering needs a number on both sides."""

    name: str
    op: str
    value: str
    text: str

    def test(self, row: dict[str, Any]) -> bool:
        actual = lookup(row, self.name)
        if actual is None:
            return False
        if self.op in ("==", "!="):
            return _loose_equal(actual, self.value) == (self.op == "==")
        number, target = as_number(actual), as_number(self.value)
        if number is None or target is None:
            return False
        return _ORDERINGS[self.op](number, target)


def parse_condition(text: str) -> Condition:
    """Parse `acc>=0.9`; raise a one-line UsageError for anything else."""
    match = _CONDITION.match(text)
    if not match or not match.group(3) or match.group(3)[0] in "<>=!":
        raise UsageError(
            f"cannot read the condition '{text}'",
            hint="write NAME OP VALUE with OP one of >= <= > < == !=, e.g. 'acc>=0.9' or 'optimizer==adam'",
        )
    name, op, value = match.groups()
    op = "==" if op == "=" else op
    value = value.strip("'\"")
    if op not in ("==", "!=") and as_number(value) is None:
        raise UsageError(f"in '{text}': '{value}' is not a number", hint=f"{op} compares numbers, e.g. 'acc>=0.9'")
    return Condition(name, op, value, text.strip())


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`2d` (that long ago) or an ISO date/time (local time when it has no zone), as an aware UTC datetime."""
    if clock.is_duration(text):
        age = clock.parse_duration(text)
        try:
            return (now or clock.now()) - age
        except OverflowError:
            raise UsageError(f"'{text}' ago is before year 1", hint="give a shorter age, or a date") from None
    moment = clock.parse_utc(text, naive="local")
    if moment is None:
        raise UsageError(
            f"cannot read the time '{text}'", hint="give an age (2d, 12h) or a date (2026-11-01, 2026-11-01T08:00)"
        )
    return moment


def _pair(text: str, option: str) -> tuple[str, str | None]:
    key, eq, value = text.partition("=")
    if not key.strip():
        raise UsageError(f"{option} '{text}' has no name", hint=f"write {option} KEY=VALUE")
    return key.strip(), (value.strip() if eq else None)


@dataclass(frozen=True)
class SortKey:
    name: str
    descending: bool


def parse_statuses(values: Iterable[str]) -> frozenset[RowStatus]:
    """`failed,lost` (repeatable); `ended` means every ended status. Raises UsageError for an unknown one."""
    wanted: set[RowStatus] = set()
    for value in values:
        for part in value.split(","):
            status = part.strip().lower()
            if not status:
                continue
            known = row_status(status)
            if status == "ended":
                wanted.update(ENDED_STATUSES)
            elif known is not None:
                wanted.add(known)
            else:
                names = ", ".join(member.value for member in RowStatus)
                raise UsageError(f"unknown status '{status}'", hint=f"use one of {names}, ended")
    return frozenset(wanted)


@dataclass(frozen=True)
class RunQuery:
    """What `runs list` selects, in which order, how many."""

    statuses: frozenset[RowStatus] = frozenset()
    labels: tuple[tuple[str, str | None], ...] = ()
    image: str | None = None
    since: datetime | None = None
    params: tuple[tuple[str, str | None], ...] = ()
    where: tuple[Condition, ...] = ()
    sort: tuple[SortKey, ...] = ()
    limit: int | None = None

    @classmethod
    def parse(
        cls,
        *,
        status: Iterable[str] = (),
        label: Iterable[str] = (),
        image: str | None = None,
        since: str | None = None,
        param: Iterable[str] = (),
        where: Iterable[str] = (),
        sort: Iterable[str] = (),
        limit: int | None = None,
    ) -> RunQuery:
        """Build a query from option strings; every bad one is a one-line UsageError."""
        keys: list[SortKey] = []
        for text in sort:
            for part in text.split(","):
                name = part.strip()
                if name.lstrip("+-"):
                    keys.append(SortKey(name.lstrip("+-"), name.startswith("-")))
                elif name:
                    raise UsageError(f"cannot sort by '{part}'", hint="give a metric, param or column: --sort -acc")
        if limit is not None and limit < 0:
            raise UsageError("--limit must be 0 or more", hint="0 means no limit")
        return cls(
            statuses=parse_statuses(status),
            labels=tuple(_pair(text, "--label") for text in label),
            image=image or None,
            since=parse_since(since) if since else None,
            params=tuple(_pair(text, "--param") for text in param),
            where=tuple(parse_condition(text) for text in where),
            sort=tuple(keys),
            limit=limit or None,
        )

    @property
    def reads_rows(self) -> bool:
        """Whether selecting needs the parsed rows (the status filter and the default order do not)."""
        return bool(self.labels or self.image or self.since or self.params or self.where or self.sort)

    def matches(self, entry: IndexEntry) -> bool:
        if self.statuses and entry.status not in self.statuses:
            return False
        if not self.reads_rows:
            return True
        row = entry.row
        labels = row.get("labels") or {}
        for key, value in self.labels:
            if key not in labels or (value is not None and str(labels[key]) != value):
                return False
        if self.image and not _image_matches(row, self.image):
            return False
        if self.since is not None:
            started = clock.parse_utc(row.get("started_at"))
            if started is None or started < self.since:
                return False
        params = row.get("params") or {}
        for key, wanted in self.params:
            if key not in params or (wanted is not None and not _loose_equal(params[key], wanted)):
                return False
        return all(condition.test(row) for condition in self.where)


def _image_matches(row: dict[str, Any], wanted: str) -> bool:
    import fnmatch

    candidates = [str(row.get(key)) for key in ("image", "image_id", "image_digest") if row.get(key)]
    if any(char in wanted for char in "*?["):
        return any(fnmatch.fnmatchcase(candidate, wanted) for candidate in candidates)
    return any(wanted in candidate for candidate in candidates)


def _sort_value(value: Any) -> tuple[int, Any] | None:
    number = as_number(value) if not isinstance(value, str) else None
    if isinstance(value, bool):
        return (0, float(value))
    if number is not None:
        return (0, number)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return (1, str(value))


def sort_entries(entries: list[IndexEntry], keys: tuple[SortKey, ...]) -> list[IndexEntry]:
    """Newest first, then each key from the least to the most significant; missing values always sort last."""
    ordered = sorted(entries, key=lambda entry: entry.id, reverse=True)
    for key in reversed(keys):
        values = {entry.id: _sort_value(lookup(entry.row, key.name)) for entry in ordered}
        present = [entry for entry in ordered if values[entry.id] is not None]
        missing = [entry for entry in ordered if values[entry.id] is None]
        present.sort(key=lambda entry: values[entry.id], reverse=key.descending)  # type: ignore[arg-type,return-value]
        ordered = present + missing
    return ordered


# ---- listing ----------------------------------------------------------------------------------------------


@dataclass
class Listing:
    """The runs a query selected (in order, limited) and what happened on the way."""

    entries: list[IndexEntry]
    total: int  # runs in the store
    matched: int  # runs the filters kept, before --limit
    reconciled: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def select_entries(entries: list[IndexEntry], query: RunQuery) -> Listing:
    """The entries `query` selects, in its order and limit (ProjectRuns.listing settles runs first)."""
    warnings: list[str] = []
    read_only = [entry for entry in entries if entry.read_only]
    if read_only:
        warnings.append(_read_only_warning(read_only))
    check_names([key.name for key in query.sort], (entry.row for entry in entries), "--sort")
    selected = [entry for entry in entries if query.matches(entry)]
    if not selected and query.where:  # a --where name no run has matches nothing: say so rather than "no run"
        check_names([condition.name for condition in query.where], (entry.row for entry in entries), "--where")
    if query.sort:
        selected = sort_entries(selected, query.sort)
    else:
        selected.reverse()
    matched = len(selected)
    if query.limit:
        selected = selected[: query.limit]
    return Listing(selected, len(entries), matched, warnings=warnings)


def _read_only_warning(entries: list[IndexEntry]) -> str:
    from paddlectl.runs.manifest import READ_ONLY_HINT

    names = ", ".join(entry.id for entry in entries[:3]) + (", ..." if len(entries) > 3 else "")
    running = [entry.id for entry in entries if entry.running]
    note = f"; {len(running)} marked running not settled" if running else ""
    return f"{len(entries)} run(s) recorded by a newer paddlectl are read-only here ({names}){note}: {READ_ONLY_HINT}"
