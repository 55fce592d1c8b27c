"""A broadcast through Telegram: the real dispatcher and transport against the fake Bot API.

    PYTHONPATH=. python -m benchmarks.broadcast [--chats 5000] [--runs 3] [--rate 30]
                                                [--server process|thread] [--quick]
                                                [--only throughput|pacing|scale]
    PYTHONPATH=. python -m benchmarks.broadcast --only scale [--chats 100000] [--max-rate 1000]

Three measurements, each on a fresh SQLite file with `--chats` private chats subscribed to
`grants` (in Polish, Ukrainian, English and no language), published by AnnouncementService and
delivered by the Dispatcher through TelegramTransport (python-telegram-bot's HTTP stack):

- throughput, limits lifted (no overall rate, no per-chat spacing): messages per second of the
  whole pipeline (publishing, claiming, rendering, sending, recording in SQLite), next to raw
  `Bot.send_message` calls with the same concurrency to the same server in the same run. The
  fake runs in a separate process by default (`--server process`), so it does not share the
  client's interpreter lock; `--server thread` runs it in this process as the tests do.
- pacing, `TELEGRAM_MAX_RATE=--rate` and the default per-chat limits: the most messages the fake
  received in any one-second window (replies included), its 429 answers (it enforces Telegram's
  limits), and the total time against chats / rate. Meanwhile new users send /help (`--askers`
  a second): the latency of a reply during the broadcast, from injecting the update to the fake
  receiving the answer, p50 and p99. The fake runs in this process here: its arrival times are
  what is measured.
- scale (`--only scale`, not run by default): `--chats` (default 100,000) at
  `TELEGRAM_MAX_RATE=--rate` (default 1000) and the default per-chat limits, the fake in a
  separate process as for throughput: the send rate over the first and the last 10 % of the
  broadcast (from the outbox's recorded send times), which must not fall as the broadcast
  reaches more chats.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
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
from bot.delivery.limits import UNLIMITED, SendLimiter, limits_for
from bot.storage import Storage
from bot.transports.telegram import TelegramTransport
from tests.fakebotapi import DEFAULT_TOKEN, FakeBotApi, FloodLimits

LANGUAGES = ("pl", "uk", "en", None)
FIRST_CHAT_ID = 500_000_001
POLL_SECONDS = 0.2
PACING_RATE = 30.0
SCALE_CHATS = 100_000
SCALE_RATE = 1000.0
ASKERS_PER_SECOND = 2.0
DECILE = 0.1


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
    sent_at: list[float]  # each message's recorded send time, seconds after publishing, sorted


Meanwhile = Callable[[], Awaitable[None]]


async def pipeline(
    base_url: str,
    folder: Path,
    chats: int,
    *,
    rate: float | None,
    policy: DeliveryPolicy,
    meanwhile: Meanwhile | None = None,
) -> PipelineRun:
    """Publish to `chats` subscribers and deliver through the real transport; time it.

    `meanwhile` runs from the publication until the last message is recorded (then cancelled).
    """
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
        # One budget for replies and broadcasts: the transport's, which the dispatcher takes.
        limiter = SendLimiter(limits_for("telegram", settings) if rate else UNLIMITED)
        transport = TelegramTransport(settings, core, failures.append, limiter=limiter)
        await transport.start()
        await asyncio.wait_for(transport.ready.wait(), 30)
        dispatcher = Dispatcher(
            storage, settings, core.topics, {"telegram": transport}, policy=policy
        )
        await dispatcher.start()
        try:
            service = AnnouncementService(storage, settings, core.topics)
            started = time.perf_counter()
            announcement = await service.create(announcement_fields(), actor="console:bench")
            published = time.perf_counter()
            dispatcher.wake()
            async with running(meanwhile):
                # Polled slowly, not to load the database being measured; the end is read back.
                while await storage.outbox.open_count():
                    await asyncio.sleep(POLL_SECONDS)
        finally:
            await dispatcher.stop()
            await transport.stop()
        sent_at = await recorded_send_times(storage, announcement)
        assert sent_at, "nothing was sent"
        counts = await storage.outbox.publication_counts([announcement.id])
        assert not failures, failures
        return PipelineRun(
            sent_at[-1], published - started, counts[announcement.id].get("sent"), sent_at
        )
    finally:
        await storage.close()


@contextlib.asynccontextmanager
async def running(meanwhile: Meanwhile | None) -> AsyncIterator[None]:
    """Run `meanwhile` in a task for the duration of the block."""
    if meanwhile is None:
        yield
        return
    task = asyncio.create_task(meanwhile())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def recorded_send_times(storage: Storage, announcement: Announcement) -> list[float]:
    """Seconds from the publishing transaction (created_at is taken just before it) to each
    message's recorded send time, sorted."""
    rows = await storage.db.fetch_all(
        "SELECT sent_at FROM outbox WHERE state = 'sent' AND broadcast_id IN"
        " (SELECT id FROM broadcasts WHERE announcement_id = ?) ORDER BY sent_at",
        (announcement.id,),
    )
    return [(from_db(row[0]) - announcement.created_at).total_seconds() for row in rows]


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
    return render_message(announcement, Purpose.PUBLICATION, "", "pl", topics, tz, prefix="/")


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


