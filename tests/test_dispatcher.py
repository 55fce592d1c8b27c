"""The delivery engine through a scripted transport and the console: languages, pacing, errors."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.announcements.model import Kind, Status
from bot.app import build_core
from bot.clock import utcnow
from bot.config import Settings, parse_quiet_hours
from bot.core.messages import ChatKind, ChatRef, Incoming
from bot.delivery import DeliveryPolicy, PlatformLimits, SendLimiter
from bot.storage import Storage
from bot.transports.base import SendOutcome
from bot.transports.console import ConsoleTransport
from tests.delivery_helpers import (
    FAST,
    ScriptedTransport,
    add_chats,
    dispatcher_for,
    eventually,
    grant_fields,
    service_for,
    settled,
    state_counts,
)

# Date-sensitive: .ci/run runs these again at its fixed moments (`pytest -m dated`).
pytestmark = pytest.mark.dated


async def outbox_rows(storage: Storage, announcement_id: int) -> list[dict[str, object]]:
    rows = await storage.db.fetch_all(
        "SELECT c.chat_id, o.state, o.attempts, o.detail, b.purpose FROM outbox o"
        " JOIN chats c ON c.id = o.chat_ref JOIN broadcasts b ON b.id = o.broadcast_id"
        " WHERE b.announcement_id = ? ORDER BY o.id",
        (announcement_id,),
    )
    return [dict(row) for row in rows]


async def test_each_chat_gets_its_language_and_missing_ones_get_polish_with_a_note(
    storage: Storage, settings: Settings
) -> None:
    await add_chats(storage, "telegram", ["pl"], language="pl")
    await add_chats(storage, "telegram", ["uk"], language="uk")
    await add_chats(storage, "telegram", ["en"], language="en")
    await add_chats(storage, "telegram", ["default"])
    await add_chats(storage, "telegram", ["other"], topics=["tax"])
    await add_chats(storage, "matrix", ["!room:example.org"], language="uk", kind=ChatKind.ROOM)
    inactive = await add_chats(storage, "telegram", ["blocked"])
    await storage.db.execute("UPDATE chats SET active = 0 WHERE id = ?", (inactive[0],))
    announcement = await service_for(storage, settings).create(
        grant_fields(
            title="Nabór <2027> & co",
            text="Wnioski do końca miesiąca.",
            title_uk="Конкурс",
            text_uk="Заявки до кінця місяця.",
        ),
        actor="console:boss",
    )
    telegram, matrix = ScriptedTransport("telegram"), ScriptedTransport("matrix")
    dispatcher = dispatcher_for(storage, settings, {"telegram": telegram, "matrix": matrix})
    await dispatcher.start()
    await eventually(lambda: settled(storage, announcement.id))
    await dispatcher.housekeeping()
    await dispatcher.stop()

    got = telegram.delivered()
    assert sorted(got) == ["default", "en", "pl", "uk"]
    assert all(len(texts) == 1 for texts in got.values())
    polish, ukrainian, english = got["pl"][0], got["uk"][0], got["en"][0]
    assert "Nabór &lt;2027&gt; &amp; co" in polish and "Wnioski do końca" in polish
    assert "/unsubscribe grants" in polish and "Granty i konkursy" in polish
    assert "Конкурс" in ukrainian and "Заявки" in ukrainian and "Nabór" not in ukrainian
    assert "Гранти та конкурси" in ukrainian
    assert "Nabór" in english and "has no English version yet" in english
    assert "Grants and competitions" in english
    assert got["default"] == [polish]
    (room_text,) = matrix.delivered()["!room:example.org"]
    assert "!unsubscribe grants" in room_text and "/unsubscribe" not in room_text
    stored = await service_for(storage, settings).get(announcement.id)
    assert stored.status is Status.SENT
    assert (await state_counts(storage, announcement.id))["sent"] == 5


async def test_retry_after_pauses_the_whole_platform(storage: Storage, settings: Settings) -> None:
    names = [f"c{i}" for i in range(8)]
    await add_chats(storage, "telegram", names)
    announcement = await service_for(storage, settings).create(grant_fields(), actor="console:boss")
    transport = ScriptedTransport("telegram")
    transport.script["c2"] = [SendOutcome.retry(0.4, "Too Many Requests: retry after 0.4")]
    policy = dataclasses.replace(FAST, concurrency=1)
    dispatcher = dispatcher_for(storage, settings, {"telegram": transport}, policy=policy)
    await dispatcher.start()
    await eventually(lambda: settled(storage, announcement.id))
    await dispatcher.stop()

    flood = next(a for a in transport.attempts if a.outcome.retry_after is not None)
    later = [a for a in transport.attempts if a.at > flood.at]
    assert later, "the rest of the broadcast went out after the pause"
    assert all(a.at >= flood.at + 0.4 for a in later)
    assert sorted(transport.delivered()) == sorted(names)
    rows = await outbox_rows(storage, announcement.id)
    assert all(row["state"] == "sent" for row in rows)
    assert next(row for row in rows if row["chat_id"] == "c2")["attempts"] == 1  # 429 is free


async def test_gone_marks_the_chat_inactive_and_never_retries(
    storage: Storage, settings: Settings
) -> None:
    await add_chats(storage, "telegram", ["a", "gone", "b", "c"])
    service = service_for(storage, settings)
    first = await service.create(grant_fields(title="Pierwsze"), actor="console:boss")
    second = await service.create(grant_fields(title="Drugie"), actor="console:boss")
    transport = ScriptedTransport("telegram")
    transport.script["gone"] = [SendOutcome.gone("Forbidden: bot was blocked by the user")]
    dispatcher = dispatcher_for(storage, settings, {"telegram": transport})
    await dispatcher.start()
    await eventually(lambda: settled(storage, second.id))
    await eventually(lambda: settled(storage, first.id))
    await dispatcher.stop()

    assert [a.chat_id for a in transport.attempts].count("gone") == 1
    chat = await storage.chats.get(ChatRef("telegram", "gone"))
    assert chat is not None and not chat.active
    first_rows = {r["chat_id"]: r for r in await outbox_rows(storage, first.id)}
    second_rows = {r["chat_id"]: r for r in await outbox_rows(storage, second.id)}
    assert first_rows["gone"]["state"] == "gone"
    assert "blocked" in str(first_rows["gone"]["detail"])
    assert second_rows["gone"]["state"] == "cancelled"
    assert {r["state"] for name, r in second_rows.items() if name != "gone"} == {"sent"}
    third = await service.create(grant_fields(title="Trzecie"), actor="console:boss")
    assert "gone" not in {r["chat_id"] for r in await outbox_rows(storage, third.id)}


async def test_transient_errors_are_retried_with_backoff_then_failed(
    storage: Storage, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    await add_chats(storage, "telegram", ["ok", "flaky", "broken", "bug"])
    announcement = await service_for(storage, settings).create(grant_fields(), actor="console:boss")
    transport = ScriptedTransport("telegram")
    transport.script["flaky"] = [SendOutcome.retry(None, "502 Bad Gateway")] * 2
    transport.script["broken"] = [SendOutcome.retry(None, "timed out")] * 10
    transport.script["bug"] = [SendOutcome.failed("Bad Request: can't parse entities")]
    dispatcher = dispatcher_for(storage, settings, {"telegram": transport})
    with caplog.at_level(logging.WARNING, logger="bot.delivery"):
        await dispatcher.start()
        await eventually(lambda: settled(storage, announcement.id))
        await dispatcher.stop()

    rows = {r["chat_id"]: r for r in await outbox_rows(storage, announcement.id)}
    assert rows["ok"]["state"] == "sent" and rows["ok"]["attempts"] == 1
    assert rows["flaky"]["state"] == "sent" and rows["flaky"]["attempts"] == 3
    assert rows["broken"]["state"] == "failed" and rows["broken"]["attempts"] == FAST.max_attempts
    assert [a.chat_id for a in transport.attempts].count("broken") == FAST.max_attempts
    assert rows["broken"]["detail"] == "timed out"
    assert rows["bug"]["state"] == "failed" and rows["bug"]["attempts"] == 1
    assert "can't parse entities" in caplog.text
    counts = await state_counts(storage, announcement.id)
    assert (counts["sent"], counts["failed"], counts["retrying"]) == (2, 2, 0)


def test_backoff_grows_and_is_capped() -> None:
    policy = DeliveryPolicy(backoff_base=10, backoff_cap=60)
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]


async def test_quiet_hours_hold_broadcasts_but_not_urgent_ones(
    storage: Storage, settings: Settings
) -> None:
    quiet = dataclasses.replace(settings, quiet_hours=parse_quiet_hours("21:00-08:00"))
    tomorrow = datetime.now(settings.timezone).date() + timedelta(days=1)
    now = {"value": datetime.combine(tomorrow, datetime.min.time(), settings.timezone)}
    now["value"] = now["value"].replace(hour=23)
    await add_chats(storage, "telegram", ["a", "b"])
    service = service_for(storage, quiet)
    normal = await service.create(grant_fields(title="Zwykłe"), actor="console:boss")
    urgent = await service.create(grant_fields(title="Pilne", urgent=True), actor="console:boss")
    transport = ScriptedTransport("telegram")
    dispatcher = dispatcher_for(storage, quiet, {"telegram": transport}, clock=lambda: now["value"])
    await dispatcher.start()
    await eventually(lambda: settled(storage, urgent.id))
    await dispatcher.housekeeping()
    assert (await state_counts(storage, normal.id))["pending"] == 2
    assert all("Pilne" in a.reply.text for a in transport.attempts)

    now["value"] = now["value"].replace(hour=7, minute=59) + timedelta(days=1)
    await dispatcher.housekeeping()
    assert (await state_counts(storage, normal.id))["pending"] == 2
    now["value"] = now["value"].replace(hour=8, minute=0)
    await eventually(lambda: settled(storage, normal.id))
    await dispatcher.stop()
    assert (await state_counts(storage, normal.id))["sent"] == 2


async def test_a_reply_is_not_delayed_by_a_running_broadcast(
    storage: Storage, settings: Settings
) -> None:
    await add_chats(storage, "telegram", [f"c{i}" for i in range(20)])
    announcement = await service_for(storage, settings).create(grant_fields(), actor="console:boss")
    gate = asyncio.Event()
    transport = ScriptedTransport("telegram", gate=gate)
    dispatcher = dispatcher_for(storage, settings, {"telegram": transport})
    await dispatcher.start()
    await eventually(lambda: _claimed(storage))  # in flight: its sends are blocked
    core = build_core(storage, settings)
    incoming = Incoming(ChatRef("telegram", "c3"), ChatKind.PRIVATE, "c3", True, "/help")
    (reply,) = await asyncio.wait_for(core.handle(incoming), timeout=5)
    assert "Co potrafię" in reply.text
    assert not transport.attempts and (await state_counts(storage, announcement.id))["sent"] == 0
    gate.set()
    await eventually(lambda: settled(storage, announcement.id))
    await dispatcher.stop()


async def _claimed(storage: Storage) -> bool:
    row = await storage.db.fetch_one("SELECT COUNT(*) FROM outbox WHERE state = 'claimed'")
    return row is not None and row[0] > 0


async def test_cancel_stops_a_running_broadcast(storage: Storage, settings: Settings) -> None:
    await add_chats(storage, "telegram", [f"c{i:02}" for i in range(60)])
    service = service_for(storage, settings)
    announcement = await service.create(grant_fields(), actor="console:boss")
    transport = ScriptedTransport("telegram")
    limits = {"telegram": PlatformLimits(rate=20.0, chat_interval=0.0)}
    dispatcher = dispatcher_for(storage, settings, {"telegram": transport}, limits=limits)
    await dispatcher.start()
    await eventually(lambda: _sent_at_least(transport, 3))
    assert await service.cancel(announcement.id, actor="console:boss")
    await eventually(lambda: settled(storage, announcement.id))
    await dispatcher.housekeeping()
    await dispatcher.stop()

    counts = await state_counts(storage, announcement.id)
    assert counts["cancelled"] > 0 and counts["sent"] < 60
    assert counts["sent"] + counts["cancelled"] == 60
    assert counts["sent"] == len(transport.attempts)
    assert (await service.get(announcement.id)).status is Status.CANCELLED
    audit = await storage.staff.audit_log("console:boss")
    assert any(e.action == "announce cancel" for e in audit)


async def _sent_at_least(transport: ScriptedTransport, n: int) -> bool:
    return len(transport.attempts) >= n


async def test_edit_reaches_waiting_messages_and_sends_a_correction(
    storage: Storage, settings: Settings
) -> None:
    await add_chats(storage, "telegram", ["pl"], language="pl")
    await add_chats(storage, "telegram", ["uk"], language="uk")
    service = service_for(storage, settings)
    announcement = await service.create(
        grant_fields(title="Stary tytuł", title_uk="Старий", text_uk="Текст"), actor="console:boss"
    )
    gate = asyncio.Event()
    transport = ScriptedTransport("telegram", gate=gate)
    dispatcher = dispatcher_for(storage, settings, {"telegram": transport})
    # Not started yet: a correction before delivery changes what goes out, no notice needed.
    await service.edit(announcement.id, {"title_pl": "Nowy tytuł"}, actor="console:boss")
    await dispatcher.start()
    gate.set()
    await eventually(lambda: settled(storage, announcement.id))
    assert "Nowy tytuł" in transport.delivered()["pl"][0]

    new_deadline = utcnow() + timedelta(days=45)
    result = await service.edit(
        announcement.id, {"deadline": new_deadline}, actor="console:boss", notify=True
    )
    assert result.notified and result.changed == {"deadline"}
    await eventually(lambda: _sent_at_least(transport, 4))
    await dispatcher.stop()
    polish, ukrainian = transport.delivered()["pl"][1], transport.delivered()["uk"][1]
    assert "Korekta" in polish and "Nowy tytuł" in polish
    assert "Виправлення" in ukrainian and "Старий" in ukrainian
    report = await service.deliveries(announcement.id)
    assert [b.purpose for b in report.broadcasts] == ["publication", "correction"]
    assert report.broadcasts[1].counts.get("sent") == 2


async def test_the_author_gets_a_summary_in_their_chat(
    storage: Storage, settings: Settings
) -> None:
    author = await add_chats(storage, "console", ["boss"], topics=[], language="en")
    await add_chats(storage, "telegram", ["a", "b", "gone", "bug"])
    announcement = await service_for(storage, settings).create(
        grant_fields(title="Z podsumowaniem"), actor="console:boss", author_chat_ref=author[0]
    )
    transport = ScriptedTransport("telegram")
    transport.script["gone"] = [SendOutcome.gone("blocked")]
    transport.script["bug"] = [SendOutcome.failed("bad markup")]
    transports = {"telegram": transport, "console": ConsoleTransport(storage)}
    dispatcher = dispatcher_for(storage, settings, transports)
    await dispatcher.start()
    await eventually(lambda: _inbox_has(storage, "boss"))
    await dispatcher.stop()
    (message,) = await storage.inbox.take_unshown(ChatRef("console", "boss"))
    assert f"Announcement #{announcement.id}" in message.text
    assert "Sent: 2. No longer reachable: 1. Failed: 1." in message.text


async def _inbox_has(storage: Storage, user: str) -> bool:
    chat = await storage.chats.get(ChatRef("console", user))
    return chat is not None and bool(await storage.inbox.all_for(chat.id))


async def test_console_chats_receive_into_their_inbox(storage: Storage, settings: Settings) -> None:
    await add_chats(storage, "console", ["ala"])
    await add_chats(storage, "console", ["olena"], language="uk")
    announcement = await service_for(storage, settings).create(
        dataclasses.replace(
            grant_fields(), kind=Kind.NEWS, deadline=None, remind="none", topic="grants"
        ),
        actor="console:boss",
    )
    dispatcher = dispatcher_for(storage, settings, {"console": ConsoleTransport(storage)})
    await dispatcher.start()
    await eventually(lambda: settled(storage, announcement.id))
    await dispatcher.stop()
    (ala,) = await storage.inbox.take_unshown(ChatRef("console", "ala"))
    (olena,) = await storage.inbox.take_unshown(ChatRef("console", "olena"))
    assert "Nabór wniosków" in ala.text and "/unsubscribe grants" in ala.text
    assert "<b>" not in ala.text
    assert "ще немає українською" in olena.text


async def test_a_restarted_dispatcher_resumes_abandoned_claims(
    storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    names = [f"c{i:02}" for i in range(30)]
    await add_chats(storage, "telegram", names)
    announcement = await service_for(storage, settings).create(grant_fields(), actor="console:boss")
    stuck = ScriptedTransport("telegram", gate=asyncio.Event())
    lease = 0.3
    policy = dataclasses.replace(FAST, lease=lease)
    first = dispatcher_for(storage, settings, {"telegram": stuck}, policy=policy)
    await first.start()
    await eventually(lambda: _claimed(storage))
    await asyncio.sleep(lease)  # let the first dispatcher's claim outlive its lease

    second_storage = await Storage.open(settings.db_path)
    fresh = ScriptedTransport("telegram")
    second = dispatcher_for(second_storage, settings, {"telegram": fresh}, policy=policy)
    await second.start()
    await eventually(lambda: settled(second_storage, announcement.id))
    await second.stop()
    await first.stop()  # its sends never returned: nothing of it may overwrite the outcome
    await second_storage.close()

    assert sorted(fresh.delivered()) == names
    assert all(len(texts) == 1 for texts in fresh.delivered().values())
    assert not stuck.attempts
    counts = await state_counts(storage, announcement.id)
    assert counts["sent"] == 30 and counts["total"] == 30


async def send_once_each_with_a_short_lease(
    storage: Storage, settings: Settings, names: list[str], transport: ScriptedTransport
) -> None:
    """Broadcast to ``names`` with a 0.1 s lease; each chat must get the message exactly once."""
    await add_chats(storage, "telegram", names)
    announcement = await service_for(storage, settings).create(grant_fields(), actor="console:boss")
    policy = dataclasses.replace(FAST, lease=0.1, poll_interval=0.02)
    dispatcher = dispatcher_for(storage, settings, {"telegram": transport}, policy=policy)
    await dispatcher.start()
    await eventually(lambda: settled(storage, announcement.id))
    await dispatcher.stop()
    assert sorted(transport.delivered()) == names
    assert all(len(texts) == 1 for texts in transport.delivered().values())


async def test_a_batch_sent_for_longer_than_the_lease_is_not_sent_twice(
    storage: Storage, settings: Settings
) -> None:
    # The batch of 30 takes about 0.3 s: the dispatcher's own housekeeping must not hand the
    # batch's waiting rows out again.
    slow = ScriptedTransport("telegram", delay=0.02)
    await send_once_each_with_a_short_lease(
        storage, settings, [f"c{i:02}" for i in range(30)], slow
    )


async def test_a_batch_claimed_but_not_yet_sending_is_not_taken_back(
    storage: Storage, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = storage.outbox.claim

    async def slow_claim(*args: Any, **kwargs: Any) -> Any:
        claimed = await claim(*args, **kwargs)
        if claimed:
            await asyncio.sleep(0.3)  # a loaded machine: the sender resumes after the lease
        return claimed

    monkeypatch.setattr(storage.outbox, "claim", slow_claim)
    transport = ScriptedTransport("telegram")
    await send_once_each_with_a_short_lease(
        storage, settings, [f"c{i}" for i in range(5)], transport
    )


async def test_messages_to_one_chat_are_spaced(storage: Storage, settings: Settings) -> None:
    await add_chats(storage, "telegram", ["one"])
    service = service_for(storage, settings)
    first = await service.create(grant_fields(title="Pierwsze"), actor="console:boss")
    second = await service.create(grant_fields(title="Drugie"), actor="console:boss")
    transport = ScriptedTransport("telegram")
    limits = {"telegram": PlatformLimits(rate=None, chat_interval=0.3)}
    dispatcher = dispatcher_for(storage, settings, {"telegram": transport}, limits=limits)
    await dispatcher.start()
    await eventually(lambda: settled(storage, second.id))
    await eventually(lambda: settled(storage, first.id))
    await dispatcher.stop()
    first_at, second_at = (a.at for a in transport.attempts)
    assert second_at - first_at >= 0.3


def test_group_quota_and_chat_spacing_of_the_limiter() -> None:
    clock = {"now": 1000.0}
    limiter = SendLimiter(
        PlatformLimits(rate=None, chat_interval=1.0, group_per_minute=3), lambda: clock["now"]
    )
    limiter.note_sent(1, shared=False)
    assert limiter.chat_delay(1, shared=False) == pytest.approx(1.0)
    assert limiter.chat_delay(2, shared=False) == 0
    for _ in range(3):
        assert limiter.chat_delay(7, shared=True) == 0
        limiter.note_sent(7, shared=True)
        clock["now"] += 2
    assert limiter.chat_delay(7, shared=True) == pytest.approx(54.0)
    clock["now"] += 54
    assert limiter.chat_delay(7, shared=True) == 0
    limiter.pause(5)
    assert limiter.paused_for() == pytest.approx(5)
    limiter.pause(1)
    assert limiter.paused_for() == pytest.approx(5)


async def test_overall_rate_reserves_slots_in_turn() -> None:
    clock = {"now": 0.0}
    limiter = SendLimiter(PlatformLimits(rate=1000.0), lambda: clock["now"])
    for _ in range(5):
        await limiter.wait_turn()
    assert limiter._next_slot == pytest.approx(5 / 1000)


async def test_a_send_holds_its_place_in_the_window_until_after_its_answer() -> None:
    clock = {"now": 0.0}
    window = 0.05
    limiter = SendLimiter(PlatformLimits(rate=2.0), lambda: clock["now"], window=window)
    await limiter.wait_turn()
    clock["now"] = 0.5
    await limiter.wait_turn()
    clock["now"] = 1.0  # the third slot has come, but the first two sends have no answer yet
    third = asyncio.create_task(limiter.wait_turn())
    await asyncio.sleep(window * 2)
    assert not third.done()
    limiter.done(1, shared=False)  # the first answer: its place is free `window` later
    await asyncio.sleep(window / 5)
    assert not third.done()
    await asyncio.wait_for(third, timeout=5)


def test_claim_size_follows_the_rate() -> None:
    policy = DeliveryPolicy()
    assert policy.claim_size_for(PlatformLimits(rate=25.0)) == 50
    assert policy.claim_size_for(PlatformLimits(rate=None)) == policy.claim_size


def test_platform_limits_from_the_settings(settings: Settings) -> None:
    from bot.delivery import limits_for

    telegram = limits_for("telegram", dataclasses.replace(settings, telegram_max_rate=12.0))
    assert (telegram.rate, telegram.chat_interval, telegram.group_per_minute) == (12.0, 1.0, 20)
    matrix = limits_for("matrix", settings)
    assert (matrix.rate, matrix.chat_interval, matrix.group_per_minute) == (10.0, 1.0, 20)
    console = limits_for("console", settings)
    assert (console.rate, console.chat_interval, console.group_per_minute) == (None, 0.0, None)


async def test_a_reminder_goes_to_the_chats_subscribed_when_it_falls_due(
    storage: Storage, settings: Settings
) -> None:
    await add_chats(storage, "telegram", ["early"], language="uk")
    service = service_for(storage, settings)
    announcement = await service.create(
        grant_fields(title="Konkurs", title_uk="Конкурс", text_uk="Текст"), actor="console:boss"
    )
    await add_chats(storage, "telegram", ["late"])
    now = utcnow()
    assert await storage.announcements.send_reminder(announcement.id, now, now=now) is not None
    transport = ScriptedTransport("telegram")
    dispatcher = dispatcher_for(storage, settings, {"telegram": transport})
    await dispatcher.start()
    await eventually(lambda: _sent_at_least(transport, 3))
    await dispatcher.stop()
    delivered = transport.delivered()
    assert len(delivered["early"]) == 2 and len(delivered["late"]) == 1
    (reminder,) = [text for text in delivered["early"] if "Нагадування" in text]
    assert "Конкурс" in reminder
    assert "⏰" in delivered["late"][0] and "Termin:" in delivered["late"][0]
    await service.cancel(announcement.id, actor="console:boss")
    assert await storage.announcements.send_reminder(announcement.id, now, now=now) is None
