"""Telegram channels and the Bot API niceties in this process: the dispatcher and
TelegramTransport (PTB's HTTP stack) against the fake Bot API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

import pytest

from bot.app import build_core
from bot.clock import utcnow
from bot.config import Settings, parse_channels, parse_quiet_hours
from bot.core.messages import ChatRef
from bot.delivery import Dispatcher, limits_for
from bot.reminders.localtime import local_at
from bot.storage import Storage
from bot.transports.telegram import TelegramTransport
from tests.delivery_helpers import FAST, add_chats, eventually, grant_fields, service_for
from tests.fakebotapi import FakeBotApi, FakeChat

SETTLE_SECONDS = 30.0


@dataclass
class Rig:
    api: FakeBotApi
    settings: Settings
    storage: Storage
    transport: TelegramTransport


@pytest.fixture
def channel(fake_bot_api: FakeBotApi) -> FakeChat:
    return fake_bot_api.add_channel("NGO Kraków", username="ngo_krakow", can_post_messages=False)


async def start_rig(
    api: FakeBotApi, storage: Storage, settings: Settings, clock: Callable[[], datetime] = utcnow
) -> AsyncIterator[Rig]:
    configured = replace(
        settings,
        telegram_token=api.token,
        telegram_api_base_url=api.base_url,
        telegram_channels=parse_channels("*:uk=@ngo_krakow"),
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
        limits={"telegram": limits_for("telegram", configured)},
        clock=clock,
    )
    await dispatcher.start()
    try:
        yield Rig(api, configured, storage, transport)
    finally:
        await dispatcher.stop()
        await transport.stop()
    assert not fatal


@pytest.fixture
async def rig(
    fake_bot_api: FakeBotApi, storage: Storage, settings: Settings, channel: FakeChat
) -> AsyncIterator[Rig]:
    async for started in start_rig(fake_bot_api, storage, settings):
        yield started


async def test_a_channel_without_the_right_to_post_is_skipped_until_the_bot_may_post(
    rig: Rig, channel: FakeChat, caplog: pytest.LogCaptureFixture
) -> None:
    api, storage = rig.api, rig.storage
    ref = ChatRef("telegram", str(channel.id))
    stored = await storage.chats.get(ref)
    assert stored is not None and not stored.active and stored.language == "uk"
    assert await storage.channels.routes("telegram") == {str(channel.id): {"*"}}
    service = service_for(storage, rig.settings)
    first = await service.create(grant_fields(title="Pierwszy"), actor="cli:test")
    await eventually(lambda: _finished(storage, first.id), SETTLE_SECONDS)
    assert not api.sent_messages(channel.id)

    with caplog.at_level(logging.INFO, logger="bot.transports.telegram"):
        api.set_member_status(channel, api.bot, "left")
        api.inject_my_chat_member(channel, "left", "administrator")
        await eventually(lambda: _active(storage, ref), SETTLE_SECONDS)
    assert "status in channel" in caplog.text
    assert not api.sent_messages(channel.id)  # never a greeting in a channel
    second = await service.create(grant_fields(title="Drugi"), actor="cli:test")
    await api.wait_for_async(lambda: api.sent_messages(channel.id), SETTLE_SECONDS, "the post")
    (post,) = api.sent_messages(channel.id)
    assert "Drugi" in post.text
    assert "Цього оголошення ще немає українською" in post.text  # Polish, with the note
    # A correction notice goes to subscribers, never to a channel (its post is edited).
    edit = await service.edit(
        second.id, {"deadline": second.fields.deadline + timedelta(days=1)}, actor="cli:test"
    )
    assert edit.received == 0 and not edit.noticeable
    await api.wait_for_async(lambda: api.edits(channel.id), SETTLE_SECONDS, "the edit")
    assert len(api.sent_messages(channel.id)) == 1


async def test_a_channel_that_removed_the_bot_is_inactive_and_has_no_post_to_delete(
    rig: Rig, channel: FakeChat
) -> None:
    api, storage = rig.api, rig.storage
    api.set_member_status(channel, api.bot, "administrator", can_post_messages=True)
    api.inject_my_chat_member(channel, "left", "administrator", apply=False)
    ref = ChatRef("telegram", str(channel.id))
    await eventually(lambda: _active(storage, ref), SETTLE_SECONDS)
    api.set_member_status(channel, api.bot, "left")  # every post refused from now on
    service = service_for(storage, rig.settings)
    announcement = await service.create(grant_fields(title="Bez posta"), actor="cli:test")
    await eventually(lambda: _finished(storage, announcement.id), SETTLE_SECONDS)
    assert not await _active(storage, ref)  # 403: the bot is not in the channel any more
    await service.cancel(announcement.id, actor="cli:test")
    assert not api.deletions() and not api.edits()


async def test_an_edit_while_the_post_is_in_flight_waits_for_its_message_id(
    rig: Rig, channel: FakeChat
) -> None:
    api, storage = rig.api, rig.storage
    api.set_member_status(channel, api.bot, "administrator", can_post_messages=True)
    api.inject_my_chat_member(channel, "left", "administrator", apply=False)
    await eventually(lambda: _active(storage, ChatRef("telegram", str(channel.id))), 10)
    api.set_delay(1.5, method="sendMessage")
    service = service_for(storage, rig.settings)
    announcement = await service.create(grant_fields(title="W drodze"), actor="cli:test")
    await eventually(lambda: _claimed(storage), SETTLE_SECONDS)
    await service.edit(announcement.id, {"title_pl": "Poprawiony"}, actor="cli:test")
    await api.wait_for_async(lambda: api.edits(channel.id), SETTLE_SECONDS, "the edit")
    (post,) = api.sent_messages(channel.id)
    (edit,) = api.edits(channel.id)
    assert edit.message_id == post.message_id and "Poprawiony" in edit.text


async def _claimed(storage: Storage) -> bool:
    row = await storage.db.fetch_one("SELECT COUNT(*) FROM outbox WHERE state = 'claimed'")
    return row is not None and row[0] > 0


async def _finished(storage: Storage, announcement_id: int) -> bool:
    row = await storage.db.fetch_one(
        "SELECT status FROM announcements WHERE id = ?", (announcement_id,)
    )
    return row is not None and row["status"] == "sent"


async def _active(storage: Storage, ref: ChatRef) -> bool:
    chat = await storage.chats.get(ref)
    return chat is not None and chat.active


def next_local(hour: int, minute: int, settings: Settings) -> datetime:
    """The next moment after now at this local time (tests run at any injected moment)."""
    tz = settings.timezone
    today = utcnow().astimezone(tz).date()
    for day in (today, today + timedelta(days=1)):
        moment = local_at(day, time(hour, minute), tz)
        if moment > utcnow():
            return moment
    raise AssertionError("unreachable")


@pytest.mark.parametrize(("hour", "minute", "silent"), [(20, 45, True), (12, 0, False)])
async def test_a_broadcast_just_before_quiet_hours_arrives_without_a_sound(
    fake_bot_api: FakeBotApi,
    storage: Storage,
    settings: Settings,
    hour: int,
    minute: int,
    silent: bool,
) -> None:
    api = fake_bot_api
    quiet = replace(settings, quiet_hours=parse_quiet_hours("21:00-08:00"))
    moment = next_local(hour, minute, quiet)
    person = api.make_user("Ala")
    await add_chats(storage, "telegram", [str(person.id)])
    urgent_reader = api.make_user("Ola")
    await add_chats(storage, "telegram", [str(urgent_reader.id)], topics=("news",))
    async for rig in start_rig(api, storage, quiet, clock=lambda: moment):
        service = service_for(storage, rig.settings)
        await service.create(
            grant_fields(title="Ogłoszenie", url="https://ngo.krakow.pl/a"), actor="cli:test"
        )
        await service.create(
            grant_fields(title="Pilne", topic="news", urgent=True), actor="cli:test"
        )
        await api.wait_for_async(
            lambda: api.sent_messages(person.id) and api.sent_messages(urgent_reader.id),
            SETTLE_SECONDS,
            "both messages",
        )
    (message,) = api.sent_messages(person.id)
    assert bool(message.params.get("disable_notification")) is silent
    assert message.params["link_preview_options"] == {
        "url": "https://ngo.krakow.pl/a",
        "prefer_small_media": True,
    }
    (urgent,) = api.sent_messages(urgent_reader.id)
    assert not urgent.params.get("disable_notification")  # urgent ones always notify
    assert urgent.params["link_preview_options"] == {"is_disabled": True}
