"""Helpers for delivery tests: a scripted transport, chats, announcements, and waiting.

`ScriptedTransport` implements the Transport protocol: send() records each attempt and returns
the next scripted outcome for that chat (sent when the script is exhausted).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.announcements.model import Fields, Kind
from bot.announcements.service import AnnouncementService
from bot.clock import utcnow
from bot.config import Settings
from bot.core.messages import ChatKind, ChatRef, Reply
from bot.core.topics import load_topics
from bot.delivery import DeliveryPolicy, Dispatcher, PlatformLimits
from bot.storage import Storage
from bot.transports.base import SendOutcome, Transport

FAST = DeliveryPolicy(
    poll_interval=0.05,
    lease=30.0,
    max_attempts=3,
    backoff_base=0.02,
    backoff_cap=0.1,
    flush_interval=0.01,
    stop_timeout=5.0,
)


@dataclass
class Attempt:
    chat_id: str
    reply: Reply
    at: float
    outcome: SendOutcome


@dataclass
class ScriptedTransport:
    """A transport whose send() follows a script per chat and records every attempt."""

    platform: str = "telegram"
    script: dict[str, list[SendOutcome]] = field(default_factory=lambda: defaultdict(list))
    delay: float = 0.0
    attempts: list[Attempt] = field(default_factory=list)
    gate: asyncio.Event | None = None

    async def start(self) -> None:
        """Nothing to connect."""

    async def stop(self) -> None:
        """Nothing to disconnect."""

    async def send(self, chat_id: str, reply: Reply) -> SendOutcome:
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        queue = self.script.get(chat_id)
        outcome = queue.pop(0) if queue else SendOutcome.sent()
        self.attempts.append(Attempt(chat_id, reply, time.monotonic(), outcome))
        return outcome

    def delivered(self) -> dict[str, list[str]]:
        """Texts that arrived, per chat."""
        found: dict[str, list[str]] = defaultdict(list)
        for attempt in self.attempts:
            if attempt.outcome.kind == "sent":
                found[attempt.chat_id].append(attempt.reply.text)
        return dict(found)


async def add_chats(
    storage: Storage,
    platform: str,
    names: Iterable[str],
    *,
    topics: Iterable[str] = ("grants",),
    language: str | None = None,
    kind: ChatKind = ChatKind.PRIVATE,
) -> list[int]:
    """Chats subscribed to topics; returns their database ids."""
    ids = []
    wanted = list(topics)
    for name in names:
        chat = await storage.chats.ensure(ChatRef(platform, name), kind, language)
        await storage.chats.subscribe(chat.id, wanted)
        ids.append(chat.id)
    return ids


def grant_fields(
    *,
    title: str = "Nabór wniosków",
    text: str = "Treść ogłoszenia",
    publish_at: datetime | None = None,
    days: int = 30,
    **extra: Any,
) -> Fields:
    now = utcnow()
    values: dict[str, Any] = {
        "kind": Kind.GRANT_DEADLINE,
        "topic": "grants",
        "title_pl": title,
        "text_pl": text,
        "publish_at": publish_at or now,
        "remind": Kind.GRANT_DEADLINE.default_remind,
        "deadline": now + timedelta(days=days),
    }
    values.update(extra)
    return Fields(**values)


def service_for(
    storage: Storage, settings: Settings, clock: Callable[[], datetime] = utcnow
) -> AnnouncementService:
    return AnnouncementService(storage, settings, load_topics(settings.content_dir), clock)


def dispatcher_for(
    storage: Storage,
    settings: Settings,
    transports: dict[str, Transport],
    *,
    policy: DeliveryPolicy = FAST,
    limits: dict[str, PlatformLimits] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Dispatcher:
    return Dispatcher(
        storage,
        settings,
        load_topics(settings.content_dir),
        transports,
        policy=policy,
        limits=limits or {p: PlatformLimits(rate=None, chat_interval=0.0) for p in transports},
        clock=clock,
    )


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait until `check()` holds (a generous bound: a hang fails the test, it never paces it)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def state_counts(storage: Storage, announcement_id: int) -> dict[str, int]:
    report = await storage.outbox.broadcast_counts(announcement_id)
    publication = [b for b in report if b.purpose == "publication"]
    return publication[0].counts.as_dict() if publication else {}


async def settled(storage: Storage, announcement_id: int) -> bool:
    counts = await state_counts(storage, announcement_id)
    return bool(counts) and counts["pending"] == 0 and counts["retrying"] == 0
