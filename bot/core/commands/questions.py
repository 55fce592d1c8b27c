"""Ask the office: `ask`, the abstention's button, and the staff's `answer`, `close` and
`questions`; a staff member's reply to a question post answers it too."""

from __future__ import annotations

import re
from typing import Any

from bot.clock import to_db, utcnow
from bot.config import Settings
from bot.core.context import Context
from bot.core.conversation import CONFIRM_WORD, DECLINE_WORD
from bot.core.markup import bold, escape
from bot.core.messages import Button, ChatRef, Reply, confirmation_reply
from bot.core.registry import Audience, registry
from bot.i18n import N_, _, use_language
from bot.questions.drafts import QuestionDraft
from bot.questions.service import (
    LISTED,
    MAX_OPEN_PER_CHAT,
    MAX_QUESTION_LENGTH,
    Filed,
    FileResult,
    QuestionService,
    Settle,
    is_staff_chat,
    language_name,
    listing_line,
    response_time,
)
from bot.storage.questions import QuestionState

DRAFT_COMMAND = "askdraft"
_NUMBER = re.compile(r"#?(\d{1,9})")


def questions_on(settings: Settings) -> bool:
    """The feature's commands are listed only when BOT_STAFF_CHATS names a staff chat."""
    return settings.questions_enabled


def service(ctx: Context) -> QuestionService:
    return QuestionService(ctx.storage, ctx.settings, on_written=ctx.core.outbox_written)


def ask_button(ctx: Context, text: str, language: str, unanswered_id: int | None) -> Button:
    """The "Ask the office" button under an abstention (in the answer's language)."""
    token = ctx.core.question_drafts.offer(ctx.chat.ref, text, language, unanswered_id)
    with use_language(language):
        return Button(_("📨 Ask the office"), f"{DRAFT_COMMAND} {token}")


@registry.command(
    "ask",
    N_("Send a question to the office's staff; the answer comes back here"),
    usage=N_("<question>"),
    available=questions_on,
)
async def ask(ctx: Context, args: str) -> list[Reply]:
    if not ctx.settings.questions_enabled:
        return [off_reply(ctx)]
    if not args.strip():
        return [
            Reply(
                _("Write your question after the command, for example: {example}").format(
                    example=escape(ctx.cmd("ask") + " " + _("How do I register an association?"))
                )
            )
        ]
    language = detected_language(ctx, args)
    result = await service(ctx).file(ctx.chat, args, language, utcnow())
    with use_language(language):
        return [await filed_reply(ctx, result, language)]


@registry.command(DRAFT_COMMAND, N_("Send the question just asked to the office"), hidden=True)
async def ask_draft(ctx: Context, args: str) -> list[Reply]:
    """The abstention's button: show what will be sent and to whom, then send it on yes."""
    token, _sep, answer = args.partition(" ")
    answer = answer.strip().lower()
    draft = ctx.core.question_drafts.get(token, ctx.chat.ref)
    if answer == DECLINE_WORD:
        ctx.core.question_drafts.drop(token)
        return [Reply(_("All right: nothing was sent."))]
    if draft is None:
        return [
            Reply(
                _(
                    "I no longer have that question. Send it again with {ask} followed by the "
                    "question."
                ).format(ask=ctx.cmd("ask"))
            )
        ]
    if not ctx.settings.questions_enabled:
        return [off_reply(ctx)]
    with use_language(draft.language):  # the language the bot said "I don't know" in
        return [await confirm_or_file(ctx, token, draft, answer == CONFIRM_WORD)]


async def confirm_or_file(ctx: Context, token: str, draft: QuestionDraft, confirmed: bool) -> Reply:
    if not confirmed:
        return confirmation_reply(
            "\n\n".join(
                [
                    _("I will send this question to the office:"),
                    f"<i>{escape(draft.text)}</i>",
                    _(
                        "The office's staff will read it in their chat (with its number and "
                        "language, without your name) and answer here. Send it?"
                    ),
                ]
            ),
            Button(_("Yes, send it"), f"{DRAFT_COMMAND} {token} {CONFIRM_WORD}"),
            Button(_("No"), f"{DRAFT_COMMAND} {token} {DECLINE_WORD}"),
        )
    result = await service(ctx).file(
        ctx.chat, draft.text, draft.language, utcnow(), unanswered_id=draft.unanswered_id
    )
    if result.status is Filed.FILED:
        ctx.core.question_drafts.drop(token)
    return await filed_reply(ctx, result, draft.language)


