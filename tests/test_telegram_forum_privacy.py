"""Forum topics are chats of their own ('<group>#<thread>'): export, forget and reachability of
the group cover them; the pieces the channels and topics rely on (config, KRS, quiet margin)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.announcements.model import Kind
from bot.announcements.render import krs_numbers
from bot.config import ChannelRoute, ConfigError, parse_channels, parse_quiet_hours
from bot.core.messages import ChatKind, ChatRef
from bot.reminders.quiet import near_quiet_hours
from bot.storage import Storage
from tests.conftest import Say
from tests.delivery_helpers import grant_fields

GROUP = "-1002000000001"
THREAD = f"{GROUP}#7"


async def test_export_in_the_group_lists_its_topics_and_forget_erases_them(
    say: Say, storage: Storage
) -> None:
    await say("/subscribe grants", chat=THREAD, platform="telegram", kind=ChatKind.GROUP)
    await say("/subscribe news", chat=GROUP, platform="telegram", kind=ChatKind.GROUP)
    (reply,) = await say("/export", chat=GROUP, platform="telegram", kind=ChatKind.GROUP)
    assert reply.attachment is not None
    data = json.loads(reply.attachment.data)
    assert [t["chat_id"] for t in data["threads"]] == [THREAD]
    assert [s["topic"] for s in data["threads"][0]["subscriptions"]] == ["grants"]

    refused = await say(
        "/subscribe tax",
        chat=THREAD,
        platform="telegram",
        kind=ChatKind.GROUP,
        admin=False,
        sender="42",
    )
    assert refused and await storage.staff.audit_log("telegram:42", limit=10)

    await say("/forget yes", chat=GROUP, platform="telegram", kind=ChatKind.GROUP)
    assert await storage.chats.get(ChatRef("telegram", GROUP)) is None
    assert await storage.chats.get(ChatRef("telegram", THREAD)) is None
    assert not await storage.staff.audit_log("telegram:42", limit=10)  # refused in a topic


async def test_forget_in_a_topic_erases_only_the_topic(say: Say, storage: Storage) -> None:
    await say("/subscribe grants", chat=THREAD, platform="telegram", kind=ChatKind.GROUP)
    await say("/subscribe news", chat=GROUP, platform="telegram", kind=ChatKind.GROUP)
    await say("/forget yes", chat=THREAD, platform="telegram", kind=ChatKind.GROUP)
    assert await storage.chats.get(ChatRef("telegram", THREAD)) is None
    assert await storage.chats.get(ChatRef("telegram", GROUP)) is not None


async def test_the_bot_removed_from_the_group_stops_its_topics_too(
    say: Say, storage: Storage
) -> None:
    await say("/subscribe grants", chat=THREAD, platform="telegram", kind=ChatKind.GROUP)
    await say("/subscribe grants", chat=GROUP, platform="telegram", kind=ChatKind.GROUP)
    await say("/subscribe grants", chat=f"{GROUP}1", platform="telegram", kind=ChatKind.GROUP)
    await storage.chats.set_active(ChatRef("telegram", GROUP), False)
    states = {
        chat: (await storage.chats.get(ChatRef("telegram", chat)))
        for chat in (GROUP, THREAD, f"{GROUP}1")
    }
    assert {chat: c.active for chat, c in states.items() if c} == {
        GROUP: False,
        THREAD: False,
        f"{GROUP}1": True,  # another group whose id merely starts the same
    }


def test_channel_entries_are_parsed_and_deduplicated() -> None:
    routes = parse_channels(" grants:pl=@ngo_krakow, grants:uk=@ngo_krakow_ua,*=@ngo_krakow,")
    assert routes == (
        ChannelRoute("grants", "@ngo_krakow", "pl"),
        ChannelRoute("grants", "@ngo_krakow_ua", "uk"),
        ChannelRoute("*", "@ngo_krakow", None),
    )
    assert parse_channels("news=-1001234567890") == (ChannelRoute("news", "-1001234567890", None),)
    with pytest.raises(ConfigError, match="'=@x'"):
        parse_channels("=@x")
    with pytest.raises(ConfigError, match="'@abc'"):
        parse_channels("grants=@abc")  # too short for a username


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Nasz KRS: 0000123456.", ["0000123456"]),
        ("nr KRS 0000 123 456, a także KRS 0000-654-321", ["0000123456", "0000654321"]),
        ("Номер КРС 0000123456", ["0000123456"]),
        ("KRS 12345", []),  # not ten digits
        ("KRS 00001234567", []),  # eleven
        ("NIP 1234567890", []),
        ("SKRS 0000123456", []),  # not the word KRS
    ],
)
def test_krs_numbers_are_recognised_in_a_tax_campaign(text: str, found: list[str]) -> None:
    fields = grant_fields().replace(kind=Kind.TAX_CAMPAIGN, topic="tax", text_pl=text)
    assert krs_numbers(fields, "pl") == found
    assert krs_numbers(fields.replace(kind=Kind.NEWS), "pl") == []  # only 1.5% campaigns


@pytest.mark.parametrize(
    ("local", "near"),
    [
        ("2026-06-17T08:00:00+02:00", True),  # the overnight backlog at the end of quiet hours
        ("2026-06-17T08:29:00+02:00", True),
        ("2026-06-17T08:31:00+02:00", False),
        ("2026-06-17T12:00:00+02:00", False),
        ("2026-06-17T20:45:00+02:00", True),  # just before they begin
        ("2026-06-17T22:00:00+02:00", False),  # inside: such a message is not sent at all
        ("2026-10-25T08:10:00+01:00", True),  # the day the clocks go back
    ],
)
def test_messages_just_outside_quiet_hours_are_silent(local: str, near: bool) -> None:
    from zoneinfo import ZoneInfo

    moment = datetime.fromisoformat(local).astimezone(UTC)
    hours = parse_quiet_hours("21:00-08:00")
    assert near_quiet_hours(moment, hours, ZoneInfo("Europe/Warsaw")) is near
    assert not near_quiet_hours(moment, None, ZoneInfo("Europe/Warsaw"))
