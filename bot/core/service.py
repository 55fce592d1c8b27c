"""The core: turns a neutral Incoming message into replies, whatever the platform."""

from __future__ import annotations

import logging
import secrets
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from bot.clock import utcnow
from bot.config import Settings
from bot.core.context import Context
from bot.core.conversation import Choices, Conversations, typed_number, yes_or_no
from bot.core.liveness import Liveness
from bot.core.markup import escape
from bot.core.messages import MAX_MESSAGE_LENGTH, ChatRef, Incoming, Reply
from bot.core.registry import Audience, Command, CommandRegistry
from bot.core.topics import Topics
from bot.faq import FaqMatcher
from bot.i18n import _, language_from_hint, use_language
from bot.metrics import Metrics
from bot.questions.drafts import QuestionDrafts
from bot.storage import Storage
from bot.storage.chats import Chat

log = logging.getLogger(__name__)

TextHandler = Callable[[Context, str], Awaitable[list[Reply]]]
# A conversation in progress (a staff member's guided flow) gets free text first: it answers
# with replies, or None to let the text go on to the next handler.
FlowHandler = Callable[[Context, str], Awaitable[list[Reply] | None]]
ExportProvider = Callable[[Context], Awaitable[dict[str, Any]]]
ForgetHook = Callable[[ChatRef], Awaitable[None]]
# Run by `forget` before the chat's row goes (its data is still there to find).
EraseHook = Callable[[Context], Awaitable[None]]
# A transport's own line for `privacy` about a chat (in the current language), or None.
PrivacyNote = Callable[[ChatRef], str | None]
# Told the identity ('telegram:42') whose role an admin changed, e.g. to refresh its menus.
StaffChangedHook = Callable[[str], Awaitable[None]]


