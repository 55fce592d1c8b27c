"""The public endpoints over a real SQLite file, through aiohttp's test client.

Calendar feeds (the same bytes as `ngo-bot calendar export`, ETag and Last-Modified, 304),
`/healthz` (the decision of `ngo-bot health`), `/metrics` (the token, the Prometheus format, the
counters moved by real deliveries and questions), and the chat's link to the feed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import icalendar
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot.announcements.model import Kind
from bot.app import build_core
from bot.clock import utcnow
from bot.config import Settings
from bot.core.liveness import POLL
from bot.core.service import Core
from bot.storage import Storage
from bot.transports.base import SendOutcome
from bot.transports.console import ConsoleTransport
from bot.web import WebDeps, build_app
from bot.web.public import FeedVersions
from tests.conftest import Say
from tests.delivery_helpers import (
    ScriptedTransport,
    add_chats,
    dispatcher_for,
    eventually,
    grant_fields,
    service_for,
    settled,
)

# Date-sensitive: .ci/run runs these again at its fixed moments (`pytest -m dated`).
pytestmark = pytest.mark.dated

TOKEN = "scrape-me-7f3a9c"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(
        settings,
        web_listen=("127.0.0.1", 8080),
        web_url="https://bot.example.org",
        metrics_token=TOKEN,
    )


Client = TestClient[web.Request, web.Application]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
async def client(core: Core) -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app(WebDeps.for_core(core)))) as test_client:
        yield test_client


async def publish_grant(storage: Storage, settings: Settings, title: str, **extra: object) -> int:
    announcement = await service_for(storage, settings).create(
        grant_fields(title=title, **extra), actor="console:boss"
    )
    return announcement.id


async def publish_meeting(storage: Storage, settings: Settings, title: str) -> int:
    now = utcnow()
    fields = grant_fields(
        title=title,
        kind=Kind.MEETING,
        topic="meetings",
        deadline=None,
        starts_at=now + timedelta(days=3),
        ends_at=now + timedelta(days=3, hours=2),
        remind=Kind.MEETING.default_remind,
        location="Rynek Główny 1, Kraków",
    )
    announcement = await service_for(storage, settings).create(fields, actor="console:boss")
    return announcement.id


def summaries(data: bytes) -> list[str]:
    calendar = icalendar.Calendar.from_ical(data)
    return sorted(str(event["SUMMARY"]) for event in calendar.walk("VEVENT"))


# ------------------------------------------------------------------------- calendar feeds


async def test_the_feed_is_the_calendar_export(
    client: Client, storage: Storage, settings: Settings
) -> None:
    await publish_grant(storage, settings, "Konkurs na kulturę")
    await publish_meeting(storage, settings, "Spotkajmy się w 3. miejscu")
    response = await client.get("/calendar.ics")
    assert response.status == 200
    assert response.content_type == "text/calendar"
    data = await response.read()
    assert summaries(data) == ["Konkurs na kulturę", "Spotkajmy się w 3. miejscu"]
    export = await service_for(storage, settings).calendar(settings.default_language)
    assert data == export


async def test_the_feed_stays_the_same_while_nothing_changes(
    core: Core, storage: Storage, settings: Settings
) -> None:
    await publish_grant(storage, settings, "Konkurs na kulturę")
    now = utcnow()
    etags = []
    for later in (timedelta(0), timedelta(seconds=3), timedelta(hours=5)):
        deps = WebDeps.for_core(core, clock=lambda later=later: now + later)
        async with TestClient(TestServer(build_app(deps))) as test_client:
            response = await test_client.get("/calendar.ics")
            etags.append(response.headers["ETag"])
    assert etags[0] == etags[1] == etags[2]


async def test_a_topic_feed_holds_only_that_topic(
    client: Client, storage: Storage, settings: Settings
) -> None:
    await publish_grant(storage, settings, "Konkurs na kulturę")
    await publish_meeting(storage, settings, "Spotkajmy się w 3. miejscu")
    meetings = await (await client.get("/calendar/meetings.ics")).read()
    assert summaries(meetings) == ["Spotkajmy się w 3. miejscu"]
    grants = await (await client.get("/calendar/grants.ics")).read()
    assert summaries(grants) == ["Konkurs na kulturę"]
    assert summaries(await (await client.get("/calendar/news.ics")).read()) == []


async def test_an_unknown_topic_is_404_and_a_bad_language_400(
    client: Client,
) -> None:
    assert (await client.get("/calendar/nosuch.ics")).status == 404
    assert (await client.get("/calendar/GRANTS.ics")).status == 404
    assert (await client.get("/calendar.ics?lang=ru")).status == 400


async def test_the_feed_in_another_language(
    client: Client, storage: Storage, settings: Settings
) -> None:
    await publish_grant(storage, settings, "Konkurs", title_uk="Конкурс", text_uk="Текст")
    ukrainian = await (await client.get("/calendar.ics?lang=uk")).read()
    assert summaries(ukrainian) == ["Конкурс"]
    calendar = icalendar.Calendar.from_ical(ukrainian)
    assert str(calendar["X-WR-CALNAME"]) == "Терміни та зустрічі"


async def test_its_etag_answers_304(client: Client, storage: Storage, settings: Settings) -> None:
    await publish_grant(storage, settings, "Konkurs")
    first = await client.get("/calendar.ics")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = await client.get("/calendar.ics", headers={"If-None-Match": etag})
    assert again.status == 304
    assert await again.read() == b""
    assert again.headers["ETag"] == etag
    for header in (f"W/{etag}", f'"other", {etag}', "*"):
        assert (await client.get("/calendar.ics", headers={"If-None-Match": header})).status == 304
    other = await client.get("/calendar.ics", headers={"If-None-Match": '"other"'})
    assert other.status == 200


async def test_if_modified_since_answers_304_until_the_content_changes(
    client: Client, storage: Storage, settings: Settings
) -> None:
    await publish_grant(storage, settings, "Konkurs")
    first = await client.get("/calendar.ics")
    modified = first.headers["Last-Modified"]
    unchanged = await client.get("/calendar.ics", headers={"If-Modified-Since": modified})
    assert unchanged.status == 304
    await publish_grant(storage, settings, "Drugi konkurs")
    changed = await client.get(
        "/calendar.ics", headers={"If-Modified-Since": modified, "If-None-Match": '"stale"'}
    )
    assert changed.status == 200
    assert summaries(await changed.read()) == ["Drugi konkurs", "Konkurs"]
    assert changed.headers["ETag"] != first.headers["ETag"]
    since = await client.get("/calendar.ics", headers={"If-Modified-Since": modified})
    assert since.status == 200  # changed within the same second: dated a second later
    assert parsedate_to_datetime(since.headers["Last-Modified"]) > parsedate_to_datetime(modified)


async def test_a_cancelled_announcement_leaves_the_feed(
    client: Client, storage: Storage, settings: Settings
) -> None:
    grant = await publish_grant(storage, settings, "Konkurs")
    first = await client.get("/calendar.ics")
    await service_for(storage, settings).cancel(grant, actor="console:boss")
    after = await client.get("/calendar.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert after.status == 200
    assert summaries(await after.read()) == []


async def test_an_edit_or_a_meeting_held_elsewhere_changes_the_feed(
    client: Client, storage: Storage, settings: Settings
) -> None:
    grant = await publish_grant(storage, settings, "Konkurs")
    first = await client.get("/calendar.ics")
    service = service_for(storage, settings)
    await service.edit(grant, {"title_pl": "Konkurs poprawiony"}, actor="console:boss")
    edited = await client.get("/calendar.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert edited.status == 200
    assert summaries(await edited.read()) == ["Konkurs poprawiony"]

    now = utcnow().replace(second=0, microsecond=0)
    weekly = grant_fields(
        title="Spotkanie co tydzień",
        kind=Kind.MEETING,
        topic="meetings",
        deadline=None,
        starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=1),
        remind="none",
        repeat="FREQ=WEEKLY",
        location="Rynek Główny 1",
    )
    meeting = await service.create(weekly, actor="console:boss")
    before = await client.get("/calendar/meetings.ics")
    day = (now + timedelta(days=9)).astimezone(settings.timezone).date()
    await service.move_occurrence(meeting.id, day, "Nowa Huta", actor="console:boss")
    moved = await client.get(
        "/calendar/meetings.ics", headers={"If-None-Match": before.headers["ETag"]}
    )
    assert moved.status == 200
    places = [
        str(event["LOCATION"])
        for event in icalendar.Calendar.from_ical(await moved.read()).walk("VEVENT")
    ]
    assert sorted(places) == ["Nowa Huta", "Rynek Główny 1"]


def test_feed_versions_never_repeat_a_date() -> None:
    versions = FeedVersions()
    now = datetime(2026, 6, 17, 8, 0, 0, 400_000).astimezone()
    first = versions.version((None, "pl"), b"A", now)
    assert versions.version((None, "pl"), b"A", now + timedelta(minutes=5)) == first
    second = versions.version((None, "pl"), b"B", now)
    back = versions.version((None, "pl"), b"A", now)
    assert first.last_modified < second.last_modified < back.last_modified
    assert first.last_modified.microsecond == 0
    assert back.etag == first.etag
    # Each feed is dated on its own.
    assert versions.version(("grants", "pl"), b"A", now).last_modified == first.last_modified


# --------------------------------------------------------------------------------- health


async def test_healthz_is_200_when_no_bot_runs(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.text()).startswith("ok: database opens; no bot is running")
    assert response.headers["Cache-Control"] == "no-store"


async def healthz_at(core: Core, moment: datetime) -> tuple[int, str]:
    deps = replace(WebDeps.for_core(core), clock=lambda: moment)
    async with TestClient(TestServer(build_app(deps))) as test_client:
        response = await test_client.get("/healthz")
        return response.status, await response.text()


async def test_healthz_follows_the_heartbeat(core: Core, storage: Storage) -> None:
    await storage.heartbeat.started(4242, {"telegram": POLL})
    now = utcnow()
    status, line = await healthz_at(core, now + timedelta(seconds=5))
    assert status == 200 and line.startswith("ok: bot (pid 4242) alive"), line
    status, line = await healthz_at(core, now + timedelta(seconds=100))
    assert status == 503 and "last heartbeat 100 s ago" in line, line


async def test_healthz_is_503_when_a_network_is_silent(core: Core, storage: Storage) -> None:
    await storage.heartbeat.started(4242, {"telegram": POLL})
    await storage.heartbeat.progressed({"telegram": utcnow() - timedelta(seconds=200)})
    status, line = await healthz_at(core, utcnow() + timedelta(seconds=5))
    assert status == 503, line
    assert "telegram last completed a poll" in line and "(limit 120 s)" in line, line
    await storage.heartbeat.progressed({"telegram": utcnow()})
    status, line = await healthz_at(core, utcnow() + timedelta(seconds=5))
    assert status == 200, line


async def test_healthz_is_503_without_a_schema(settings: Settings) -> None:
    empty = await Storage.open(settings.db_path.with_name("empty.sqlite3"), migrate=False)
    try:
        status, line = await healthz_at(build_core(empty, settings), utcnow())
    finally:
        await empty.close()
    assert status == 503 and "no schema" in line


# -------------------------------------------------------------------------------- metrics


async def test_metrics_need_the_token(client: Client) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": f"Bearer {TOKEN}x"},
    ):
        response = await client.get("/metrics", headers=headers)
        assert response.status == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "ngo_bot" not in await response.text()
    assert (await client.get("/metrics", headers=AUTH)).status == 200


async def test_metrics_are_off_without_a_token(core: Core, settings: Settings) -> None:
    core.settings = replace(settings, metrics_token=None)
    async with TestClient(TestServer(build_app(WebDeps.for_core(core)))) as test_client:
        response = await test_client.get("/metrics")
        assert response.status == 404
        assert "BOT_METRICS_TOKEN" in await response.text()


async def scrape(client: Client) -> Samples:
    response = await client.get("/metrics", headers=AUTH)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def test_metrics_parse_with_every_required_family(client: Client) -> None:
    samples = await scrape(client)
    for platform in ("telegram", "matrix", "console"):
        assert value(samples, "ngo_bot_messages_sent_total", platform=platform) == 0
        assert value(samples, "ngo_bot_messages_failed_total", platform=platform) == 0
        assert value(samples, "ngo_bot_active_chats", platform=platform) == 0
    for outcome in ("answered", "choice", "abstained"):
        assert value(samples, "ngo_bot_faq_questions_total", outcome=outcome) == 0
    assert value(samples, "ngo_bot_outbox_pending") == 0
    assert value(samples, "ngo_bot_reply_latency_seconds_count") == 0
    assert ("ngo_bot_reply_latency_seconds_bucket", (("le", "+Inf"),)) in samples


async def test_counters_move_with_a_broadcast(
    core: Core, storage: Storage, settings: Settings
) -> None:
    deps = WebDeps.for_core(core, core.metrics)
    telegram = ScriptedTransport("telegram")
    telegram.script["t3"] = [SendOutcome.failed("Bad Request: can't parse entities")]
    telegram.script["t4"] = [SendOutcome.gone("Forbidden: bot was blocked by the user")]
    await add_chats(storage, "telegram", ["t1", "t2", "t3", "t4"])
    await add_chats(storage, "console", ["ala", "ola"])
    async with TestClient(TestServer(build_app(deps))) as test_client:
        before = await scrape(test_client)
        assert value(before, "ngo_bot_active_chats", platform="telegram") == 4
        grant = await publish_grant(storage, settings, "Konkurs")
        waiting = await scrape(test_client)
        assert value(waiting, "ngo_bot_outbox_pending") == 6
        dispatcher = dispatcher_for(
            storage, settings, {"telegram": telegram, "console": ConsoleTransport(storage)}
        )
        dispatcher.metrics = core.metrics
        await dispatcher.start()
        try:
            await eventually(lambda: settled(storage, grant))
        finally:
            await dispatcher.stop()
        after = await scrape(test_client)
    assert value(after, "ngo_bot_messages_sent_total", platform="telegram") == 2
    assert value(after, "ngo_bot_messages_sent_total", platform="console") == 2
    assert value(after, "ngo_bot_messages_failed_total", platform="telegram") == 1
    assert value(after, "ngo_bot_recipients_gone_total", platform="telegram") == 1
    assert value(after, "ngo_bot_outbox_pending") == 0
    assert value(after, "ngo_bot_active_chats", platform="telegram") == 3  # t4 is gone


async def test_faq_outcomes_and_reply_latency_are_counted(core: Core, say: Say) -> None:
    deps = WebDeps.for_core(core, core.metrics)
    await say("Jak przekazać 1,5% podatku?")
    await say("KP-2 patronat czy partnerstwo?")
    await say("zzzz qqqq xxxx")
    await say("/help")
    async with TestClient(TestServer(build_app(deps))) as test_client:
        samples = await scrape(test_client)
    assert value(samples, "ngo_bot_faq_questions_total", outcome="answered") == 1
    assert value(samples, "ngo_bot_faq_questions_total", outcome="choice") == 1
    assert value(samples, "ngo_bot_faq_questions_total", outcome="abstained") == 1
    assert value(samples, "ngo_bot_reply_latency_seconds_count") == 4
    assert value(samples, "ngo_bot_reply_latency_seconds_sum") > 0


# --------------------------------------------------------------------- the link in chat


@pytest.mark.parametrize(
    ("language", "words"),
    [("pl", "Subskrybuj"), ("uk", "Підпишіться"), ("en", "Subscribe in your calendar")],
)
async def test_deadlines_and_events_link_the_feed(say: Say, language: str, words: str) -> None:
    await say(f"/language {language}", chat=f"reader-{language}")
    for command in ("/deadlines", "/events"):
        (reply,) = await say(command, chat=f"reader-{language}")
        assert words in reply.text
        assert f"https://bot.example.org/calendar.ics?lang={language}" in reply.text


async def test_no_link_without_the_web_server(core: Core, say: Say, settings: Settings) -> None:
    core.settings = replace(settings, web_listen=None, web_url=None)
    for command in ("/deadlines", "/events"):
        (reply,) = await say(command)
        assert "calendar.ics" not in reply.text
