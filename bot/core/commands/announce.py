"""Announcements in chat: the guided `announce` flow, corrections, and `announcements`.

The flow asks one field at a time and keeps the answers in a draft in the database (keyed by the
staff identity and the chat), so a restart loses nothing: the next message continues the step.
Buttons send `announce pick <step> <value>`, tied to the step they belong to, so a button pressed
late cannot answer a different question. While a draft exists, the staff member's free text in
that private chat goes to the flow; commands keep working and `cancel` leaves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.announcements import reminders
from bot.announcements.model import (
    DEADLINE_TIME,
    MAX_LOCATION,
    MAX_TEXT,
    MAX_TITLE,
    Announcement,
    AnnouncementError,
    Fields,
    Kind,
    Status,
    check_url,
    tax_campaign_deadline,
    too_long,
)
from bot.announcements.render import format_span, format_when, render_publication
from bot.announcements.service import AnnouncementService, DeliveryReport, UnknownAnnouncement
from bot.announcements.timeparse import TimeFormatError, parse_when
from bot.clock import from_db, to_db, utcnow
from bot.core.context import Context
from bot.core.markup import bold, escape
from bot.core.messages import Button, Reply
from bot.core.registry import Audience, registry
from bot.i18n import N_, _
from bot.storage.announcements import Draft
from bot.storage.outbox import Counts

MODE = "_mode"
CORRECTING = "correct"
TARGET = "_id"
CHANGES = "_changes"
LIST_LIMIT = 10


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
    Step.URL,
    Step.TOPIC,
    Step.REMIND,
    Step.URGENT,
)
SKIPPABLE = {Step.TITLE_UK, Step.TITLE_EN, Step.ENDS_AT, Step.LOCATION, Step.URL}
# What going back to a step clears, so that the flow asks again what depends on it.
CLEARS = {
    Step.KIND: ("kind", "deadline", "starts_at", "ends_at", "location", "topic", "remind"),
    Step.TITLE_UK: ("title_uk", "text_uk"),
    Step.TITLE_EN: ("title_en", "text_en"),
    Step.STARTS_AT: ("starts_at", "ends_at"),
}
# Names accepted for a field in `announce edit ID <field> <value>` besides the field names.
FIELD_ALIASES = {
    "title": "title_pl",
    "text": "text_pl",
    "start": "starts_at",
    "end": "ends_at",
    "link": "url",
    "reminders": "remind",
}
CORRECTION_FIELDS = (
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
    "remind",
    "urgent",
    "publish_at",
)


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
    if step in (Step.STARTS_AT, Step.ENDS_AT, Step.LOCATION):
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
    if step is Step.TOPIC:
        return {"topic": parse_topic(lowered, data, ctx)}
    if step is Step.REMIND:
        return {"remind": parse_remind(lowered, data)}
    if step is Step.URGENT:
        if lowered in words(N_("yes")):
            return {"urgent": True}
        if lowered in words(N_("no")):
            return {"urgent": False}
        raise FlowError(_("Please answer yes or no."))
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
        )
    except TimeFormatError:
        raise FlowError(_("I could not read this date.")) from None
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


def parse_remind(answer: str, data: dict[str, Any]) -> str:
    kind = draft_kind(data)
    if answer in words(N_("default")) and kind is not None:
        return kind.default_remind
    try:
        return reminders.normalise(answer)
    except reminders.OffsetError as exc:
        raise FlowError(escape(str(exc))) from None


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
        text = _(
            "The deadline: a date and time like 30.04.2026 23:59 or 2026-04-30T23:59 "
            "(a date alone means 23:59)."
        )
        if kind is Kind.TAX_CAMPAIGN:
            default = tax_campaign_deadline(utcnow(), tz)
            label = _("Default: {when}").format(when=format_when(default, ctx.language, tz))
            return Reply(text, buttons=((pick(step, "default", label),),))
        return Reply(text)
    if step is Step.STARTS_AT:
        return Reply(_("When does it start? A date and time like 15.05.2026 18:00."))
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
    if step is Step.TOPIC:
        return topic_prompt(kind, ctx)
    if step is Step.REMIND:
        remind = kind.default_remind if kind else reminders.NONE
        return Reply(
            _(
                "Reminders before the date: a comma list like 7d@09:00,1d@09:00,2h "
                "(d days, w weeks, h hours, m minutes, @HH:MM a time of day), or none. "
                "Default: {default}"
            ).format(default=remind),
            buttons=((pick(step, "default", _("Default: {default}").format(default=remind)),),),
        )
    if step is Step.URGENT:
        return Reply(
            _("Is it urgent? Urgent announcements are sent during quiet hours too."),
            buttons=((pick(step, "yes", _("Urgent")), pick(step, "no", _("Not urgent"))),),
        )
    if step is Step.PUBLISH_AT:
        return Reply(_("When should it be published? A date and time like 30.04.2026 09:00."))
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


# --- the flow -----------------------------------------------------------------------------------


def service(ctx: Context) -> AnnouncementService:
    return AnnouncementService(ctx.storage, ctx.settings, ctx.topics)


async def save(ctx: Context, step: Step | str, data: dict[str, Any]) -> None:
    await ctx.storage.drafts.save(ctx.actor, ctx.chat.id, str(step), data, utcnow())


async def drop(ctx: Context) -> bool:
    return await ctx.storage.drafts.delete(ctx.actor, ctx.chat.id)


async def flow_text(ctx: Context, text: str) -> list[Reply] | None:
    """Free text of a staff member with a draft in this chat: the answer to its step."""
    draft = await ctx.storage.drafts.get(ctx.actor, ctx.chat.id)
    if draft is None:
        return None
    if ctx.role < Audience.STAFF:
        await drop(ctx)
        return None
    if text.strip().lower() in words(N_("cancel")):
        return await cancel_draft(ctx)
    return await answer(ctx, draft, text)


async def answer(ctx: Context, draft: Draft, text: str) -> list[Reply]:
    data = dict(draft.data)
    step = as_step(draft.step) or Step.PREVIEW
    if data.get(MODE) == CORRECTING:
        return await correction_answer(ctx, data, step, text)
    if step is Step.PREVIEW:
        return [prompt(step, data, ctx)]
    try:
        updates = parse_answer(step, text, data, ctx)
    except FlowError as exc:
        return [with_problem(str(exc), prompt(step, data, ctx))]
    if step is Step.PUBLISH_AT:
        return await create(ctx, data, from_db(updates["publish_at"]))
    data.update(updates)
    return await advance(ctx, data)


async def advance(ctx: Context, data: dict[str, Any]) -> list[Reply]:
    step = next_step(data)
    if step is Step.PREVIEW:
        return await preview(ctx, data)
    await save(ctx, step, data)
    return [prompt(step, data, ctx)]


async def preview(ctx: Context, data: dict[str, Any]) -> list[Reply]:
    """The announcement as each language's subscribers will see it, then the choices."""
    try:
        fields = service(ctx).check(fields_from_draft(data, utcnow()))
    except AnnouncementError as exc:
        # Something became invalid while drafting (a date passed): ask that field again.
        return await reask(ctx, data, exc)
    await save(ctx, Step.PREVIEW, data)
    platform = ctx.chat.ref.platform
    replies = [
        Reply(
            bold(_("Preview — {language}:").format(language=language))
            + "\n\n"
            + render_publication(fields, language, platform, ctx.topics, ctx.settings.timezone)
        )
        for language in ("pl", "uk", "en")
        if language == "pl" or fields.has_language(language)
    ]
    replies.append(prompt(Step.PREVIEW, data, ctx))
    return replies


