"""Ask the office: file a question, answer or close it, erase a chat's, remind of old ones.

Shared by the chat commands (bot/core/commands/questions.py), the command line
(bot/questions/cli.py) and the scheduler. Every message this sends goes through the outbox:
the question's post into each staff chat, the answer to the asking chat, the staff chats' notes.
Texts are rendered when written, each in its recipient chat's language.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path

from babel import Locale
from babel.dates import format_timedelta

from bot.config import Settings
from bot.core.context import command_prefix
from bot.core.markup import bold, escape
from bot.core.messages import ChatKind, ChatRef
from bot.faq.unanswered import shorten
from bot.i18n import _, use_language
from bot.storage import Storage
from bot.storage.chats import Chat
from bot.storage.questions import Notice, Question, QuestionState

MAX_QUESTION_LENGTH = 2000
MAX_OPEN_PER_CHAT = 3
QUESTIONS_FILE = "questions.toml"
PLATFORM_NAMES = {"telegram": "Telegram", "matrix": "Matrix", "console": "console"}
# Platforms where staff can answer by replying to the question's message.
REPLYABLE = ("telegram", "matrix")
LISTED = 20


class Filed(StrEnum):
    FILED = "filed"
    OFF = "off"
    BLOCKED = "blocked"
    TOO_LONG = "too long"
    TOO_MANY = "too many"
    EMPTY = "empty"


@dataclass(frozen=True)
class FileResult:
    status: Filed
    number: int | None = None
    open_numbers: tuple[int, ...] = ()


class Settle(StrEnum):
    DONE = "done"
    MISSING = "missing"
    ANSWERED = "answered"
    CLOSED = "closed"
    EMPTY = "empty"


def staff_chat_kind(ref: ChatRef) -> ChatKind:
    """How a configured staff chat is stored before it ever wrote: groups have negative ids."""
    if ref.platform == "matrix":
        return ChatKind.ROOM
    if ref.platform == "telegram" and ref.chat_id.startswith("-"):
        return ChatKind.GROUP
    return ChatKind.PRIVATE


def staff_refs(settings: Settings) -> list[ChatRef]:
    refs = []
    for item in settings.staff_chats:
        platform, _sep, chat_id = item.partition(":")
        refs.append(ChatRef(platform, chat_id))
    return refs


def is_staff_chat(settings: Settings, ref: ChatRef) -> bool:
    return str(ref) in settings.staff_chats


def clean_question(text: str) -> str:
    """The text as kept and shown: valid UTF-8, no control characters but line breaks."""
    valid = text.encode("utf-8", "replace").decode("utf-8")
    kept = "".join(ch for ch in valid if ch in "\n\t" or ch.isprintable())
    return kept.strip()


def language_name(code: str, in_language: str) -> str:
    """A language's name in another language (Babel's CLDR data), e.g. 'uk' in English."""
    try:
        return str(Locale.parse(code).get_display_name(in_language))
    except (ValueError, LookupError):
        return code


def local_time(moment: datetime, settings: Settings) -> str:
    return moment.astimezone(settings.timezone).strftime("%d.%m.%Y %H:%M")


def response_time(settings: Settings, language: str) -> str:
    """The content's sentence on how long answers usually take, in `language` (else Polish)."""
    sentences = _response_times(settings.content_dir)
    return sentences.get(language) or sentences.get("pl") or ""


def _response_times(content_dir: Path | None) -> dict[str, str]:
    if content_dir is not None and (content_dir / QUESTIONS_FILE).is_file():
        text = (content_dir / QUESTIONS_FILE).read_text("utf-8")
    else:
        text = (resources.files("bot.content") / QUESTIONS_FILE).read_text("utf-8")
    table = tomllib.loads(text).get("response_time", {})
    return {str(k): str(v) for k, v in table.items()} if isinstance(table, dict) else {}


