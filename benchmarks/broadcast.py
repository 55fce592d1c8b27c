"""A broadcast through Telegram: the real dispatcher and transport against the fake Bot API.

    PYTHONPATH=. python -m benchmarks.broadcast [--chats 5000] [--runs 3] [--rate 30]
                                                [--server process|thread] [--quick]
                                                [--only throughput|pacing]

Two measurements, each on a fresh SQLite file with `--chats` private chats subscribed to
`grants` (in Polish, Ukrainian, English and no language), published by AnnouncementService and
delivered by the Dispatcher through TelegramTransport (python-telegram-bot's HTTP stack):

- throughput, limits lifted (no overall rate, no per-chat spacing): messages per second of the
  whole pipeline (publishing, claiming, rendering, sending, recording in SQLite), next to raw
  `Bot.send_message` calls with the same concurrency to the same server in the same run. The
  fake runs in a separate process by default (`--server process`), so it does not share the
  client's interpreter lock; `--server thread` runs it in this process as the tests do.
- pacing, `TELEGRAM_MAX_RATE=--rate` and the default per-chat limits: the most messages the fake
  received in any one-second window, its 429 answers (it enforces Telegram's limits), and the
  total time against chats / rate. The fake runs in this process here: its arrival times are
  what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import telegram

from benchmarks.fakebotapi_raw import fake_server
from bot.announcements.model import Announcement, Fields, Kind, Status
from bot.announcements.render import Purpose, render_message
from bot.announcements.service import AnnouncementService
from bot.app import build_core
from bot.clock import from_db, utcnow
from bot.config import Settings
from bot.core.topics import load_topics
from bot.delivery import DeliveryPolicy, Dispatcher
from bot.delivery.limits import UNLIMITED, limits_for
from bot.storage import Storage
from bot.transports.telegram import TelegramTransport
from tests.fakebotapi import DEFAULT_TOKEN, FakeBotApi, FloodLimits

LANGUAGES = ("pl", "uk", "en", None)
FIRST_CHAT_ID = 500_000_001
POLL_SECONDS = 0.2


def announcement_fields() -> Fields:
    """A grant deadline in Polish and Ukrainian (English chats get Polish with a note)."""
    now = utcnow()
    return Fields(
        kind=Kind.GRANT_DEADLINE,
        topic="grants",
        title_pl="Nabór wniosków: Kraków dla NGO 2027",
        text_pl="Termin składania ofert mija 15 marca o 16:00. Szczegóły i formularze "
        "na stronie. Pytania? Napisz do biura Pełnomocnika. " * 3,
        title_uk="Конкурс: Краків для НУО 2027",
        text_uk="Заявки приймаються до 15 березня, 16:00. Подробиці та форми на сайті. "
        "Питання? Напишіть до бюро Уповноваженого. " * 3,
        publish_at=now,
        remind="none",
        deadline=now + timedelta(days=30),
        url="https://www.ngo.krakow.pl/",
    )


def chat_ids(count: int) -> list[int]:
    return [FIRST_CHAT_ID + n for n in range(count)]


async def add_subscribers(storage: Storage, ids: Sequence[int]) -> None:
    """Private Telegram chats subscribed to grants, in one transaction."""
    async with storage.db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO chats (platform, chat_id, kind, language, created_at)"
            " VALUES ('telegram', ?, 'private', ?, '2026-01-01T00:00:00.000000+00:00')",
            [(str(chat), LANGUAGES[n % len(LANGUAGES)]) for n, chat in enumerate(ids)],
        )
        await tx.execute(
            "INSERT INTO subscriptions (chat_ref, topic, created_at)"
            " SELECT id, 'grants', created_at FROM chats WHERE platform = 'telegram'"
        )


@dataclass(frozen=True)
class PipelineRun:
    seconds: float  # from the publishing transaction to the last outcome recorded
    publish_seconds: float
    sent: int


async def pipeline(
    base_url: str, folder: Path, chats: int, *, rate: float | None, policy: DeliveryPolicy
) -> PipelineRun:
    """Publish to `chats` subscribers and deliver through the real transport; time it."""
    settings = Settings(
        db_path=folder / "bench.sqlite3",
        quiet_hours=None,
        telegram_token=DEFAULT_TOKEN,
        telegram_api_base_url=base_url,
        telegram_max_rate=rate or 30.0,
    )
    storage = await Storage.open(settings.db_path)
    try:
        await add_subscribers(storage, chat_ids(chats))
        core = build_core(storage, settings)
        failures: list[str] = []
        transport = TelegramTransport(settings, core, failures.append)
        await transport.start()
        await asyncio.wait_for(transport.ready.wait(), 30)
        limits = limits_for("telegram", settings) if rate else UNLIMITED
        dispatcher = Dispatcher(
            storage,
            settings,
            core.topics,
            {"telegram": transport},
            policy=policy,
            limits={"telegram": limits},
        )
        await dispatcher.start()
        try:
            service = AnnouncementService(storage, settings, core.topics)
            started = time.perf_counter()
            announcement = await service.create(announcement_fields(), actor="console:bench")
            published = time.perf_counter()
            dispatcher.wake()
            # Polled slowly, not to load the database being measured; the end is read back.
            while await storage.outbox.open_count():
                await asyncio.sleep(POLL_SECONDS)
        finally:
            await dispatcher.stop()
            await transport.stop()
        row = await storage.db.fetch_one("SELECT MAX(sent_at) FROM outbox WHERE state = 'sent'")
        assert row is not None and row[0] is not None, "nothing was sent"
        last_recorded = (from_db(row[0]) - announcement.created_at).total_seconds()
        counts = await storage.outbox.publication_counts([announcement.id])
        assert not failures, failures
        # created_at is taken just before the publishing transaction.
        return PipelineRun(last_recorded, published - started, counts[announcement.id].get("sent"))
    finally:
        await storage.close()


async def raw_rate(base_url: str, chats: int, text: str, concurrency: int) -> float:
    """`Bot.send_message` to the same chats with `concurrency` workers; messages/s."""
    bot = telegram.Bot(DEFAULT_TOKEN, base_url=base_url)
    async with bot:
        await bot.send_message(FIRST_CHAT_ID, "warm-up")
        queue = iter(chat_ids(chats))

        async def worker() -> None:
            for chat in queue:
                await bot.send_message(chat, text, parse_mode="HTML", disable_web_page_preview=True)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return chats / (time.perf_counter() - started)


def sample_text() -> str:
    """The Polish message as the dispatcher renders it (what raw sends are compared with)."""
    now = utcnow()
    announcement = Announcement(1, announcement_fields(), Status.SENDING, "bench", None, now, now)
    topics, tz = load_topics(None), Settings().timezone
    reply = render_message(announcement, Purpose.PUBLICATION, "", "pl", "telegram", topics, tz)
    return reply.text


async def throughput(chats: int, runs: int, server: str) -> None:
    """Each run on a fresh fake: raw sends, the pipeline, raw sends again (a bracket, so that a
    drift of the machine's speed during the run does not favour either side)."""
    policy = DeliveryPolicy()
    text = sample_text()
    raw_rates, pipeline_rates, ratios = [], [], []
    where = "a separate process" if server == "process" else "a thread of this process"
    print(
        f"throughput: {chats} chats, limits lifted, {policy.concurrency} sends in flight, "
        f"the fake Bot API in {where}"
    )
    for run in range(runs):
        with fake_server(server) as base_url:
            before = await raw_rate(base_url, chats, text, policy.concurrency)
            with tempfile.TemporaryDirectory() as folder:
                result = await pipeline(base_url, Path(folder), chats, rate=None, policy=policy)
            after = await raw_rate(base_url, chats, text, policy.concurrency)
        assert result.sent == chats, f"only {result.sent} of {chats} sent"
        raw = (before + after) / 2
        piped = chats / result.seconds
        raw_rates.append(raw)
        pipeline_rates.append(piped)
        ratios.append(piped / raw)
        print(
            f"  run {run + 1}: raw send_message {before:4.0f} and {after:4.0f} msgs/s | pipeline "
            f"{piped:4.0f} msgs/s ({chats} in {result.seconds:.2f} s, publishing "
            f"{result.publish_seconds * 1000:.0f} ms) | ratio {ratios[-1]:.0%}"
        )
    print(
        f"  median of {runs}: raw {statistics.median(raw_rates):.0f} msgs/s, pipeline "
        f"{statistics.median(pipeline_rates):.0f} msgs/s, ratio {statistics.median(ratios):.0%} "
        "(target >= 80%)"
    )


def max_in_window(times: Sequence[float], window: float = 1.0) -> int:
    """The most events in any half-open window [t, t + window) of the sorted `times`."""
    best, start = 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def pacing(chats: int, rate: float) -> None:
    expected = chats / rate
    print(f"pacing: {chats} chats at TELEGRAM_MAX_RATE={rate:g} (about {expected:.0f} s)")
    with FakeBotApi() as api, tempfile.TemporaryDirectory() as folder:
        api.enable_flood_control(FloodLimits(overall_per_second=int(rate)))
        result = await pipeline(
            api.base_url, Path(folder), chats, rate=rate, policy=DeliveryPolicy()
        )
        # Every request that reached the server counts, refused ones too.
        sends = sorted(call.time for call in api.calls("sendMessage"))
        refused = [call for call in api.calls("sendMessage") if call.status == 429]
    assert result.sent == chats, f"only {result.sent} of {chats} sent"
    span = sends[-1] - sends[0]
    print(
        f"  most messages in any 1-s window: {max_in_window(sends)} (limit {rate:g}); "
        f"429 answers: {len(refused)}"
    )
    print(
        f"  first to last message {span:.1f} s, publishing to all recorded "
        f"{result.seconds:.1f} s; {chats}/{rate:g} = {expected:.1f} s "
        f"({(result.seconds - expected) / expected:+.1%})"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, help="subscribed chats (5000; --quick 1000)")
    parser.add_argument(
        "--pacing-chats", type=int, help="chats of the paced run (as --chats; --quick 300)"
    )
    parser.add_argument("--runs", type=int, help="throughput runs (3; --quick 1)")
    parser.add_argument(
        "--rate", type=float, default=30.0, help="TELEGRAM_MAX_RATE of the paced run"
    )
    parser.add_argument("--server", choices=["process", "thread"], default="process")
    parser.add_argument("--quick", action="store_true", help="small numbers, a quick look")
    parser.add_argument("--only", choices=["throughput", "pacing"])
    args = parser.parse_args()
    chats = args.chats or (1000 if args.quick else 5000)
    runs = args.runs or (1 if args.quick else 3)
    paced = args.pacing_chats or (300 if args.quick else chats)
    if args.only != "pacing":
        await throughput(chats, runs, args.server)
    if args.only != "throughput":
        await pacing(paced, args.rate)


if __name__ == "__main__":
    asyncio.run(main())
