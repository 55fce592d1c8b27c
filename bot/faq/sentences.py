"""Finding the question inside a long message.

People tell a story first ("We are five friends who clean the Vistula banks.
We have no legal form...") and ask at the end, or in the middle. The message
is split into sentences; a sentence that asks (a question mark, a question
word at its start, a request such as "proszę" or its Ukrainian peers) keeps full
weight, the others count less, so the story's words weigh less than the
question's and do not drown it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.faq.lexicon import FIRST_QUESTION_WORDS, QUESTION_WORDS
from bot.faq.normalize import fold_latin

# Sentence ends: . ! ? … and line breaks; an abbreviation's dot ("ul.", "np.")
# occasionally splits too early, which only costs a sentence its weight.
_SPLIT_RE = re.compile(r"(?<=[.!?…])\s+|\n+|(?<=\?)(?=\S)")
_WORD_RE = re.compile(r"[^\W\d_]+", re.UNICODE)

# Weight of a sentence that tells rather than asks.
STORY_WEIGHT = 0.45
# Messages up to this many words are taken as one sentence that asks.
SHORT_MESSAGE_WORDS = 14


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of a message and how much its words count."""

    text: str
    weight: float


def split_sentences(text: str) -> list[str]:
    """The message's sentences, stripped, empty ones dropped."""
    return [part.strip() for part in _SPLIT_RE.split(text) if part and part.strip()]


def asks(sentence: str) -> bool:
    """True when the sentence asks: a question mark, or a question or request word."""
    if "?" in sentence:
        return True
    words = [fold_latin(word) for word in _WORD_RE.findall(sentence)]
    if not words:
        return False
    if words[0] in QUESTION_WORDS or words[0] in FIRST_QUESTION_WORDS:
        return True
    return any(word in QUESTION_WORDS for word in words[1:4])


def weigh_sentences(text: str) -> list[Sentence]:
    """Sentences with weights: 1 for those that ask, ``STORY_WEIGHT`` for the story.

    A short message, or one where no sentence (or every sentence) asks, is
    weighed evenly: there is no story to set apart.
    """
    if len(_WORD_RE.findall(text)) <= SHORT_MESSAGE_WORDS:
        return [Sentence(text, 1.0)]
    sentences = split_sentences(text)
    flags = [asks(sentence) for sentence in sentences]
    if len(sentences) < 2 or all(flags) or not any(flags):
        return [Sentence(text, 1.0)]
    return [
        Sentence(sentence, 1.0 if flag else STORY_WEIGHT)
        for sentence, flag in zip(sentences, flags, strict=True)
    ]
