"""Dates and times as staff type them: '30.04.2026 23:59', '2026-04-30T23:59', '30.04.2026'.

Local times are in BOT_TIMEZONE; ISO 8601 with an offset is taken as written.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, tzinfo

_DOTTED = re.compile(
    r"^(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})"
    r"(?:[\s,T]+(?P<hour>\d{1,2})[:.](?P<minute>\d{2}))?$"
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CLOCK = re.compile(r"^(?P<hour>\d{1,2})[:.](?P<minute>\d{2})$")


class TimeFormatError(ValueError):
    """The text is not a date and time in a known format (or names a moment that does not exist).

    `reason` says which: FORMAT, TIME_NEEDED (a bare date where a time is required) or
    NONEXISTENT (a local time skipped when the clocks go forward).
    """

    FORMAT = "format"
    TIME_NEEDED = "time needed"
    NONEXISTENT = "nonexistent"

    def __init__(self, detail: str, reason: str = FORMAT) -> None:
        super().__init__(detail)
        self.reason = reason


def parse_when(
    text: str,
    tz: tzinfo,
    *,
    date_only_time: time | None = None,
    same_day_as: datetime | None = None,
) -> datetime:
    """An aware datetime from staff input.

    `date_only_time` allows a bare date ('30.04.2026' -> that day at 23:59 for deadlines);
    `same_day_as` allows a bare clock time ('20:00' -> that time on the given moment's local day).
    """
    raw = " ".join(text.strip().split())
    if not raw:
        raise TimeFormatError("empty")
    clock = _CLOCK.match(raw)
    if clock and same_day_as is not None:
        day = same_day_as.astimezone(tz).date()
        return local_moment(day, _clock(clock["hour"], clock["minute"]), tz)
    dotted = _DOTTED.match(raw)
    if dotted:
        try:
            day = date(int(dotted["year"]), int(dotted["month"]), int(dotted["day"]))
        except ValueError as exc:
            raise TimeFormatError(str(exc)) from exc
        if dotted["hour"] is None:
            return _date_only(day, tz, date_only_time)
        return local_moment(day, _clock(dotted["hour"], dotted["minute"]), tz)
    if _ISO_DATE.match(raw):
        try:
            day = date.fromisoformat(raw)
        except ValueError as exc:
            raise TimeFormatError(str(exc)) from exc
        return _date_only(day, tz, date_only_time)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise TimeFormatError(str(exc)) from exc
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    return local_moment(parsed.date(), parsed.time(), tz)


def local_moment(day: date, clock: time, tz: tzinfo) -> datetime:
    """A local wall-clock time as an aware datetime; a time skipped by a DST change is refused."""
    moment = datetime.combine(day, clock, tzinfo=tz)
    round_trip = moment.astimezone(UTC).astimezone(tz)
    if round_trip.replace(tzinfo=None) != moment.replace(tzinfo=None):
        raise TimeFormatError(
            "this local time does not exist (the clocks change)", TimeFormatError.NONEXISTENT
        )
    return moment


def _clock(hour: str, minute: str) -> time:
    try:
        return time(int(hour), int(minute))
    except ValueError as exc:
        raise TimeFormatError(str(exc)) from exc


def _date_only(day: date, tz: tzinfo, date_only_time: time | None) -> datetime:
    if date_only_time is None:
        raise TimeFormatError("a time of day is needed", TimeFormatError.TIME_NEEDED)
    return local_moment(day, date_only_time, tz)