class QuestionService:
    """The questions for the office over storage and settings; knows no chat platform."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        *,
        on_written: Callable[[], None] | None = None,
    ) -> None:
        self._storage = storage
        self._settings = settings
        # Told after outbox rows were written (wakes the dispatcher of this process).
        self._on_written = on_written

    def _written(self) -> None:
        if self._on_written is not None:
            self._on_written()

    # --- asking ---------------------------------------------------------------------------

    async def file(
        self,
        chat: Chat,
        text: str,
        language: str,
        now: datetime,
        *,
        unanswered_id: int | None = None,
    ) -> FileResult:
        """Send a question from `chat` to the staff chats, within the limits."""
        store = self._storage.questions
        text = clean_question(text)
        if not self._settings.questions_enabled:
            return FileResult(Filed.OFF)
        if not text:
            return FileResult(Filed.EMPTY)
        if await store.is_blocked(chat.id):
            return FileResult(Filed.BLOCKED)
        if len(text) > MAX_QUESTION_LENGTH:
            return FileResult(Filed.TOO_LONG)
        open_numbers = await store.open_ids_of_chat(chat.id)
        if len(open_numbers) >= MAX_OPEN_PER_CHAT:
            return FileResult(Filed.TOO_MANY, open_numbers=tuple(open_numbers))
        staff = await self.staff_chats()
        by_id = {staff_chat.id: staff_chat for staff_chat in staff}

        def render(number: int, staff_chat_ref: int) -> str:
            return post_text(number, language, text, chat, by_id[staff_chat_ref], self._settings)

        number = await store.file(
            chat.id,
            language,
            text,
            now,
            staff_chats=[staff_chat.id for staff_chat in staff if staff_chat.active],
            render_post=render,
            unanswered_id=unanswered_id,
        )
        self._written()
        return FileResult(Filed.FILED, number)

    async def staff_chats(self) -> list[Chat]:
        """The configured staff chats as stored chats (created when first needed)."""
        chats = []
        for ref in staff_refs(self._settings):
            chats.append(await self._storage.chats.ensure(ref, staff_chat_kind(ref), None))
        return chats

    # --- answering --------------------------------------------------------------------------

    async def answer(
        self, number: int, answer: str, by: str, by_name: str, now: datetime
    ) -> tuple[Settle, Question | None]:
        """Deliver staff's answer to the asking chat, and tell the staff chats who answered."""
        answer = clean_question(answer)
        if not answer:
            return Settle.EMPTY, None
        return await self._settle(number, QuestionState.ANSWERED, answer, by, by_name, now)

    async def close(
        self, number: int, by: str, by_name: str, now: datetime
    ) -> tuple[Settle, Question | None]:
        """Close without an answer: the asking chat is told politely."""
        return await self._settle(number, QuestionState.CLOSED, None, by, by_name, now)

    async def _settle(
        self,
        number: int,
        state: QuestionState,
        answer: str | None,
        by: str,
        by_name: str,
        now: datetime,
    ) -> tuple[Settle, Question | None]:
        question = await self._storage.questions.get(number)
        if question is None:
            return Settle.MISSING, None
        if question.state is not QuestionState.OPEN:
            return Settle(question.state.value), question
        asker_language = question.chat_language or question.language
        if answer is not None:
            resident = Notice(
                question.chat_ref, answer_text(number, answer, asker_language), purpose="answer"
            )
        else:
            resident = Notice(
                question.chat_ref, closed_text(number, asker_language, question.chat.platform)
            )
        notes = [
            Notice(
                staff_chat.id, settled_note(number, state, by_name, now, staff_chat, self._settings)
            )
            for staff_chat in await self.staff_chats()
            if staff_chat.active
        ]
        done = await self._storage.questions.settle(
            number, state, by, now, answer=answer, notices=[resident, *notes]
        )
        if not done:  # answered by someone else a moment ago
            again = await self._storage.questions.get(number)
            return (Settle(again.state.value), again) if again else (Settle.MISSING, None)
        self._written()
        await self._storage.staff.audit(by, f"question {state.value}", f"#{number}")
        return Settle.DONE, await self._storage.questions.get(number)

    # --- erasing, reminding, keeping ------------------------------------------------------------

    async def erase_chat(self, chat: Chat, now: datetime) -> int:
        """`forget`: erase the chat's questions; their staff-chat copies say they were erased."""
        staff = {staff_chat.id: staff_chat for staff_chat in await self.staff_chats()}

        def erased(number: int, staff_chat_ref: int) -> str:
            staff_chat = staff.get(staff_chat_ref)
            language = (
                staff_chat.language if staff_chat else None
            ) or self._settings.default_language
            return erased_text(number, language)

        erased_count = await self._storage.questions.erase_chat(chat.id, now, erased)
        self._written()
        return erased_count

    async def remind(self, now: datetime) -> int:
        """List the questions open longer than BOT_QUESTION_REMIND in each staff chat, once a
        working day (from 09:00 local, outside quiet hours); returns the messages queued."""
        settings = self._settings
        if not settings.questions_enabled:
            return 0
        local = now.astimezone(settings.timezone)
        if local.weekday() >= 5 or local.hour < REMIND_HOUR:
            return 0
        if settings.quiet_hours is not None and settings.quiet_hours.contains(local.time()):
            return 0
        waiting = await self._storage.questions.open_before(now - settings.question_remind)
        if not waiting:
            return 0
        if not await self._storage.questions.claim_reminder_day(local.date().isoformat(), now):
            return 0
        notices = [
            Notice(staff_chat.id, reminder_text(waiting, staff_chat, settings, now))
            for staff_chat in await self.staff_chats()
            if staff_chat.active
        ]
        await self._storage.questions.notify(notices, now, urgent=False)
        return len(notices)

    async def purge(self, now: datetime) -> int:
        """Drop answered and closed questions past their 90 days, and old unanswered lines."""
        await self._storage.unanswered.purge(now)
        return await self._storage.questions.purge(now)