async def reask(ctx: Context, data: dict[str, Any], error: AnnouncementError) -> list[Reply]:
    step = as_step(error.field) or Step.KIND
    for name in CLEARS.get(step, (step.value,)):
        data.pop(name, None)
    step = next_step(data)
    await save(ctx, step, data)
    return [with_problem(error.message, prompt(step, data, ctx))]


async def create(ctx: Context, data: dict[str, Any], publish_at: datetime) -> list[Reply]:
    """Publish (or schedule) the finished draft and say what happens next."""
    try:
        announcement = await service(ctx).create(
            fields_from_draft(data, publish_at), actor=ctx.actor, author_chat_ref=ctx.chat.id
        )
    except AnnouncementError as exc:
        return await reask(ctx, data, exc)
    await drop(ctx)
    show = ctx.cmd(f"announcements show {announcement.id}")
    if announcement.status is Status.SCHEDULED:
        return [
            Reply(
                _("Scheduled announcement #{id} for {when}. Progress: {show}").format(
                    id=announcement.id,
                    when=format_when(publish_at, ctx.language, ctx.settings.timezone),
                    show=show,
                )
            )
        ]
    counts = await ctx.storage.outbox.publication_counts([announcement.id])
    total = counts.get(announcement.id, Counts()).total
    return [
        Reply(
            _(
                "Published announcement #{id}. Recipients: {count}. I will tell you here when "
                "it has been delivered. Progress: {show}"
            ).format(id=announcement.id, count=total, show=show)
        )
    ]


