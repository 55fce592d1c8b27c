"""Free-text questions answered from the FAQ, choices between close entries, and the
staff's list of unanswered questions."""

from __future__ import annotations

from bot.core.commands import questions
from bot.core.context import Context
from bot.core.markup import bold, escape, link
from bot.core.messages import Button, Reply
from bot.core.registry import Audience, registry
from bot.faq import FaqMatcher
from bot.faq.texts import abstain_text, choice_text
from bot.faq.unanswered import group_questions, has_letters, question_key, shorten
from bot.i18n import N_, _, use_language

CONTACT_ID = "contact"
UNANSWERED_SHOWN = 20


async def faq_text_handler(ctx: Context, text: str) -> list[Reply]:
    """Answer in the asker's language, offer a choice when unsure, else say so kindly."""
    matcher = require_matcher(ctx)
    result = matcher.ask(text, lang="auto", fallback_lang=ctx.language)
    if result.status == "answer" and result.id is not None:
        ctx.core.metrics.faq_question("answered")
        return [answer_reply(ctx, result.id, result.lang)]
    if result.status == "choice":
        ctx.core.metrics.faq_question("choice")
        choices = tuple(
            (Button(matcher.content.entry(faq_id).answer(result.lang).title, f"faq {faq_id}"),)
            for faq_id in result.candidates
        )
        return [Reply(escape(choice_text(result.lang)), buttons=choices)]
    ctx.core.metrics.faq_question("abstained")
    recorded = None
    if has_letters(text):  # a question at all, not a number or a row of signs
        recorded = await ctx.storage.unanswered.record(text, result.lang)
    with use_language(result.lang):
        buttons: tuple[tuple[Button, ...], ...] = (
            (
                Button(_("Commands"), "help"),
                Button(
                    matcher.content.entry(CONTACT_ID).answer(result.lang).title, f"faq {CONTACT_ID}"
                ),
            ),
        )
    if recorded is not None and await may_ask_office(ctx):
        buttons += ((questions.ask_button(ctx, text, result.lang, recorded),),)
    return [Reply(escape(abstain_text(result.lang, ctx.cmd("help"))), buttons=buttons)]


async def may_ask_office(ctx: Context) -> bool:
    """Whether the abstention offers to send the question to the office."""
    return ctx.settings.questions_enabled and not await ctx.storage.questions.is_blocked(
        ctx.chat.id
    )


@registry.command("faq", N_("Show one FAQ answer"), usage=N_("<id>"), hidden=True)
async def faq_entry(ctx: Context, args: str) -> list[Reply]:
    """A button of a choice or of an abstention: one entry in the chat's language."""
    matcher = require_matcher(ctx)
    if args not in matcher.content.ids:
        return [Reply(_("There is no such answer. Just write your question."))]
    return [answer_reply(ctx, args, ctx.language)]


@registry.command(
    "unanswered",
    N_("The most frequent questions the bot could not answer"),
    audience=Audience.STAFF,
)
async def unanswered(ctx: Context, args: str) -> list[Reply]:
    asked = await ctx.storage.unanswered.most_frequent(limit=None)
    grouped = group_questions(asked, UNANSWERED_SHOWN)
    if not grouped:
        return [Reply(_("No unanswered questions in the last 90 days."))]
    marks = await became_questions(ctx)
    lines = [bold(_("Unanswered questions, most frequent first (last 90 days):"))]
    lines += [
        f"{question.count}× [{', '.join(question.languages)}] {escape(shorten(question.text))}"
        + became(marks.get(question_key(question.text), []))
        for question in grouped
    ]
    if marks:
        lines += [
            "",
            _("→ #N: sent to the office as question N (see {questions}).").format(
                questions=ctx.cmd("questions")
            ),
        ]
    return [Reply("\n".join(lines))]


async def became_questions(ctx: Context) -> dict[str, list[int]]:
    """Unanswered texts (by their grouping key) that were sent to the office, with numbers."""
    marks: dict[str, list[int]] = {}
    for text, numbers in (await ctx.storage.questions.unanswered_marks()).items():
        marks.setdefault(question_key(text), []).extend(numbers)
    return marks


def became(numbers: list[int]) -> str:
    return (" → " + ", ".join(f"#{number}" for number in sorted(set(numbers)))) if numbers else ""


def answer_reply(ctx: Context, faq_id: str, language: str) -> Reply:
    answer = require_matcher(ctx).content.entry(faq_id).answer(language)
    parts = [bold(answer.title), escape(answer.text)]
    if answer.links:
        parts.append("\n".join(link(url) for url in answer.links))
    return Reply("\n\n".join(parts))


def require_matcher(ctx: Context) -> FaqMatcher:
    if ctx.core.faq is None:
        raise RuntimeError("the FAQ is not loaded")
    return ctx.core.faq
