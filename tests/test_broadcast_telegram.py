"""Broadcasts through Telegram end to end: the dispatcher and TelegramTransport (PTB's HTTP stack)
against the fake Bot API — in this process where that is enough, and as the real `ngo-bot run`
where the issue is about the process: the CLI beside it, replies during a broadcast, kill -9."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import build_core
from bot.clock import utcnow
from bot.config import Settings
from bot.core.messages import ChatRef
from bot.core.service import Core
from bot.delivery import Dispatcher, limits_for
from bot.storage import Storage
from bot.transports.telegram import TelegramTransport
from tests.conftest import ROOT, bot_env
from tests.delivery_helpers import (
    FAST,
    add_chats,
    eventually,
    grant_fields,
    service_for,
    settled,
    state_counts,
)
from tests.fakebotapi import FakeBotApi, FakeUser, SentMessage
from tests.test_announce_cli import ahead
from tests.test_cli import ngo_bot
from tests.test_telegram_run import BotProcess

log = logging.getLogger(__name__)

ADMIN = 1000
HINT = "/unsubscribe grants"
SETTLE_SECONDS = 30.0  # a bound for a slow machine, never a pace


@dataclass
class Rig:
    """The bot's Telegram side in this process: core, transport and dispatcher over one file."""

    api: FakeBotApi
    settings: Settings
    storage: Storage
    core: Core
    transport: TelegramTransport
    replies: dict[int, int] = field(default_factory=dict)  # per person, before broadcasts

    async def subscriber(self, name: str, language: str, topic: str = "grants") -> FakeUser:
        """A person who subscribed in a private chat (their first message to the bot)."""
        person = self.api.make_user(name, language_code=language)
        self.api.inject_command(person, "subscribe", topic)
        self.replies[person.id] = len(await self.api.wait_for_messages(person.id, 1))
        return person

    def received(self, person: FakeUser) -> list[SentMessage]:
        """What the person got after subscribing: the broadcasts."""
        return self.api.sent_messages(person.id)[self.replies[person.id] :]

    async def create(self, **fields: object) -> int:
        announcement = await service_for(self.storage, self.settings).create(
            grant_fields(**fields), actor=f"telegram:{ADMIN}"
        )
        return announcement.id

    async def settle(self, announcement_id: int) -> dict[str, int]:
        await eventually(lambda: settled(self.storage, announcement_id), SETTLE_SECONDS)
        return await state_counts(self.storage, announcement_id)


@pytest.fixture
async def rig(fake_bot_api: FakeBotApi, storage: Storage, settings: Settings) -> AsyncIterator[Rig]:
    configured = replace(
        settings,
        telegram_token=fake_bot_api.token,
        telegram_api_base_url=fake_bot_api.base_url,
        admins=frozenset({f"telegram:{ADMIN}"}),
    )
    core = build_core(storage, configured)
    fatal: list[str] = []
    transport = TelegramTransport(configured, core, fatal.append)
    await transport.start()
    await asyncio.wait_for(transport.ready.wait(), 10)
    dispatcher = Dispatcher(
        storage,
        configured,
        core.topics,
        {"telegram": transport},
        policy=FAST,
        limits={"telegram": limits_for("telegram", configured)},  # 25/s, 1/s per chat
    )
    await dispatcher.start()
    try:
        yield Rig(fake_bot_api, configured, storage, core, transport)
    finally:
        await dispatcher.stop()
        await transport.stop()
    assert not fatal


async def test_each_chat_gets_its_language_the_hint_and_the_staff_text_escaped(rig: Rig) -> None:
    ala = await rig.subscriber("Ala", "pl")
    olena = await rig.subscriber("Olena", "uk")
    john = await rig.subscriber("John", "en")
    announcement_id = await rig.create(
        title="Nabór <wniosków> & „Kraków 2027”",
        text="Uwaga: <b>to nie jest pogrubione</b> & 5 > 3",
        title_uk="Конкурс <заявок> & Краків",
        text_uk="Текст & <i>не курсив</i>",
    )
    counts = await rig.settle(announcement_id)
    assert counts["sent"] == 3

    (polish,) = rig.received(ala)
    (ukrainian,) = rig.received(olena)
    (english,) = rig.received(john)
    assert polish.parse_mode == ukrainian.parse_mode == english.parse_mode == "HTML"
    assert "Nabór &lt;wniosków&gt; &amp; „Kraków 2027”" in polish.text
    assert "Nabór <wniosków> & „Kraków 2027”" in polish.plain_text  # shown as written
    assert "<b>to nie jest pogrubione</b> & 5 > 3" in polish.plain_text
    assert "Termin" in polish.plain_text and "Aby wypisać się z tematu" in polish.plain_text
    assert "Конкурс <заявок> & Краків" in ukrainian.plain_text
    assert "<i>не курсив</i>" in ukrainian.plain_text and "Nabór" not in ukrainian.plain_text
    assert "Щоб відписатися від теми" in ukrainian.plain_text
    assert (
        "This announcement has no English version yet; here it is in Polish." in english.plain_text
    )
    assert "Nabór <wniosków>" in english.plain_text and "To stop receiving" in english.plain_text
    for message in (polish, ukrainian, english):
        assert message.plain_text.endswith(HINT)
    assert all(call.ok for call in rig.api.calls("sendMessage")), "the fake refused our HTML"