def detected_language(ctx: Context, text: str) -> str:
    """The question's language as the FAQ reads it (else the chat's)."""
    from bot.faq import detect_language

    return detect_language(text, ctx.language)


async def filed_reply(ctx: Context, result: FileResult, language: str) -> Reply:
    """What the asker is told, in the question's language (the current one)."""
    if result.status is Filed.FILED:
        return Reply(
            " ".join(
                [
                    _(
                        "📨 Your question #{number} has been sent to the office. A person will "
                        "answer here, in this chat (the question's language: {language})."
                    ).format(number=result.number, language=language_name(language, language)),
                    escape(response_time(ctx.settings, language)),
                ]
            ).strip()
        )
    if result.status is Filed.OFF:
        return off_reply(ctx)
    if result.status is Filed.BLOCKED:
        return Reply(
            _(
                "Sorry, questions from this chat are not passed on to the office. You can "
                "contact the office directly: {contact} shows how."
            ).format(contact=ctx.cmd("faq contact"))
        )
    if result.status is Filed.TOO_LONG:
        return Reply(
            _(
                "Your question is too long for the office (at most {limit} characters). "
                "Please shorten it and send it again with {ask}."
            ).format(limit=f"{MAX_QUESTION_LENGTH:,}".replace(",", "\u00a0"), ask=ctx.cmd("ask"))
        )
    if result.status is Filed.TOO_MANY:
        return Reply(
            _(
                "This chat already has {count} questions waiting for the office ({numbers}). "
                "You can ask another one as soon as one of them is answered."
            ).format(
                count=MAX_OPEN_PER_CHAT,
                numbers=", ".join(f"#{number}" for number in result.open_numbers),
            )
        )
    return Reply(_("Write your question after the command."))


def off_reply(ctx: Context) -> Reply:
    return Reply(
        _(
            "This bot does not pass questions on to the office. You can contact the office "
            "directly: {contact} shows how."
        ).format(contact=ctx.cmd("faq contact"))
    )


# --- staff ----------------------------------------------------------------------------------


def who(ctx: Context) -> str:
    return ctx.incoming.sender_name or ctx.actor


@registry.command(
    "answer",
    N_("Answer a question sent to the office"),
    usage=N_("<number> <answer>"),
    audience=Audience.STAFF,
    available=questions_on,
)
async def answer(ctx: Context, args: str) -> list[Reply]:
    number_text, _sep, text = args.strip().partition(" ")
    match = _NUMBER.fullmatch(number_text)
    if match is None or not text.strip():
        return [
            Reply(
                _("Use: {answer}, or reply to the question's message.").format(
                    answer=escape(ctx.cmd("answer 12") + " " + _("your answer"))
                )
            )
        ]
    return await answer_number(ctx, int(match.group(1)), text)


async def answer_number(ctx: Context, number: int, text: str) -> list[Reply]:
    """Answer; in a staff chat the note "✅ #N answered by ..." that follows says it is done."""
    status, _question = await service(ctx).answer(number, text, ctx.actor, who(ctx), utcnow())
    if status is Settle.DONE and is_staff_chat(ctx.settings, ctx.chat.ref):
        return []
    if status is Settle.DONE:
        return [
            Reply(_("Your answer to #{number} is on its way to the person.").format(number=number))
        ]
    return [settle_problem(status, number)]


@registry.command(
    "close",
    N_("Close a question for the office without an answer"),
    usage=N_("<number>"),
    audience=Audience.STAFF,
    available=questions_on,
)
async def close(ctx: Context, args: str) -> list[Reply]:
    match = _NUMBER.fullmatch(args.strip())
    if match is None:
        return [Reply(_("Use: {close}").format(close=escape(ctx.cmd("close 12"))))]
    number = int(match.group(1))
    status, _question = await service(ctx).close(number, ctx.actor, who(ctx), utcnow())
    if status is Settle.DONE:
        return [Reply(_("Question #{number} is closed; the person is told.").format(number=number))]
    return [settle_problem(status, number)]


def settle_problem(status: Settle, number: int) -> Reply:
    if status is Settle.ANSWERED:
        return Reply(_("Question #{number} has already been answered.").format(number=number))
    if status is Settle.CLOSED:
        return Reply(_("Question #{number} has already been closed.").format(number=number))
    if status is Settle.EMPTY:
        return Reply(_("The answer is empty: write it after the question's number."))
    return Reply(_("There is no question #{number}.").format(number=number))


