"""GDPR/RODO: what is stored (privacy), handing it over (export), erasing it (forget)."""

from __future__ import annotations

import json
from typing import Any

from bot import __version__
from bot.clock import to_db, utcnow
from bot.core.context import Context
from bot.core.conversation import CONFIRM_WORD, DECLINE_WORD
from bot.core.markup import bold, escape
from bot.core.messages import Attachment, Button, Reply, confirmation_reply
from bot.core.registry import registry
from bot.i18n import N_, _
from bot.storage.chats import Chat


@registry.command("privacy", N_("What the bot stores about this chat, and your rights"))
async def privacy(ctx: Context, args: str) -> list[Reply]:
    operator = (
        escape(ctx.settings.operator)
        if ctx.settings.operator
        else _(
            "the office of the Mayor of Kraków's Plenipotentiary for Non-Governmental Organisations, "
            "Wydział Polityki Społecznej i Zdrowia UMK, ul. Dekerta 24, 30-703 Kraków"
        )
    )
    lines = [
        bold(_("Privacy")),
        _(
            "What I store: this chat's id and kind (private or group), its language, the topics "
            "it subscribed to and since when, whether it chose the weekly digest, and whether I "
            "can still reach it. I do not store names, phone numbers or your messages."
        ),
        _(
            "Questions I could not answer are kept for 90 days without any user id, so the office "
            "can add answers. Staff members' identities and their actions are kept so that every "
            "announcement has an author."
        ),
        _(
            "Questions sent to the office (with {ask} or the button under an answer I could "
            "not give) are kept with this chat's id until they are answered or closed, then for "
            "90 days, so that the answer reaches you; the office's staff see the question, its "
            "language and platform, never your name."
        ).format(ask=ctx.cmd("ask")),
        _(
            "When someone tries a command they may not use (a staff command, or a group's "
            "settings without being its administrator), I keep their user id, the command and "
            "the chat for 90 days, to notice misuse."
        ),
        _(
            "Staff who use the web console: their login links (15 minutes) and sessions (until "
            "logout or 12 idle hours) are kept with their identity and times, never the tokens "
            "themselves."
        ),
        _(
            "In a forum group each topic with its own subscriptions is kept the same way, as a "
            "chat of its own; {forget} in a topic erases that topic, in the group's main chat "
            "the group and all its topics."
        ).format(forget=ctx.cmd("forget")),
        *transport_notes(ctx),
        _("Why: to send this chat the topics it chose, in its language."),
        _(
            "How long: until you erase it with {forget}. A chat that blocks or removes the bot is "
            "marked inactive and receives nothing."
        ).format(forget=ctx.cmd("forget")),
        _("Who is responsible: {operator}.").format(operator=operator),
        _(
            "Your rights: {export} sends you everything stored about this chat as a file; "
            "{forget} erases it."
        ).format(export=ctx.cmd("export"), forget=ctx.cmd("forget")),
    ]
    return [Reply("\n\n".join(lines))]


def transport_notes(ctx: Context) -> list[str]:
    """What the chat's transport keeps beside the database (e.g. Matrix encryption keys)."""
    notes = (note(ctx.chat.ref) for note in ctx.core.privacy_notes)
    return [note.format(forget=ctx.cmd("forget")) for note in notes if note is not None]


@registry.command("export", N_("Everything stored about this chat, as a file"))
async def export(ctx: Context, args: str) -> list[Reply]:
    data = await export_data(ctx)
    payload = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    filename = f"ngo-bot-export-{ctx.chat.ref.platform}-{safe_name(ctx.chat.ref.chat_id)}.json"
    return [
        Reply(
            _("Here is everything I store about this chat."),
            attachment=Attachment(filename, "application/json", payload),
        )
    ]