async def test_retry_after_pauses_the_platform_then_everyone_gets_it_once(rig: Rig) -> None:
    people = [await rig.subscriber(f"Osoba {n}", "pl") for n in range(6)]
    retry_after = 2
    rig.api.fail_with_retry_after(retry_after, method="sendMessage")
    counts = await rig.settle(await rig.create())

    assert counts["sent"] == 6 and counts["total"] == 6
    assert all(len(rig.received(person)) == 1 for person in people)  # none lost, none twice
    calls = rig.api.calls("sendMessage")
    (refused,) = [n for n, call in enumerate(calls) if call.status == 429]
    later = calls[refused + 1 :]
    assert later, "nothing was sent after the 429"
    # Nothing is started during the pause (one send may have been in flight already).
    early = [c for c in later if c.time - calls[refused].time < retry_after - 0.1]
    assert len(early) <= 1, [c.summary() for c in later]


async def test_a_chat_that_blocked_the_bot_becomes_inactive_and_is_never_tried_again(
    rig: Rig,
) -> None:
    ala = await rig.subscriber("Ala", "pl")
    bob = await rig.subscriber("Bob", "pl")
    rig.api.set_chat_error(bob.id, "blocked")
    first = await rig.settle(await rig.create(title="Pierwsze"))
    assert (first["sent"], first["gone"]) == (1, 1)
    chat = await rig.storage.chats.get(ChatRef("telegram", str(bob.id)))
    assert chat is not None and not chat.active

    second = await rig.settle(await rig.create(title="Drugie"))
    assert (second["total"], second["sent"]) == (1, 1)
    assert [m.plain_text.splitlines()[0] for m in rig.received(ala)] == [
        "📢 Pierwsze",
        "📢 Drugie",
    ]
    refused = [c for c in rig.api.calls("sendMessage") if c.params.get("chat_id") == bob.id]
    assert [c.status for c in refused] == [200, 403]  # the /subscribe reply, then one attempt


async def test_bad_gateway_is_retried_then_delivered(rig: Rig) -> None:
    people = [await rig.subscriber(f"Osoba {n}", "pl") for n in range(3)]
    rig.api.fail_with_bad_gateway(times=2, method="sendMessage")
    counts = await rig.settle(await rig.create())

    assert counts["sent"] == 3 and counts["failed"] == 0
    assert all(len(rig.received(person)) == 1 for person in people)
    assert [c.status for c in rig.api.calls("sendMessage")].count(502) == 2
    row = await rig.storage.db.fetch_one("SELECT SUM(attempts) FROM outbox")
    assert row is not None and row[0] == 3 + 2  # every attempt counted, the failed ones too


@pytest.mark.dated
async def test_a_correction_notice_reaches_those_who_received_it(rig: Rig) -> None:
    ala = await rig.subscriber("Ala", "pl")
    olena = await rig.subscriber("Olena", "uk")
    announcement_id = await rig.create(
        title="Konkurs", title_uk="Конкурс", text_uk="Текст", url="https://ngo.krakow.pl/a"
    )
    await rig.settle(announcement_id)
    late = await rig.subscriber("Późna", "pl")  # subscribed after the publication

    later = utcnow() + timedelta(days=45)
    edit = await service_for(rig.storage, rig.settings).edit(
        announcement_id,
        {"deadline": later, "url": "https://ngo.krakow.pl/b"},
        actor=f"telegram:{ADMIN}",
        notify=True,
    )
    assert edit.notified
    polish = (await rig.api.wait_for_async(lambda: rig.received(ala)[1:], SETTLE_SECONDS))[0]
    ukrainian = (await rig.api.wait_for_async(lambda: rig.received(olena)[1:], SETTLE_SECONDS))[0]
    assert polish.plain_text.startswith("✏️") and "Konkurs" in polish.plain_text
    assert "ngo.krakow.pl/b" in polish.text and "ngo.krakow.pl/a" not in polish.text
    assert ukrainian.plain_text.startswith("✏️") and "Конкурс" in ukrainian.plain_text
    await eventually(lambda: no_open_rows(rig.storage), SETTLE_SECONDS)
    assert rig.received(late) == []