async def cancel_draft(ctx: Context) -> list[Reply]:
    if await drop(ctx):
        return [Reply(_("Cancelled. Nothing was published."))]
    return [Reply(_("There is nothing to cancel."))]


# --- the command --------------------------------------------------------------------------------

Action = Callable[[Context, str], Awaitable[list[Reply]]]


@registry.command(
    "announce",
    N_("Write and publish an announcement, step by step"),
    usage=N_("[edit ID [field value]]"),
    audience=Audience.STAFF,
)
async def announce(ctx: Context, args: str) -> list[Reply]:
    if ctx.incoming.kind.is_shared:
        return [Reply(_("Let's write announcements in a private chat with me."))]
    word, _sep, rest = args.partition(" ")
    actions: dict[str, Action] = {
        "": start,
        "continue": resume,
        "restart": restart,
        "pick": picked,
        "publish": publish_now,
        "schedule": schedule,
        "edit": edit,
        "goto": goto,
        "cancel": lambda c, _a: cancel_draft(c),
        "notify": notify,
    }
    action = actions.get(word.lower())
    if action is None:
        return [
            Reply(
                _("Send {announce} to write a new announcement.").format(
                    announce=ctx.cmd("announce")
                )
            )
        ]
    return await action(ctx, rest.strip())


async def start(ctx: Context, args: str) -> list[Reply]:
    draft = await ctx.storage.drafts.get(ctx.actor, ctx.chat.id)
    if draft is not None:
        return [
            Reply(
                _("You have an unfinished announcement. Continue it or start over?"),
                buttons=(
                    (
                        Button(_("Continue"), "announce continue"),
                        Button(_("Start over"), "announce restart"),
                    ),
                ),
            )
        ]
    return await restart(ctx, args)


async def restart(ctx: Context, args: str) -> list[Reply]:
    data: dict[str, Any] = {"urgent": False}
    await save(ctx, Step.KIND, data)
    intro = _("A new announcement. Send {cancel} at any step to leave.").format(
        cancel=ctx.cmd("cancel")
    )
    return [Reply(intro), prompt(Step.KIND, data, ctx)]


async def current_draft(ctx: Context) -> Draft | None:
    return await ctx.storage.drafts.get(ctx.actor, ctx.chat.id)


def no_draft(ctx: Context) -> list[Reply]:
    return [
        Reply(
            _("There is no announcement in progress. Send {announce} to start one.").format(
                announce=ctx.cmd("announce")
            )
        )
    ]


async def resume(ctx: Context, args: str) -> list[Reply]:
    draft = await current_draft(ctx)
    if draft is None:
        return no_draft(ctx)
    if draft.step == Step.PREVIEW:
        return await preview(ctx, dict(draft.data))
    return [prompt(as_step(draft.step) or Step.PREVIEW, draft.data, ctx)]


async def picked(ctx: Context, args: str) -> list[Reply]:
    """A button of a step: answers it if that step is the one being asked."""
    draft = await current_draft(ctx)
    if draft is None:
        return no_draft(ctx)
    step, _sep, value = args.partition(" ")
    if step != draft.step:
        return [
            Reply(_("That button belongs to an earlier question. Here is the current one:")),
            *await resume(ctx, ""),
        ]
    return await answer(ctx, draft, value)


async def in_preview(ctx: Context) -> Draft | None:
    draft = await current_draft(ctx)
    if draft is None or draft.step != Step.PREVIEW or draft.data.get(MODE) == CORRECTING:
        return None
    return draft


async def publish_now(ctx: Context, args: str) -> list[Reply]:
    draft = await in_preview(ctx)
    if draft is None:
        return no_draft(ctx) if await current_draft(ctx) is None else await resume(ctx, "")
    return await create(ctx, dict(draft.data), utcnow())


