"""What the bot last offered each person in a chat: a yes/no question, numbered choices.

A person may answer a question with a word instead of its button ("Tak!", "ok", "no", their Ukrainian forms)
and pick a button by its number ("2"), as the console shows them. The core remembers, per chat
and sender, the buttons of its latest reply that had any (for a while) and whether its latest
replies asked yes or no (for a shorter while: a late "tak" must not erase anything). This is
conversation state, not data: it lives in memory only, bounded, and a restart forgets it (the
buttons themselves keep working).
"""

from __future__ import annotations

import re
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import utcnow
from bot.core.answerwords import AMBIGUOUS_IN, NO_WORDS, YES_WORDS
from bot.core.messages import ChatRef, Confirmation, Incoming, Reply

# What a yes/no question's buttons add to their command: `forget yes`, `forget no`.
CONFIRM_WORD = "yes"
DECLINE_WORD = "no"
CONFIRMATION_TTL = timedelta(minutes=10)
CHOICES_TTL = timedelta(hours=1)
MAX_REMEMBERED = 10_000
# A number typed on its own, as a choice: "2", "2.", "2)", "#2".
_NUMBER = re.compile(r"#?(\d{1,9})[.)]?")


@dataclass(frozen=True)
class Offer:
    """Something shown to one sender, and when. Whether the sender may use it is decided when
    they answer, as for a button press (transports look up a group admin for typed answers)."""

    at: datetime


@dataclass(frozen=True)
class Choices(Offer):
    commands: tuple[str, ...]


@dataclass(frozen=True)
class Question(Offer):
    confirmation: Confirmation


@dataclass(frozen=True)
class Offered:
    """The latest choices and yes/no question shown to one sender in one chat."""

    choices: Choices | None = None
    question: Question | None = None


class Conversations:
    """Per (chat, sender): what the core offered last. Bounded; oldest forgotten first."""

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock
        self._offered: OrderedDict[tuple[ChatRef, str], Offered] = OrderedDict()

    def remember(self, incoming: Incoming, replies: Sequence[Reply]) -> None:
        """The replies just sent: their buttons (if any) and their yes/no question (if any)."""
        key = (incoming.chat, incoming.sender)
        now = self._clock()
        before = self._offered.pop(key, Offered())
        # A question's Yes/No buttons are not choices: a number answers them only while the
        # question waits (see `answer_commands`), never an hour later.
        buttons = [r.all_buttons() for r in replies if r.buttons and r.confirmation is None]
        questions = [r.confirmation for r in replies if r.confirmation is not None]
        offered = Offered(
            choices=(
                Choices(now, tuple(b.command for b in buttons[-1])) if buttons else before.choices
            ),
            question=Question(now, questions[-1]) if questions else None,
        )
        if offered.choices or offered.question:
            self._offered[key] = offered
            while len(self._offered) > MAX_REMEMBERED:
                self._offered.popitem(last=False)

    def question(self, incoming: Incoming) -> Question | None:
        """The yes/no question waiting for this sender's answer here, if any."""
        offered = self._offered.get((incoming.chat, incoming.sender))
        question = offered.question if offered else None
        return question if question and self._fresh(question, CONFIRMATION_TTL) else None

    def choices(self, incoming: Incoming) -> Choices | None:
        """The buttons last shown to this sender here (numbered from 1), if any."""
        offered = self._offered.get((incoming.chat, incoming.sender))
        choices = offered.choices if offered else None
        return choices if choices and self._fresh(choices, CHOICES_TTL) else None

    def _fresh(self, offer: Offer, ttl: timedelta) -> bool:
        return self._clock() - offer.at <= ttl


def bare_word(text: str) -> str:
    """The text without case, surrounding spaces, punctuation and symbols: "Tak!" -> "tak"."""
    folded = text.casefold()
    start, end = 0, len(folded)
    while start < end and is_filler(folded[start]):
        start += 1
    while end > start and is_filler(folded[end - 1]):
        end -= 1
    return folded[start:end]


def is_filler(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch)[0] in "PSZ"


def yes_or_no(text: str, language: str) -> bool | None:
    """True for a yes word, False for a no word, None for anything else (in `language`)."""
    word = bare_word(text)
    if word in AMBIGUOUS_IN.get(language, frozenset()):
        return None
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    return None


def looks_like_an_answer(text: str) -> bool:
    """A typed number or a yes/no word in any language: worth knowing whether the sender is a
    group's administrator before the core reads it."""
    return typed_number(text) is not None or bare_word(text) in YES_WORDS | NO_WORDS


def typed_number(text: str) -> int | None:
    """The number of a choice typed on its own, else None."""
    match = _NUMBER.fullmatch(text.strip())
    return int(match.group(1)) if match else None
