"""iCalendar (.ics) export of upcoming deadlines and meetings (RFC 5545, with the icalendar library).

- Times are written in the bot's time zone: ``DTSTART;TZID=Europe/Warsaw:...``, with a
  VTIMEZONE for that zone built from zoneinfo (see :func:`vtimezone`).
- UIDs are ``<uid_key>@<uid_domain>``: the same item gets the same UID in every export, so a
  calendar that imports the file again updates the event instead of duplicating it.
- A meeting is an event from ``start`` to ``end``. An item without an end is a *deadline*:
  a 15-minute event ending at the deadline (a calendar shows it at the right time of day and
  its alarm fires before it), marked TRANSPARENT so it does not block free/busy time. A
  deadline with ``all_day_deadline`` is an all-day event on the deadline's local date instead.
- A recurring meeting is one event with its RRULE (from :mod:`bot.reminders.recurrence`); an
  occurrence held at another place is an extra event with the same UID and a RECURRENCE-ID.
- The URL goes into ``URL`` and, since many calendars show only the description, also at the
  end of the description.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import FR, MO, SA, SU, TH, TU, WE, YEARLY, rrule
from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vRecur

from bot.clock import utcnow
from bot.reminders.localtime import require_aware

DEADLINE_LENGTH = timedelta(minutes=15)
UID_DOMAIN = "ngo-outreach-bot"
# Years the VTIMEZONE describes after the last item when a rule repeats without end (a zone's
# yearly rule is open-ended anyway; this bounds the list of a zone whose changes follow none).
RECURRING_YEARS = 10
# Years past those described in which a zone must still follow a yearly rule for the rule to
# be written open-ended: Israel's "Friday before the last Sunday of March" is the 4th Friday
# in 2028 and 2029, not in 2030; two matching years prove nothing.
RULE_CHECK_YEARS = 8
UNTIL_MARGIN = timedelta(days=1)
# Transitions are searched in UTC steps of this size; no zone changes its offset twice within.
_SCAN_STEP = timedelta(hours=6)


@dataclass(frozen=True)
class MovedOccurrence:
    """One occurrence of a recurring meeting held at another place."""

    start: datetime  # its start by the rule
    location: str


@dataclass(frozen=True)
class CalendarItem:
    """One deadline or meeting to export; times are aware datetimes."""

    uid_key: str
    title: str
    description: str
    start: datetime
    end: datetime | None = None
    all_day_deadline: bool = False
    location: str | None = None
    url: str | None = None
    rrule: str | None = None
    sequence: int = 0
    moved: tuple[MovedOccurrence, ...] = ()

    def __post_init__(self) -> None:
        require_aware(self.start, "start")
        if self.moved and (self.rrule is None or self.end is None):
            raise ValueError(f"item {self.uid_key!r}: only a recurring meeting has occurrences")
        if self.end is not None:
            require_aware(self.end, "end")
            if self.end < self.start:
                raise ValueError(f"item {self.uid_key!r} ends before it starts")
        if not self.uid_key or any(ch.isspace() for ch in self.uid_key):
            raise ValueError(f"uid_key {self.uid_key!r} must be non-empty without spaces")


def build_calendar(
    items: Iterable[CalendarItem],
    tz: ZoneInfo,
    prodid: str,
    *,
    name: str | None = None,
    uid_domain: str = UID_DOMAIN,
    stamp: datetime | None = None,
) -> bytes:
    """The .ics file for `items` (sorted by start, then UID), CRLF lines, UTF-8."""
    events = sorted(items, key=lambda item: (item.start.astimezone(UTC), item.uid_key))
    stamp = (stamp or utcnow()).astimezone(UTC)
    calendar = Calendar()
    calendar.add("VERSION", "2.0")
    calendar.add("PRODID", prodid)
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("X-WR-TIMEZONE", tz.key)
    if name:
        calendar.add("X-WR-CALNAME", name)
    first_year, last_year = _years(events, tz, stamp)
    calendar.add_component(vtimezone(tz, first_year, last_year))
    for item in events:
        calendar.add_component(_event(item, tz, uid_domain, stamp))
        for moved in sorted(item.moved, key=lambda occurrence: occurrence.start):
            calendar.add_component(_moved_event(item, moved, tz, uid_domain, stamp))
    return bytes(calendar.to_ical())


def _moved_event(
    item: CalendarItem, moved: MovedOccurrence, tz: ZoneInfo, uid_domain: str, stamp: datetime
) -> Event:
    """The occurrence starting at `moved.start`, as it really is (RFC 5545 RECURRENCE-ID)."""
    assert item.end is not None  # checked by CalendarItem
    occurrence = dataclasses.replace(
        item,
        start=moved.start,
        end=moved.start + (item.end - item.start),
        location=moved.location,
        rrule=None,
        moved=(),
    )
    event = _event(occurrence, tz, uid_domain, stamp)
    event.add("RECURRENCE-ID", moved.start.astimezone(tz))
    return event


def uid_for(uid_key: str, uid_domain: str = UID_DOMAIN) -> str:
    """The UID an item gets: stable for the same key."""
    return f"{uid_key}@{uid_domain}"


def _event(item: CalendarItem, tz: ZoneInfo, uid_domain: str, stamp: datetime) -> Event:
    event = Event()
    event.add("UID", uid_for(item.uid_key, uid_domain))
    event.add("DTSTAMP", stamp)
    event.add("SEQUENCE", item.sequence)
    event.add("SUMMARY", item.title)
    start = item.start.astimezone(tz)
    if item.end is not None:
        event.add("DTSTART", start)
        event.add("DTEND", item.end.astimezone(tz))
    elif item.all_day_deadline:
        event.add("DTSTART", start.date())
        event.add("DTEND", start.date() + timedelta(days=1))
        event.add("TRANSP", "TRANSPARENT")
    else:
        event.add("DTSTART", (item.start - DEADLINE_LENGTH).astimezone(tz))
        event.add("DTEND", start)
        event.add("TRANSP", "TRANSPARENT")
    description = item.description
    if item.url:
        event.add("URL", item.url)
        if item.url not in description:
            description = f"{description}\n\n{item.url}" if description else item.url
    if description:
        event.add("DESCRIPTION", description)
    if item.location:
        event.add("LOCATION", item.location)
    if item.rrule:
        event.add("RRULE", vRecur.from_ical(item.rrule))
    return event


def _years(events: list[CalendarItem], tz: ZoneInfo, stamp: datetime) -> tuple[int, int]:
    """Which years the VTIMEZONE must describe."""
    if not events:
        year = stamp.astimezone(tz).year
        return year, year + 1
    moments = [item.start - DEADLINE_LENGTH for item in events]
    moments += [item.end or item.start for item in events]
    years = [moment.astimezone(tz).year for moment in moments]
    extra = RECURRING_YEARS if any(item.rrule for item in events) else 1
    return min(years), max(years) + extra


def vtimezone(tz: ZoneInfo, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE for `tz` valid from before 1 January `first_year` to the end of `last_year`.

    Built from zoneinfo's transitions, from the year before `first_year` on (so that every time
    of `first_year` follows an onset). The changes of each kind (offsets, name, DST flag) become
    STANDARD or DAYLIGHT observances:

    - years of changes that follow a yearly rule (Europe/Warsaw: DAYLIGHT on the last Sunday of
      March at 02:00, STANDARD on the last Sunday of October at 03:00) are one observance from
      the first of them with that RRULE: open-ended when the zone still keeps the rule
      RULE_CHECK_YEARS past the span (so a recurring meeting in 2040 gets the right offset),
      else ending with an UNTIL;
    - a change that follows no rule is an observance of its own with a single DTSTART: never
      an RDATE list, which readers such as Mozilla's ical.js read only the first value of;
    - a zone without changes has one observance with its fixed offset.

    Each onset is written in the local time *before* the change, as RFC 5545 requires; icalendar
    7.3's ``Timezone.from_tzinfo`` writes 03:00 for Warsaw's spring change, an hour late.
    """
    if tz.key is None:
        raise ValueError("the time zone needs a key such as 'Europe/Warsaw' for its TZID")
    timezone = Timezone()
    timezone.add("TZID", tz.key)
    for (offset_from, offset_to, name, is_dst), onset, rule in _observances(
        tz, first_year, last_year
    ):
        block = _observance(offset_from, offset_to, name, is_dst, onset)
        if rule is not None:
            block.add("RRULE", rule)
        timezone.add_component(block)
    return timezone