@registry.command("forget", N_("Erase everything stored about this chat"), admin_in_groups=True)
async def forget(ctx: Context, args: str) -> list[Reply]:
    if args.lower() == DECLINE_WORD:
        return [Reply(_("All right: nothing was erased."))]
    if args.lower() != CONFIRM_WORD:
        return [
            confirmation_reply(
                _(
                    "This erases this chat's language and subscriptions; I will send it nothing more. "
                    "Are you sure? Send {confirm} to confirm."
                ).format(confirm=ctx.cmd(f"forget {CONFIRM_WORD}")),
                Button(_("Yes, erase everything"), f"forget {CONFIRM_WORD}"),
                Button(_("No, keep it"), f"forget {DECLINE_WORD}"),
            )
        ]
    for erase in ctx.core.erase_hooks:
        await erase(ctx)
    threads = await ctx.storage.chats.threads_of(ctx.chat.ref)
    await ctx.storage.chats.delete(ctx.chat.id)
    await ctx.storage.chats.delete_threads(ctx.chat.ref)
    await forget_refusals(ctx)
    if not ctx.incoming.kind.is_shared:  # the person's web console sessions and login links
        await ctx.storage.web.forget_identity(ctx.actor)
    for thread in threads:  # a group's topics: the refusals recorded there go too
        await ctx.storage.staff.forget_refusals(chat=str(thread.ref))
    for hook in ctx.core.forget_hooks:
        await hook(ctx.chat.ref)
    return [
        Reply(
            _(
                "Done: everything about this chat is erased. If you write to me again, "
                "we start from scratch."
            )
        )
    ]


async def forget_refusals(ctx: Context) -> None:
    """Erase the refusals recorded about this chat: a group's, or in a private chat the person's.

    The person's staff actions stay in the audit log (every announcement keeps its author).
    """
    shared = ctx.incoming.kind.is_shared
    await ctx.storage.staff.forget_refusals(
        actor=None if shared else ctx.actor, chat=str(ctx.chat.ref) if shared else None
    )


async def export_data(ctx: Context) -> dict[str, Any]:
    """The chat's data, plus what each feature adds through the core's export providers."""
    chat = ctx.chat
    subscriptions = await ctx.storage.chats.subscribed_at(chat.id)
    data: dict[str, Any] = {
        "exported_at": to_db(utcnow()),
        "bot_version": __version__,
        "chat": {
            "platform": chat.ref.platform,
            "chat_id": chat.ref.chat_id,
            "kind": chat.kind.value,
            "language": chat.language,
            "active": chat.active,
            "created_at": to_db(chat.created_at),
        },
        "subscriptions": [
            {"topic": topic, "since": to_db(since)} for topic, since in subscriptions.items()
        ],
    }
    threads = await ctx.storage.chats.threads_of(chat.ref)
    if threads:
        data["threads"] = [await thread_data(ctx, thread) for thread in threads]
    inbox = await ctx.storage.inbox.all_for(chat.id)
    if inbox:
        data["console_inbox"] = [{"at": to_db(m.created_at), "text": m.text} for m in inbox]
    member = await ctx.storage.staff.get(ctx.actor)
    if member is not None:
        data["staff"] = {
            "identity": member.identity,
            "role": member.role,
            "added_by": member.added_by,
            "added_at": to_db(member.added_at),
        }
    # Staff get their actions (and refusals) anywhere; anyone else, in a private chat, the
    # commands they were refused: never posted into a group for its members to read.
    if member is not None or not ctx.incoming.kind.is_shared:
        entries = await ctx.storage.staff.audit_log(ctx.actor, limit=10_000)
        if entries or member is not None:
            data["audit_log"] = [
                {"at": to_db(e.at), "action": e.action, "detail": e.detail} for e in entries
            ]
    for provider in ctx.core.export_providers:
        data.update(await provider(ctx))
    return data


async def thread_data(ctx: Context, thread: Chat) -> dict[str, Any]:
    """A thread of the chat (a forum topic): its id, language and subscriptions."""
    subscriptions = await ctx.storage.chats.subscribed_at(thread.id)
    return {
        "chat_id": thread.ref.chat_id,
        "language": thread.language,
        "active": thread.active,
        "created_at": to_db(thread.created_at),
        "subscriptions": [
            {"topic": topic, "since": to_db(since)} for topic, since in subscriptions.items()
        ],
    }


def safe_name(text: str) -> str:
    """A chat id as a file-name part."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)[:64]