async def no_open_rows(storage: Storage) -> bool:
    return await storage.outbox.open_count() == 0


class Chat:
    """A private chat with the bot, read message by message."""

    def __init__(self, api: FakeBotApi, person: FakeUser) -> None:
        self.api = api
        self.person = person
        self.seen = 0

    async def next(self, n: int = 1) -> list[SentMessage]:
        """The bot's next `n` messages in this chat."""
        wanted = self.seen + n
        messages = await self.api.wait_for_messages(self.person.id, wanted, SETTLE_SECONDS)
        self.seen = wanted
        return messages[wanted - n : wanted]

    async def say(self, text: str, n: int = 1) -> list[SentMessage]:
        self.api.inject_message(self.person, text)
        return await self.next(n)

    async def press(self, message: SentMessage, data: str, n: int = 1) -> list[SentMessage]:
        self.api.inject_callback_query(self.person, data, message)
        return await self.next(n)


async def test_the_guided_flow_publishes_from_buttons_and_the_author_gets_the_summary(
    rig: Rig,
) -> None:
    reader = await rig.subscriber("Czytelnik", "pl", topic="news")
    admin = Chat(rig.api, rig.api.make_user("Admin", user_id=ADMIN))
    marta = Chat(rig.api, rig.api.make_user("Marta", language_code="pl"))
    await admin.say(f"/staff add telegram:{marta.person.id}")

    _intro, kind = await marta.say("/announce", n=2)
    (title,) = await marta.press(kind, "announce pick kind news")
    assert "200" in title.plain_text
    await marta.say("Spotkanie <online> & kawa")
    (title_uk,) = await marta.say("Zapraszamy wszystkich organizatorów.")
    (title_en,) = await marta.press(title_uk, "announce pick title_uk skip")
    (link,) = await marta.press(title_en, "announce pick title_en skip")
    (topic,) = await marta.press(link, "announce pick url skip")
    assert topic.callback_data[0] == "announce pick topic news"
    preview, choices = await marta.press(topic, "announce pick topic news", n=2)
    assert "Spotkanie &lt;online&gt; &amp; kawa" in preview.text
    assert choices.callback_data[0] == "announce publish"
    (published,) = await marta.press(choices, "announce publish")
    assert "Liczba odbiorców: 1." in published.plain_text

    (broadcast,) = await rig.api.wait_for_async(lambda: rig.received(reader), SETTLE_SECONDS)
    assert "Spotkanie <online> & kawa" in broadcast.plain_text
    assert "/unsubscribe news" in broadcast.plain_text
    (summary,) = await marta.next()
    assert summary.plain_text.startswith("📊") and "Spotkanie <online> & kawa" in summary.plain_text
    assert "Wysłane: 1." in summary.plain_text
    assert all(call.ok for call in rig.api.calls("sendMessage"))


# --- the real `ngo-bot run` ------------------------------------------------------------------


@pytest.fixture
def bots() -> Iterator[list[BotProcess]]:
    started: list[BotProcess] = []
    yield started
    for bot in started:
        bot.kill()


def readers(count: int) -> list[int]:
    """Telegram user ids of subscribers written to the database before the bot starts."""
    return list(range(810_000_001, 810_000_001 + count))


def announce(tmp_path: Path, *options: str) -> int:
    result = ngo_bot(
        tmp_path,
        "announce",
        "create",
        "--json",
        "--kind=grant-deadline",
        "--text-pl=Szczegóły na stronie.",
        f"--deadline={ahead(days=30)}",
        *options,
    )
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)["id"])


def broadcast_to(api: FakeBotApi, ids: set[int]) -> Callable[[], list[SentMessage]]:
    return lambda: [m for m in api.sent_messages() if m.chat_id in ids]