async def schedule(ctx: Context, args: str) -> list[Reply]:
    draft = await in_preview(ctx)
    if draft is None:
        return no_draft(ctx) if await current_draft(ctx) is None else await resume(ctx, "")
    await save(ctx, Step.PUBLISH_AT, dict(draft.data))
    return [prompt(Step.PUBLISH_AT, draft.data, ctx)]


async def edit(ctx: Context, args: str) -> list[Reply]:
    """`announce edit` in the preview: choose a field; `announce edit ID ...`: a correction."""
    if args:
        return await correct(ctx, args)
    draft = await in_preview(ctx)
    if draft is None:
        return [
            Reply(
                _("To correct a published announcement send {example}.").format(
                    example=escape(ctx.cmd("announce edit ID field value"))
                )
            )
        ]
    steps = [s for s in ORDER if applies(s, draft.data) and s not in (Step.TEXT_UK, Step.TEXT_EN)]
    steps = [s for s in steps if s is not Step.ENDS_AT]
    buttons = tuple((Button(field_label(s), f"announce goto {s.value}"),) for s in steps)
    return [Reply(_("Which part do you want to change?"), buttons=buttons)]


async def goto(ctx: Context, args: str) -> list[Reply]:
    draft = await in_preview(ctx)
    if draft is None:
        return no_draft(ctx) if await current_draft(ctx) is None else await resume(ctx, "")
    step = as_step(args)
    if step is None or step not in ORDER:
        return await edit(ctx, "")
    data = dict(draft.data)
    for name in CLEARS.get(step, (step.value,)):
        data.pop(name, None)
    return await advance(ctx, data)


# --- corrections of stored announcements --------------------------------------------------------


def correction_field(name: str) -> str | None:
    key = name.lower().replace("-", "_")
    key = FIELD_ALIASES.get(key, key)
    return key if key in CORRECTION_FIELDS else None


async def correct(ctx: Context, args: str) -> list[Reply]:
    """`announce edit ID [field [value]]`: apply, or ask for the value, or offer the fields."""
    id_text, _sep, rest = args.partition(" ")
    if not id_text.isdigit():
        return [
            Reply(
                _("Send {example}, for example {sample}.").format(
                    example=escape(ctx.cmd("announce edit ID field value")),
                    sample=escape(ctx.cmd("announce edit 12 deadline 31.05.2026 23:59")),
                )
            )
        ]
    announcement_id = int(id_text)
    try:
        announcement = await service(ctx).get(announcement_id)
    except UnknownAnnouncement:
        return [unknown(announcement_id)]
    name, _sep, value = rest.strip().partition(" ")
    if not name:
        return [correction_menu(ctx, announcement)]
    field = correction_field(name)
    if field is None:
        return [
            correction_menu(
                ctx,
                announcement,
                problem=_("There is no field {name}.").format(name=escape(name[:40])),
            )
        ]
    data = {MODE: CORRECTING, TARGET: announcement_id, CHANGES: {}}
    if not value.strip():
        await save(ctx, field, data)
        return [correction_prompt(ctx, Step(field), announcement)]
    return await correction_answer(ctx, data, Step(field), value)


def correction_menu(ctx: Context, announcement: Announcement, problem: str | None = None) -> Reply:
    fields = announcement.fields
    names = [
        name
        for name in CORRECTION_FIELDS
        if applies(Step(name), draft_from_fields(fields))
        and not (name == "publish_at" and announcement.published)
    ]
    buttons = tuple(
        (Button(field_label(Step(name)), f"announce edit {announcement.id} {name}"),)
        for name in names
        if name not in ("text_uk", "text_en", "ends_at")
    )
    text = _("What do you want to change in #{id} “{title}”?").format(
        id=announcement.id, title=escape(fields.title_pl)
    )
    reply = Reply(text, buttons=buttons)
    return with_problem(problem, reply) if problem else reply


def correction_prompt(ctx: Context, step: Step, announcement: Announcement) -> Reply:
    question = prompt(step, draft_from_fields(announcement.fields), ctx)
    hint = _("Send the new value, or {cancel} to keep it as it is.").format(
        cancel=ctx.cmd("cancel")
    )
    return Reply(f"{question.text}\n{hint}", buttons=question.buttons)


