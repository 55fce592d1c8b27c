"""Latency of the web server's public endpoints with 10,000 chats.

    PYTHONPATH=. python -m benchmarks.web [--chats 10000] [--requests 500] [--announcements 40]

A fresh SQLite file with `--chats` active chats on three platforms subscribed to every topic,
`--announcements` published deadlines and meetings (a quarter of the meetings recurring) whose
broadcasts were delivered (a row per chat each stays in the outbox), and one more broadcast
waiting (a row per chat, which `ngo_bot_outbox_pending` counts);
then the real aiohttp application on 127.0.0.1 (the WebServer of `ngo-bot run`) and a client
in the same process asking each endpoint `--requests` times, one request at a time. Prints
p50 / p99 / max per endpoint in milliseconds, client time included (an upper bound).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import aiohttp

from bot.announcements.model import Fields, Kind
from bot.app import build_core
from bot.clock import utcnow
from bot.config import Settings
from bot.storage import Storage
from bot.web import WebDeps, WebServer

PLATFORMS = ("telegram", "matrix", "console")
LANGUAGES = ("pl", "uk", "en", None)
TOKEN = "benchmark-token"


async def add_chats(storage: Storage, count: int) -> None:
    """`count` active chats, each subscribed to every topic (one transaction)."""
    async with storage.db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO chats (platform, chat_id, kind, language, created_at)"
            " VALUES (?, ?, 'private', ?, '2026-01-01T00:00:00.000000+00:00')",
            [
                (PLATFORMS[i % len(PLATFORMS)], f"c{i}", LANGUAGES[i % len(LANGUAGES)])
                for i in range(count)
            ],
        )
        for topic in ("grants", "tax", "meetings", "consultations", "news"):
            await tx.execute(
                "INSERT INTO subscriptions (chat_ref, topic, created_at)"
                " SELECT id, ?, created_at FROM chats",
                (topic,),
            )


def announcement_fields(index: int) -> Fields:
    now = utcnow()
    common = {
        "title_pl": f"Ogłoszenie {index}",
        "text_pl": "Treść ogłoszenia, z przecinkami; i średnikami.",
        "title_uk": f"Оголошення {index}",
        "text_uk": "Текст оголошення.",
        "publish_at": now,
        "remind": "none",
        "url": "https://ngo.krakow.pl/konkursy",
    }
    if index % 2 == 0:
        return Fields(
            kind=Kind.GRANT_DEADLINE,
            topic="grants",
            deadline=now + timedelta(days=10 + index),
            **common,
        )
    start = (now + timedelta(days=5 + index, hours=index % 7)).replace(second=0, microsecond=0)
    return Fields(
        kind=Kind.MEETING,
        topic="meetings",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        location="Rynek Główny 1, Kraków",
        repeat="FREQ=WEEKLY" if index % 4 == 1 else None,
        **common,
    )


async def prepare(folder: Path, chats: int, announcements: int) -> Settings:
    settings = Settings(
        db_path=folder / "web.sqlite3",
        quiet_hours=None,
        web_listen=("127.0.0.1", free_port()),
        metrics_token=TOKEN,
    )
    storage = await Storage.open(settings.db_path)
    try:
        await add_chats(storage, chats)
        core = build_core(storage, settings)
        service = WebDeps.for_core(core).announcements
        for index in range(announcements):
            await service.create(announcement_fields(index), actor="bench:web")
        # Their broadcasts delivered (the outbox keeps the history: a row per chat each) ...
        await storage.db.execute("UPDATE outbox SET state = 'sent'")
        # ... and one more to everyone left waiting (nothing delivers here).
        news = replace(announcement_fields(0), kind=Kind.NEWS, topic="news", deadline=None)
        await service.create(news, actor="bench:web")
    finally:
        await storage.close()
    return settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure(
    session: aiohttp.ClientSession, url: str, requests: int, headers: dict[str, str]
) -> list[float]:
    """Milliseconds per request (after two warm-up requests); every answer must be 200/304."""
    timings = []
    for attempt in range(requests + 2):
        started = time.perf_counter()
        async with session.get(url, headers=headers) as response:
            await response.read()
            if response.status not in (200, 304):
                raise RuntimeError(f"{url}: {response.status}")
        if attempt >= 2:
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(chats: int, requests: int, announcements: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = await prepare(Path(folder), chats, announcements)
        assert settings.web_listen is not None
        storage = await Storage.open(settings.db_path)
        core = build_core(storage, settings)
        server = WebServer(WebDeps.for_core(core, core.metrics), *settings.web_listen)
        await server.start()
        base = f"http://127.0.0.1:{settings.web_listen[1]}"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(base + "/calendar.ics") as first:
                    etag = first.headers["ETag"]
                    size = len(await first.read())
                async with session.get(base + "/metrics", headers=auth) as scrape:
                    pending = [
                        line
                        for line in (await scrape.text()).splitlines()
                        if line.startswith("ngo_bot_outbox_pending ")
                    ]
                print(
                    f"{chats} chats, {announcements + 1} announcements, calendar {size} bytes, "
                    f"{pending[0]}; {requests} requests each, one at a time"
                )
                cases = [
                    ("/calendar.ics", {}),
                    ("/calendar.ics (304, If-None-Match)", {"If-None-Match": etag}),
                    ("/calendar/meetings.ics", {}),
                    ("/healthz", {}),
                    ("/metrics", auth),
                ]
                for label, headers in cases:
                    path = label.split(" ")[0]
                    timings = await measure(session, base + path, requests, headers)
                    print(
                        f"{label:38} p50 {statistics.median(timings):6.2f} ms   "
                        f"p99 {percentile(timings, 0.99):6.2f} ms   max {max(timings):6.2f} ms"
                    )
        finally:
            await server.stop()
            await storage.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--announcements", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(run(args.chats, args.requests, args.announcements))


if __name__ == "__main__":
    main()