@registry.command(
    "questions",
    N_("Open questions for the office; block or unblock a chat from asking"),
    usage=N_("[block|unblock <number>|<platform>:<chat id>]"),
    audience=Audience.STAFF,
    available=questions_on,
)
async def questions(ctx: Context, args: str) -> list[Reply]:
    action, _sep, target = args.strip().partition(" ")
    action = action.lower()
    if action in ("block", "unblock"):
        return [await block(ctx, action, target.strip())]
    waiting = await ctx.storage.questions.in_state(QuestionState.OPEN)
    if not waiting:
        return [Reply(_("No open questions for the office."))]
    lines = [
        bold(_("Open questions for the office ({count}), oldest first:").format(count=len(waiting)))
    ]
    lines += [listing_line(question, ctx.language, ctx.settings) for question in waiting[:LISTED]]
    if len(waiting) > LISTED:
        lines.append(escape(_("… and {count} more.").format(count=len(waiting) - LISTED)))
    return [Reply("\n\n".join(lines))]


async def block(ctx: Context, action: str, target: str) -> Reply:
    """`questions block 12` (the chat that asked #12) or `questions block telegram:123`."""
    chat = await chat_of(ctx, target)
    if chat is None:
        return Reply(
            _(
                "Use: {block} (the chat that asked question 12), {block_chat} (a chat by its"
                " platform and ID) or {unblock}."
            ).format(
                block=escape(ctx.cmd("questions block 12")),
                block_chat=escape(ctx.cmd("questions block telegram:123456")),
                unblock=escape(ctx.cmd("questions unblock 12")),
            )
        )
    store = ctx.storage.questions
    if action == "block":
        await store.block(chat.id, ctx.actor, utcnow())
        await ctx.storage.staff.audit(ctx.actor, "questions block", str(chat.ref))
        return Reply(
            _("That chat can no longer send questions to the office ({unblock} undoes it).").format(
                unblock=escape(ctx.cmd(f"questions unblock {target}"))
            )
        )
    await store.unblock(chat.id)
    await ctx.storage.staff.audit(ctx.actor, "questions unblock", str(chat.ref))
    return Reply(_("That chat can send questions to the office again."))


async def chat_of(ctx: Context, target: str) -> Any:
    match = _NUMBER.fullmatch(target)
    if match is not None:
        question = await ctx.storage.questions.get(int(match.group(1)))
        return await ctx.storage.chats.get(question.chat) if question else None
    platform, _sep, chat_id = target.partition(":")
    if not chat_id:
        return None
    return await ctx.storage.chats.get(ChatRef(platform, chat_id))


async def staff_reply(ctx: Context, text: str) -> list[Reply] | None:
    """A reply to a question's post in a staff chat: the answer (staff only; others refused)."""
    reply_to = ctx.incoming.reply_to
    if reply_to is None or not is_staff_chat(ctx.settings, ctx.chat.ref):
        return None
    number = await ctx.storage.questions.question_of_post(ctx.chat.ref, reply_to)
    if number is None:
        return None
    if ctx.role < Audience.STAFF:
        await ctx.storage.staff.audit_refusal(ctx.actor, "answer")
        return [Reply(_("Sorry, only the office's staff can answer questions."))]
    return await answer_number(ctx, number, text)


# --- privacy ----------------------------------------------------------------------------------


async def export_questions(ctx: Context) -> dict[str, Any]:
    """The chat's questions for the office and their answers, for `export`."""
    asked = await ctx.storage.questions.of_chat(ctx.chat.id)
    if not asked:
        return {}
    return {
        "questions": [
            {
                "id": question.id,
                "lang": question.language,
                "state": question.state.value,
                "asked_at": to_db(question.asked_at),
                "text": question.text,
                "answer": question.answer,
                "answered_at": to_db(question.answered_at) if question.answered_at else None,
            }
            for question in asked
        ]
    }


async def erase_questions(ctx: Context) -> None:
    """`forget`: the chat's questions go, and their copies in the staff chats say so."""
    erasing = [ctx.chat, *await ctx.storage.chats.threads_of(ctx.chat.ref)]
    for chat in erasing:  # a forum group's topics are erased with it
        ctx.core.question_drafts.drop_chat(chat.ref)
        await service(ctx).erase_chat(chat, utcnow())
