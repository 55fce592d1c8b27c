"""The `--remind` grammar: offsets before a deadline or a meeting's start, and their instants.

Grammar (case-insensitive, comma-separated, spaces around commas allowed)::

    LIST   = "none" | ITEM *("," ITEM)
    ITEM   = OFFSET | MONDAYS
    OFFSET = N UNIT ["@" HH ":" MM]        N = 0..9999, UNIT = w | d | h | m
    MONDAYS = "mondays@" HH ":" MM

- ``w`` and ``d`` are calendar days in the bot's time zone: the same local wall-clock time N
  days (7 N for ``w``) earlier, also across a DST change (so ``1d`` before 30.03.2026 09:00 in
  Europe/Warsaw is 29.03.2026 09:00, only 23 hours earlier).
- ``h`` and ``m`` are exact durations.
- ``@HH:MM`` then moves the reminder to that local time on the day reached (``1d@18:00``: the
  evening before; ``2h@08:00``: 08:00 on the day two hours before).
- ``0`` is allowed only with ``@HH:MM`` (``0d@08:00``: the morning of the deadline's own day).
- ``mondays@HH:MM`` is every Monday of the target's calendar month (local time), at that time,
  before the target: for the 1.5% campaign ending on 30 April, every Monday of April.
- At most :data:`MAX_OFFSETS` different reminders.
- An offset may reach at most a year back. Duplicates (also ``1w`` and ``7d``, ``2h`` and
  ``120m``) are removed; the result is in a canonical order (the longest lead first, then the
  earlier time of day), which :func:`format_offsets` writes and :func:`parse_offsets` reads back.

Local times that do not exist or occur twice follow :mod:`bot.reminders.localtime`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from types import MappingProxyType
from typing import Literal, cast
from zoneinfo import ZoneInfo

from bot.i18n import N_, LocalisedError
from bot.reminders.localtime import local_at, require_aware

Unit = Literal["w", "d", "h", "m", "mondays"]

NONE = "none"
MONDAYS: Unit = "mondays"
MAX_LEAD = timedelta(days=366)
MAX_OFFSETS = 10
_MINUTES = {"h": 60, "m": 1}
_DAYS = {"w": 7, "d": 1}
_UNIT_ORDER = ("w", "d", "h", "m", MONDAYS)
# Mondays of the target's month reach back at most a month: they sort before shorter leads.
_MONDAYS_LEAD = timedelta(days=31)
_OFFSET = re.compile(
    r"(?:(?P<amount>\d{1,4})(?P<unit>[wdhm])|(?P<mondays>mondays))"
    r"(?:@(?P<hour>\d{1,2}):(?P<minute>\d{2}))?"
)


class OffsetError(LocalisedError):
    """A `--remind` list that does not follow the grammar; the message names the bad part.

    `message` is in the current language (the chat's, the CLI's English); `str()` in English.
    """


@dataclass(frozen=True)
class Offset:
    """One reminder: `amount` units before the target, optionally moved to local time `at`."""

    amount: int
    unit: Unit
    at: time | None = None

    def __post_init__(self) -> None:
        problem = _problem(self.amount, self.unit, self.at)
        if problem is not None:
            raise OffsetError(problem, part=self.text())

    @property
    def calendar(self) -> bool:
        """Whether this counts calendar days (w, d) rather than an exact duration (h, m)."""
        return self.unit in _DAYS

    @property
    def days(self) -> int:
        """Calendar days back (w and d; 0 for h and m)."""
        return self.amount * _DAYS.get(self.unit, 0)

    @property
    def duration(self) -> timedelta:
        """The exact duration back (h and m; zero for w and d)."""
        return timedelta(minutes=self.amount * _MINUTES.get(self.unit, 0))

    @property
    def mondays(self) -> bool:
        """Whether this is ``mondays@HH:MM``: every Monday of the target's month."""
        return self.unit == MONDAYS

    def lead_estimate(self) -> timedelta:
        """Roughly how long before the target (calendar days counted as 24 h)."""
        if self.mondays:
            return _MONDAYS_LEAD
        return timedelta(days=self.days) + self.duration

    def identity(self) -> tuple[str, int, time | None]:
        """What makes two offsets the same reminder (1w == 7d, 2h == 120m)."""
        if self.mondays:
            return (MONDAYS, 0, self.at)
        if self.calendar:
            return ("days", self.days, self.at)
        return ("minutes", self.amount * _MINUTES[self.unit], self.at)

    def text(self) -> str:
        """Canonical text, e.g. ``14d@09:00``, ``2h`` or ``mondays@10:00``."""
        suffix = f"@{self.at.hour:02d}:{self.at.minute:02d}" if self.at is not None else ""
        if self.mondays:
            return f"{MONDAYS}{suffix}"
        return f"{self.amount}{self.unit}{suffix}"

    def instants(self, target: datetime, tz: ZoneInfo) -> list[datetime]:
        """When this reminder falls due for `target`, in UTC: one instant, or each Monday."""
        if not self.mondays:
            return [self.instant(target, tz)]
        require_aware(target, "target")
        assert self.at is not None  # checked by _problem
        first = target.astimezone(tz).date().replace(day=1)
        monday = first + timedelta(days=-first.weekday() % 7)
        days = []
        while monday.month == first.month:
            days.append(monday)
            monday += timedelta(weeks=1)
        return [local_at(day, self.at, tz) for day in days]

    def instant(self, target: datetime, tz: ZoneInfo) -> datetime:
        """When this reminder falls due for `target`, in UTC (may be at or after the target)."""
        require_aware(target, "target")
        if self.mondays:
            raise ValueError("mondays@HH:MM names several instants: use instants()")
        if self.calendar:
            local = target.astimezone(tz)
            day = local.date() - timedelta(days=self.days)
            wall = self.at if self.at is not None else local.time()
            return local_at(day, wall, tz)
        moment = target.astimezone(UTC) - self.duration
        if self.at is None:
            return moment
        return local_at(moment.astimezone(tz).date(), self.at, tz)