@functools.lru_cache(maxsize=64)
def _observances(tz: ZoneInfo, first_year: int, last_year: int) -> tuple[_Observance, ...]:
    """What the VTIMEZONE says, computed once per zone and span (a scan of ~20 years)."""
    start = datetime(first_year - 1, 1, 1, tzinfo=tz).astimezone(UTC)
    # Changes are read RULE_CHECK_YEARS past the span: a rule the zone still follows to the
    # end of those is its current one, written open-ended.
    horizon = last_year + RULE_CHECK_YEARS
    end = datetime(horizon + 1, 1, 1, tzinfo=tz).astimezone(UTC)
    described = tuple(
        (kind, run[0].onset, rule)
        for kind, kind_changes in _changes(tz, start, end).items()
        for run, rule in _runs(kind_changes, horizon)
        if run[0].onset.year <= last_year
    )
    if described:
        return described
    offset, name, is_dst = _state(start, tz)
    return (((offset, offset, name, is_dst), start.astimezone(tz).replace(tzinfo=None), None),)


@dataclass(frozen=True)
class _Change:
    """One change of a zone's offset: its instant (UTC) and its onset (local time before it)."""

    instant: datetime
    onset: datetime


_Kind = tuple[timedelta, timedelta, str, bool]  # offset from, offset to, name, is DST
_Observance = tuple[_Kind, datetime, dict[str, object] | None]  # kind, first onset, RRULE