@dataclass
class Askers:
    """New users sending /help during the broadcast, `per_second` of them a second."""

    api: FakeBotApi
    per_second: float
    asked: dict[int, float] = field(default_factory=dict)  # user id -> when the update went in

    async def run(self) -> None:
        while True:
            person = self.api.make_user(f"Asker {len(self.asked)}", language_code="pl")
            # The fake stamps what it receives with time.time(): the same clock here.
            self.asked[person.id] = time.time()
            self.api.inject_command(person, "help")
            await asyncio.sleep(1.0 / self.per_second)

    def latencies(self) -> list[float]:
        """Seconds from each /help going in to the fake receiving its reply (answered ones)."""
        answered: dict[int, float] = {}
        for call in self.api.calls("sendMessage"):
            chat = call.params.get("chat_id")
            if call.ok and chat in self.asked and chat not in answered:
                answered[chat] = call.time - self.asked[chat]
        return sorted(answered.values())


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted `values`."""
    rank = max(1, round(fraction * len(values) + 0.5))
    return values[min(len(values), rank) - 1]


async def pacing(chats: int, rate: float, askers_per_second: float) -> None:
    expected = chats / rate
    print(
        f"pacing: {chats} chats at TELEGRAM_MAX_RATE={rate:g} (about {expected:.0f} s), "
        f"{askers_per_second:g} new users a second sending /help meanwhile"
    )
    with FakeBotApi() as api, tempfile.TemporaryDirectory() as folder:
        api.enable_flood_control(FloodLimits(overall_per_second=int(rate)))
        askers = Askers(api, askers_per_second)
        result = await pipeline(
            api.base_url,
            Path(folder),
            chats,
            rate=rate,
            policy=DeliveryPolicy(),
            meanwhile=askers.run if askers_per_second else None,
        )
        # Every request that reached the server counts, refused ones too.
        sends = sorted(call.time for call in api.calls("sendMessage"))
        refused = [call for call in api.calls("sendMessage") if call.status == 429]
        latencies = askers.latencies()
    assert result.sent == chats, f"only {result.sent} of {chats} sent"
    span = sends[-1] - sends[0]
    print(
        f"  most messages in any 1-s window: {max_in_window(sends)} (limit {rate:g}, replies "
        f"included); 429 answers: {len(refused)}"
    )
    budget = (chats + len(latencies)) / rate
    print(
        f"  first to last message {span:.1f} s, publishing to all recorded "
        f"{result.seconds:.1f} s; {chats}/{rate:g} = {expected:.1f} s "
        f"({(result.seconds - expected) / expected:+.1%}); with the replies "
        f"({chats} + {len(latencies)})/{rate:g} = {budget:.1f} s"
    )
    if latencies:
        print(
            f"  reply to /help during the broadcast: p50 {percentile(latencies, 0.5) * 1000:.0f} "
            f"ms, p99 {percentile(latencies, 0.99) * 1000:.0f} ms, max "
            f"{latencies[-1] * 1000:.0f} ms ({len(latencies)} of the {len(askers.asked)} asked "
            "answered)"
        )


def decile_rates(sent_at: Sequence[float]) -> tuple[float, float]:
    """Messages per second over the first and the last 10 % of the sorted send times."""
    count = max(2, int(len(sent_at) * DECILE))
    first = (count - 1) / max(1e-9, sent_at[count - 1] - sent_at[0])
    last = (count - 1) / max(1e-9, sent_at[-1] - sent_at[-count])
    return first, last


async def scale(chats: int, rate: float, server: str) -> None:
    """A big broadcast at a high rate: the sending must not slow down as it reaches more chats."""
    where = "a separate process" if server == "process" else "a thread of this process"
    print(
        f"scale: {chats} chats at TELEGRAM_MAX_RATE={rate:g} with the per-chat limits, "
        f"the fake Bot API in {where}"
    )
    began = time.perf_counter()
    with fake_server(server) as base_url, tempfile.TemporaryDirectory() as folder:
        result = await pipeline(base_url, Path(folder), chats, rate=rate, policy=DeliveryPolicy())
    assert result.sent == chats, f"only {result.sent} of {chats} sent"
    first, last = decile_rates(result.sent_at)
    print(
        f"  send rate over the first 10 %: {first:.0f} msgs/s, over the last 10 %: {last:.0f} "
        f"msgs/s (last/first {last / first:.0%})"
    )
    print(
        f"  {chats} in {result.seconds:.1f} s ({chats / result.seconds:.0f} msgs/s overall, "
        f"publishing {result.publish_seconds * 1000:.0f} ms); the whole run took "
        f"{time.perf_counter() - began:.0f} s"
    )


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--chats", type=int, help="subscribed chats (5000, scale 100000; --quick 1000)"
    )
    parser.add_argument(
        "--pacing-chats", type=int, help="chats of the paced run (as --chats; --quick 300)"
    )
    parser.add_argument("--runs", type=int, help="throughput runs (3; --quick 1)")
    parser.add_argument(
        "--rate",
        "--max-rate",
        dest="rate",
        type=float,
        help=f"TELEGRAM_MAX_RATE of the paced run ({PACING_RATE:g}) or the scale run "
        f"({SCALE_RATE:g})",
    )
    parser.add_argument(
        "--askers",
        type=float,
        default=ASKERS_PER_SECOND,
        help="new users a second sending /help during the paced run (0: none)",
    )
    parser.add_argument("--server", choices=["process", "thread"], default="process")
    parser.add_argument("--quick", action="store_true", help="small numbers, a quick look")
    parser.add_argument("--only", choices=["throughput", "pacing", "scale"])
    return parser.parse_args()


async def main() -> None:
    args = arguments()
    if args.only == "scale":
        await scale(args.chats or SCALE_CHATS, args.rate or SCALE_RATE, args.server)
        return
    chats = args.chats or (1000 if args.quick else 5000)
    runs = args.runs or (1 if args.quick else 3)
    paced = args.pacing_chats or (300 if args.quick else chats)
    if args.only != "pacing":
        await throughput(chats, runs, args.server)
    if args.only != "throughput":
        await pacing(paced, args.rate or PACING_RATE, args.askers)


if __name__ == "__main__":
    asyncio.run(main())
