"""Plain-text rendering of a matcher result (the CLI's answer; no HTML)."""

from __future__ import annotations

from bot.faq.content import FaqContent
from bot.faq.matcher import FaqResult
from bot.faq.texts import abstain_text, choice_text


def render_answer(content: FaqContent, result: FaqResult) -> str:
    """The plain text to show for ``result``: answer and links, a choice, or "I don't know"."""
    if result.status == "answer" and result.id is not None:
        answer = content.entry(result.id).answer(result.lang)
        return "\n\n".join([answer.text, *(["\n".join(answer.links)] if answer.links else [])])
    if result.status == "choice":
        titles = [content.entry(faq_id).answer(result.lang).title for faq_id in result.candidates]
        options = "\n".join(f"{number}. {title}" for number, title in enumerate(titles, start=1))
        return f"{choice_text(result.lang)}\n{options}"
    return abstain_text(result.lang)
