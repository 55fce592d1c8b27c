"""The web console's response time per page with 10,000 chats.

    PYTHONPATH=. python -m benchmarks.web_pages [--chats 10000] [--requests 200]

A fresh SQLite file with the chats (three platforms, three languages, every topic, subscribed
over the last 90 days), 40 announcements with their outbox rows, 200 unanswered questions,
200 questions for the office (100 answered) and the audit log they leave; the console's real application (bot.web.build_app) on 127.0.0.1; one
logged-in client asking each page in turn. Prints p50 and p99 of each page's time from request
to the last byte, in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer

from bot.announcements.model import Fields, Kind
from bot.app import build_core
from bot.clock import to_db, utcnow
from bot.config import Settings
from bot.core.messages import ChatRef
from bot.questions.service import QuestionService
from bot.storage import Storage
from bot.web import WebDeps, build_app
from bot.weblogin import ConsoleAuth

PLATFORMS = ("telegram", "matrix", "console")
LANGUAGES = ("pl", "uk", "en")
TOPICS = ("grants", "tax", "meetings", "consultations", "news")
ADMIN = "console:boss"
STAFF_CHATS = ("console:office",)
QUESTIONS = 200
PAGES = (
    "/",
    "/announcements",
    "/announcements/new",
    "/announcements/40",
    "/announcements/40/progress",
    "/announcements/40/edit",
    "/announcements/40/cancel",
    "/unanswered",
    "/questions",
    "/questions?state=answered",
    "/questions/150/close",
    "/staff",
    "/audit",
)


async def populate(storage: Storage, chats: int) -> None:
    """Chats subscribed over the last 90 days, announcements with their messages, questions."""
    now = utcnow()
    async with storage.db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO chats (platform, chat_id, kind, language, created_at)"
            " VALUES (?, ?, 'private', ?, ?)",
            [
                (
                    PLATFORMS[i % 3],
                    f"c{i}",
                    LANGUAGES[(i // 3) % 3],
                    to_db(now - timedelta(minutes=13 * i % (90 * 24 * 60))),
                )
                for i in range(chats)
            ],
        )
        for n, topic in enumerate(TOPICS):
            await tx.execute(
                "INSERT INTO subscriptions (chat_ref, topic, created_at)"
                " SELECT id, ?, created_at FROM chats WHERE id % 5 <= ?",
                (topic, 4 - n),
            )
        await tx.execute(
            "INSERT INTO subscription_hours (hour, topic, added)"
            " SELECT substr(created_at, 1, 13), topic, COUNT(*) FROM subscriptions"
            " GROUP BY 1, 2"
        )
    core = build_core(storage, storage_settings(storage))
    service = WebDeps.for_core(core).announcements
    for n in range(40):
        fields = Fields(
            kind=Kind.GRANT_DEADLINE,
            topic=TOPICS[n % 5],
            title_pl=f"Konkurs {n}",
            text_pl="Oferty do końca terminu. " * 20,
            title_uk=f"Конкурс {n}",
            text_uk="Пропозиції до кінця терміну. " * 20,
            publish_at=now,
            deadline=now + timedelta(days=30 + n),
            remind="14d@09:00,3d@09:00,1d@09:00",
        )
        await service.create(fields, actor=ADMIN)
    for n in range(200):
        await storage.unanswered.record(f"Pytanie numer {n} o coś ważnego?", "pl")
    await ask_the_office(storage, storage_settings(storage))


async def ask_the_office(storage: Storage, settings: Settings) -> None:
    """QUESTIONS questions from as many chats, the first half answered (the page's two lists)."""
    service = QuestionService(storage, settings)
    for n in range(QUESTIONS):
        chat = await storage.chats.get(ChatRef(PLATFORMS[n % 3], f"c{n}"))
        assert chat is not None
        text = f"Чи можна отримати компенсацію за оренду приміщення номер {n}? " * 3
        await service.file(chat, text, chat.language or "uk", utcnow())
    for number in range(1, QUESTIONS // 2 + 1):
        await service.answer(number, "Так, через портал. " * 5, ADMIN, ADMIN, utcnow())


def storage_settings(storage: Storage) -> Settings:
    return Settings(
        db_path=storage.db.path,
        admins=frozenset({ADMIN}),
        quiet_hours=None,
        staff_chats=STAFF_CHATS,
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def measure(chats: int, requests: int, folder: Path) -> dict[str, list[float]]:
    settings = Settings(
        db_path=folder / "bench.sqlite3", admins=frozenset({ADMIN}), staff_chats=STAFF_CHATS
    )
    storage = await Storage.open(settings.db_path)
    try:
        await populate(storage, chats)
        core = build_core(storage, settings)
        server = TestServer(build_app(WebDeps.for_core(core)), host="127.0.0.1")
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        link = await ConsoleAuth(storage, settings).login_link(ADMIN, base)
        times: dict[str, list[float]] = {page: [] for page in (*PAGES, "POST preview")}
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as client:
            async with client.get(link) as resp:  # the "Log in" button's page, then its POST
                button = re.search(r'name="csrf" value="([A-Za-z0-9_-]+)"', await resp.text())
            assert button is not None, "the login link shows no button"
            async with client.post(link, data={"csrf": button.group(1)}) as resp:
                csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', await resp.text())
            assert csrf is not None, "the login did not work"
            form = {
                "csrf": csrf.group(1),
                "kind": "grant-deadline",
                "title_pl": "Konkurs",
                "text_pl": "Tekst " * 100,
                "title_uk": "Конкурс",
                "text_uk": "Текст " * 100,
                "deadline": "30.04.2030",
                "action": "preview",
            }
            for _round in range(requests):
                for page in PAGES:
                    started = time.perf_counter()
                    async with client.get(base + page) as resp:
                        await resp.read()
                        assert resp.status == 200, (page, resp.status)
                    times[page].append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                async with client.post(base + "/announcements/new", data=form) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
                times["POST preview"].append((time.perf_counter() - started) * 1000)
        await server.close()
        return times
    finally:
        await storage.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        times = asyncio.run(measure(args.chats, args.requests, Path(folder)))
    print(f"{args.chats} chats, {args.requests} requests per page (ms, request to last byte)")
    print(f"{'page':32} {'p50':>7} {'p99':>7} {'max':>7}")
    for page, values in times.items():
        print(
            f"{page:32} {statistics.median(values):7.1f} {percentile(values, 0.99):7.1f} "
            f"{max(values):7.1f}"
        )


if __name__ == "__main__":
    main()