async def test_a_running_bot_sends_a_cli_announcement_replies_meanwhile_and_cancel_stops_it(
    fake_bot_api: FakeBotApi,
    tmp_path: Path,
    storage: Storage,
    bots: list[BotProcess],
) -> None:
    api = fake_bot_api
    ids = set(readers(300))
    await add_chats(storage, "telegram", [str(i) for i in sorted(ids)])
    bot = BotProcess(tmp_path, {**api.env(), "TELEGRAM_MAX_RATE": "25"})
    bots.append(bot)
    await api.wait_for_async(lambda: api.calls("getUpdates"), SETTLE_SECONDS, "polling")

    announcement_id = await asyncio.to_thread(announce, tmp_path, "--title-pl=Z wiersza poleceń")
    created = time.monotonic()
    sent = broadcast_to(api, ids)
    # The contract: a running bot picks up what the CLI wrote within 2 s.
    await api.wait_for_async(sent, 2.0, "the first broadcast message")
    log.info("CLI announcement picked up in %.2f s", time.monotonic() - created)

    anna = api.make_user("Anna")
    asked = time.monotonic()
    api.inject_command(anna, "help")
    (help_reply,) = await api.wait_for_messages(anna.id, 1, SETTLE_SECONDS)
    log.info("/help answered in %.2f s during the broadcast", time.monotonic() - asked)
    assert "Co potrafię" in help_reply.text
    before_reply = len(sent())
    # Not behind the broadcast: it goes on after the reply.
    await api.wait_for_async(lambda: len(sent()) > before_reply, SETTLE_SECONDS)
    assert before_reply < len(ids)

    result = await asyncio.to_thread(ngo_bot, tmp_path, "announce", "cancel", str(announcement_id))
    assert result.returncode == 0, result.stderr
    await eventually(lambda: settled(storage, announcement_id), SETTLE_SECONDS)
    counts = await state_counts(storage, announcement_id)
    assert counts["cancelled"] > 0 and counts["sent"] + counts["cancelled"] == len(ids)
    per_chat = Counter(m.chat_id for m in sent())
    assert len(per_chat) == counts["sent"] and max(per_chat.values()) == 1
    code, _took = bot.terminate()
    assert code == 0, bot.log()
    assert len(sent()) == counts["sent"]  # nothing more after the cancel settled


async def test_kill_9_mid_broadcast_then_a_restart_completes_it(
    fake_bot_api: FakeBotApi, tmp_path: Path, storage: Storage, bots: list[BotProcess]
) -> None:
    api = fake_bot_api
    ids = set(readers(150))
    await add_chats(storage, "telegram", [str(i) for i in sorted(ids)])
    api.set_delay(0.1, method="sendMessage")  # slow enough to kill it in the middle
    env = {**api.env(), "TELEGRAM_MAX_RATE": "25"}
    first = BotProcess(tmp_path, env)
    bots.append(first)
    announcement_id = await asyncio.to_thread(announce, tmp_path, "--title-pl=Przerwane")
    sent = broadcast_to(api, ids)
    await api.wait_for_async(lambda: len(sent()) >= 40, SETTLE_SECONDS, "40 messages")
    first.kill()
    row = await storage.db.fetch_one("SELECT COUNT(*) FROM outbox WHERE state = 'claimed'")
    assert row is not None
    claimed = int(row[0])  # in flight: sent perhaps, not recorded (0 just between two batches)
    assert len(sent()) < len(ids), "the kill landed after the broadcast"

    second = BotProcess(tmp_path, env)
    bots.append(second)
    # The dead process's claims are taken back at once, not after the 60-s lease.
    await eventually(lambda: settled(storage, announcement_id), SETTLE_SECONDS)
    counts = await state_counts(storage, announcement_id)
    assert counts["sent"] == counts["total"] == len(ids)
    per_chat = Counter(m.chat_id for m in sent())
    assert set(per_chat) == ids, "a recipient was skipped"
    twice = [chat for chat, n in per_chat.items() if n > 1]
    assert max(per_chat.values()) <= 2 and len(twice) <= claimed
    code, _took = second.terminate()
    assert code == 0, second.log()
    assert "claimed by a process that died" in second.log()


def run_benchmark(tmp_path: Path, *options: str) -> str:
    """benchmarks/broadcast.py with `options`; its output."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.broadcast", *options],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=bot_env(tmp_path / "unused.sqlite3"),
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_broadcast_benchmark_runs_and_keeps_the_rate(tmp_path: Path) -> None:
    """A small run of benchmarks/broadcast.py, so that it keeps working (numbers: README)."""
    output = run_benchmark(tmp_path, "--chats=60", "--runs=1", "--pacing-chats=45", "--rate=30")
    assert "ratio" in output and "429 answers: 0" in output, output
    window = re.search(r"most messages in any 1-s window: (\d+)", output)
    assert window is not None and int(window.group(1)) <= 30, output
    assert re.search(r"reply to /help during the broadcast: p50 \d+ ms, p99 \d+ ms", output)


def test_the_benchmarks_scale_run_reports_the_first_and_last_tenth(tmp_path: Path) -> None:
    output = run_benchmark(tmp_path, "--only=scale", "--chats=400", "--max-rate=1000")
    assert re.search(r"first 10 %: \d+ msgs/s, over the last 10 %: \d+ msgs/s", output), output
