"""Reminder offsets: the `--remind` grammar and the moments it names.

`N` followed by `w`, `d`, `h` or `m`, optionally `@HH:MM`, comma-separated, or `none`.
`d` and `w` are calendar days in BOT_TIMEZONE (the same local time N days earlier, also across a
DST change); `h` and `m` are exact. `@HH:MM` moves the reminder to that local time on that day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from bot.announcements.timeparse import TimeFormatError, local_moment

NONE = "none"
MAX_OFFSETS = 10
MAX_DAYS = 366
_OFFSET = re.compile(
    r"^(?P<amount>\d{1,6})(?P<unit>[wdhm])(?:@(?P<hour>\d{1,2}):(?P<minute>\d{2}))?$"
)
_UNIT_DAYS = {"w": 7, "d": 1}
_UNIT_DELTA = {"h": timedelta(hours=1), "m": timedelta(minutes=1)}


class OffsetError(ValueError):
    """The text does not follow the reminder grammar; the message quotes the bad part."""


@dataclass(frozen=True, order=True)
class Offset:
    """One reminder before an anchor (a deadline or a start)."""

    amount: int
    unit: str
    at: time | None = None

    def __str__(self) -> str:
        suffix = f"@{self.at:%H:%M}" if self.at is not None else ""
        return f"{self.amount}{self.unit}{suffix}"

    def span(self) -> timedelta:
        """How far before the anchor, roughly (for ordering and bounds)."""
        if self.unit in _UNIT_DAYS:
            return timedelta(days=self.amount * _UNIT_DAYS[self.unit])
        return self.amount * _UNIT_DELTA[self.unit]

    def moment(self, anchor: datetime, tz: tzinfo) -> datetime:
        """When this reminder falls for a given anchor."""
        if self.unit in _UNIT_DAYS:
            local = anchor.astimezone(tz)
            day = local.date() - timedelta(days=self.amount * _UNIT_DAYS[self.unit])
            clock = self.at if self.at is not None else local.time().replace(tzinfo=None)
            return _existing(day, clock, tz)
        moment = anchor.astimezone(UTC) - self.amount * _UNIT_DELTA[self.unit]
        if self.at is None:
            return moment
        return _existing(moment.astimezone(tz).date(), self.at, tz)


def parse_offsets(text: str) -> tuple[Offset, ...]:
    """Parse a list ('14d@09:00, 3d@09:00, 2h') or 'none'; raise OffsetError on a bad item."""
    raw = text.strip().lower()
    if raw == NONE:
        return ()
    if not raw:
        raise OffsetError("empty list")
    found: list[Offset] = []
    for item in raw.split(","):
        offset = _parse_one(item.strip())
        if offset not in found:
            found.append(offset)
    if len(found) > MAX_OFFSETS:
        raise OffsetError(f"at most {MAX_OFFSETS} reminders")
    return tuple(sorted(found, key=lambda o: (-o.span().total_seconds(), str(o))))


def _parse_one(item: str) -> Offset:
    match = _OFFSET.match(item)
    if match is None:
        raise OffsetError(f"{item!r} is not like 3d, 2h, 30m, 1w or 1d@18:00")
    at = None
    if match["hour"] is not None:
        try:
            at = time(int(match["hour"]), int(match["minute"]))
        except ValueError as exc:
            raise OffsetError(f"{item!r}: {exc}") from exc
    offset = Offset(int(match["amount"]), match["unit"], at)
    if offset.span() > timedelta(days=MAX_DAYS):
        raise OffsetError(f"{item!r} is more than a year")
    return offset


def normalise(text: str) -> str:
    """The canonical form of a valid list (sorted, no spaces, 'none' when empty)."""
    return format_offsets(parse_offsets(text))


def format_offsets(offsets: Iterable[Offset]) -> str:
    text = ",".join(str(offset) for offset in offsets)
    return text or NONE


def reminder_times(
    anchor: datetime, offsets: Iterable[Offset], tz: tzinfo, *, after: datetime
) -> list[datetime]:
    """The reminder moments before `anchor` still ahead of `after` (earlier ones are skipped)."""
    moments = {offset.moment(anchor, tz) for offset in offsets}
    return sorted(m for m in moments if after < m < anchor)


def _existing(day: date, clock: time, tz: tzinfo) -> datetime:
    """A local time; one skipped by a DST change moves forward by an hour (as clocks do)."""
    try:
        return local_moment(day, clock, tz)
    except TimeFormatError:
        return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC).astimezone(tz)
