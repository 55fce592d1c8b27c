"""The questions of the guided `announce` flow: steps, answers, prompts, draft data.

A draft is a dict of answers (JSON in the database): field values, with times as UTC ISO text.
The next question is always the first step that applies to the draft and has no answer yet, so
going back to a step is just forgetting its answer (and what depends on it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bot.announcements.model import (
    DEADLINE_TIME,
    MAX_LOCATION,
    MAX_TEXT,
    MAX_TITLE,
    AnnouncementError,
    Fields,
    Kind,
    check_url,
    repeat_error,
    tax_campaign_deadline,
    too_long,
)
from bot.announcements.render import NOTICEABLE, format_when
from bot.announcements.service import AnnouncementService
from bot.announcements.timeparse import TimeFormatError, parse_when
from bot.clock import from_db, to_db, utcnow
from bot.core.context import Context
from bot.core.conversation import CONFIRM_WORD, DECLINE_WORD, yes_or_no
from bot.core.markup import escape
from bot.core.messages import Button, Reply
from bot.i18n import N_, _
from bot.reminders import offsets
from bot.reminders.recurrence import ensure_synchronised, parse_repeat

MONTHLY_WEEKDAY = "monthly-weekday"
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MODE = "_mode"
CORRECTING = "correct"
TARGET = "_id"
CHANGES = "_changes"


class Step(StrEnum):
    """A question of the flow; field steps are named after the field they fill."""

    KIND = "kind"
    TITLE_PL = "title_pl"
    TEXT_PL = "text_pl"
    TITLE_UK = "title_uk"
    TEXT_UK = "text_uk"
    TITLE_EN = "title_en"
    TEXT_EN = "text_en"
    DEADLINE = "deadline"
    STARTS_AT = "starts_at"
    ENDS_AT = "ends_at"
    LOCATION = "location"
    REPEAT = "repeat"
    URL = "url"
    TOPIC = "topic"
    REMIND = "remind"
    URGENT = "urgent"
    PREVIEW = "preview"
    PUBLISH_AT = "publish_at"


ORDER = (
    Step.KIND,
    Step.TITLE_PL,
    Step.TEXT_PL,
    Step.TITLE_UK,
    Step.TEXT_UK,
    Step.TITLE_EN,
    Step.TEXT_EN,
    Step.DEADLINE,
    Step.STARTS_AT,
    Step.ENDS_AT,
    Step.LOCATION,
    Step.REPEAT,
    Step.URL,
    Step.TOPIC,
    Step.REMIND,
    Step.URGENT,
)
# Steps reached through another (a text after its title, the end after the start): edit menus
# offer the first one only.
FOLLOW_UPS = (Step.TEXT_UK, Step.TEXT_EN, Step.ENDS_AT)
SKIPPABLE = {Step.TITLE_UK, Step.TITLE_EN, Step.ENDS_AT, Step.LOCATION, Step.URL}
# What going back to a step clears, so that the flow asks again what depends on it.
CLEARS = {
    Step.KIND: (
        "kind",
        "deadline",
        "starts_at",
        "ends_at",
        "location",
        "repeat",
        "topic",
        "remind",
    ),
    Step.TITLE_UK: ("title_uk", "text_uk"),
    Step.TITLE_EN: ("title_en", "text_en"),
    # A rule must match the first meeting: a new start asks for the repetition again.
    Step.STARTS_AT: ("starts_at", "ends_at", "repeat"),
}
# Names accepted for a field in `announce edit ID <field> <value>` besides the field names.
FIELD_ALIASES = {
    "title": "title_pl",
    "text": "text_pl",
    "start": "starts_at",
    "end": "ends_at",
    "link": "url",
    "reminders": "remind",
    "recurrence": "repeat",
}
# What a correction may change: everything a notice mentions, plus the quiet fields.
CORRECTION_FIELDS = (*NOTICEABLE, "remind", "urgent", "publish_at")


class FlowError(ValueError):
    """An answer that does not fit the step; the message says why."""


def as_step(text: str) -> Step | None:
    try:
        return Step(text)
    except ValueError:
        return None


def field_label(step: Step) -> str:
    labels = {
        Step.KIND: N_("Kind"),
        Step.TITLE_PL: N_("Polish title"),
        Step.TEXT_PL: N_("Polish text"),
        Step.TITLE_UK: N_("Ukrainian version"),
        Step.TEXT_UK: N_("Ukrainian text"),
        Step.TITLE_EN: N_("English version"),
        Step.TEXT_EN: N_("English text"),
        Step.DEADLINE: N_("Deadline"),
        Step.STARTS_AT: N_("Start and end"),
        Step.ENDS_AT: N_("End"),
        Step.LOCATION: N_("Location"),
        Step.REPEAT: N_("Repetition"),
        Step.URL: N_("Link"),
        Step.TOPIC: N_("Topic"),
        Step.REMIND: N_("Reminders"),
        Step.URGENT: N_("Urgency"),
        Step.PUBLISH_AT: N_("Publication time"),
    }
    return _(labels.get(step, step.value))


# --- draft data ---------------------------------------------------------------------------------


def draft_kind(data: dict[str, Any]) -> Kind | None:
    return Kind(data["kind"]) if data.get("kind") else None


def applies(step: Step, data: dict[str, Any]) -> bool:
    """Whether the step is asked for this draft (dates depend on the kind, texts on titles)."""
    kind = draft_kind(data)
    if step is Step.DEADLINE:
        return kind is not None and kind.has_deadline
    if step in (Step.STARTS_AT, Step.ENDS_AT, Step.LOCATION, Step.REPEAT):
        return kind is Kind.MEETING
    if step is Step.TEXT_UK:
        return data.get("title_uk") is not None
    if step is Step.TEXT_EN:
        return data.get("title_en") is not None
    if step is Step.REMIND:
        return kind is not None and kind is not Kind.NEWS
    return True


def next_step(data: dict[str, Any]) -> Step:
    """The first question not answered yet, else the preview."""
    for step in ORDER:
        if applies(step, data) and step.value not in data:
            return step
    return Step.PREVIEW


def moment(data: dict[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    return from_db(value) if isinstance(value, str) else None


def field_values(data: dict[str, Any]) -> dict[str, Any]:
    """Draft answers as Fields values (datetimes and the kind parsed back)."""
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name.startswith("_"):
            continue
        if name in ("deadline", "starts_at", "ends_at", "publish_at"):
            values[name] = from_db(value) if value else None
        elif name == "kind":
            values[name] = Kind(value)
        else:
            values[name] = value
    return values


def fields_from_draft(data: dict[str, Any], publish_at: datetime) -> Fields:
    """A complete draft as Fields; steps that did not apply take the kind's defaults."""
    values = field_values(data)
    kind: Kind = values.pop("kind")
    values.setdefault("topic", kind.default_topic)
    values.setdefault("remind", kind.default_remind)
    values["publish_at"] = publish_at
    return Fields(kind=kind, **values)


