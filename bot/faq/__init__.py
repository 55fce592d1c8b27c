"""FAQ answering: content loading, language detection and matching.

Typical use::

    content = load_faq()               # or load_faq(Path(os.environ["BOT_CONTENT_DIR"]))
    matcher = FaqMatcher(content)
    result = matcher.ask("jak przekazać 1,5% podatku?", fallback_lang="pl")
    if result.status == "answer":
        answer = content.entry(result.id).answer(result.lang)
"""

from bot.faq.content import (
    REQUIRED_IDS,
    FaqAnswerText,
    FaqContent,
    FaqContentError,
    FaqEntry,
    load_faq,
)
from bot.faq.langdetect import detect_language
from bot.faq.matcher import Calibration, FaqMatcher, FaqResult, MatcherSettings
from bot.faq.render import render_answer
from bot.faq.texts import abstain_text, choice_text

__all__ = [
    "REQUIRED_IDS",
    "Calibration",
    "FaqAnswerText",
    "FaqContent",
    "FaqContentError",
    "FaqEntry",
    "FaqMatcher",
    "FaqResult",
    "MatcherSettings",
    "abstain_text",
    "choice_text",
    "detect_language",
    "load_faq",
    "render_answer",
]