async def correction_answer(
    ctx: Context, data: dict[str, Any], step: Step, text: str
) -> list[Reply]:
    """A value for the field being corrected; completes language pairs, then saves."""
    announcement_id = int(data[TARGET])
    try:
        announcement = await service(ctx).get(announcement_id)
    except UnknownAnnouncement:
        await drop(ctx)
        return [unknown(announcement_id)]
    changes: dict[str, Any] = dict(data[CHANGES])
    base = {**draft_from_fields(announcement.fields), **changes}
    try:
        if step in (Step.TITLE_PL, Step.TEXT_PL) and text.strip().lower() in words(N_("skip")):
            raise FlowError(_("This cannot be empty."))
        changes.update(parse_answer(step, text, base, ctx))
    except FlowError as exc:
        await save(ctx, step, data)
        return [with_problem(str(exc), correction_prompt(ctx, step, announcement))]
    merged = {**base, **changes}
    for language in ("uk", "en"):
        if merged.get(f"title_{language}") and not merged.get(f"text_{language}"):
            pending = Step(f"text_{language}")
            await save(ctx, pending, {**data, CHANGES: changes})
            return [correction_prompt(ctx, pending, announcement)]
    await drop(ctx)
    try:
        result = await service(ctx).edit(announcement_id, field_values(changes), actor=ctx.actor)
    except AnnouncementError as exc:
        return [with_problem(exc.message, correction_menu(ctx, announcement))]
    replies = [Reply(_("Saved the change to announcement #{id}.").format(id=announcement_id))]
    if result.noticeable:
        replies.append(
            Reply(
                _("Send a short correction notice to the chats that have received it?"),
                buttons=(
                    (
                        Button(_("Yes, send it"), f"announce notify {announcement_id} yes"),
                        Button(_("No"), f"announce notify {announcement_id} no"),
                    ),
                ),
            )
        )
    return replies


async def notify(ctx: Context, args: str) -> list[Reply]:
    id_text, _sep, choice = args.partition(" ")
    if not id_text.isdigit():
        return no_draft(ctx)
    if choice.strip().lower() != "yes":
        return [Reply(_("All right, no correction notice."))]
    try:
        sent = await service(ctx).notify(int(id_text), actor=ctx.actor)
    except UnknownAnnouncement:
        return [unknown(int(id_text))]
    if not sent:
        return [Reply(_("There is nothing to send a correction about."))]
    return [Reply(_("The correction notice is on its way."))]


def unknown(announcement_id: int) -> Reply:
    return Reply(_("There is no announcement #{id}.").format(id=announcement_id))


@registry.command("cancel", N_("Leave the step-by-step announcement"), hidden=True)
async def cancel(ctx: Context, args: str) -> list[Reply]:
    return await cancel_draft(ctx)


# --- listing ------------------------------------------------------------------------------------


def status_label(status: Status) -> str:
    labels = {
        Status.SCHEDULED: N_("scheduled"),
        Status.SENDING: N_("sending"),
        Status.SENT: N_("delivered"),
        Status.CANCELLED: N_("cancelled"),
    }
    return _(labels[status])


def counts_line(counts: Counts) -> str:
    return _(
        "Messages: {total} — sent {sent}, waiting {pending}, retrying {retrying}, "
        "failed {failed}, unreachable {gone}, cancelled {cancelled}"
    ).format(**counts.as_dict())


@registry.command(
    "announcements",
    N_("Announcements with their delivery; cancel or inspect one"),
    usage=N_("[show ID | cancel ID]"),
    audience=Audience.STAFF,
)
async def announcements(ctx: Context, args: str) -> list[Reply]:
    word, _sep, rest = args.partition(" ")
    word, rest = word.lower(), rest.strip()
    if word in ("show", "cancel"):
        if not rest.isdigit():
            return [
                Reply(
                    _("Send {example}.").format(example=escape(ctx.cmd(f"announcements {word} ID")))
                )
            ]
        if word == "show":
            return [await show(ctx, int(rest))]
        return [await cancel_announcement(ctx, int(rest))]
    return [await latest(ctx)]


