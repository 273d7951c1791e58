"""Time as paddlectl records it: UTC text ending in `Z`, read back the same way on every supported Python.

paddlectl writes `2026-11-22T10:30:00.123Z`; Docker writes nanoseconds (`...00.123456789Z`) and `0001-01-01T00:00:00Z`
for "never"; people type dates, offsets, or nothing. `datetime.fromisoformat` on Python 3.10 rejects `Z` and any
fraction that is not 3 or 6 digits long, so this module parses with its own pattern instead. Everything that writes,
reads or subtracts timestamps goes through here.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from paddlectl.errors import UsageError

UTC = timezone.utc
Timespec = Literal["seconds", "milliseconds", "auto"]

_ISO_TIME = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"(?:[Tt ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?)?"
    r"\s*(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?"
)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|min|m|h|d|w)", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def now() -> datetime:
    """The current moment, aware, in UTC."""
    return datetime.now(UTC)


def format_utc(moment: datetime, timespec: Timespec = "milliseconds") -> str:
    """`2026-11-22T10:30:00.123Z`: the moment in UTC (a naive one is taken as UTC already)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    text = aware.astimezone(UTC).replace(tzinfo=None).isoformat(timespec=timespec)
    return f"{text}Z"


def utc_now(timespec: Timespec = "milliseconds") -> str:
    """The current moment as paddlectl records it: UTC text ending in Z."""
    return format_utc(now(), timespec)


def parse_utc(value: object, *, naive: Literal["utc", "local"] = "utc") -> datetime | None:
    """An aware UTC datetime from ISO-8601 text (or a datetime/date YAML made of it); None for anything else.

    Accepts `Z` or `+HH:MM` / `+HHMM` / `+HH` offsets, a space or `T` between date and time, and a fraction of any
    length (cut to microseconds). A time without a zone is UTC, or the local clock with `naive="local"`. Go's zero
    time (year 1), which Docker reports for "never", is None.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        parsed = _parse_text(value)
        if parsed is None:
            return None
        moment = parsed
    else:
        return None
    if moment.year <= 1:
        return None
    try:
        if moment.tzinfo is None:
            moment = moment.astimezone() if naive == "local" else moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):  # moved past year 9999 by its offset
        return None


def _parse_text(text: str) -> datetime | None:
    match = _ISO_TIME.fullmatch(text.strip())
    if match is None:
        return None
    parts = match.groupdict()
    fraction = (parts["fraction"] or "")[:6].ljust(6, "0")
    try:
        return datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            int(fraction),
            tzinfo=_zone(parts["zone"]),
        )
    except ValueError:  # a month 13, an hour 25, an offset of a day or more
        return None


def _zone(text: str | None) -> timezone | None:
    if text is None:
        return None
    if text in ("Z", "z"):
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return timezone(-offset if text[0] == "-" else offset)


def seconds_between(start: object, end: object) -> float | None:
    """Seconds from one timestamp to another, to the millisecond; None when either is not a time."""
    first, last = parse_utc(start), parse_utc(end)
    if first is None or last is None:
        return None
    return round((last - first).total_seconds(), 3)


def epoch_seconds(value: object) -> int:
    """Whole seconds since 1970 (for tar headers); 0 for no readable time or one before 1970."""
    moment = parse_utc(value)
    return max(0, int(moment.timestamp())) if moment is not None else 0


def is_duration(text: str) -> bool:
    return _DURATION.fullmatch(text.strip()) is not None


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `12h`, `2d`, `1w` as a timedelta; UsageError otherwise."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise UsageError(f"cannot read the duration '{text}'", hint="write a number and a unit: 30m, 12h, 2d, 1w")
    try:
        return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])
    except OverflowError:
        raise UsageError(f"the duration '{text}' is too long", hint="give at most a few thousand years") from None