class Core:
    """Commands, subscriptions and staff flows over storage; knows no chat platform."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        topics: Topics,
        registry: CommandRegistry | None = None,
    ) -> None:
        from bot.core.commands import registry as default_registry
        from bot.core.commands.faq import faq_text_handler

        self.storage = storage
        self.settings = settings
        self.topics = topics
        self.registry = registry or default_registry
        self.text_handler: TextHandler = faq_text_handler
        self.flow_handlers: list[FlowHandler] = []
        self.export_providers: list[ExportProvider] = []
        self.faq: FaqMatcher | None = None
        self.forget_hooks: list[ForgetHook] = []
        self.erase_hooks: list[EraseHook] = []
        self.privacy_notes: list[PrivacyNote] = []
        self.staff_changed_hooks: list[StaffChangedHook] = []
        self.conversations = Conversations()
        # A reply to one of the bot's messages (Incoming.reply_to) is offered to these first:
        # a staff member answering a question post by replying to it.
        self.reply_handlers: list[FlowHandler] = []
        self.question_drafts = QuestionDrafts()
        # Told when the core wrote outbox rows that should go now (a question's post, an answer):
        # the running dispatcher looks at once instead of at its next poll.
        self.outbox_written_hooks: list[Callable[[], None]] = []
        self.started_at = utcnow()
        # Transports report each completed poll or sync here, for `ngo-bot health`.
        self.liveness = Liveness()
        # What the bot does, counted for /metrics (the running bot shares it with its services).
        self.metrics = Metrics()

    async def handle(self, incoming: Incoming) -> list[Reply]:
        """Answer one message. Never raises: a failure becomes an apology with a reference id.

        The time it takes is the reply latency of /metrics."""
        started = time.perf_counter()
        try:
            return await self._handle(incoming)
        finally:
            self.metrics.reply_took(time.perf_counter() - started)

    async def _handle(self, incoming: Incoming) -> list[Reply]:
        language = self.settings.default_language
        try:
            chat = await self._chat_for(incoming)
            language = chat.language or language
            with use_language(language):
                replies = await self._dispatch(incoming, chat, language)
            self.conversations.remember(incoming, replies)
            return replies
        except Exception:
            reference = secrets.token_hex(4)
            log.exception(
                "error %s while handling a message in %s (%s)",
                reference,
                incoming.chat,
                describe(incoming.text),
            )
            with use_language(language):
                return [Reply(apology(reference))]

    def outbox_written(self) -> None:
        """New outbox rows are due now: wake the dispatcher(s) in this process."""
        for hook in self.outbox_written_hooks:
            hook()

    async def chat_moved(self, old: ChatRef, new: ChatRef) -> None:
        """A platform gave a chat a new id (a Telegram group became a supergroup)."""
        if await self.storage.chats.move(old, new):
            await self.storage.staff.move_refusals(str(old), str(new))
            log.info("chat %s moved to %s", old, new)

    async def chat_reachable(self, ref: ChatRef, reachable: bool) -> None:
        """The bot was added back to a chat, or removed, kicked or blocked there."""
        if await self.storage.chats.set_active(ref, reachable):
            log.info("chat %s is now %s", ref, "active" if reachable else "inactive")

    async def staff_changed(self, identity: str) -> None:
        """An identity became staff or stopped being staff: tell the hooks (a failing one is
        logged; the change itself stands)."""
        for hook in self.staff_changed_hooks:
            try:
                await hook(identity)
            except Exception:
                log.exception("a staff-change hook failed for %s", identity)

    def command_menu(self, language: str, audience: Audience) -> list[tuple[str, str]]:
        """(name, one-line description) of the commands a role sees, for platform menus."""
        with use_language(language):
            return [(c.name, _(c.summary)) for c in self.registry.visible(audience, self.settings)]

    async def identities_with_role(self, platform: str) -> dict[str, Audience]:
        """Staff and admins on a platform (user part of the identity -> role), for menus."""
        roles = {identity: Audience.ADMIN for identity in self.settings.admins}
        for member in await self.storage.staff.all():
            roles.setdefault(
                member.identity, Audience.ADMIN if member.role == "admin" else Audience.STAFF
            )
        prefix = platform + ":"
        return {
            identity.removeprefix(prefix): role
            for identity, role in roles.items()
            if identity.startswith(prefix)
        }

    async def role_of(self, identity: str) -> Audience:
        """The sender's rights: admins from BOT_ADMINS or the staff table, then staff."""
        if identity in self.settings.admins:
            return Audience.ADMIN
        member = await self.storage.staff.get(identity)
        if member is None:
            return Audience.EVERYONE
        return Audience.ADMIN if member.role == "admin" else Audience.STAFF

    async def context_for(self, incoming: Incoming, chat: Chat, language: str) -> Context:
        return Context(self, incoming, chat, language, await self.role_of(incoming.sender_identity))

    async def _chat_for(self, incoming: Incoming) -> Chat:
        chat = await self.storage.chats.get(incoming.chat)
        if chat is None:
            hinted = language_from_hint(incoming.language_hint)
            return await self.storage.chats.ensure(incoming.chat, incoming.kind, hinted)
        if not chat.active:
            await self.storage.chats.set_active(incoming.chat, True)
        return chat

    async def _dispatch(self, incoming: Incoming, chat: Chat, language: str) -> list[Reply]:
        text = clean_text(incoming.text)
        ctx = await self.context_for(incoming, chat, language)
        if len(text) > MAX_MESSAGE_LENGTH:
            return [
                Reply(
                    _(
                        "Your message is too long for me to read ({length} characters; "
                        "the limit is {limit}). Please send it shorter."
                    ).format(length=len(text), limit=MAX_MESSAGE_LENGTH)
                )
            ]
        if not text:
            return [
                Reply(
                    _("I can only read text messages. Send {help} to see what I can do.").format(
                        help=ctx.cmd("help")
                    )
                )
            ]
        if not text.startswith("/"):
            return await self._free_text(ctx, text)
        name, _sep, args = text[1:].partition(" ")
        name = name.split("@", 1)[0].lower()
        command = self.registry.get(name)
        if command is None:
            return [
                Reply(
                    _("I don't know the command {command}. Send {help} to see the list.").format(
                        command=escape(ctx.cmd(name[:32])), help=ctx.cmd("help")
                    )
                )
            ]
        refusal = await self._refusal(ctx, command)
        if refusal is not None:
            return [refusal]
        return await command.handler(ctx, args.strip())

    async def _free_text(self, ctx: Context, text: str) -> list[Reply]:
        """Free text: the answer to a pending yes/no question, to a flow in progress (private
        chats only), a choice by its number, else to the text handler (the FAQ). A reply to one
        of the bot's messages goes to the reply handlers first."""
        if ctx.incoming.reply_to is not None:
            for handler in self.reply_handlers:
                replies = await handler(ctx, text)
                if replies is not None:
                    return replies
        answered = await self._typed_answer(ctx, text)
        if answered is not None:
            return answered
        if not ctx.incoming.kind.is_shared:
            for flow in self.flow_handlers:
                replies = await flow(ctx, text)
                if replies is not None:
                    return replies
        number = typed_number(text)
        if number is not None:
            return await self._typed_choice(ctx, number)
        return await self.text_handler(ctx, text)

    async def _typed_answer(self, ctx: Context, text: str) -> list[Reply] | None:
        """Yes or no typed while this sender's yes/no question waits here: as its button."""
        question = self.conversations.question(ctx.incoming)
        answer = yes_or_no(text, ctx.language) if question is not None else None
        if question is None or answer is None:
            return None
        command = question.confirmation.yes if answer else question.confirmation.no
        return await self._run_button(ctx, command)

    async def _typed_choice(self, ctx: Context, number: int) -> list[Reply]:
        """A number typed alone: the button with that number, or why there is none."""
        question = self.conversations.question(ctx.incoming)
        choices = self.conversations.choices(ctx.incoming)
        if question is not None:  # 1 is its Yes, 2 its No, while it waits
            choices = Choices(question.at, (question.confirmation.yes, question.confirmation.no))
        if choices is None or not choices.commands:
            return [Reply(_("Nothing to choose right now."))]
        if not 1 <= number <= len(choices.commands):
            return [
                Reply(
                    _(
                        "There is no choice number {number} right now. "
                        "Choose a number from 1 to {count}."
                    ).format(number=number, count=len(choices.commands))
                )
            ]
        return await self._run_button(ctx, choices.commands[number - 1])

    async def _run_button(self, ctx: Context, command: str) -> list[Reply]:
        """What pressing the button with `command` would have done, with the sender's rights now."""
        incoming = replace(ctx.incoming, text="/" + command)
        return await self._dispatch(incoming, ctx.chat, ctx.language)

    async def _refusal(self, ctx: Context, command: Command) -> Reply | None:
        """A polite refusal when the sender may not use the command here, else None."""
        if ctx.role < command.audience:
            await self.storage.staff.audit_refusal(ctx.actor, command.name)
            log.warning("refused /%s to %s: not authorised", command.name, ctx.actor)
            if command.audience is Audience.ADMIN:
                return Reply(_("Sorry, only the bot's administrators can use this command."))
            return Reply(_("Sorry, this command is for the office's staff only."))
        shared = ctx.incoming.kind.is_shared
        if command.admin_in_groups and shared and not ctx.incoming.sender_is_admin:
            return await self.refuse_group_setting(ctx, command.name)
        return None

    async def refuse_group_setting(self, ctx: Context, command: str) -> Reply:
        """A group member who is not its administrator tried to change its settings: audited."""
        chat = str(ctx.chat.ref)
        await self.storage.staff.audit_refusal(ctx.actor, command, chat=chat)
        log.warning("refused /%s to %s in %s: not the group's admin", command, ctx.actor, chat)
        return Reply(_("Only this group's administrators can change its settings."))


def clean_text(text: str) -> str:
    """Strip surrounding space and control characters (binary junk) except newlines and tabs."""
    kept = (ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs", "Co"))
    return "".join(kept).strip()


def describe(text: str) -> str:
    """What a log line may say about a message: its shape, not its content."""
    if text.startswith(("/", "!")):
        return "command " + text.split()[0][:32] if text.split() else "empty command"
    return f"text of {len(text)} characters"


def apology(reference: str) -> str:
    return _(
        "Sorry, something went wrong on my side. Please try again in a moment. "
        "If it keeps happening, tell the office this reference: {reference}"
    ).format(reference=reference)
