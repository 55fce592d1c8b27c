"""Upcoming deadlines and meetings, occurrence by occurrence: `deadlines`, `events`, the weekly
digest and the calendar (.ics) export.

A recurring meeting contributes each of its occurrences, at the place of that occurrence (one
may be held elsewhere); a one-off meeting counts until it ends, a deadline until it passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from babel.dates import format_date

from bot.announcements.model import Announcement
from bot.announcements.render import DAY_PATTERN, format_span, format_when
from bot.i18n import _, use_language
from bot.markup import bold, escape, link
from bot.reminders.localtime import local_at
from bot.reminders.recurrence import occurrences

if TYPE_CHECKING:
    from bot.reminders.ics import CalendarItem

PRODID = "-//ngo-outreach-bot//calendar//PL"
# The web server's subscribable feeds (the same content as `ngo-bot calendar export`).
FEED_PATH = "/calendar.ics"
TOPIC_FEED_PATH = "/calendar/{topic}.ics"
# A meeting without an end lasts this long in a calendar application.
MEETING_LENGTH = timedelta(hours=1)
# How many occurrences of one series a listing shows at most.
SERIES_LIMIT = 10
FAR = timedelta(days=3653)

Locations = Mapping[int, Mapping[datetime, str]]


@dataclass(frozen=True)
class Entry:
    """A deadline, or one occurrence of a meeting, with its own start, end and place."""

    announcement: Announcement
    start: datetime
    end: datetime | None
    location: str | None

    @property
    def is_deadline(self) -> bool:
        return self.announcement.fields.deadline is not None


def entries(
    announcements: Iterable[Announcement],
    locations: Locations,
    tz: ZoneInfo,
    *,
    after: datetime,
    before: datetime | None = None,
) -> list[Entry]:
    """Deadlines in ``[after, before)`` and meetings not ended by `after` that start before
    `before`, sorted by time; a series gives at most SERIES_LIMIT occurrences."""
    until = before or after + FAR
    found: list[Entry] = []
    for announcement in announcements:
        fields = announcement.fields
        if fields.deadline is not None:
            if after <= fields.deadline < until:
                found.append(Entry(announcement, fields.deadline, None, None))
            continue
        if fields.starts_at is None:
            continue
        duration = fields.duration
        if fields.repeat is None:
            starts = [fields.starts_at] if fields.starts_at < until else []
        else:
            starts = occurrences(
                fields.repeat,
                fields.starts_at,
                tz,
                after - (duration or timedelta(0)),
                until,
                limit=SERIES_LIMIT,
            )
        moved = locations.get(announcement.id, {})
        for start in starts:
            end = start + duration if duration is not None else None
            if (end or start) <= after:
                continue
            found.append(Entry(announcement, start, end, moved.get(start, fields.location)))
    found.sort(key=lambda entry: (entry.start, entry.announcement.id))
    return found


def title_of(entry: Entry, language: str) -> str:
    """The title in the language (Polish when missing), linked when there is a link."""
    fields = entry.announcement.fields
    title = fields.title(language)
    return link(fields.url, title) if fields.url else bold(title)


def deadline_line(entry: Entry, language: str, tz: ZoneInfo) -> str:
    return f"📅 {format_when(entry.start, language, tz)} — {title_of(entry, language)}"


def meeting_line(entry: Entry, language: str, tz: ZoneInfo) -> str:
    text = f"🗓 {format_span(entry.start, entry.end, language, tz)} — {title_of(entry, language)}"
    if entry.location:
        text += f", 📍 {escape(entry.location)}"
    return text


# --- the weekly digest --------------------------------------------------------------------------

DIGEST_WEEKDAY = 0  # Monday
DIGEST_AT = time(9, 0)
DIGEST_WEEK = timedelta(days=7)


def digest_start(now: datetime, tz: ZoneInfo) -> datetime:
    """This week's digest moment: Monday 09:00 local of the week `now` is in (UTC)."""
    local = now.astimezone(tz).date()
    return local_at(local - timedelta(days=local.weekday() - DIGEST_WEEKDAY), DIGEST_AT, tz)