async def latest(ctx: Context) -> Reply:
    items = await ctx.storage.announcements.recent(LIST_LIMIT)
    if not items:
        return Reply(
            _("No announcements yet. Send {announce} to write one.").format(
                announce=ctx.cmd("announce")
            )
        )
    counts = await ctx.storage.outbox.publication_counts([a.id for a in items])
    tz = ctx.settings.timezone
    lines = [bold(_("Announcements, latest first:"))]
    for item in items:
        lines.append(
            f"#{item.id} {bold(item.fields.title_pl)} — {escape(status_label(item.status))}"
        )
        detail = _("{kind}, topic {topic}, published {when}").format(
            kind=escape(item.fields.kind.label),
            topic=escape(item.fields.topic),
            when=format_when(item.fields.publish_at, ctx.language, tz),
        )
        lines.append(f"    {detail}")
        if item.id in counts:
            lines.append(f"    {counts_line(counts[item.id])}")
    lines.append("")
    lines.append(
        _("Details: {show}; cancel: {cancel}").format(
            show=escape(ctx.cmd("announcements show ID")),
            cancel=escape(ctx.cmd("announcements cancel ID")),
        )
    )
    return Reply("\n".join(lines))


async def show(ctx: Context, announcement_id: int) -> Reply:
    svc = service(ctx)
    try:
        announcement = await svc.get(announcement_id)
        report = await svc.deliveries(announcement_id)
    except UnknownAnnouncement:
        return unknown(announcement_id)
    fields = announcement.fields
    tz = ctx.settings.timezone
    lines = [
        f"#{announcement.id} {bold(fields.title_pl)} — {escape(status_label(announcement.status))}",
        _("{kind}, topic {topic}, published {when}").format(
            kind=escape(fields.kind.label),
            topic=escape(fields.topic),
            when=format_when(fields.publish_at, ctx.language, tz),
        ),
    ]
    if fields.deadline:
        lines.append(
            _("Deadline: {when}").format(when=format_when(fields.deadline, ctx.language, tz))
        )
    if fields.starts_at:
        lines.append(
            _("When: {when}").format(
                when=format_span(fields.starts_at, fields.ends_at, ctx.language, tz)
            )
        )
    lines.append(_("Reminders: {remind}").format(remind=escape(fields.remind)))
    upcoming = fields.reminder_times(tz, after=utcnow())
    if upcoming and announcement.status is not Status.CANCELLED:
        moments = "; ".join(format_when(moment, ctx.language, tz) for moment in upcoming)
        lines.append(_("Next reminders: {moments}").format(moments=moments))
    lines.extend(["", bold(_("Publication:")), counts_line(report.publication)])
    lines.extend(broadcast_lines(ctx, report))
    return Reply("\n".join(lines))


def broadcast_lines(ctx: Context, report: DeliveryReport) -> list[str]:
    lines = []
    tz = ctx.settings.timezone
    for broadcast in report.broadcasts:
        if broadcast.purpose == "reminder":
            title = _("Reminder of {when}:").format(
                when=format_when(broadcast.due_at, ctx.language, tz)
            )
        elif broadcast.purpose == "correction":
            title = _("Correction of {when}:").format(
                when=format_when(broadcast.due_at, ctx.language, tz)
            )
        else:
            continue
        lines.extend([bold(title), counts_line(broadcast.counts)])
    return lines


async def cancel_announcement(ctx: Context, announcement_id: int) -> Reply:
    try:
        cancelled = await service(ctx).cancel(announcement_id, actor=ctx.actor)
    except UnknownAnnouncement:
        return unknown(announcement_id)
    if not cancelled:
        return Reply(_("Announcement #{id} was cancelled already.").format(id=announcement_id))
    return Reply(
        _("Cancelled announcement #{id}: messages not sent yet will not be sent.").format(
            id=announcement_id
        )
    )


# --- GDPR -----------------------------------------------------------------------------------------


async def export_drafts(ctx: Context) -> dict[str, Any]:
    """The sender's unfinished announcements, and how many broadcasts this chat received."""
    data: dict[str, Any] = {
        "broadcasts_received": await ctx.storage.outbox.deliveries_of_chat(ctx.chat.id)
    }
    drafts = await ctx.storage.drafts.of_identity(ctx.actor)
    if drafts:
        data["announcement_drafts"] = [
            {"step": d.step, "answers": d.data, "updated_at": to_db(d.updated_at)} for d in drafts
        ]
    return data