def _problem(amount: int, unit: str, at: time | None) -> str | None:
    """Why these parts make no offset (a message template with {part}), or None when they do."""
    if unit not in _UNIT_ORDER:
        return N_("Reminder offset '{part}': the unit must be w, d, h or m.")
    if unit == MONDAYS:
        if amount != 0 or at is None:
            return N_("Reminder offset '{part}': write it as mondays@HH:MM, without a number.")
    elif amount < 0:
        return N_("Reminder offset '{part}': the amount must not be negative.")
    if amount == 0 and at is None:
        return N_("Reminder offset '{part}': 0 needs a time of day, e.g. 0d@08:00.")
    if (
        timedelta(days=amount * _DAYS.get(unit, 0), minutes=amount * _MINUTES.get(unit, 0))
        > MAX_LEAD
    ):
        return N_("Reminder offset '{part}' reaches more than a year back.")
    if at is not None and (at.tzinfo is not None or at.second or at.microsecond):
        return N_("Reminder offset '{part}': the time of day must be a plain local HH:MM.")
    return None


def _sort_key(offset: Offset) -> tuple[timedelta, int, int, int]:
    # Longest lead first, then the earlier time of day: usually, not always, chronological.
    at_minutes = offset.at.hour * 60 + offset.at.minute if offset.at is not None else 24 * 60
    return (-offset.lead_estimate(), at_minutes, _UNIT_ORDER.index(offset.unit), offset.amount)


def parse_offsets(spec: str) -> tuple[Offset, ...]:
    """Parse a `--remind` list; raise OffsetError (a ValueError) naming the part that is wrong."""
    parts = [part.strip() for part in spec.split(",")]
    if len(parts) == 1 and parts[0].lower() == NONE:
        return ()
    if parts == [""]:
        raise OffsetError(N_("There are no reminder offsets; write 'none' to switch them off."))
    offsets = normalise(_parse_one(part) for part in parts)
    if len(offsets) > MAX_OFFSETS:
        raise OffsetError(
            N_("There can be at most {limit} reminders, not {count}."),
            limit=MAX_OFFSETS,
            count=len(offsets),
        )
    return offsets


