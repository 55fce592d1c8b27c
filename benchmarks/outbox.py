"""The outbox pipeline's own speed: 5,000 subscribed chats, a transport that does nothing.

    PYTHONPATH=. python -m benchmarks.outbox [--chats 5000] [--runs 3]

Measures, on a fresh SQLite file: publishing (one transaction writing a row per recipient), then
the dispatcher claiming, rendering per chat language, "sending" and recording every outcome,
until the broadcast is closed. Prints messages per second of the whole pipeline.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from bot.announcements.model import Fields, Kind
from bot.announcements.service import AnnouncementService
from bot.clock import utcnow
from bot.config import Settings
from bot.core.messages import Reply
from bot.core.topics import load_topics
from bot.delivery import DeliveryPolicy, Dispatcher
from bot.delivery.limits import UNLIMITED
from bot.storage import Storage
from bot.transports.base import SendOutcome

PLATFORM = "bench"
LANGUAGES = ("pl", "uk", "en", None)


class NoopTransport:
    """Accepts every message at once."""

    platform = PLATFORM

    def __init__(self) -> None:
        self.sent = 0

    async def start(self) -> None:
        """Nothing to connect."""

    async def stop(self) -> None:
        """Nothing to disconnect."""

    async def send(self, chat_id: str, reply: Reply) -> SendOutcome:
        self.sent += 1
        return SendOutcome.sent()


async def add_subscribers(storage: Storage, count: int) -> None:
    async with storage.db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO chats (platform, chat_id, kind, language, created_at)"
            " VALUES (?, ?, 'private', ?, '2026-01-01T00:00:00.000000+00:00')",
            [(PLATFORM, f"c{i}", LANGUAGES[i % len(LANGUAGES)]) for i in range(count)],
        )
        await tx.execute(
            "INSERT INTO subscriptions (chat_ref, topic, created_at)"
            " SELECT id, 'grants', created_at FROM chats WHERE platform = ?",
            (PLATFORM,),
        )


async def one_run(chats: int, folder: Path) -> tuple[float, float]:
    """Seconds to publish, and seconds from publishing to the broadcast closed."""
    settings = Settings(db_path=folder / "bench.sqlite3", quiet_hours=None)
    storage = await Storage.open(settings.db_path)
    topics = load_topics(None)
    await add_subscribers(storage, chats)
    service = AnnouncementService(storage, settings, topics)
    now = utcnow()
    fields = Fields(
        kind=Kind.GRANT_DEADLINE,
        topic="grants",
        title_pl="Nabór wniosków",
        text_pl="Treść ogłoszenia " * 40,
        title_uk="Конкурс",
        text_uk="Текст оголошення " * 40,
        publish_at=now,
        remind="none",
        deadline=now + timedelta(days=30),
        url="https://ngo.krakow.pl/",
    )
    transport = NoopTransport()
    dispatcher = Dispatcher(
        storage,
        settings,
        topics,
        {PLATFORM: transport},
        policy=replace(DeliveryPolicy(), poll_interval=0.02),
        limits={PLATFORM: UNLIMITED},
    )
    started = time.perf_counter()
    announcement = await service.create(fields, actor="console:bench")
    published = time.perf_counter()
    await dispatcher.start()
    while (await storage.outbox.open_count()) > 0:
        await asyncio.sleep(0.005)
    finished = time.perf_counter()
    await dispatcher.stop()
    counts = await storage.outbox.publication_counts([announcement.id])
    await storage.close()
    assert transport.sent == chats and counts[announcement.id].get("sent") == chats
    return published - started, finished - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rates, publish_times = [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            publish, total = await one_run(args.chats, Path(folder))
        rates.append(args.chats / total)
        publish_times.append(publish)
        print(
            f"run {run + 1}: {args.chats} messages in {total:.2f} s "
            f"(publishing {publish * 1000:.0f} ms) = {args.chats / total:,.0f} messages/s"
        )
    print(
        f"outbox pipeline, {args.chats} chats, no-op transport: median "
        f"{statistics.median(rates):,.0f} messages/s "
        f"(publish transaction median {statistics.median(publish_times) * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    asyncio.run(main())
