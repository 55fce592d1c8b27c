"""The real `ngo-bot run` with BOT_WEB_LISTEN, over real HTTP on 127.0.0.1.

Web-only (console chats, no chat network): the feeds equal `ngo-bot calendar export` and
answer 304, `/healthz` follows the running bot, `/metrics` needs its token and its counters
follow a broadcast published by the CLI. With Telegram (the fake Bot API): the FAQ's outcomes
and the reply latency, and the chat's link to the feed.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import icalendar
from prometheus_client.parser import text_string_to_metric_families

from bot.clock import utcnow
from tests.conftest import BOT_COMMAND, bot_env
from tests.fakebotapi import FakeBotApi
from tests.test_telegram_run import BotProcess
from tests.web_helpers import WebBot

TOKEN = "a-long-random-scrape-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def ngo_bot(
    db_path: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*BOT_COMMAND, *args],
        input=stdin.encode("utf-8") if stdin is not None else None,
        capture_output=True,
        timeout=60,
        env=bot_env(db_path),
        check=True,
    )


def samples_of(web: WebBot) -> Samples:
    answer = web.get("/metrics", AUTH)
    assert answer.status == 200, answer.text
    found: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def metric(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def wait_for_metric(
    web: WebBot, check: Callable[[Samples], bool], what: str, timeout: float = 30.0
) -> Samples:
    deadline = time.monotonic() + timeout
    while True:
        samples = samples_of(web)
        if check(samples):
            return samples
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached: {samples}\n{web.log()}")
        time.sleep(0.2)


def announce_grant(db_path: Path, title: str) -> None:
    deadline = (utcnow() + timedelta(days=20)).isoformat(timespec="seconds")
    ngo_bot(
        db_path,
        "announce",
        "create",
        "--kind",
        "grant-deadline",
        "--deadline",
        deadline,
        "--title-pl",
        title,
        "--text-pl",
        "Oferty do końca miesiąca.",
        "--json",
    )


def test_web_only_run_serves_feeds_health_and_metrics(
    tmp_path: Path, run_bot: list[BotProcess]
) -> None:
    db_path = tmp_path / "bot.sqlite3"
    for user in ("ala", "ola"):
        ngo_bot(db_path, "chat", "--user", user, stdin="/subscribe grants\n")
    web = WebBot(tmp_path, {"BOT_METRICS_TOKEN": TOKEN})
    run_bot.append(web.bot)
    web.wait_until_up()

    health = web.get("/healthz")
    assert health.status == 200 and health.text.startswith("ok: bot (pid"), health.text
    assert web.get("/metrics").status == 401
    assert web.get("/metrics", {"Authorization": "Bearer nope"}).status == 401
    before = samples_of(web)
    assert metric(before, "ngo_bot_active_chats", platform="console") == 2
    assert metric(before, "ngo_bot_messages_sent_total", platform="console") == 0

    announce_grant(db_path, "Otwarty konkurs ofert 2027")
    # A send is counted when its outcome is known; the outbox records the batch's outcomes a
    # moment later, so the pending gauge reaches 0 after the counter reaches 2.
    after = wait_for_metric(
        web,
        lambda s: (
            metric(s, "ngo_bot_messages_sent_total", platform="console") == 2
            and metric(s, "ngo_bot_outbox_pending") == 0
        ),
        "two console deliveries, recorded",
    )
    assert metric(after, "ngo_bot_messages_failed_total", platform="console") == 0

    feed = web.get("/calendar.ics")
    assert feed.status == 200 and feed.headers["Content-Type"].startswith("text/calendar")
    export = ngo_bot(db_path, "calendar", "export").stdout
    assert feed.body == export
    (event,) = icalendar.Calendar.from_ical(feed.body).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Otwarty konkurs ofert 2027"
    assert web.get("/calendar.ics", {"If-None-Match": feed.headers["ETag"]}).status == 304
    since = {"If-Modified-Since": feed.headers["Last-Modified"]}
    assert web.get("/calendar.ics", since).status == 304
    topic = web.get("/calendar/grants.ics")
    assert topic.body == ngo_bot(db_path, "calendar", "export", "--topic", "grants").stdout
    assert web.get("/calendar/nosuch.ics").status == 404

    code, took = web.bot.terminate()
    assert code == 0 and took < 10, web.log()
    assert TOKEN not in web.log()


def test_telegram_questions_and_the_feed_link(
    fake_bot_api: FakeBotApi, tmp_path: Path, run_bot: list[BotProcess]
) -> None:
    api = fake_bot_api
    web = WebBot(
        tmp_path,
        {**api.env(), "BOT_METRICS_TOKEN": TOKEN, "BOT_WEB_URL": "https://bot.example.org/"},
    )
    run_bot.append(web.bot)
    web.wait_until_up()
    olena = api.make_user("Olena", language_code="uk")
    api.inject_command(olena, "subscribe", "grants")
    api.wait_for_messages_sync(olena.id, 1, timeout=30)
    api.inject_message(olena, "Як передати 1,5% податку?")
    api.inject_command(olena, "deadlines")
    replies = api.wait_for_messages_sync(olena.id, 3, timeout=30)
    assert "https://bot.example.org/calendar.ics?lang=uk" in replies[2].text
    assert "Підпишіться" in replies[2].text

    samples = wait_for_metric(
        web,
        lambda s: metric(s, "ngo_bot_reply_latency_seconds_count") >= 3,
        "three replies timed",
    )
    assert metric(samples, "ngo_bot_faq_questions_total", outcome="answered") == 1
    assert metric(samples, "ngo_bot_faq_questions_total", outcome="abstained") == 0
    assert metric(samples, "ngo_bot_active_chats", platform="telegram") == 1

    announce_grant(web.bot.db_path, "Konkurs")
    wait_for_metric(
        web,
        lambda s: metric(s, "ngo_bot_messages_sent_total", platform="telegram") == 1,
        "the broadcast sent on Telegram",
    )
    api.wait_for_messages_sync(olena.id, 4, timeout=30)
    code, took = web.bot.terminate()
    assert code == 0 and took < 10, web.log()
