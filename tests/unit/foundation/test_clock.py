"""One time module: UTC text with a Z, read back the same on Python 3.10 (whose fromisoformat rejects `Z`) and later."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta, timezone

import pytest

from paddlectl.errors import UsageError
from paddlectl.foundation import clock

UTC = timezone.utc


def test_utc_now_is_z_text_that_reads_back() -> None:
    text = clock.utc_now()
    assert text.endswith("Z") and len(text) == len("2026-11-22T10:30:00.123Z")
    moment = clock.parse_utc(text)
    assert moment is not None and moment.tzinfo is not None
    assert abs((datetime.now(UTC) - moment).total_seconds()) < 60
    assert clock.utc_now("seconds").endswith("Z") and len(clock.utc_now("seconds")) == len("2026-11-22T10:30:00Z")


def test_format_utc_converts_and_marks_utc_with_z() -> None:
    moment = datetime(2026, 11, 22, 11, 30, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert clock.format_utc(moment) == "2026-11-22T10:30:00.123Z"
    assert clock.format_utc(moment, "seconds") == "2026-11-22T10:30:00Z"
    assert clock.format_utc(moment, "auto") == "2026-11-22T10:30:00.123456Z"
    assert clock.format_utc(datetime(2026, 11, 22, 10, 30), "auto") == "2026-11-22T10:30:00Z"  # naive: UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T10:30:00Z", datetime(2026, 11, 22, 10, 30, tzinfo=UTC)),
        ("2026-11-22T10:30:00.123Z", datetime(2026, 11, 22, 10, 30, 0, 123000, tzinfo=UTC)),
        ("2026-11-22T10:30:00.1Z", datetime(2026, 11, 22, 10, 30, 0, 100000, tzinfo=UTC)),
        ("2026-11-22T10:30:00.123456789Z", datetime(2026, 11, 22, 10, 30, 0, 123456, tzinfo=UTC)),  # Docker
        ("2026-11-22T10:30:00.5z", datetime(2026, 11, 22, 10, 30, 0, 500000, tzinfo=UTC)),
        ("2026-11-22T10:30:00+00:00", datetime(2026, 11, 22, 10, 30, tzinfo=UTC)),
        ("2026-11-22T12:30:00.25+02:00", datetime(2026, 11, 22, 10, 30, 0, 250000, tzinfo=UTC)),
        ("2026-11-22T05:00:00-0530", datetime(2026, 11, 22, 10, 30, tzinfo=UTC)),
        ("2026-11-22T12:30:00+02", datetime(2026, 11, 22, 10, 30, tzinfo=UTC)),
        ("2026-11-22 10:30:00Z", datetime(2026, 11, 22, 10, 30, tzinfo=UTC)),
        ("2026-11-22T10:30", datetime(2026, 11, 22, 10, 30, tzinfo=UTC)),  # no zone: UTC
        ("2026-11-22", datetime(2026, 11, 22, tzinfo=UTC)),
        ("  2026-11-22T10:30:00Z  ", datetime(2026, 11, 22, 10, 30, tzinfo=UTC)),
    ],
)
def test_parse_utc_reads_what_paddlectl_docker_and_people_write(text: str, expected: datetime) -> None:
    moment = clock.parse_utc(text)
    assert moment == expected
    assert moment is not None and moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    [None, "", "yesterday", "2026-13-01T00:00:00Z", "2026-11-22T25:00:00Z", "2026-11-22T10:30:00+25:00", 5, "2026"],
)
def test_parse_utc_gives_none_for_what_is_no_time(text: object) -> None:
    assert clock.parse_utc(text) is None


def test_parse_utc_takes_what_yaml_made_of_a_timestamp() -> None:
    assert clock.parse_utc(datetime(2026, 11, 22, 10, 30)) == datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
    aware = datetime(2026, 11, 22, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    assert clock.parse_utc(aware) == datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
    assert clock.parse_utc(date(2026, 11, 22)) == datetime(2026, 11, 22, tzinfo=UTC)


def test_go_zero_time_is_no_time() -> None:
    """Docker reports `0001-01-01T00:00:00Z` for a container that never finished."""
    assert clock.parse_utc("0001-01-01T00:00:00Z") is None


def test_a_time_without_zone_can_mean_the_local_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    local = clock.parse_utc("2026-11-22T10:30", naive="local")
    expected = datetime(2026, 11, 22, 10, 30).astimezone().astimezone(UTC)
    assert local == expected
    assert clock.parse_utc("2026-11-22T10:30Z", naive="local") == datetime(2026, 11, 22, 10, 30, tzinfo=UTC)


def test_seconds_between() -> None:
    assert clock.seconds_between("2026-11-22T10:30:00.000Z", "2026-11-22T10:31:30.5Z") == 90.5
    assert clock.seconds_between("2026-11-22T10:30:00Z", "2026-11-22T11:30:00+01:00") == 0.0
    assert clock.seconds_between(None, "2026-11-22T10:30:00Z") is None
    assert clock.seconds_between("2026-11-22T10:30:00Z", "garbage") is None


def test_epoch_seconds() -> None:
    assert clock.epoch_seconds("1970-01-01T00:01:40Z") == 100
    assert clock.epoch_seconds("2026-11-22T10:30:00.999Z") == int(
        datetime(2026, 11, 22, 10, 30, tzinfo=UTC).timestamp()
    )
    assert clock.epoch_seconds(None) == 0 and clock.epoch_seconds("nope") == 0
    assert clock.epoch_seconds("1960-01-01T00:00:00Z") == 0  # before the epoch: tar headers take no negative times


def test_durations() -> None:
    assert clock.parse_duration("2d") == timedelta(days=2)
    assert clock.parse_duration("90s") == timedelta(seconds=90)
    assert clock.parse_duration(" 1.5h ") == timedelta(minutes=90)
    assert clock.parse_duration("15min") == timedelta(minutes=15)
    assert clock.parse_duration("1w") == timedelta(weeks=1)
    for bad in ("2 days", "-1d", "d", "", "1y"):
        with pytest.raises(UsageError):
            clock.parse_duration(bad)
    assert clock.is_duration("12h") and not clock.is_duration("2026-11-01")


def test_runs_on_this_interpreter() -> None:
    """The unit suite also runs on 3.10 and 3.13 (scripts/test.sh): this line says which one ran it."""
    assert sys.version_info >= (3, 10)


def test_the_edges_of_the_calendar_are_no_time_not_a_crash() -> None:
    assert clock.parse_utc("9999-12-31T23:59:59-05:00") is None
    assert clock.parse_utc("0001-01-01T00:00:00", naive="local") is None
    assert clock.parse_utc("9999-12-31T23:59:59Z") == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_an_age_too_long_for_a_date_is_a_usage_error() -> None:
    from paddlectl.runs.query import parse_since

    with pytest.raises(UsageError, match="too long"):
        clock.parse_duration("999999999999999999999h")
    with pytest.raises(UsageError, match="before year 1"):
        parse_since("99999999d")
