"""Tests of the fake Bot API, driven through python-telegram-bot's real HTTP stack."""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, CallbackContext, CommandHandler
from telegram.request import HTTPXRequest

from tests.fakebotapi import (
    GROUP_ANONYMOUS_BOT_ID,
    FakeBotApi,
    FloodLimits,
)
from tests.fakebotapi_text import (
    EntityParseError,
    find_text_entities,
    format_text,
    parse_html,
    utf16_length,
)


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22.2+ warns (an error under our pytest config) when RetryAfter.retry_after and other
    # time periods are read as ints; opting in to timedelta values avoids that.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d.title(), callback_data=d) for d in data]])


# --------------------------------------------------------------------------- Telegram HTML


def test_html_entities_have_utf16_offsets() -> None:
    parsed = parse_html("😀 <b>Ważne</b> i <i>pilne</i>")
    assert parsed.text == "😀 Ważne i pilne"
    assert parsed.entities == (
        {"offset": 3, "length": 5, "type": "bold"},
        {"offset": 11, "length": 5, "type": "italic"},
    )


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("żółw <p>", 'Unsupported start tag "p" at byte offset 8'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<a href="x"/>', 'Empty attribute name in the tag "a" at byte offset 0'),
    ],
)
def test_html_errors_match_the_real_server(source: str, error: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(source)
    assert str(caught.value) == error


def test_html_entities_and_supported_tags() -> None:
    source = (
        '&lt;b&gt; &#322;&#x141; &quot;q&quot; <a href="https://example.org/?a=1&amp;b=2">link</a> '
        '<pre><code class="language-python">x = 1</code></pre> '
        "<blockquote expandable>q</blockquote> "
        '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler> <s>d</s><u>u</u><code>c</code>'
    )
    parsed = parse_html(source)
    assert parsed.text.startswith('<b> łŁ "q" link x = 1 q st du')
    types = {e["type"]: e for e in parsed.entities}
    assert types["text_link"]["url"] == "https://example.org/?a=1&b=2"
    assert types["pre"]["language"] == "python"
    assert set(types) >= {"expandable_blockquote", "spoiler", "strikethrough", "underline", "code"}
    assert "language" not in types["code"]


def test_bare_ampersand_is_literal_like_the_real_server_unless_strict() -> None:
    assert parse_html("Tom & Jerry &nbsp;").text == "Tom & Jerry &nbsp;"
    with pytest.raises(EntityParseError, match="Unescaped ampersand at byte offset 4"):
        parse_html("Tom & Jerry", strict=True)


def test_length_counts_text_after_parsing_and_trimming() -> None:
    formatted = format_text("  <b>" + "a" * 4096 + "</b>\n", "HTML")
    assert len(formatted.text) == 4096
    assert formatted.entities == ({"offset": 0, "length": 4096, "type": "bold"},)
    assert utf16_length("😀") == 2


def test_detected_entities_commands_mentions_urls() -> None:
    text = "/start@ngo_test_bot hej @ngo_test_bot zobacz https://krakow.pl/ngo, a/b /x"
    found = [
        (e["type"], text[e["offset"] : e["offset"] + e["length"]]) for e in find_text_entities(text)
    ]
    assert found == [
        ("bot_command", "/start@ngo_test_bot"),
        ("mention", "@ngo_test_bot"),
        ("url", "https://krakow.pl/ngo"),
        ("bot_command", "/x"),
    ]


# --------------------------------------------------------------------------- basic methods


async def test_get_me_and_send_message_are_recorded(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    api = fake_bot_api
    assert ptb_bot.username == api.bot_username
    assert ptb_bot.id == api.bot.id
    first = await ptb_bot.send_message(
        555, "<b>Nabór</b> &amp; termin", parse_mode="HTML", reply_markup=keyboard("yes", "no")
    )
    second = await ptb_bot.send_message(555, "drugi")
    assert (first.message_id, second.message_id) == (1, 2)
    assert first.text == "Nabór & termin"
    assert first.text_html == "<b>Nabór</b> &amp; termin"
    assert first.chat.id == 555
    assert first.from_user is not None and first.from_user.id == api.bot.id
    assert first.reply_markup == keyboard("yes", "no")
    sent = api.sent_messages(555)
    assert [s.text for s in sent] == ["<b>Nabór</b> &amp; termin", "drugi"]
    assert sent[0].parse_mode == "HTML"
    assert sent[0].callback_data == ["yes", "no"]
    assert sent[1].parse_mode is None and sent[1].reply_markup is None
    assert [c.method for c in api.calls()] == ["getMe", "sendMessage", "sendMessage"]
    assert api.sent_messages(556) == []


async def test_html_errors_raise_bad_request(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    with pytest.raises(BadRequest, match=r'(?i)can\'t parse entities: unsupported start tag "br"'):
        await ptb_bot.send_message(1, "linia<br>linia", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't find end tag"):
        await ptb_bot.send_message(1, "<b>otwarty", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r'(?i)unsupported start tag "" at byte offset 2'):
        await ptb_bot.send_message(1, "1 < 2", parse_mode="HTML")
    # Without parse_mode the same text is fine.
    await ptb_bot.send_message(1, "1 < 2")
    failed = [c for c in fake_bot_api.calls("sendMessage") if not c.ok]
    assert [c.status for c in failed] == [400, 400, 400]
    assert fake_bot_api.sent_texts(1) == ["1 < 2"]


async def test_length_and_empty_text_limits(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    with pytest.raises(BadRequest, match="Message is too long"):
        await ptb_bot.send_message(1, "x" * 5000)
    with pytest.raises(BadRequest, match="Message is too long"):
        await ptb_bot.send_message(1, "😀" * 2049)  # 4098 UTF-16 code units
    with pytest.raises(BadRequest, match="Message text is empty"):
        await ptb_bot.send_message(1, " \n ")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await ptb_bot.send_message(1, "<b></b>", parse_mode="HTML")
    long_markup = "<b>" + "&amp;" * 4096 + "</b>"  # 4096 characters once parsed
    message = await ptb_bot.send_message(1, long_markup, parse_mode="HTML")
    assert message.text == "&" * 4096
    assert len(fake_bot_api.sent_messages(1)) == 1


async def test_button_data_is_validated(ptb_bot: telegram.Bot) -> None:
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await ptb_bot.send_message(1, "x", reply_markup=keyboard("d" * 65))


# --------------------------------------------------------------------------- faults


async def test_retry_after_for_the_next_calls(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    fake_bot_api.fail_with_retry_after(7, times=2, method="sendMessage")
    await ptb_bot.get_chat_member(1, 1)  # other methods are not affected
    for _ in range(2):
        with pytest.raises(RetryAfter) as caught:
            await ptb_bot.send_message(1, "x")
        assert caught.value.retry_after == dtm.timedelta(seconds=7)
    await ptb_bot.send_message(1, "x")
    assert [c.fault for c in fake_bot_api.faults()] == ["retry_after", "retry_after"]
    assert len(fake_bot_api.sent_messages(1)) == 1


async def test_retry_after_only_for_one_chat(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    fake_bot_api.fail_with_retry_after(3, times=None, chat_id=2)
    await ptb_bot.send_message(1, "ok")
    with pytest.raises(RetryAfter):
        await ptb_bot.send_message(2, "x")
    with pytest.raises(RetryAfter):
        await ptb_bot.send_message(2, "x")
    fake_bot_api.clear_faults()
    await ptb_bot.send_message(2, "ok")


async def test_gone_recipients(fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot) -> None:
    api = fake_bot_api
    group = api.add_group("Rada NGO")
    api.set_chat_error(10, "blocked")
    api.set_chat_error(11, "deactivated")
    api.set_chat_error(group.id, "kicked")
    api.set_chat_error(12, "not_found")
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await ptb_bot.send_message(10, "x")
    with pytest.raises(Forbidden, match="user is deactivated"):
        await ptb_bot.send_message(11, "x")
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await ptb_bot.send_message(group.id, "x")
    with pytest.raises(BadRequest, match="Chat not found"):
        await ptb_bot.send_message(12, "x")
    api.set_chat_error(10, None)
    await ptb_bot.send_message(10, "back")
    assert [c.status for c in api.faults()] == [403, 403, 403, 400]


async def test_bad_gateway_html_and_json(fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot) -> None:
    fake_bot_api.fail_with_bad_gateway(times=1)
    with pytest.raises(NetworkError, match="Bad Gateway \\(502\\)"):
        await ptb_bot.send_message(1, "x")
    fake_bot_api.fail_with_bad_gateway(times=1, html=False)
    with pytest.raises(NetworkError, match=r"^Bad Gateway$"):
        await ptb_bot.send_message(1, "x")
    await ptb_bot.send_message(1, "x")
    assert [c.fault for c in fake_bot_api.faults()] == ["bad_gateway", "bad_gateway"]


async def test_slow_response_times_out_but_the_message_arrives(
    fake_bot_api: FakeBotApi,
) -> None:
    api = fake_bot_api
    api.set_delay(1.0, method="sendMessage")
    bot = telegram.Bot(api.token, base_url=api.base_url, request=HTTPXRequest(read_timeout=0.2))
    async with bot:
        with pytest.raises(TimedOut):
            await bot.send_message(1, "late")
        await api.wait_for_calls("sendMessage")
    assert api.sent_texts(1) == ["late"]  # like Telegram: a timeout does not mean "not sent"


async def test_dropped_connection_is_a_network_error(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    fake_bot_api.drop_connections(times=1)
    with pytest.raises(NetworkError):
        await ptb_bot.send_message(1, "x")
    await ptb_bot.send_message(1, "x")
    assert fake_bot_api.sent_texts(1) == ["x"]


async def test_flood_mode_limits_private_chats_and_overall_rate(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    fake_bot_api.enable_flood_control(FloodLimits(overall_per_second=5, private_per_second=1))
    await ptb_bot.send_message(1, "first")
    with pytest.raises(RetryAfter) as caught:
        await ptb_bot.send_message(1, "second")
    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    for chat_id in range(2, 6):
        await ptb_bot.send_message(chat_id, "broadcast")
    with pytest.raises(RetryAfter):
        await ptb_bot.send_message(6, "one too many")
    assert [c.fault for c in fake_bot_api.faults()] == ["flood", "flood"]
    assert len(fake_bot_api.sent_messages()) == 5


async def test_outage_and_restart_on_the_same_port(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    await ptb_bot.send_message(1, "before")
    await asyncio.to_thread(fake_bot_api.stop)
    with pytest.raises(NetworkError):
        await ptb_bot.send_message(1, "during")
    await asyncio.to_thread(fake_bot_api.start)
    await ptb_bot.send_message(1, "after")
    assert fake_bot_api.sent_texts(1) == ["before", "after"]


async def test_unknown_method_and_wrong_token(fake_bot_api: FakeBotApi) -> None:
    request = urllib.request.Request(fake_bot_api.url("sendTelepathy"), data=b"", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        await asyncio.to_thread(urllib.request.urlopen, request)
    assert caught.value.code == 404
    assert json.loads(caught.value.read()) == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found",
    }
    with pytest.raises(InvalidToken):
        async with telegram.Bot("123:wrong", base_url=fake_bot_api.base_url):
            pass


# --------------------------------------------------------------------------- updates


async def test_long_poll_returns_injected_update_and_honours_offset(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    api = fake_bot_api
    anna = api.make_user("Anna", username="anna_ngo", language_code="uk")
    poll = asyncio.create_task(ptb_bot.get_updates(timeout=30))
    await api.wait_for_async(lambda: api.long_polls_waiting, what="a waiting long poll")
    injected = await asyncio.to_thread(api.inject_message, anna, "Jak złożyć wniosek?")
    [update] = await poll
    assert update.update_id == injected["update_id"]
    assert update.message is not None and update.message.text == "Jak złożyć wniosek?"
    assert update.effective_user is not None
    assert update.effective_user.language_code == "uk"
    assert update.effective_chat is not None and update.effective_chat.type == "private"
    # Not confirmed yet: delivered again; confirmed with offset: gone.
    again = await ptb_bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [update.update_id]
    assert await ptb_bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    assert api.pending_updates() == []


async def test_update_ids_increase_and_allowed_updates_filter(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    api = fake_bot_api
    user = api.make_user()
    await ptb_bot.send_message(user.id, "pick", reply_markup=keyboard("a"))
    ids = [
        api.inject_message(user, "one")["update_id"],
        api.inject_callback_query(user, "a")["update_id"],
        api.inject_message(user, "two")["update_id"],
    ]
    assert ids == sorted(ids) and len(set(ids)) == 3
    updates = await ptb_bot.get_updates(timeout=0, allowed_updates=["message"])
    assert [u.message.text for u in updates if u.message] == ["one", "two"]
    assert all(u.callback_query is None for u in updates)


async def test_second_poll_terminates_the_first_with_conflict(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    # PTB serialises get_updates per Bot (a pool of one connection): a second bot instance is
    # what runs into this in real life.
    first = asyncio.create_task(ptb_bot.get_updates(timeout=30))
    await fake_bot_api.wait_for_async(lambda: fake_bot_api.long_polls_waiting)
    async with telegram.Bot(fake_bot_api.token, base_url=fake_bot_api.base_url) as second:
        assert await second.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


async def test_group_messages_admins_and_anonymous_admin(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    api = fake_bot_api
    owner, admin, member = api.make_user("Ola"), api.make_user("Jan"), api.make_user("Iza")
    group = api.add_group("Fundacje Kraków", creator=owner, admins=[admin], members=[member])
    api.set_member_status(group, api.make_user("Gone"), "kicked")
    api.inject_command(member, "subscribe", "grants", chat=group, addressed=True)
    api.inject_anonymous_admin_message(group, "/language uk")
    api.inject_message(api.make_user("Nowy"), f"@{api.bot_username} pomocy", chat=group)
    updates = await ptb_bot.get_updates(timeout=0)
    first, anonymous, mention = (u.message for u in updates)
    assert first is not None and first.text == "/subscribe@ngo_test_bot grants"
    assert first.parse_entities(["bot_command"]) == {first.entities[0]: "/subscribe@ngo_test_bot"}
    assert first.chat.type == "supergroup" and first.chat.title == "Fundacje Kraków"
    assert anonymous is not None and anonymous.sender_chat == first.chat
    assert anonymous.from_user is not None and anonymous.from_user.id == GROUP_ANONYMOUS_BOT_ID
    assert mention is not None and list(mention.parse_entities(["mention"]).values()) == [
        "@ngo_test_bot"
    ]
    statuses = {
        uid: (await ptb_bot.get_chat_member(group.id, uid)).status
        for uid in (owner.id, admin.id, member.id, api.bot.id, 999)
    }
    assert statuses == {
        owner.id: "creator",
        admin.id: "administrator",
        member.id: "member",
        api.bot.id: "member",
        999: "left",
    }
    admins = await ptb_bot.get_chat_administrators(group.id)
    assert {a.user.id for a in admins} == {owner.id, admin.id}
    chat = await ptb_bot.get_chat(group.id)
    assert chat.title == "Fundacje Kraków"


async def test_callback_query_answer_and_edits(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    api = fake_bot_api
    user = api.make_user()
    sent = await ptb_bot.send_message(user.id, "Subskrybować?", reply_markup=keyboard("yes", "no"))
    with pytest.raises(ValueError, match="no button"):
        api.inject_callback_query(user, "maybe")
    api.inject_callback_query(user, "yes")
    [update] = await ptb_bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None and query.data == "yes"
    assert query.message is not None and query.message.message_id == sent.message_id
    assert await query.answer("Zapisano")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer("again")
    assert [a.text for a in api.callback_answers()] == ["Zapisano"]

    edited = await ptb_bot.edit_message_text(
        "<i>Zapisano</i>", user.id, sent.message_id, parse_mode="HTML"
    )
    assert isinstance(edited, telegram.Message) and edited.text == "Zapisano"
    with pytest.raises(BadRequest, match="not modified"):
        await ptb_bot.edit_message_text(
            "<i>Zapisano</i>", user.id, sent.message_id, parse_mode="HTML"
        )
    await ptb_bot.edit_message_reply_markup(user.id, sent.message_id, reply_markup=keyboard("undo"))
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await ptb_bot.edit_message_text("x", user.id, 999)
    assert [(e.method, e.text) for e in api.edits(user.id)] == [
        ("editMessageText", "<i>Zapisano</i>"),
        ("editMessageReplyMarkup", None),
    ]
    assert api.edits(user.id)[1].buttons[0][0]["callback_data"] == "undo"
    current = api.message(user.id, sent.message_id)
    assert current is not None and current["text"] == "Zapisano" and "edit_date" in current


async def test_my_chat_member_blocks_and_unblocks(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    api = fake_bot_api
    user = api.make_user()
    api.inject_my_chat_member(user.chat, "member", "kicked")
    [update] = await ptb_bot.get_updates(timeout=0)
    change = update.my_chat_member
    assert change is not None
    assert (change.old_chat_member.status, change.new_chat_member.status) == ("member", "kicked")
    assert change.new_chat_member.user.id == api.bot.id and change.from_user.id == user.id
    with pytest.raises(Forbidden, match="blocked"):
        await ptb_bot.send_message(user.id, "x")
    api.inject_my_chat_member(user.chat, "kicked", "member")
    await ptb_bot.send_message(user.id, "witaj ponownie")

    group = api.add_group("G", supergroup=False)
    api.inject_my_chat_member(group, "member", "left")
    with pytest.raises(Forbidden, match="bot is not a member of the group chat"):
        await ptb_bot.send_message(group.id, "x")


async def test_group_migration(fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot) -> None:
    api = fake_bot_api
    admin = api.make_user("Ola")
    group = api.add_group("Stara grupa", supergroup=False, creator=admin)
    new_chat, _ = api.inject_migration(group)
    old_update, new_update = await ptb_bot.get_updates(timeout=0)
    assert old_update.message is not None and new_update.message is not None
    assert old_update.message.migrate_to_chat_id == new_chat.id
    assert old_update.message.chat.type == "group"
    assert new_update.message.migrate_from_chat_id == group.id
    assert new_update.message.chat.type == "supergroup"
    with pytest.raises(ChatMigrated) as caught:
        await ptb_bot.send_message(group.id, "x")
    assert caught.value.new_chat_id == new_chat.id
    assert (await ptb_bot.get_chat_member(new_chat.id, admin.id)).status == "creator"


async def test_media_reply_and_mention_messages(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    api = fake_bot_api
    user = api.make_user()
    sent = await ptb_bot.send_message(user.id, "Pytanie?")
    api.inject_sticker(user)
    api.inject_photo(user, caption="zdjęcie")
    api.inject_message(user, "Odpowiedź", reply_to=api.sent_messages(user.id)[0])
    sticker, photo, reply = (u.message for u in await ptb_bot.get_updates(timeout=0))
    assert sticker is not None and sticker.text is None and sticker.sticker is not None
    assert photo is not None and photo.photo and photo.caption == "zdjęcie"
    assert reply is not None and reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == sent.message_id
    assert reply.reply_to_message.from_user is not None
    assert reply.reply_to_message.from_user.id == api.bot.id


async def test_send_document_records_bytes(fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot) -> None:
    payload = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    message = await ptb_bot.send_document(
        42,
        io.BytesIO(payload),
        filename='Terminy "grantów".ics',
        caption="<b>Kalendarz</b>",
        parse_mode="HTML",
    )
    assert message.document is not None
    assert message.document.file_name == 'Terminy "grantów".ics'
    assert message.document.file_size == len(payload)
    assert message.caption == "Kalendarz"
    [doc] = fake_bot_api.documents(42)
    assert (doc.file_name, doc.data, doc.mime_type) == (
        'Terminy "grantów".ics',
        payload,
        "text/calendar",
    )
    assert (doc.caption, doc.parse_mode) == ("<b>Kalendarz</b>", "HTML")
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await ptb_bot.send_document(42, io.BytesIO(b"x"), filename="a.txt", caption="c" * 1025)


async def test_commands_per_scope_and_language(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    api = fake_bot_api
    await ptb_bot.set_my_commands([("start", "Start"), ("help", "Pomoc")])
    await ptb_bot.set_my_commands([("start", "Почати")], language_code="uk")
    admins = telegram.BotCommandScopeAllChatAdministrators()
    await ptb_bot.set_my_commands([("announce", "Ogłoszenie")], scope=admins)
    assert [c.command for c in await ptb_bot.get_my_commands()] == ["start", "help"]
    assert [c.description for c in await ptb_bot.get_my_commands(language_code="uk")] == ["Почати"]
    assert api.commands({"type": "all_chat_administrators"}) == [
        {"command": "announce", "description": "Ogłoszenie"}
    ]
    await ptb_bot.delete_my_commands(language_code="uk")
    assert api.commands(language_code="uk") is None
    assert [(c.method, c.scope["type"], c.language_code) for c in api.command_calls()] == [
        ("setMyCommands", "default", ""),
        ("setMyCommands", "default", "uk"),
        ("setMyCommands", "all_chat_administrators", ""),
        ("deleteMyCommands", "default", "uk"),
    ]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await ptb_bot.set_my_commands([("Start", "bad")])


async def test_webhook_methods(fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot) -> None:
    await ptb_bot.set_webhook("http://127.0.0.1:9/hook", secret_token="s3cret")
    info = await ptb_bot.get_webhook_info()
    assert info.url == "http://127.0.0.1:9/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await ptb_bot.get_updates(timeout=0)
    assert await ptb_bot.delete_webhook()
    assert (await ptb_bot.get_webhook_info()).url == ""
    assert await ptb_bot.get_updates(timeout=0) == ()


async def test_leave_chat_close_and_log_out(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    group = fake_bot_api.add_group("Do opuszczenia")
    assert await ptb_bot.leave_chat(group.id)
    for call in (ptb_bot.send_message(group.id, "x"), ptb_bot.get_chat(group.id)):
        with pytest.raises(Forbidden, match="bot is not a member of the supergroup chat"):
            await call
    assert await ptb_bot.close()
    assert await ptb_bot.log_out()
    assert [c.method for c in fake_bot_api.calls()][-2:] == ["close", "logOut"]


def test_form_encoded_text_round_trips(fake_bot_api: FakeBotApi) -> None:
    text = "Zażółć gęślą jaźń = 100% + <b>&amp;</b> 😀\nnowa linia  "
    for encoded in (
        urllib.parse.urlencode({"chat_id": 9, "text": text}),
        "chat_id=9&text=a=b%zz+c",  # sloppy client: raw "=" and a broken escape
    ):
        request = urllib.request.Request(fake_bot_api.url("sendMessage"), data=encoded.encode())
        urllib.request.urlopen(request).close()
    assert fake_bot_api.sent_texts(9) == [text, "a=b%zz c"]


# --------------------------------------------------------------------------- waiting helpers


def test_sync_wait_with_a_client_in_another_thread(fake_bot_api: FakeBotApi) -> None:
    api = fake_bot_api

    def client() -> None:
        body = json.dumps({"chat_id": 7, "text": "z wątku", "parse_mode": "HTML"}).encode()
        request = urllib.request.Request(
            api.url("sendMessage"), data=body, headers={"Content-Type": "application/json"}
        )
        urllib.request.urlopen(request).close()

    threading.Thread(target=client).start()
    [message] = api.wait_for_messages_sync(7, 1, timeout=10)
    assert message.text == "z wątku"


def test_wait_timeout_lists_what_was_recorded(fake_bot_api: FakeBotApi) -> None:
    request = urllib.request.Request(fake_bot_api.url("sendMessage"), data=b"chat_id=3&text=hello")
    urllib.request.urlopen(request).close()
    with pytest.raises(AssertionError) as caught:
        fake_bot_api.wait_for_messages_sync(4, 1, timeout=0.2)
    report = str(caught.value)
    assert "1 message(s) sent to chat 4" in report
    assert "sendMessage(chat_id=3, text='hello') -> ok" in report


async def test_sync_wait_refuses_to_block_the_event_loop(fake_bot_api: FakeBotApi) -> None:
    with pytest.raises(RuntimeError, match="wait_for_async"):
        fake_bot_api.wait_for(lambda: True)


# --------------------------------------------------------------------------- PTB Application


async def _start_reply(update: Update, context: CallbackContext[Any, Any, Any, Any]) -> None:
    assert update.message is not None and update.effective_user is not None
    await update.message.reply_text(
        f"Cześć, <b>{update.effective_user.first_name}</b>!", parse_mode="HTML"
    )


async def test_application_polling_replies_to_start(fake_bot_api: FakeBotApi) -> None:
    api = fake_bot_api
    app = ApplicationBuilder().token(api.token).base_url(api.base_url).job_queue(None).build()
    app.add_handler(CommandHandler("start", _start_reply))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling()
    try:
        anna = api.make_user("Anna")
        api.inject_command(anna, "start")
        [reply] = await api.wait_for_messages(anna.id)
        assert reply.text == "Cześć, <b>Anna</b>!"
        assert reply.plain_text == "Cześć, Anna!"
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert api.pending_updates() == []  # the cleanup getUpdates confirmed /start
    assert api.calls("deleteWebhook")
    # The poll PTB abandoned on stop ends as "client closed" (499), not as a 409 conflict.
    await api.wait_for_async(lambda: api.long_polls_waiting == 0, what="no waiting long poll")
    assert {c.status for c in api.calls("getUpdates")} <= {200, 499}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_application_webhook_receives_updates(fake_bot_api: FakeBotApi) -> None:
    api = fake_bot_api
    app = ApplicationBuilder().token(api.token).base_url(api.base_url).job_queue(None).build()
    app.add_handler(CommandHandler("start", _start_reply))
    port = _free_port()
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_webhook(
        listen="127.0.0.1",
        port=port,
        url_path="tg",
        webhook_url=f"http://127.0.0.1:{port}/tg",
        secret_token="s3cret-token",
    )
    try:
        jan = api.make_user("Jan")
        api.inject_command(jan, "start")
        [reply] = await api.wait_for_messages(jan.id)
        assert reply.plain_text == "Cześć, Jan!"
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert [d.status for d in api.webhook_deliveries()] == [200]
    assert api.webhook_info()["pending_update_count"] == 0


# --------------------------------------------------------------------------- a bot subprocess

_BOT_SCRIPT = """
import os
from telegram.ext import ApplicationBuilder, CommandHandler

async def start(update, context):
    await update.message.reply_text("Witaj w bocie NGO")

app = (ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"])
       .base_url(os.environ["TELEGRAM_API_BASE_URL"]).job_queue(None).build())
app.add_handler(CommandHandler("start", start))
app.run_polling()
"""


def test_bot_in_a_subprocess(fake_bot_api: FakeBotApi, fake_bot_api_env: dict[str, str]) -> None:
    api = fake_bot_api
    env = {**os.environ, **fake_bot_api_env}
    bot = subprocess.Popen([sys.executable, "-c", _BOT_SCRIPT], env=env)
    try:
        user = api.make_user("Ola")
        api.inject_command(user, "start")
        [reply] = api.wait_for_messages_sync(user.id, 1, timeout=30)
        assert reply.text == "Witaj w bocie NGO"
    finally:
        bot.send_signal(signal.SIGINT)  # run_polling stops gracefully and confirms updates
        assert bot.wait(30) == 0
    assert api.pending_updates() == []


async def test_strict_chats_answer_chat_not_found_until_the_user_writes() -> None:
    with FakeBotApi(strict_chats=True) as api:
        async with telegram.Bot(api.token, base_url=api.base_url) as bot:
            user = api.make_user()
            with pytest.raises(BadRequest, match="Chat not found"):
                await bot.send_message(user.id, "x")
            api.inject_command(user, "start")
            await bot.send_message(user.id, "x")
    assert api.sent_texts(user.id) == ["x"]
