"""Announcements as subscribers see them, per chat language and platform (HTML subset).

Staff-written text is escaped here, once; nothing is split: the field limits keep every message
under the platforms' 4096 characters. The caller says how commands are written where the message
goes (`prefix`: '/' or '!') and which topics exist: this package knows no chat platform.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from bot.announcements.model import Announcement, Fields, Kind, TopicCatalog
from bot.clock import from_db, to_db, utcnow
from bot.i18n import _, use_language
from bot.markup import bold, escape, link
from bot.reminders.recurrence import occurrences
from bot.reminders.timeleft import time_left_phrase

DATE_PATTERN = "EEEE, d MMMM y, HH:mm"
TIME_PATTERN = "HH:mm"
DAY_PATTERN = "d MMMM"
# How many later dates of a recurring meeting a message lists.
NEXT_DATES = 3
_FAR = timedelta(days=3653)
# An OPP's KRS number as staff write it in a 1.5% campaign: "KRS" (or its Cyrillic spelling), then
# within a few characters ("nr", ":", "–") ten digits, which may be grouped by spaces or dashes
# ("KRS 0000123456", "nr KRS: 0000-123-456").
_KRS = re.compile(
    r"(?<![\w])(?:KRS|\u041a\u0420\u0421)(?![\w])[^\d\n]{0,12}(\d(?:[ \u00a0-]?\d){9})(?![\d])"
)
MAX_KRS_BUTTONS = 3


@dataclass(frozen=True)
class Rendered:
    """One outbox message's text, the KRS numbers it offers to copy, and the link it previews
    (the caller turns the numbers into the platform's buttons)."""

    text: str
    krs: tuple[str, ...] = ()
    preview: str | None = None


class Purpose(StrEnum):
    """Why a broadcast goes out: one announcement has one publication and maybe more."""

    PUBLICATION = "publication"
    REMINDER = "reminder"
    CORRECTION = "correction"
    SUMMARY = "summary"
    DIGEST = "digest"


# Fields a correction notice mentions (a changed reminder list or urgency is not news).
NOTICEABLE = (
    "title_pl",
    "text_pl",
    "title_uk",
    "text_uk",
    "title_en",
    "text_en",
    "deadline",
    "starts_at",
    "ends_at",
    "location",
    "url",
    "repeat",
)
# Fields a channel post shows: a change of one edits the post in place.
POSTED = (*NOTICEABLE, "urgent", "kind")


def format_when(moment: datetime, language: str, tz: ZoneInfo) -> str:
    """A date and time for people: 'czwartek, 30 kwietnia 2026, 23:59' in BOT_TIMEZONE."""
    return str(format_datetime(moment, DATE_PATTERN, tzinfo=tz, locale=language))


def format_span(start: datetime, end: datetime | None, language: str, tz: ZoneInfo) -> str:
    """A meeting's time: the end as a bare clock time when it is on the same day."""
    first = format_when(start, language, tz)
    if end is None:
        return first
    if end.astimezone(tz).date() == start.astimezone(tz).date():
        last = str(format_datetime(end, TIME_PATTERN, tzinfo=tz, locale=language))
    else:
        last = format_when(end, language, tz)
    return f"{first} – {last}"


def unsubscribe_hint(topic: str, topics: TopicCatalog, language: str, *, prefix: str) -> str:
    """One line: how this chat stops receiving the topic ('/unsubscribe grants')."""
    known = topics.get(topic)
    name = known.name(language) if known else topic
    command = f"{prefix}unsubscribe {topic}"
    return (
        "<i>"
        + _("To stop receiving “{topic}”: {command}").format(
            topic=escape(name), command=escape(command)
        )
        + "</i>"
    )


def next_starts(
    fields: Fields, tz: ZoneInfo, count: int, now: datetime | None = None
) -> list[datetime]:
    """The starts of a recurring meeting's next occurrences that have not ended."""
    if fields.repeat is None or fields.starts_at is None:
        return []
    after = (now or utcnow()) - (fields.duration or timedelta(0))
    return occurrences(fields.repeat, fields.starts_at, tz, after, after + _FAR, limit=count)


def detail_lines(
    fields: Fields,
    language: str,
    tz: ZoneInfo,
    only: set[str] | None = None,
    *,
    series: bool = True,
) -> list[str]:
    """Deadline, time, place and link lines (those in `only`, when given).

    For a recurring meeting (with `series`) the time is its next occurrence's, followed by the
    dates after it.
    """

    def wanted(*names: str) -> bool:
        return only is None or any(name in only for name in names)

    lines = []
    if fields.deadline is not None and wanted("deadline"):
        lines.append(
            "📅 " + _("Deadline: {when}").format(when=format_when(fields.deadline, language, tz))
        )
    if fields.starts_at is not None and wanted("starts_at", "ends_at", "repeat"):
        start, end, later = fields.starts_at, fields.ends_at, []
        if series and fields.repeat is not None:
            upcoming = next_starts(fields, tz, NEXT_DATES + 1)
            if upcoming:
                start, later = upcoming[0], upcoming[1:]
                end = start + fields.duration if fields.duration is not None else None
        span = format_span(start, end, language, tz)
        lines.append("🗓 " + _("When: {when}").format(when=span))
        if series and fields.repeat is not None:
            if later:
                dates = ", ".join(
                    str(format_date(moment.astimezone(tz), DAY_PATTERN, locale=language))
                    for moment in later
                )
                lines.append("🔁 " + _("Repeats; next dates: {dates}").format(dates=dates))
            else:
                lines.append("🔁 " + _("Repeats; this is the last date."))
    if fields.location and wanted("location"):
        lines.append("📍 " + _("Where: {place}").format(place=escape(fields.location)))
    if fields.url and wanted("url"):
        lines.append("🔗 " + link(fields.url))
    return lines


def language_note(fields: Fields, language: str) -> str | None:
    """The one-line note for a chat whose language the announcement is not written in."""
    if fields.has_language(language):
        return None
    return "<i>" + _("This announcement has no English version yet; here it is in Polish.") + "</i>"


def announcement_body(fields: Fields, language: str, tz: ZoneInfo) -> list[str]:
    """Title, kind, the language note, the text and the details."""
    marker = "❗ " if fields.urgent else "📢 "
    lines = [marker + bold(fields.title(language)), "<i>" + escape(fields.kind.label) + "</i>"]
    note = language_note(fields, language)
    if note:
        lines.append(note)
    lines.extend(["", escape(fields.text(language))])
    details = detail_lines(fields, language, tz)
    if details:
        lines.append("")
        lines.extend(details)
    return lines


def render_publication(
    fields: Fields,
    language: str,
    topics: TopicCatalog,
    tz: ZoneInfo,
    *,
    prefix: str,
    hint: bool = True,
) -> str:
    """The announcement as its subscribers get it; `prefix` as commands are written there;
    `hint`: with the unsubscribe line (not in a channel, which nobody subscribes to)."""
    lines = announcement_body(fields, language, tz)
    if hint:
        lines.extend(["", unsubscribe_hint(fields.topic, topics, language, prefix=prefix)])
    return "\n".join(lines)


def krs_numbers(fields: Fields, language: str) -> list[str]:
    """The KRS numbers a 1.5% campaign names in this language's (or the Polish) title and text,
    ten digits each, in order, without repeats."""
    if fields.kind is not Kind.TAX_CAMPAIGN:
        return []
    found: list[str] = []
    for text in (fields.title(language), fields.text(language), fields.title_pl, fields.text_pl):
        for match in _KRS.finditer(text):
            number = re.sub(r"\D", "", match.group(1))
            if number not in found:
                found.append(number)
    return found[:MAX_KRS_BUTTONS]


def render_cancelled(fields: Fields, language: str) -> str:
    """What a channel post becomes when it is cancelled and can no longer be deleted."""
    with use_language(language):
        return "\n".join(
            [
                "❌ " + bold(_("Cancelled: {title}").format(title=fields.title(language))),
                _("This announcement has been cancelled."),
            ]
        )


def reminder_detail(target: datetime, moment: datetime, location: str | None = None) -> str:
    """What a reminder broadcast records: what it is about (the deadline, or the occurrence's
    start and place) and the moment the time left is counted from."""
    detail: dict[str, Any] = {"target": to_db(target), "at": to_db(moment)}
    if location is not None:
        detail["location"] = location
    return json.dumps(detail, ensure_ascii=False)


def reminder_heading(fields: Fields, target: datetime | None, moment: datetime | None) -> str:
    """'Reminder: the deadline is in 3 days.' — the time left from the moment it was due."""
    if target is None or moment is None or target <= moment:
        return "⏰ " + bold(_("Reminder"))
    left = time_left_phrase(target - moment)
    if fields.kind.is_event:
        text = _("Reminder: the meeting starts {time_left}.").format(time_left=left)
    else:
        text = _("Reminder: the deadline is {time_left}.").format(time_left=left)
    return "⏰ " + bold(text)


def render_reminder(
    fields: Fields,
    language: str,
    topics: TopicCatalog,
    tz: ZoneInfo,
    detail: str = "",
    *,
    prefix: str,
) -> str:
    """Short: the time left, the title and the details, not the whole text again.

    `detail` (reminder_detail) names the occurrence of a recurring meeting and its place.
    """
    info = json.loads(detail) if detail else {}
    target = from_db(info["target"]) if "target" in info else None
    moment = from_db(info["at"]) if "at" in info else None
    shown = fields
    if target is not None and fields.kind.is_event:
        duration = fields.duration
        shown = fields.replace(
            starts_at=target,
            ends_at=target + duration if duration is not None else None,
            location=info.get("location", fields.location),
        )
    lines = [reminder_heading(fields, target, moment), bold(fields.title(language))]
    note = language_note(fields, language)
    if note:
        lines.append(note)
    lines.extend(detail_lines(shown, language, tz, series=False))
    lines.extend(["", unsubscribe_hint(fields.topic, topics, language, prefix=prefix)])
    return "\n".join(lines)


def render_correction(
    fields: Fields,
    changed: set[str],
    language: str,
    topics: TopicCatalog,
    tz: ZoneInfo,
    *,
    prefix: str,
) -> str:
    """What changed, with the new values."""
    # The heading carries the current title, so a corrected title needs no line of its own.
    lines = ["✏️ " + _("Correction to “{title}”:").format(title=bold(fields.title(language)))]
    if changed & {"text_pl", "text_uk", "text_en"}:
        lines.extend(["", escape(fields.text(language)), ""])
    details = detail_lines(fields, language, tz, only=changed)
    lines.extend(details)
    removed = [
        name for name in ("location", "url") if name in changed and not getattr(fields, name)
    ]
    if removed:
        lines.append(_("The link or place given before no longer applies."))
    lines.extend(["", unsubscribe_hint(fields.topic, topics, language, prefix=prefix)])
    return "\n".join(lines)


def render_summary(announcement: Announcement, counts: Mapping[str, int], language: str) -> str:
    """The author's report when the publication has been delivered."""
    title = announcement.fields.title(language)
    return "\n".join(
        [
            "📊 "
            + _("Announcement #{id} “{title}” has been delivered.").format(
                id=announcement.id, title=bold(title)
            ),
            _("Sent: {sent}. No longer reachable: {gone}. Failed: {failed}.").format(
                sent=counts.get("sent", 0),
                gone=counts.get("gone", 0),
                failed=counts.get("failed", 0),
            ),
        ]
    )


def render_message(
    announcement: Announcement,
    purpose: Purpose,
    detail: str,
    language: str,
    topics: TopicCatalog,
    tz: ZoneInfo,
    *,
    prefix: str,
    channel: bool = False,
) -> Rendered:
    """One outbox message for one chat, in that chat's language (its text, HTML subset);
    `channel`: a channel post, which has no unsubscribe line."""
    fields = announcement.fields
    with use_language(language):
        if purpose is Purpose.PUBLICATION:
            text = render_publication(fields, language, topics, tz, prefix=prefix, hint=not channel)
            return Rendered(text, krs=tuple(krs_numbers(fields, language)), preview=fields.url)
        if purpose is Purpose.REMINDER:
            return Rendered(render_reminder(fields, language, topics, tz, detail, prefix=prefix))
        if purpose is Purpose.CORRECTION:
            changed = set(json.loads(detail)) if detail else set(NOTICEABLE)
            return Rendered(render_correction(fields, changed, language, topics, tz, prefix=prefix))
        counts = json.loads(detail) if detail else {}
        return Rendered(render_summary(announcement, counts, language))
