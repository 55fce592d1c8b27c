"""The staff's list of unanswered questions: the same question once, however it was written.

The log keeps each question as asked, with the language it was taken for; a short question
asked in two chats may be taken for Polish in one and Ukrainian in the other. The list groups
questions whose text is the same once case, punctuation and spacing are ignored, leaves out
lines without a single letter (numbers, smileys, junk), and shortens long ones.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.storage.faq import FrequentQuestion

SHOWN_LENGTH = 200
ELLIPSIS = "…"


@dataclass(frozen=True)
class QuestionGroup:
    """One question as the staff see it: its commonest wording, languages and total count."""

    text: str
    languages: tuple[str, ...]
    count: int
    last_asked: datetime


def question_key(text: str) -> str:
    """The text with case, punctuation, symbols and spacing ignored."""
    kept = "".join(" " if unicodedata.category(ch)[0] in "PSZ" else ch for ch in text.casefold())
    return " ".join(kept.split())


def has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def shorten(text: str, limit: int = SHOWN_LENGTH) -> str:
    """At most `limit` characters, an ellipsis marking a cut."""
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def group_questions(questions: Iterable[FrequentQuestion], limit: int) -> list[QuestionGroup]:
    """The most frequent questions, identical texts in any language counted together."""
    groups: dict[str, list[FrequentQuestion]] = {}
    for question in questions:
        if has_letters(question.text):
            groups.setdefault(question_key(question.text), []).append(question)
    merged = [merge(variants) for variants in groups.values()]
    merged.sort(key=lambda group: (group.count, group.last_asked), reverse=True)
    return merged[:limit]


def merge(variants: list[FrequentQuestion]) -> QuestionGroup:
    """One group: the wording asked most (latest on a tie), languages by how often."""
    per_wording = tally(variants, lambda q: q.text)
    per_language = tally(variants, lambda q: q.language)
    latest = {v.text: v.last_asked for v in sorted(variants, key=lambda v: v.last_asked)}
    commonest = max(per_wording, key=lambda text: (per_wording[text], latest[text]))
    languages = sorted(per_language, key=lambda code: (-per_language[code], code))
    return QuestionGroup(
        text=commonest,
        languages=tuple(languages),
        count=sum(per_language.values()),
        last_asked=max(v.last_asked for v in variants),
    )


def tally(
    variants: list[FrequentQuestion], key: Callable[[FrequentQuestion], str]
) -> dict[str, int]:
    """How often the questions were asked, by `key`."""
    counts: dict[str, int] = {}
    for variant in variants:
        counts[key(variant)] = counts.get(key(variant), 0) + variant.count
    return counts