REMIND_HOUR = 9


# --- texts ----------------------------------------------------------------------------------


def post_text(
    number: int, language: str, text: str, asker: Chat, staff_chat: Chat, settings: Settings
) -> str:
    """The question as it appears in a staff chat, in that chat's language."""
    staff_language = staff_chat.language or settings.default_language
    prefix = command_prefix(staff_chat.ref.platform)
    with use_language(staff_language):
        where = PLATFORM_NAMES.get(asker.ref.platform, asker.ref.platform)
        if asker.kind.is_shared:
            where = _("{platform}, a group").format(platform=where)
        heading = _("❓ Question #{number} · {language} · {platform}").format(
            number=number, language=language_name(language, staff_language), platform=where
        )
        commands = {
            "answer": f"<code>{escape(prefix)}answer {number} …</code>",
            "close": f"<code>{escape(prefix)}close {number}</code>",
        }
        if staff_chat.ref.platform in REPLYABLE:
            how = _(
                "Reply to this message to answer (the person gets your text as you write it), "
                "or send {answer}. {close} closes it without an answer."
            ).format(**commands)
        else:
            how = _(
                "Answer with {answer} (the person gets your text as you write it). "
                "{close} closes it without an answer."
            ).format(**commands)
    return f"{bold(heading)}\n\n{escape(text)}\n\n<i>{how}</i>"


def erased_text(number: int, language: str) -> str:
    with use_language(language):
        return (
            bold(_("❓ Question #{number}").format(number=number))
            + "\n\n"
            + escape(_("(erased at the person's request)"))
        )


def answer_text(number: int, answer: str, language: str) -> str:
    """The answer as the asking chat gets it: labelled as from the office, the text as written."""
    with use_language(language):
        heading = _("💬 The office's answer to your question #{number}:").format(number=number)
    return f"{bold(heading)}\n\n{escape(answer)}"


def closed_text(number: int, language: str, platform: str) -> str:
    with use_language(language):
        return escape(
            _(
                "The office has closed your question #{number} without an answer here. If you "
                "still need help, contact the office directly: {contact} shows how."
            ).format(number=number, contact=command_prefix(platform) + "faq contact")
        )


def settled_note(
    number: int,
    state: QuestionState,
    by_name: str,
    now: datetime,
    staff_chat: Chat,
    settings: Settings,
) -> str:
    with use_language(staff_chat.language or settings.default_language):
        if state is QuestionState.ANSWERED:
            text = _("✅ #{number} answered by {who} ({when}).")
        else:
            text = _("🗂 #{number} closed without an answer by {who} ({when}).")
        return escape(text.format(number=number, who=by_name, when=local_time(now, settings)))


def reminder_text(
    waiting: list[Question], staff_chat: Chat, settings: Settings, now: datetime
) -> str:
    """The list of old open questions for one staff chat (numbers and ages, not their texts)."""
    language = staff_chat.language or settings.default_language
    prefix = command_prefix(staff_chat.ref.platform)
    with use_language(language):
        heading = _("⏳ Questions waiting for an answer for more than {age}:").format(
            age=format_timedelta(settings.question_remind, locale=language)
        )
        lines = [bold(heading)]
        for question in waiting[:LISTED]:
            lines.append(
                escape(
                    _("#{number} · {language} · asked {when}").format(
                        number=question.id,
                        language=language_name(question.language, language),
                        when=local_time(question.asked_at, settings),
                    )
                )
            )
        if len(waiting) > LISTED:
            lines.append(escape(_("… and {count} more.").format(count=len(waiting) - LISTED)))
        lines.append("")
        lines.append(
            escape(
                _("{questions} shows them with their texts; {answer} answers one.").format(
                    questions=prefix + "questions", answer=prefix + "answer N …"
                )
            )
        )
    return "\n".join(lines)


def listing_line(question: Question, language: str, settings: Settings) -> str:
    """One question in the staff's `questions` list."""
    with use_language(language):
        head = _("#{number} · {language} · {platform} · asked {when}").format(
            number=question.id,
            language=language_name(question.language, language),
            platform=PLATFORM_NAMES.get(question.chat.platform, question.chat.platform),
            when=local_time(question.asked_at, settings),
        )
    return f"{bold(head)}\n{escape(shorten(question.text))}"
