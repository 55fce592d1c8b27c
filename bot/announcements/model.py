"""What an announcement is, its kinds and their defaults, and the rules its fields must meet."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.i18n import N_, _
from bot.reminders import offsets
from bot.reminders.planner import Schedule
from bot.reminders.recurrence import ensure_synchronised, parse_repeat
from bot.reminders.season import campaign_deadline, campaign_year

MAX_TITLE = 200
MAX_TEXT = 3000
MAX_LOCATION = 150
MAX_URL = 300
DEADLINE_TIME = time(23, 59)
# A publish time this far in the past still counts as "now" (typing takes a moment).
PUBLISH_GRACE = timedelta(minutes=5)
OPTIONAL_LANGUAGES = ("uk", "en")
# A web address typed without http(s)://: a host name with a dot and a top-level domain of
# letters, then optionally a port and a path, query or fragment.
_SCHEMELESS = re.compile(r"^(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}(?::\d{1,5})?(?:[/?#]\S*)?$")


class NamedTopic(Protocol):
    """A topic as announcements need it: its name in a language."""

    def name(self, language: str) -> str: ...


class TopicCatalog(Protocol):
    """The topics that exist, handed in by the caller (the chat core's `Topics` is one): the
    announcement package reads them and never loads or imports the core's."""

    @property
    def slugs(self) -> tuple[str, ...]: ...

    def get(self, slug: str) -> NamedTopic | None: ...


class Kind(StrEnum):
    GRANT_DEADLINE = "grant-deadline"
    TAX_CAMPAIGN = "tax-campaign"
    MEETING = "meeting"
    NEWS = "news"

    @property
    def default_topic(self) -> str:
        return _DEFAULT_TOPIC[self]

    @property
    def default_remind(self) -> str:
        return _DEFAULT_REMIND[self]

    @property
    def has_deadline(self) -> bool:
        return self in (Kind.GRANT_DEADLINE, Kind.TAX_CAMPAIGN)

    @property
    def is_event(self) -> bool:
        return self is Kind.MEETING

    @property
    def label(self) -> str:
        """The kind's name in the current language."""
        return _(_KIND_LABELS[self])


_DEFAULT_TOPIC = {
    Kind.GRANT_DEADLINE: "grants",
    Kind.TAX_CAMPAIGN: "tax",
    Kind.MEETING: "meetings",
    Kind.NEWS: "news",
}
_DEFAULT_REMIND = {kind: offsets.DEFAULT_SPECS[kind.value] for kind in Kind}
_KIND_LABELS = {
    Kind.GRANT_DEADLINE: N_("Grant deadline"),
    Kind.TAX_CAMPAIGN: N_("1.5% tax campaign"),
    Kind.MEETING: N_("Meeting"),
    Kind.NEWS: N_("News"),
}


class Status(StrEnum):
    """scheduled: waits for publish_at; sending: messages being delivered; sent: all settled."""

    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"


class AnnouncementError(ValueError):
    """A field breaks a rule; the message (in the current language) says which and how to fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Fields:
    """Everything staff write about an announcement. Times are aware datetimes."""

    kind: Kind
    topic: str
    title_pl: str
    text_pl: str
    publish_at: datetime
    remind: str
    title_uk: str | None = None
    text_uk: str | None = None
    title_en: str | None = None
    text_en: str | None = None
    deadline: datetime | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    location: str | None = None
    url: str | None = None
    urgent: bool = False
    # A meeting's recurrence: a normalised RRULE (bot.reminders.recurrence), None: once.
    repeat: str | None = None

    def has_language(self, language: str) -> bool:
        """Whether the announcement is written in `language` (Polish always is)."""
        return language == "pl" or bool(getattr(self, f"title_{language}", None))

    def title(self, language: str) -> str:
        value = getattr(self, f"title_{language}", None) if self.has_language(language) else None
        return value if isinstance(value, str) else self.title_pl

    def text(self, language: str) -> str:
        value = getattr(self, f"text_{language}", None) if self.has_language(language) else None
        return value if isinstance(value, str) else self.text_pl

    @property
    def anchor(self) -> datetime | None:
        """The moment reminders count back from: the deadline, else the (first) start."""
        return self.deadline or self.starts_at

    def schedule(self) -> Schedule | None:
        """What reminder planning needs; None without a deadline or start."""
        if self.anchor is None:
            return None
        return Schedule(
            anchor=self.anchor,
            remind=self.remind,
            publish_at=self.publish_at,
            repeat=self.repeat,
            urgent=self.urgent,
        )

    @property
    def duration(self) -> timedelta | None:
        """How long a meeting lasts (each occurrence of a recurring one), when it has an end."""
        if self.starts_at is None or self.ends_at is None:
            return None
        return self.ends_at - self.starts_at

    def replace(self, **changes: object) -> Fields:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Fields))
TIME_FIELDS = ("deadline", "starts_at", "ends_at", "publish_at")
# Fields that can change after publication (kind and topic decide who received it).
CORRECTABLE = tuple(name for name in FIELD_NAMES if name not in ("kind", "topic"))


@dataclass(frozen=True)
class Announcement:
    id: int
    fields: Fields
    status: Status
    author: str
    author_chat_ref: int | None
    created_at: datetime
    updated_at: datetime
    last_changed: tuple[str, ...] = ()

    @property
    def published(self) -> bool:
        return self.status in (Status.SENDING, Status.SENT)


def tax_campaign_deadline(now: datetime, tz: ZoneInfo) -> datetime:
    """30 April 23:59 of the current tax season (next year's once this year's has passed)."""
    return campaign_deadline(campaign_year(now, tz), tz)


def check_url(url: str) -> str:
    """The URL if it is an absolute http(s) address, else AnnouncementError.

    An address typed without a scheme ('ngo.krakow.pl/konkursy') gets https://.
    """
    url = url.strip()
    if _SCHEMELESS.match(url):
        url = "https://" + url
    if "://" not in url:
        raise AnnouncementError(
            "url",
            _("This is not a link. Write an address like {short} or {full}.").format(
                short="ngo.krakow.pl/konkursy", full="https://ngo.krakow.pl/konkursy"
            ),
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in url:
        raise AnnouncementError(
            "url", _("A link must start with http:// or https://, e.g. https://ngo.krakow.pl")
        )
    if len(url) > MAX_URL:
        raise AnnouncementError("url", too_long(_("The link"), MAX_URL, len(url)))
    return url


def too_long(what: str, limit: int, length: int) -> str:
    return _("{what} is too long ({length} characters; at most {limit}).").format(
        what=what, length=length, limit=limit
    )


def validate(
    fields: Fields,
    *,
    now: datetime,
    topics: Collection[str],
    changed: Collection[str] | None = None,
    tz: ZoneInfo | None = None,
) -> Fields:
    """Check every rule; return the fields with the reminder list in canonical form.

    Times in the past are refused only for fields in `changed` (all of them when None), so an
    edit of a text does not fail because the announcement was published yesterday. With `tz`,
    a recurring meeting's first start must be an occurrence of its rule.
    """
    _check_texts(fields)
    if fields.topic not in topics:
        raise AnnouncementError(
            "topic",
            _("There is no topic {given}. Topics: {slugs}.").format(
                given=fields.topic, slugs=", ".join(topics)
            ),
        )
    if fields.url is not None:
        fields = fields.replace(url=check_url(fields.url))
    _check_dates(fields, now, set(FIELD_NAMES if changed is None else changed))
    try:
        remind = offsets.canonical(fields.remind)
    except offsets.OffsetError as exc:
        raise AnnouncementError("remind", remind_error(exc.message)) from exc
    return fields.replace(remind=remind, repeat=_checked_repeat(fields, tz))


def remind_error(detail: str) -> str:
    return _(
        "Reminders are a comma list like 14d@09:00,3d@09:00,2h (d days, w weeks, h hours, "
        "m minutes, @HH:MM a time of day; mondays@10:00 every Monday of the deadline's month) "
        "or none. Problem: {detail}"
    ).format(detail=detail)


def repeat_error(detail: str) -> str:
    return _(
        "Repetition is weekly, monthly, none or a rule like FREQ=MONTHLY;BYDAY=3TH "
        "(the third Thursday of each month). Problem: {detail}"
    ).format(detail=detail)


def _checked_repeat(fields: Fields, tz: ZoneInfo | None) -> str | None:
    """The meeting's rule in normal form; only meetings repeat, from an occurrence of the rule."""
    if fields.repeat is None:
        return None
    try:
        rule = parse_repeat(fields.repeat, tz)
    except ValueError as exc:
        raise AnnouncementError("repeat", repeat_error(str(exc))) from exc
    if rule is None:
        return None
    if not fields.kind.is_event:
        raise AnnouncementError("repeat", _("Only meetings can repeat."))
    if tz is not None and fields.starts_at is not None:
        try:
            ensure_synchronised(rule, fields.starts_at, tz)
        except ValueError as exc:
            raise AnnouncementError("repeat", repeat_error(str(exc))) from exc
    return rule


def _check_texts(fields: Fields) -> None:
    if not fields.title_pl.strip():
        raise AnnouncementError("title_pl", _("The Polish title is required."))
    if not fields.text_pl.strip():
        raise AnnouncementError("text_pl", _("The Polish text is required."))
    for language in ("pl", *OPTIONAL_LANGUAGES):
        title = getattr(fields, f"title_{language}")
        text = getattr(fields, f"text_{language}")
        if (title is None) != (text is None):
            raise AnnouncementError(
                f"title_{language}",
                _("Give both the title and the text in {language}, or neither.").format(
                    language=language
                ),
            )
        if title is not None and len(title) > MAX_TITLE:
            raise AnnouncementError(
                f"title_{language}", too_long(_("The title"), MAX_TITLE, len(title))
            )
        if text is not None and len(text) > MAX_TEXT:
            raise AnnouncementError(
                f"text_{language}", too_long(_("The text"), MAX_TEXT, len(text))
            )
    if fields.location is not None and len(fields.location) > MAX_LOCATION:
        raise AnnouncementError(
            "location", too_long(_("The location"), MAX_LOCATION, len(fields.location))
        )


MAX_AHEAD = timedelta(days=3653)  # 10 years


def _check_dates(fields: Fields, now: datetime, changed: set[str]) -> None:
    kind = fields.kind
    if kind.has_deadline and fields.deadline is None:
        raise AnnouncementError("deadline", _("This kind of announcement needs a deadline."))
    if not kind.has_deadline and fields.deadline is not None:
        raise AnnouncementError(
            "deadline", _("Only grant deadlines and tax campaigns have a deadline.")
        )
    if kind.is_event and fields.starts_at is None:
        raise AnnouncementError("starts_at", _("A meeting needs a start time."))
    if not kind.is_event and (fields.starts_at or fields.ends_at or fields.location):
        raise AnnouncementError(
            "starts_at", _("Only meetings have a start, an end and a location.")
        )
    if "publish_at" in changed and fields.publish_at < now - PUBLISH_GRACE:
        raise AnnouncementError("publish_at", _("The publication time is in the past."))
    for name in ("deadline", "starts_at", "ends_at"):
        value: datetime | None = getattr(fields, name)
        if value is None:
            continue
        if name in changed and value <= now:
            raise AnnouncementError(name, _("This date is in the past."))
        if name in changed and value > now + MAX_AHEAD:
            # A typo such as 3027 for 2027; also keeps calendar files small and quick to build.
            raise AnnouncementError(
                name, _("This date is more than 10 years ahead: please check the year.")
            )
        if value <= fields.publish_at and (name in changed or "publish_at" in changed):
            raise AnnouncementError(name, _("This date is before the publication time."))
    if (
        fields.ends_at is not None
        and fields.starts_at is not None
        and fields.ends_at <= fields.starts_at
    ):
        raise AnnouncementError("ends_at", _("The end must be after the start."))