def week_key(start: datetime, tz: ZoneInfo) -> str:
    """The ISO week of a digest moment, e.g. '2026-W16' (sorts in time order)."""
    year, week, _day = start.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def render_digest(
    week: list[Entry],
    topics: frozenset[str],
    language: str,
    tz: ZoneInfo,
    start: datetime,
    *,
    prefix: str,
) -> str | None:
    """One chat's digest: the week's deadlines and meetings of its topics; None when it has
    none (then the chat gets no message that week). `prefix`: how commands are written there."""
    mine = [entry for entry in week if entry.announcement.fields.topic in topics]
    if not mine:
        return None
    deadlines = [entry for entry in mine if entry.is_deadline]
    meetings = [entry for entry in mine if not entry.is_deadline]
    with use_language(language):
        day = format_date(start.astimezone(tz), DAY_PATTERN, locale=language)
        lines = ["🗞 " + bold(_("The week from {day}:").format(day=day))]
        if deadlines:
            lines.extend(["", bold(_("Deadlines:"))])
            lines.extend(deadline_line(entry, language, tz) for entry in deadlines)
        if meetings:
            lines.extend(["", bold(_("Meetings:"))])
            lines.extend(meeting_line(entry, language, tz) for entry in meetings)
        command = f"{prefix}digest off"
        lines.extend(
            [
                "",
                "<i>"
                + _(
                    "You get this summary every Monday instead of separate reminders. "
                    "To get reminders again: {command}"
                ).format(command=escape(command))
                + "</i>",
            ]
        )
    return "\n".join(lines)


# --- the calendar -----------------------------------------------------------------------------


def calendar_item(
    announcement: Announcement, moved: Mapping[datetime, str], language: str, tz: ZoneInfo
) -> CalendarItem | None:
    """The announcement as a calendar event; None for one without a date."""
    # Imported here: icalendar takes about 35 ms to import, which chat commands need not pay.
    from bot.reminders.ics import CalendarItem, MovedOccurrence

    fields = announcement.fields
    start = fields.deadline or fields.starts_at
    if start is None:
        return None
    end = None
    if fields.starts_at is not None:
        end = fields.ends_at or fields.starts_at + MEETING_LENGTH
    sequence = calendar_sequence(announcement)
    return CalendarItem(
        uid_key=f"announcement-{announcement.id}",
        title=fields.title(language),
        description=fields.text(language),
        start=start,
        end=end,
        # A deadline at 23:59 is a whole day's (a date typed alone means 23:59).
        all_day_deadline=fields.deadline is not None and _is_end_of_day(fields.deadline, tz),
        location=fields.location,
        url=fields.url,
        rrule=fields.repeat,
        sequence=sequence,
        moved=tuple(MovedOccurrence(start, place) for start, place in sorted(moved.items()))
        if fields.repeat
        else (),
    )


def calendar_sequence(announcement: Announcement) -> int:
    """The event's SEQUENCE: whole seconds from its creation to its latest change.

    0 before any change, and strictly higher after each one — an edit, or one occurrence held
    elsewhere (the series and its RECURRENCE-ID override share it) — because the store
    records every change at least a second after the previous (``bot.storage.revision``).
    Seconds rather than a counter, so that every number already sent out in a calendar file
    stays below the next one; they fit a 32-bit integer for 68 years.
    """
    return int((announcement.updated_at - announcement.created_at).total_seconds())


def _is_end_of_day(moment: datetime, tz: ZoneInfo) -> bool:
    local = moment.astimezone(tz)
    return (local.hour, local.minute) == (23, 59)


def calendar_file(
    announcements: Iterable[Announcement],
    locations: Locations,
    language: str,
    tz: ZoneInfo,
    *,
    name: str | None = None,
    stamp: datetime | None = None,
) -> bytes:
    """An .ics file of the announcements' deadlines and meetings (DTSTAMP `stamp`, else now)."""
    from bot.reminders.ics import build_calendar

    items = []
    for announcement in announcements:
        item = calendar_item(announcement, locations.get(announcement.id, {}), language, tz)
        if item is not None:
            items.append(item)
    return build_calendar(items, tz, PRODID, name=name, stamp=stamp)


def feed_url(base_url: str, language: str, topic: str | None = None) -> str:
    """The address of a calendar feed on the web server, titles in `language`."""
    path = FEED_PATH if topic is None else TOPIC_FEED_PATH.format(topic=topic)
    return f"{base_url}{path}?lang={language}"
