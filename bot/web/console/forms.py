"""The announcement form: what staff type on the page, read into announcement fields.

Dates are read by the same parser as the chat and the command line (ISO 8601, '30.04.2027
18:00', 'jutro 18:00'); every rule is checked by the announcement service. Problems are kept per
field, in the staff member's language, and shown next to the field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.announcements.model import (
    DEADLINE_TIME,
    Announcement,
    AnnouncementError,
    Fields,
    Kind,
    repeat_error,
    tax_campaign_deadline,
)
from bot.announcements.timeparse import TimeFormatError, parse_when
from bot.core.commands.announce_steps import MONTHLY_WEEKDAY, monthly_weekday_rule
from bot.i18n import N_, _
from bot.reminders import offsets
from bot.reminders.recurrence import parse_repeat

TEXTS = ("title_pl", "text_pl", "title_uk", "text_uk", "title_en", "text_en")
TIMES = ("deadline", "starts_at", "ends_at", "publish_at")
OPTIONAL = ("title_uk", "text_uk", "title_en", "text_en", "location", "url")
# The reminder choices offered on the form (as in the chat flow), then "other" with a text.
REMIND_CHOICES = (
    ("default", N_("The kind's default")),
    ("7d@09:00,1d@09:00", N_("A week and a day before, at 09:00")),
    ("1d@09:00", N_("The day before, at 09:00")),
    ("2h", N_("Two hours before")),
    (offsets.NONE, N_("No reminders")),
    ("other", N_("Other (write below)")),
)
REPEAT_CHOICES = (
    ("none", N_("Does not repeat")),
    ("weekly", N_("Every week")),
    ("monthly", N_("Every month, the same day")),
    (MONTHLY_WEEKDAY, N_("Every month, the same weekday")),
)
TIME_FORMAT = "%d.%m.%Y %H:%M"


@dataclass
class AnnouncementForm:
    """The values as typed (to show the form again) and the problems found, by field."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> Kind:
        try:
            return Kind(self.values.get("kind", ""))
        except ValueError:
            return Kind.NEWS

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    @property
    def fingerprint(self) -> str:
        """A digest of the values: "publish" publishes only what the preview showed (a value
        changed after the preview, or Enter pressed in a field, shows the preview again)."""
        text = json.dumps({k: v for k, v in self.values.items() if k != "notify"}, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def blank_form() -> AnnouncementForm:
    return AnnouncementForm(
        {"kind": Kind.GRANT_DEADLINE.value, "remind": "default", "repeat": "none", "topic": ""}
    )


def form_of(posted: Mapping[str, str]) -> AnnouncementForm:
    """The submitted values, stripped (line breaks in the texts kept)."""
    names = (*TEXTS, *TIMES, "kind", "topic", "location", "url", "remind", "remind_other")
    values = {name: str(posted.get(name, "")).strip() for name in names}
    values["repeat"] = str(posted.get("repeat", "none")).strip() or "none"
    values["urgent"] = "1" if posted.get("urgent") else ""
    values["notify"] = "1" if posted.get("notify") else ""
    return AnnouncementForm(values)


def form_from(announcement: Announcement, tz: ZoneInfo) -> AnnouncementForm:
    """An existing announcement's values, to edit them."""
    fields = announcement.fields
    values: dict[str, str] = {"kind": fields.kind.value, "topic": fields.topic}
    for name in (*TEXTS, "location", "url"):
        values[name] = getattr(fields, name) or ""
    for name in TIMES:
        moment: datetime | None = getattr(fields, name)
        values[name] = moment.astimezone(tz).strftime(TIME_FORMAT) if moment else ""
    choice = next((c for c, _label in REMIND_CHOICES if c == fields.remind), None)
    if fields.remind == fields.kind.default_remind:
        choice = "default"
    values["remind"] = choice or "other"
    values["remind_other"] = "" if choice else fields.remind
    values["repeat"] = fields.repeat or "none"
    values["urgent"] = "1" if fields.urgent else ""
    return AnnouncementForm(values)


def read_time(form: AnnouncementForm, name: str, tz: ZoneInfo, same_day: datetime | None) -> Any:
    text = form.values.get(name, "")
    if not text:
        return None
    try:
        return parse_when(
            text,
            tz,
            date_only_time=DEADLINE_TIME if name == "deadline" else None,
            same_day_as=same_day,
        )
    except TimeFormatError as exc:
        form.error(name, exc.message)
        return None


def remind_spec(form: AnnouncementForm, kind: Kind) -> str:
    choice = form.values.get("remind", "default")
    if choice == "other":
        return form.values.get("remind_other", "") or kind.default_remind
    if choice == "default" or choice not in {c for c, _label in REMIND_CHOICES}:
        return kind.default_remind
    return choice


def repeat_rule(form: AnnouncementForm, starts_at: datetime | None, tz: ZoneInfo) -> str | None:
    choice = form.values.get("repeat", "none")
    if choice == MONTHLY_WEEKDAY:
        return monthly_weekday_rule(starts_at, tz) if starts_at is not None else None
    try:
        return parse_repeat(choice, tz)
    except ValueError as exc:
        form.error("repeat", repeat_error(str(exc)))
        return None


def values_of(
    form: AnnouncementForm, tz: ZoneInfo, *, now: datetime, starts_at: datetime | None = None
) -> dict[str, Any]:
    """The field values the form gives (empty optional ones as None); problems go to
    `form.errors`."""
    try:
        kind = Kind(form.values.get("kind", ""))
    except ValueError:
        form.error("kind", _("Choose the kind of announcement."))
        kind = Kind.NEWS
    values: dict[str, Any] = {"kind": kind, "topic": form.values.get("topic") or kind.default_topic}
    for name in (*TEXTS, "location", "url"):
        text = form.values.get(name, "")
        values[name] = text or (None if name in OPTIONAL else "")
    start = read_time(form, "starts_at", tz, None)
    values["starts_at"] = start
    values["ends_at"] = read_time(form, "ends_at", tz, start or starts_at)
    values["deadline"] = read_time(form, "deadline", tz, None)
    values["publish_at"] = read_time(form, "publish_at", tz, None) or now
    if kind is Kind.TAX_CAMPAIGN and values["deadline"] is None and "deadline" not in form.errors:
        values["deadline"] = tax_campaign_deadline(now, tz)
    if not kind.has_deadline:
        values["deadline"] = None
    if not kind.is_event:
        values.update(starts_at=None, ends_at=None, location=None, repeat=None)
    else:
        values["repeat"] = repeat_rule(form, start or starts_at, tz)
    values["remind"] = remind_spec(form, kind)
    values["urgent"] = form.values.get("urgent") == "1"
    return values


def fields_of(values: dict[str, Any]) -> Fields:
    return Fields(**values)


def record_error(form: AnnouncementForm, exc: AnnouncementError) -> None:
    """A rule the service refused, next to its field (or at the top of the form)."""
    form.error(exc.field if exc.field in form.values else "form", exc.message)