def canonical(spec: str) -> str:
    """The canonical text of a `--remind` list (raises OffsetError): what is stored."""
    return format_offsets(parse_offsets(spec))


def _parse_one(part: str) -> Offset:
    if not part:
        raise OffsetError(
            N_("An empty reminder offset (two commas, or a comma at an end) is not allowed.")
        )
    if part.lower() == NONE:
        raise OffsetError(N_("'none' switches reminders off and cannot be combined with offsets."))
    match = _OFFSET.fullmatch(part.lower())
    if match is None:
        raise OffsetError(
            N_(
                "Reminder offset '{part}' is not N followed by w, d, h or m, optionally "
                "@HH:MM (e.g. 3d@09:00 or 2h), or mondays@HH:MM."
            ),
            part=part,
        )
    at = None
    if match["hour"] is not None:
        hour, minute = int(match["hour"]), int(match["minute"])
        if hour > 23 or minute > 59:
            raise OffsetError(
                N_("Reminder offset '{part}': {clock} is not a time of day."),
                part=part,
                clock=f"{hour}:{minute:02d}",
            )
        at = time(hour, minute)
    if match["mondays"]:
        amount, unit = 0, MONDAYS
    else:
        amount, unit = int(match["amount"]), cast(Unit, match["unit"])
    problem = _problem(amount, unit, at)
    if problem is not None:
        raise OffsetError(problem, part=part)
    return Offset(amount, unit, at)


def normalise(offsets: Iterable[Offset]) -> tuple[Offset, ...]:
    """Drop duplicates (keeping the first spelling) and put the rest in the canonical order."""
    seen: dict[tuple[str, int, time | None], Offset] = {}
    for offset in offsets:
        seen.setdefault(offset.identity(), offset)
    return tuple(sorted(seen.values(), key=_sort_key))


def format_offsets(offsets: Iterable[Offset]) -> str:
    """Canonical text of a list: ``parse_offsets(format_offsets(x)) == normalise(x)``."""
    items = normalise(offsets)
    return ",".join(offset.text() for offset in items) if items else NONE


DEFAULT_SPECS: Mapping[str, str] = MappingProxyType(
    {
        "grant-deadline": "14d@09:00,3d@09:00,1d@09:00",
        "meeting": "1d@18:00,2h",
        "news": NONE,
        "tax-campaign": "mondays@10:00,7d@10:00,1d@10:00",
    }
)
DEFAULT_OFFSETS: Mapping[str, tuple[Offset, ...]] = MappingProxyType(
    {kind: parse_offsets(spec) for kind, spec in DEFAULT_SPECS.items()}
)


def default_offsets(kind: str) -> tuple[Offset, ...]:
    """The reminders an announcement of `kind` gets without `--remind`."""
    try:
        return DEFAULT_OFFSETS[kind]
    except KeyError:
        raise ValueError(
            f"unknown announcement kind {kind!r}; expected one of {', '.join(DEFAULT_OFFSETS)}"
        ) from None


def reminder_times(
    target: datetime,
    offsets: Iterable[Offset],
    tz: ZoneInfo,
    *,
    after: datetime | None = None,
) -> list[datetime]:
    """When the reminders for `target` fall due: sorted, distinct, aware UTC.

    Instants at or after the target are dropped (``0d@18:00`` for a 09:00 deadline), and so
    are those before `after` when given (offsets already past at publish time).
    """
    require_aware(target, "target")
    if after is not None:
        require_aware(after, "after")
    end = target.astimezone(UTC)
    times = {instant for offset in offsets for instant in offset.instants(target, tz)}
    return sorted(t for t in times if t < end and (after is None or t >= after))


__all__ = [
    "DEFAULT_OFFSETS",
    "DEFAULT_SPECS",
    "MAX_OFFSETS",
    "MONDAYS",
    "NONE",
    "Offset",
    "OffsetError",
    "canonical",
    "default_offsets",
    "format_offsets",
    "normalise",
    "parse_offsets",
    "reminder_times",
]