def _changes(tz: ZoneInfo, start: datetime, end: datetime) -> dict[_Kind, list[_Change]]:
    """The zone's changes between `start` and `end`, grouped by kind, in time order."""
    kinds: dict[_Kind, list[_Change]] = {}
    for moment, before, after in _transitions(tz, start, end):
        onset = (moment + before[0]).replace(tzinfo=None)
        kinds.setdefault((before[0], *after), []).append(_Change(moment, onset))
    return kinds


def _runs(
    changes: list[_Change], horizon: int
) -> list[tuple[list[_Change], dict[str, object] | None]]:
    """The changes cut into the longest runs that follow a yearly rule (with it), and
    single changes that follow none (with None), in time order.

    A rule still followed in the `horizon` year is open-ended; any other ends with an UNTIL
    (in UTC, as RFC 5545 requires in a VTIMEZONE) a day after its run's last change: readers
    that take the UTC time literally and those that compare it as a local time (icalendar
    7.3's ``Timezone.to_tz``) then both stop after that change, a year before the next.
    """
    runs: list[tuple[list[_Change], dict[str, object] | None]] = []
    i = 0
    while i < len(changes):
        end, rule = i + 1, None
        while end < len(changes):
            longer = yearly_rule(changes[i : end + 1])
            if longer is None:
                break
            end, rule = end + 1, longer
        run = changes[i:end]
        if rule is not None and (end < len(changes) or run[-1].onset.year < horizon):
            rule = {**rule, "UNTIL": run[-1].instant + UNTIL_MARGIN}
        runs.append((run, rule))
        i = end
    return runs


_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DATEUTIL_WEEKDAYS = (MO, TU, WE, TH, FR, SA, SU)


def yearly_rule(changes: list[_Change]) -> dict[str, object] | None:
    """The RRULE (as a dict for vRecur) these changes follow, or None when they follow none.

    A rule is "the n-th (or last) weekday of a month at a local time", once a year in
    consecutive years: detected from the first change, then checked by expanding it over the
    years and comparing with every change.
    """
    if len(changes) < 2:
        return None  # a change made once (a zone moving to a new fixed offset) is no rule
    first = changes[0].onset
    weekday = _WEEKDAYS[first.weekday()]
    last_of_month = (first + timedelta(days=7)).month != first.month
    ordinal = -1 if last_of_month else (first.day - 1) // 7 + 1
    rule: dict[str, object] = {
        "FREQ": "YEARLY",
        "BYMONTH": first.month,
        "BYDAY": f"{ordinal}{weekday}",
    }
    expected = list(
        rrule(
            YEARLY,
            dtstart=first,
            bymonth=first.month,
            byweekday=_DATEUTIL_WEEKDAYS[first.weekday()](ordinal),
            count=len(changes),
        )
    )
    return rule if expected == [change.onset for change in changes] else None


def _observance(
    offset_from: timedelta, offset_to: timedelta, name: str, is_dst: bool, onset: datetime
) -> TimezoneStandard | TimezoneDaylight:
    block = TimezoneDaylight() if is_dst else TimezoneStandard()
    block.add("DTSTART", onset)
    block.add("TZOFFSETFROM", offset_from)
    block.add("TZOFFSETTO", offset_to)
    block.add("TZNAME", name)
    return block


def _state(moment: datetime, tz: ZoneInfo) -> tuple[timedelta, str, bool]:
    local = moment.astimezone(tz)
    offset = local.utcoffset() or timedelta(0)
    return offset, local.tzname() or _offset_name(offset), bool(local.dst())


def _offset_name(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def _transitions(
    tz: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, tuple[timedelta, str, bool], tuple[timedelta, str, bool]]]:
    """(instant in UTC, state before, state after) of each change of offset, name or DST flag."""
    found = []
    previous, state = start, _state(start, tz)
    moment = start + _SCAN_STEP
    while moment <= end:
        current = _state(moment, tz)
        if current != state:
            found.append((_bisect(previous, moment, state, tz), state, current))
        previous, state = moment, current
        moment += _SCAN_STEP
    return found


def _bisect(
    low: datetime, high: datetime, before: tuple[timedelta, str, bool], tz: ZoneInfo
) -> datetime:
    """The first whole second in (low, high] whose state differs from `before`."""
    second = timedelta(seconds=1)
    while high - low > second:
        middle = low + ((high - low) // second // 2) * second
        if _state(middle, tz) == before:
            low = middle
        else:
            high = middle
    return high
