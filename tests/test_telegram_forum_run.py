"""Forum topics end to end: the real `ngo-bot run` against the fake Bot API.

In a forum supergroup each topic ("Granty", "1,5%", "Spotkania") subscribes on its own; its
broadcasts and reminders go into its thread; `/topics` there shows that thread's choice; a
deleted topic stops only itself.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.clock import utcnow
from bot.core.messages import ChatRef
from bot.storage import Storage
from tests.fakebotapi import FakeBotApi
from tests.test_broadcast_telegram import SETTLE_SECONDS, announce
from tests.test_telegram_run import BotProcess


@pytest.mark.dated
async def test_each_forum_topic_subscribes_and_receives_in_its_own_thread(
    fake_bot_api: FakeBotApi, tmp_path: Path, storage: Storage, run_bot: list[BotProcess]
) -> None:
    api = fake_bot_api
    admin, member = api.make_user("Admin"), api.make_user("Member")
    forum = api.add_forum("Fundacja", admins=[admin], members=[member])
    grants = api.add_topic(forum, "Granty")
    tax = api.add_topic(forum, "1,5%")
    meetings = api.add_topic(forum, "Spotkania")
    bot = BotProcess(tmp_path, api.env())
    run_bot.append(bot)

    api.inject_command(admin, "subscribe", "grants", chat=forum, thread=grants)
    api.inject_command(admin, "subscribe", "tax", chat=forum, thread=tax)
    api.inject_command(member, "subscribe", "meetings", chat=forum, thread=meetings)
    api.inject_command(admin, "topics", chat=forum, thread=grants)
    await api.wait_for_async(
        lambda: len(api.sent_messages(forum.id)) >= 4, SETTLE_SECONDS, "four answers"
    )
    (refusal,) = api.topic_messages(forum.id, meetings)
    assert "administratorzy" in refusal.text  # a member may not change a topic's settings
    _subscribed, topics = api.topic_messages(forum.id, grants)
    assert "✅ <b>Granty i konkursy</b>" in topics.text
    assert "✅ <b>Podatek 1,5%</b>" not in topics.text  # that is the other thread's choice
    assert len(api.topic_messages(forum.id, tax)) == 1
    assert not api.topic_messages(forum.id, None)  # nothing in the General topic

    grant_id = await asyncio.to_thread(announce, tmp_path, "--title-pl=Konkurs w wątku")
    await api.wait_for_async(
        lambda: len(api.topic_messages(forum.id, grants)) == 3, SETTLE_SECONDS, "the broadcast"
    )
    assert "Konkurs w wątku" in api.topic_messages(forum.id, grants)[-1].text
    assert len(api.topic_messages(forum.id, tax)) == 1 and not api.topic_messages(forum.id, None)

    # A reminder (written by another process, as the scheduler does) goes into the thread too.
    await storage.announcements.send_reminder(grant_id, utcnow(), now=utcnow())
    await api.wait_for_async(
        lambda: len(api.topic_messages(forum.id, grants)) == 4, SETTLE_SECONDS, "the reminder"
    )
    assert "⏰" in api.topic_messages(forum.id, grants)[-1].text

    # A 1.5% campaign naming a KRS number: a button copies it.
    await asyncio.to_thread(
        announce,
        tmp_path,
        "--kind=tax-campaign",
        "--title-pl=Przekaż 1,5%",
        "--text-pl=Wpisz w PIT nasz numer KRS 0000 123 456.",
    )
    await api.wait_for_async(
        lambda: len(api.topic_messages(forum.id, tax)) == 2, SETTLE_SECONDS, "the 1.5% post"
    )
    (button,) = [b for row in api.topic_messages(forum.id, tax)[-1].buttons for b in row]
    assert button["copy_text"] == {"text": "0000123456"}
    assert "0000123456" in button["text"]


async def test_a_deleted_topic_stops_only_itself(
    fake_bot_api: FakeBotApi, tmp_path: Path, storage: Storage, run_bot: list[BotProcess]
) -> None:
    api = fake_bot_api
    admin = api.make_user("Admin")
    forum = api.add_forum("Fundacja", admins=[admin])
    grants = api.add_topic(forum, "Granty")
    bot = BotProcess(tmp_path, api.env())
    run_bot.append(bot)
    api.inject_command(admin, "subscribe", "grants", chat=forum, thread=grants)
    api.inject_command(admin, "subscribe", "grants", chat=forum)  # the General topic
    await api.wait_for_async(
        lambda: len(api.sent_messages(forum.id)) >= 2, SETTLE_SECONDS, "two answers"
    )
    api.delete_topic(forum, grants)

    first = await asyncio.to_thread(announce, tmp_path, "--title-pl=Pierwszy")
    await api.wait_for_async(
        lambda: len(api.topic_messages(forum.id, None)) == 2, SETTLE_SECONDS, "General's copy"
    )
    refused = [c for c in api.calls("sendMessage") if not c.ok]
    assert refused and refused[0].description == "Bad Request: message thread not found"
    thread_chat = await storage.chats.get(ChatRef("telegram", f"{forum.id}#{grants}"))
    group_chat = await storage.chats.get(ChatRef("telegram", str(forum.id)))
    assert thread_chat is not None and not thread_chat.active
    assert group_chat is not None and group_chat.active

    await asyncio.to_thread(announce, tmp_path, "--title-pl=Drugi")
    await api.wait_for_async(
        lambda: len(api.topic_messages(forum.id, None)) == 3, SETTLE_SECONDS, "the second one"
    )
    assert len([c for c in api.calls("sendMessage") if not c.ok]) == 1  # not tried again
    assert first > 0
    code, _took = bot.terminate()
    assert code == 0, bot.log()
