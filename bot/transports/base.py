"""What every transport offers the rest of the bot."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.core.messages import Reply


class OutcomeKind(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    GONE = "gone"
    FAILED = "failed"


@dataclass(frozen=True)
class SendOutcome:
    """The neutral result of sending one broadcast message.

    RETRY carries `retry_after` seconds when the platform said how long to wait (a 429);
    None means a transient error, to be retried with backoff. GONE means the recipient blocked
    or removed the bot, or no longer exists: never retry. FAILED is our own bug (bad markup).
    """

    kind: OutcomeKind
    retry_after: float | None = None
    detail: str = ""
    # SENT: the platform's id of the (first) message sent, when it has one (a Telegram message
    # id, a Matrix event id): a staff member's reply to a question post is matched by it.
    message_id: str | None = None

    @classmethod
    def sent(cls, message_id: str | None = None) -> SendOutcome:
        return cls(OutcomeKind.SENT, message_id=message_id)

    @classmethod
    def retry(cls, retry_after: float | None = None, detail: str = "") -> SendOutcome:
        return cls(OutcomeKind.RETRY, retry_after, detail)

    @classmethod
    def gone(cls, detail: str = "") -> SendOutcome:
        return cls(OutcomeKind.GONE, None, detail)

    @classmethod
    def failed(cls, detail: str = "") -> SendOutcome:
        return cls(OutcomeKind.FAILED, None, detail)


class Transport(Protocol):
    """A running connection to one platform.

    A transport that also sends on its own (Telegram's replies) may have a `limiter` attribute,
    a `bot.delivery.limits.SendLimiter`: the dispatcher then paces broadcasts with it, so that
    both spend one budget.
    """

    platform: str

    async def start(self) -> None:
        """Connect and begin receiving messages (returns once running)."""

    async def stop(self) -> None:
        """Finish in-flight work and disconnect."""

    async def send(self, chat_id: str, reply: Reply) -> SendOutcome:
        """Send one message outside a conversation (a broadcast or reminder)."""


class EditingTransport(Transport, Protocol):
    """A transport that can also rewrite a message it sent (Telegram, Matrix): the dispatcher
    uses `edit` when it has it (after `forget`, a question's copy in a staff chat)."""

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> SendOutcome:
        """Replace the text of an earlier message; the outcome as for `send`."""
