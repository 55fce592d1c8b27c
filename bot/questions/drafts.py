"""Questions offered to the office after an abstention, waiting for the person's confirmation.

The "Ask the office" button carries a short token, not the question (Telegram's button data is
at most 64 bytes). What the token stands for is conversation state like a waiting yes/no
question: in memory, bounded, for an hour; after a restart the button says to ask again.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import utcnow
from bot.core.messages import ChatRef

DRAFT_TTL = timedelta(hours=1)
MAX_DRAFTS = 10_000


@dataclass(frozen=True)
class QuestionDraft:
    chat: ChatRef
    text: str
    language: str
    unanswered_id: int | None
    at: datetime


class QuestionDrafts:
    """Token -> the question it offers to send, for the chat it was offered in."""

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock
        self._drafts: OrderedDict[str, QuestionDraft] = OrderedDict()

    def offer(self, chat: ChatRef, text: str, language: str, unanswered_id: int | None) -> str:
        token = secrets.token_hex(4)
        self._drafts[token] = QuestionDraft(chat, text, language, unanswered_id, self._clock())
        while len(self._drafts) > MAX_DRAFTS:
            self._drafts.popitem(last=False)
        return token

    def get(self, token: str, chat: ChatRef) -> QuestionDraft | None:
        """The draft, if it is still fresh and was offered in this chat."""
        draft = self._drafts.get(token)
        if draft is None or draft.chat != chat or self._clock() - draft.at > DRAFT_TTL:
            return None
        return draft

    def drop(self, token: str) -> None:
        self._drafts.pop(token, None)

    def drop_chat(self, chat: ChatRef) -> None:
        """`forget`: nothing of the chat stays in memory either."""
        for token in [t for t, d in self._drafts.items() if d.chat == chat]:
            del self._drafts[token]