def draft_from_fields(fields: Fields) -> dict[str, Any]:
    """An announcement's fields in draft form (for parsing a correction against them)."""
    data: dict[str, Any] = {}
    for name in (*CORRECTION_FIELDS, "kind", "topic"):
        value = getattr(fields, name)
        data[name] = to_db(value) if isinstance(value, datetime) else value
    data["kind"] = fields.kind.value
    return data


# --- answers ------------------------------------------------------------------------------------


def words(*english: str) -> set[str]:
    """An answer word in English and in the chat's language."""
    return {w.lower() for word in english for w in (word, _(word))}


def parse_answer(step: Step, text: str, data: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """The draft values an answer gives, or FlowError saying what is wrong."""
    answer = text.strip()
    lowered = answer.lower()
    if step in SKIPPABLE and lowered in words(N_("skip")) | {"-"}:
        return {name: None for name in CLEARS.get(step, (step.value,))}
    if step is Step.KIND:
        try:
            return {"kind": Kind(lowered).value}
        except ValueError:
            raise FlowError(_("Please choose one of the kinds below.")) from None
    if step.value.startswith(("title_", "text_")):
        return {step.value: checked_text(step, answer)}
    if step in (Step.DEADLINE, Step.STARTS_AT, Step.ENDS_AT, Step.PUBLISH_AT):
        return {step.value: to_db(parse_moment(step, answer, data, ctx))}
    if step is Step.LOCATION:
        if len(answer) > MAX_LOCATION:
            raise FlowError(too_long(_("The location"), MAX_LOCATION, len(answer)))
        return {"location": answer}
    if step is Step.URL:
        try:
            return {"url": check_url(answer)}
        except AnnouncementError as exc:
            raise FlowError(exc.message) from None
    if step is Step.REPEAT:
        return {"repeat": parse_repeat_answer(answer, data, ctx)}
    if step is Step.TOPIC:
        return {"topic": parse_topic(lowered, data, ctx)}
    if step is Step.REMIND:
        return {"remind": parse_remind(lowered, data)}
    if step is Step.URGENT:
        urgent = yes_or_no(answer, ctx.language)
        if urgent is None:
            raise FlowError(_("Please answer yes or no."))
        return {"urgent": urgent}
    raise FlowError(_("Please choose one of the options below."))


def checked_text(step: Step, answer: str) -> str:
    limit = MAX_TITLE if step.value.startswith("title_") else MAX_TEXT
    if not answer:
        raise FlowError(_("This cannot be empty."))
    if len(answer) > limit:
        what = _("The title") if limit == MAX_TITLE else _("The text")
        raise FlowError(too_long(what, limit, len(answer)))
    return answer


def parse_moment(step: Step, answer: str, data: dict[str, Any], ctx: Context) -> datetime:
    tz = ctx.settings.timezone
    now = utcnow()
    kind = draft_kind(data)
    if (
        step is Step.DEADLINE
        and kind is Kind.TAX_CAMPAIGN
        and answer.lower() in words(N_("default"))
    ):
        return tax_campaign_deadline(now, tz)
    starts_at = moment(data, "starts_at")
    try:
        value = parse_when(
            answer,
            tz,
            date_only_time=DEADLINE_TIME if step is Step.DEADLINE else None,
            same_day_as=starts_at if step is Step.ENDS_AT else None,
            now=now,
        )
    except TimeFormatError as exc:
        raise FlowError(escape(exc.message)) from None
    if value <= now:
        raise FlowError(_("This date is in the past."))
    if step is Step.ENDS_AT and starts_at is not None and value <= starts_at:
        raise FlowError(_("The end must be after the start."))
    return value


def parse_topic(answer: str, data: dict[str, Any], ctx: Context) -> str:
    kind = draft_kind(data)
    if answer in words(N_("default")) and kind is not None:
        return kind.default_topic
    if ctx.topics.get(answer) is None:
        raise FlowError(
            _("There is no topic {given}. Topics: {slugs}.").format(
                given=escape(answer[:40]), slugs=", ".join(ctx.topics.slugs)
            )
        )
    return answer


def monthly_weekday_rule(start: datetime, tz: ZoneInfo) -> str:
    """'Every month on the same weekday' for a first meeting: its 1st-4th or last weekday."""
    local = start.astimezone(tz).date()
    nth = (local.day - 1) // 7 + 1
    return f"FREQ=MONTHLY;BYDAY={-1 if nth == 5 else nth}{WEEKDAY_CODES[local.weekday()]}"


def parse_repeat_answer(answer: str, data: dict[str, Any], ctx: Context) -> str | None:
    """The RRULE of an answer ('weekly', a button's choice, a rule), None: no repetition."""
    tz = ctx.settings.timezone
    starts_at = moment(data, "starts_at")
    lowered = answer.lower()
    if lowered in words(N_("no"), N_("none"), N_("skip")) | {"-"}:
        return None
    if lowered == MONTHLY_WEEKDAY and starts_at is not None:
        return monthly_weekday_rule(starts_at, tz)
    try:
        rule = parse_repeat(answer, tz)
        if rule is not None and starts_at is not None:
            ensure_synchronised(rule, starts_at, tz)
    except ValueError as exc:
        raise FlowError(escape(repeat_error(str(exc)))) from None
    return rule


def parse_remind(answer: str, data: dict[str, Any]) -> str:
    kind = draft_kind(data)
    if answer in words(N_("default")) and kind is not None:
        return kind.default_remind
    try:
        return offsets.canonical(answer)
    except offsets.OffsetError as exc:
        raise FlowError(
            _(
                "{problem} Choose one of the buttons below, or write e.g. 7d@09:00,1d@09:00 "
                "(7 and 1 days before, at 09:00)."
            ).format(problem=escape(exc.message))
        ) from None


def remind_buttons(default: str) -> tuple[tuple[Button, ...], ...]:
    """The common reminder choices, so that nobody has to learn the grammar."""
    return (
        (pick(Step.REMIND, "default", _("Default: {default}").format(default=default)),),
        (pick(Step.REMIND, "7d@09:00,1d@09:00", _("A week and a day before, at 09:00")),),
        (pick(Step.REMIND, "1d@09:00", _("The day before, at 09:00")),),
        (pick(Step.REMIND, "2h", _("Two hours before")),),
        (pick(Step.REMIND, offsets.NONE, _("No reminders")),),
    )


def example_when(days: int, clock: str, tz: ZoneInfo) -> str:
    """An example date `days` after today (the injected clock), as staff type it."""
    moment = utcnow().astimezone(tz) + timedelta(days=days)
    return moment.strftime("%d.%m.%Y") + f" {clock}"


# --- prompts ------------------------------------------------------------------------------------


def pick(step: Step, value: str, label: str) -> Button:
    return Button(label, f"announce pick {step.value} {value}")


def skip_button(step: Step) -> tuple[tuple[Button, ...], ...]:
    return ((pick(step, "skip", _("Skip")),),)


def prompt(step: Step, data: dict[str, Any], ctx: Context) -> Reply:
    """The question of a step, with an example and the buttons for its choices."""
    kind = draft_kind(data)
    tz = ctx.settings.timezone
    if step is Step.KIND:
        buttons = tuple((pick(step, k.value, k.label),) for k in Kind)
        return Reply(_("What kind of announcement is it?"), buttons=buttons)
    if step is Step.TITLE_PL:
        return Reply(_("The title in Polish (at most {limit} characters):").format(limit=MAX_TITLE))
    if step is Step.TEXT_PL:
        return Reply(_("The text in Polish (at most {limit} characters):").format(limit=MAX_TEXT))
    if step in (Step.TITLE_UK, Step.TITLE_EN):
        question = (
            _("The title in Ukrainian, or Skip if there is no Ukrainian version:")
            if step is Step.TITLE_UK
            else _("The title in English, or Skip if there is no English version:")
        )
        return Reply(question, buttons=skip_button(step))
    if step is Step.TEXT_UK:
        return Reply(_("The text in Ukrainian:"))
    if step is Step.TEXT_EN:
        return Reply(_("The text in English:"))
    if step is Step.DEADLINE:
        text = _("The deadline: a date and time like {example} (a date alone means 23:59).").format(
            example=example_when(30, "23:59", tz)
        )
        if kind is Kind.TAX_CAMPAIGN:
            default = tax_campaign_deadline(utcnow(), tz)
            label = _("Default: {when}").format(when=format_when(default, ctx.language, tz))
            return Reply(text, buttons=((pick(step, "default", label),),))
        return Reply(text)
    if step is Step.STARTS_AT:
        return Reply(
            _("When does it start? A date and time like {example}.").format(
                example=example_when(14, "18:00", tz)
            )
        )
    if step is Step.ENDS_AT:
        return Reply(
            _("When does it end? A time like 20:00 (the same day) or a date and time, or Skip."),
            buttons=skip_button(step),
        )
    if step is Step.LOCATION:
        return Reply(_("Where? An address, or Skip."), buttons=skip_button(step))
    if step is Step.URL:
        return Reply(
            _("A link for details, like https://ngo.krakow.pl/..., or Skip."),
            buttons=skip_button(step),
        )
    if step is Step.REPEAT:
        return Reply(
            _(
                "Does the meeting repeat? Choose below, or write a rule such as "
                "FREQ=MONTHLY;BYDAY=3TH (every third Thursday of the month)."
            ),
            buttons=(
                (pick(step, "none", _("Does not repeat")),),
                (pick(step, "weekly", _("Every week")),),
                (pick(step, "monthly", _("Every month, the same day")),),
                (pick(step, MONTHLY_WEEKDAY, _("Every month, the same weekday")),),
            ),
        )
    if step is Step.TOPIC:
        return topic_prompt(kind, ctx)
    if step is Step.REMIND:
        remind = kind.default_remind if kind else offsets.NONE
        return Reply(
            _(
                "Reminders before the date: a comma list like 7d@09:00,1d@09:00,2h "
                "(d days, w weeks, h hours, m minutes, @HH:MM a time of day; mondays@10:00 "
                "every Monday of the deadline's month), or none. Default: {default}"
            ).format(default=remind),
            buttons=remind_buttons(remind),
        )
    if step is Step.URGENT:
        return Reply(
            _("Is it urgent? Urgent announcements are sent during quiet hours too."),
            buttons=(
                (pick(step, CONFIRM_WORD, _("Urgent")), pick(step, DECLINE_WORD, _("Not urgent"))),
            ),
        )
    if step is Step.PUBLISH_AT:
        return Reply(
            _("When should it be published? A date and time like {example}.").format(
                example=example_when(1, "09:00", tz)
            )
        )
    return Reply(_("Choose below what to do with the announcement."), buttons=preview_buttons())


def topic_prompt(kind: Kind | None, ctx: Context) -> Reply:
    default = kind.default_topic if kind else None
    ordered = sorted(ctx.topics.items, key=lambda t: t.slug != default)
    buttons = tuple(
        (
            pick(
                Step.TOPIC,
                topic.slug,
                topic.name(ctx.language) + (" " + _("(default)") if topic.slug == default else ""),
            ),
        )
        for topic in ordered
    )
    return Reply(_("Which topic? Subscribers of that topic receive it."), buttons=buttons)


def preview_buttons() -> tuple[tuple[Button, ...], ...]:
    return (
        (Button(_("Publish now"), "announce publish"), Button(_("Schedule"), "announce schedule")),
        (Button(_("Edit"), "announce edit"), Button(_("Cancel"), "announce cancel")),
    )


def with_problem(problem: str, reply: Reply) -> Reply:
    return Reply(f"⚠️ {problem}\n\n{reply.text}", buttons=reply.buttons)


def service(ctx: Context) -> AnnouncementService:
    return AnnouncementService(ctx.storage, ctx.settings, ctx.topics)


def unknown(announcement_id: int) -> Reply:
    return Reply(_("There is no announcement #{id}.").format(id=announcement_id))
