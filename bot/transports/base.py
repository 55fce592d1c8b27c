"""What every transport offers the rest of the bot."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

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
    message_id: str | None = None  # the platform's id of the message sent, when it gives one

    @classmethod
    def sent(cls, message_id: str | None = None, detail: str = "") -> SendOutcome:
        return cls(OutcomeKind.SENT, None, detail, message_id)

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


@runtime_checkable
class EditingTransport(Protocol):
    """A transport that can also change a message it sent (a Telegram channel post)."""

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> SendOutcome:
        """Replace the text of a message sent earlier."""

    async def delete(self, chat_id: str, message_id: str, fallback: Reply) -> SendOutcome:
        """Delete a message sent earlier; where the platform no longer allows that, replace
        its text with `fallback`."""
