"""`announce`: the guided flow that writes an announcement, and corrections of stored ones.

The flow asks one field at a time and keeps the answers in a draft in the database (keyed by the
staff identity and the chat), so a restart loses nothing: the next message continues the step.
Buttons send `announce pick <step> <value>`, tied to the step they belong to, so a button pressed
late cannot answer a different question. While a draft exists, the staff member's free text in
that private chat goes to the flow; commands keep working and `cancel` leaves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from bot.announcements.model import Announcement, AnnouncementError, Status
from bot.announcements.render import format_when, render_publication
from bot.announcements.service import UnknownAnnouncement
from bot.clock import from_db, to_db, utcnow
from bot.core.commands.announce_steps import (
    CHANGES,
    CLEARS,
    CORRECTING,
    CORRECTION_FIELDS,
    FIELD_ALIASES,
    FOLLOW_UPS,
    MODE,
    ORDER,
    TARGET,
    FlowError,
    Step,
    applies,
    as_step,
    draft_from_fields,
    field_label,
    field_values,
    fields_from_draft,
    next_step,
    parse_answer,
    prompt,
    service,
    unknown,
    with_problem,
    words,
)
from bot.core.context import Context, command_prefix
from bot.core.conversation import CONFIRM_WORD, DECLINE_WORD
from bot.core.markup import bold, escape
from bot.core.messages import Button, Reply, confirmation_reply
from bot.core.registry import Audience, registry
from bot.i18n import LANGUAGE_NAMES, N_, _, use_language
from bot.storage.announcements import Draft
from bot.storage.outbox import Counts

# --- the flow -----------------------------------------------------------------------------------


async def save(ctx: Context, step: Step | str, data: dict[str, Any]) -> None:
    await ctx.storage.drafts.save(ctx.actor, ctx.chat.id, str(step), data, utcnow())


async def drop(ctx: Context) -> bool:
    return await ctx.storage.drafts.delete(ctx.actor, ctx.chat.id)


async def flow_text(ctx: Context, text: str) -> list[Reply] | None:
    """Free text of a staff member with a draft in this chat: the answer to its step."""
    if ctx.role < Audience.STAFF:
        return None  # everyone else's text goes straight on, without a database look-up
    draft = await ctx.storage.drafts.get(ctx.actor, ctx.chat.id)
    if draft is None:
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
    prefix = command_prefix(ctx.chat.ref.platform)
    replies = []
    for language in ("pl", "uk", "en"):
        if language != "pl" and not fields.has_language(language):
            continue
        heading = bold(_("Preview — {language}:").format(language=LANGUAGE_NAMES[language]))
        with use_language(language):
            text = render_publication(
                fields, language, ctx.topics, ctx.settings.timezone, prefix=prefix
            )
        replies.append(Reply(f"{heading}\n\n{text}"))
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
    draft = await current_draft(ctx)
    if draft is None:
        return [Reply(_("There is nothing to cancel."))]
    await drop(ctx)
    if draft.data.get(MODE) == CORRECTING:
        return [Reply(_("Cancelled. Nothing was changed."))]
    return [Reply(_("Cancelled. Nothing was published."))]


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
    if await current_draft(ctx) is not None:
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
        return await resume(ctx, "")  # not in the preview: the question being asked, if any
    return await create(ctx, dict(draft.data), utcnow())


async def schedule(ctx: Context, args: str) -> list[Reply]:
    draft = await in_preview(ctx)
    if draft is None:
        return await resume(ctx, "")  # not in the preview: the question being asked, if any
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
    steps = [s for s in ORDER if applies(s, draft.data) and s not in FOLLOW_UPS]
    buttons = tuple((Button(field_label(s), f"announce goto {s.value}"),) for s in steps)
    return [Reply(_("Which part do you want to change?"), buttons=buttons)]


async def goto(ctx: Context, args: str) -> list[Reply]:
    draft = await in_preview(ctx)
    if draft is None:
        return await resume(ctx, "")  # not in the preview: the question being asked, if any
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
        if Step(name) not in FOLLOW_UPS
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
        replies.append(notice_question(announcement_id))
    elif result.mentionable:
        replies.append(nobody_received(announcement_id))
    return replies


def notice_question(announcement_id: int) -> Reply:
    """Whether to tell the chats that have the announcement about the change."""
    return confirmation_reply(
        _("Send a short correction notice to the chats that have received it?"),
        Button(_("Yes, send it"), f"announce notify {announcement_id} {CONFIRM_WORD}"),
        Button(_("No"), f"announce notify {announcement_id} {DECLINE_WORD}"),
    )


def nobody_received(announcement_id: int) -> Reply:
    """No correction notice to offer: the messages still waiting go out with the change."""
    return Reply(
        _(
            "Nobody has received it yet, so no correction notice is needed: the messages "
            "still waiting go out with the change."
        ),
        buttons=((Button(_("Change something else"), f"announce edit {announcement_id}"),),),
    )


async def notify(ctx: Context, args: str) -> list[Reply]:
    id_text, _sep, choice = args.partition(" ")
    if not id_text.isdigit():
        return [
            Reply(_("Send {example}.").format(example=escape(ctx.cmd("announce notify ID yes"))))
        ]
    if choice.strip().lower() != CONFIRM_WORD:
        return [Reply(_("All right, no correction notice."))]
    try:
        sent = await service(ctx).notify(int(id_text), actor=ctx.actor)
    except UnknownAnnouncement:
        return [unknown(int(id_text))]
    if not sent:
        return [Reply(_("There is nothing to send a correction about."))]
    return [Reply(_("The correction notice is on its way."))]


@registry.command("cancel", N_("Leave the step-by-step announcement"), hidden=True)
async def cancel(ctx: Context, args: str) -> list[Reply]:
    return await cancel_draft(ctx)


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
