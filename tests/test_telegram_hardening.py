"""Telegram hardening (issue 10): a webhook is never open, unreadable webhook updates are skipped,
and a reply a chat refuses is a warning, not an error followed by an apology.

In this process through PTB's HTTP stack where that is enough, and as the real `ngo-bot run`
against the fake Bot API for each fault, as the issue asks.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_core
from bot.config import Settings
from bot.core.messages import ChatRef
from bot.storage import Storage
from bot.transports.telegram import TelegramTransport, generate_webhook_secret
from tests.fakebotapi import FakeBotApi, FakeChat, FakeUser, _post_json
from tests.test_telegram_run import BotProcess, free_port
from tests.test_telegram_transport import telegram_settings

ADMIN = 1000
SECRET_CHARACTERS = re.compile(r"[A-Za-z0-9_-]{1,256}")
FORGED_DATE = 1_781_683_200  # a fixed Unix time: the forged update's own claim, never checked


@dataclass
class WebhookRig:
    api: FakeBotApi
    transport: TelegramTransport
    storage: Storage
    url: str

    def secret(self) -> str | None:
        (call,) = self.api.calls("setWebhook")
        secret = call.params.get("secret_token")
        return secret if isinstance(secret, str) else None


def webhook_settings(settings: Settings, api: FakeBotApi, port: int) -> Settings:
    return replace(
        telegram_settings(settings, api),
        telegram_webhook_url=f"http://127.0.0.1:{port}/telegram/hook",
        telegram_webhook_listen=("127.0.0.1", port),
        telegram_webhook_secret=None,
    )


@pytest.fixture
async def webhook(
    fake_bot_api: FakeBotApi, storage: Storage, settings: Settings
) -> AsyncIterator[WebhookRig]:
    port = free_port()
    configured = webhook_settings(settings, fake_bot_api, port)
    fatal: list[str] = []
    transport = TelegramTransport(configured, build_core(storage, configured), fatal.append)
    await transport.start()
    await asyncio.wait_for(transport.ready.wait(), 10)
    assert configured.telegram_webhook_url is not None
    yield WebhookRig(fake_bot_api, transport, storage, configured.telegram_webhook_url)
    await transport.stop()
    assert not fatal


def forged_command(user: FakeUser, text: str, update_id: int = 900_001) -> dict[str, Any]:
    """An update as an attacker would post it: a command "from" an admin's private chat."""
    command = text.split()[0]
    return {
        "update_id": update_id,
        "message": {
            "message_id": 77,
            "from": user.to_dict(),
            "chat": user.chat.to_dict(),
            "date": FORGED_DATE,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


def restricted_without_new_fields(api: FakeBotApi, title: str) -> dict[str, Any]:
    """The bot restricted in a group, as an older Bot API server says it: PTB 22.8 requires
    can_edit_tag (and knows can_react_to_messages), which this update lacks."""
    admin = api.make_user("Admin")
    group = api.add_group(title, admins=[admin])
    bot_user = {"id": api.bot.id, "is_bot": True, "first_name": api.bot.first_name}
    return {
        "my_chat_member": {
            "chat": group.to_dict(),
            "from": admin.to_dict(),
            "date": FORGED_DATE,
            "old_chat_member": {"status": "member", "user": bot_user},
            "new_chat_member": {
                "status": "restricted",
                "user": bot_user,
                "is_member": True,
                "can_send_messages": False,
                "until_date": 0,
            },
        }
    }


# --- item 5: a webhook without TELEGRAM_WEBHOOK_SECRET is never open -------------------------


def test_generated_secrets_are_what_telegram_accepts() -> None:
    generated = {generate_webhook_secret() for _ in range(50)}
    assert len(generated) == 50
    assert all(SECRET_CHARACTERS.fullmatch(secret) for secret in generated)
    assert all(len(secret) >= 32 for secret in generated)


async def test_without_a_secret_one_is_generated_and_forged_updates_are_refused(
    webhook: WebhookRig, caplog: pytest.LogCaptureFixture
) -> None:
    api = webhook.api
    secret = webhook.secret()
    assert secret is not None and SECRET_CHARACTERS.fullmatch(secret)
    admin = api.make_user("Admin", user_id=ADMIN)
    forged = forged_command(admin, "/staff add telegram:666")
    assert await _post_json(webhook.url, forged, None) == (403, None)
    wrong = forged_command(admin, "/staff add telegram:666", update_id=900_002)
    assert await _post_json(webhook.url, wrong, secret[::-1]) == (403, None)

    api.inject_command(admin, "help")  # the real one, delivered with the secret
    (reply,) = await api.wait_for_messages(admin.id, 1)
    assert "Co potrafię" in reply.text
    assert any(d.status == 200 for d in api.webhook_deliveries())
    assert await webhook.storage.staff.get("telegram:666") is None
    assert all(secret not in record.getMessage() for record in caplog.records)


async def test_an_unreadable_webhook_update_is_skipped_and_the_next_answered(
    webhook: WebhookRig, caplog: pytest.LogCaptureFixture
) -> None:
    api = webhook.api
    with caplog.at_level(logging.INFO):
        bad = api.inject_update(restricted_without_new_fields(api, "Tajna grupa Zarządu"))
        anna = api.make_user("Anna")
        api.inject_command(anna, "help")
        (reply,) = await api.wait_for_messages(anna.id, 1)
    assert "Co potrafię" in reply.text
    statuses = {d.update_id: d.status for d in api.webhook_deliveries()}
    assert statuses[bad["update_id"]] == 200  # answered, so Telegram does not send it again
    (line,) = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert str(bad["update_id"]) in line and "my_chat_member" in line
    assert all("Tajna grupa" not in r.getMessage() for r in caplog.records)
    assert not any(r.levelno >= logging.CRITICAL for r in caplog.records)


def webhook_env(api: FakeBotApi, port: int) -> dict[str, str]:
    return {
        **api.env(),
        "BOT_ADMINS": f"telegram:{ADMIN}",
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/hook",
        "TELEGRAM_WEBHOOK_LISTEN": f"127.0.0.1:{port}",
    }


def staff_identities(db_path: Path) -> list[str]:
    with sqlite3.connect(db_path) as db:
        return [row[0] for row in db.execute("SELECT identity FROM staff")]


def test_ngo_bot_run_in_webhook_mode_without_a_secret_is_not_open(
    fake_bot_api: FakeBotApi, tmp_path: Path
) -> None:
    api = fake_bot_api
    port = free_port()
    bot = BotProcess(tmp_path, webhook_env(api, port))
    try:
        api.wait_for(lambda: api.calls("setWebhook"), timeout=30, what="setWebhook")
        (call,) = api.calls("setWebhook")
        secret = call.params.get("secret_token")
        assert isinstance(secret, str) and SECRET_CHARACTERS.fullmatch(secret)
        url = f"http://127.0.0.1:{port}/telegram/hook"
        admin = api.make_user("Admin", user_id=ADMIN)
        forged = forged_command(admin, "/staff add telegram:666")
        assert refused_post(url, forged) == 403
        bad = api.inject_update(restricted_without_new_fields(api, "Tajna grupa Zarządu"))
        api.inject_command(admin, "help")
        (reply,) = api.wait_for_messages_sync(admin.id, 1, timeout=30)
        assert "Co potrafię" in reply.text
        assert {d.update_id: d.status for d in api.webhook_deliveries()}[bad["update_id"]] == 200
        code, _took = bot.terminate()
    finally:
        bot.kill()
    assert code == 0, bot.log()
    assert staff_identities(bot.db_path) == []
    log_text = bot.log()
    assert "generated a random webhook secret" in log_text
    assert secret not in log_text and "Tajna grupa" not in log_text
    assert f"update {bad['update_id']}" in log_text


def refused_post(url: str, update: dict[str, Any]) -> int | None:
    """POST an update without the secret header, as anyone reaching the port could."""
    deadline = time.monotonic() + 10
    while True:
        status, _error = asyncio.run(_post_json(url, update, None))
        if status is not None or time.monotonic() > deadline:
            return status
        time.sleep(0.1)  # the listener may be a moment behind setWebhook


# --- item 7: a reply the chat refuses is a warning, never an error and an apology ------------

MUTED = "Bad Request: not enough rights to send text messages to the chat"


@dataclass
class PollingRig:
    api: FakeBotApi
    transport: TelegramTransport
    storage: Storage

    async def active(self, chat_id: int) -> bool | None:
        chat = await self.storage.chats.get(ChatRef("telegram", str(chat_id)))
        return chat.active if chat else None


@pytest.fixture
async def polling(
    fake_bot_api: FakeBotApi, storage: Storage, settings: Settings
) -> AsyncIterator[PollingRig]:
    configured = telegram_settings(settings, fake_bot_api)
    fatal: list[str] = []
    transport = TelegramTransport(configured, build_core(storage, configured), fatal.append)
    await transport.start()
    await asyncio.wait_for(transport.ready.wait(), 10)
    yield PollingRig(fake_bot_api, transport, storage)
    await transport.stop()
    assert not fatal


def a_group(api: FakeBotApi, title: str = "Fundacja") -> tuple[FakeChat, FakeUser]:
    admin = api.make_user("Admin")
    return api.add_group(title, admins=[admin]), admin


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "refused a reply" in r.getMessage()]


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def refused_calls(api: FakeBotApi, method: str, chat_id: int) -> list[object]:
    return [c for c in api.calls(method) if c.params.get("chat_id") == chat_id and not c.ok]


async def test_a_reply_into_a_group_that_removed_the_bot_marks_it_inactive(
    polling: PollingRig, caplog: pytest.LogCaptureFixture
) -> None:
    api = polling.api
    caplog.set_level(logging.WARNING)
    group, admin = a_group(api)
    api.inject_command(admin, "subscribe", "news", chat=group)
    await api.wait_for_messages(group.id, 1)
    api.set_chat_error(group.id, "kicked")
    api.inject_command(admin, "help", chat=group)
    await api.wait_for_async(lambda: refusals(caplog), what="the refusal's warning")
    assert await polling.active(group.id) is False
    (warning,) = refusals(caplog)
    assert warning.levelno == logging.WARNING and warning.exc_info is None
    assert "kicked" in warning.getMessage()
    # The same chat's next update is handled after this one: an apology would be sent by now.
    api.set_chat_error(group.id, None)
    api.inject_command(admin, "help", chat=group)
    await api.wait_for_messages(group.id, 2)
    assert len(refused_calls(api, "sendMessage", group.id)) == 1  # no apology was tried
    assert not errors(caplog)


async def test_a_reply_into_a_group_where_the_bot_is_muted_is_a_warning(
    polling: PollingRig, caplog: pytest.LogCaptureFixture
) -> None:
    api = polling.api
    caplog.set_level(logging.WARNING)
    group, admin = a_group(api)
    api.fail_with(400, MUTED, method="sendMessage", chat_id=group.id)
    api.inject_command(admin, "help", chat=group)
    await api.wait_for_async(lambda: refusals(caplog), what="the refusal's warning")
    api.inject_command(admin, "help", chat=group)
    (reply,) = await api.wait_for_messages(group.id, 1)
    assert "Co potrafię" in reply.text  # the answer to the second /help, not an apology
    assert len(refused_calls(api, "sendMessage", group.id)) == 1
    assert await polling.active(group.id) is True
    assert "not enough rights" in refusals(caplog)[0].getMessage().lower()
    assert not errors(caplog)


async def test_a_button_pressed_in_a_chat_that_blocked_the_bot_is_a_warning(
    polling: PollingRig, caplog: pytest.LogCaptureFixture
) -> None:
    api = polling.api
    caplog.set_level(logging.WARNING)
    anna = api.make_user("Anna")
    api.inject_command(anna, "start")
    (start,) = await api.wait_for_messages(anna.id, 1)
    api.set_chat_error(anna.id, "blocked")
    api.inject_callback_query(anna, "toggle grants", start)
    await api.wait_for_async(lambda: refusals(caplog), what="the refusal's warning")
    assert await polling.active(anna.id) is False
    assert len(refused_calls(api, "editMessageText", anna.id)) == 1
    api.set_chat_error(anna.id, None)
    api.inject_command(anna, "help")  # handled after the button press (same chat)
    await api.wait_for_messages(anna.id, 2)
    assert refused_calls(api, "sendMessage", anna.id) == []  # neither a new message nor apology
    assert not errors(caplog)


async def test_the_greeting_of_a_group_that_added_the_bot_muted_is_a_warning(
    polling: PollingRig, caplog: pytest.LogCaptureFixture
) -> None:
    api = polling.api
    caplog.set_level(logging.WARNING)
    group, admin = a_group(api)
    api.fail_with(400, MUTED, method="sendMessage", chat_id=group.id)
    api.inject_my_chat_member(group, "left", "member", by=admin)
    await api.wait_for_async(lambda: refusals(caplog), what="the refusal's warning")
    api.inject_command(admin, "help", chat=group)
    await api.wait_for_messages(group.id, 1)
    assert len(refused_calls(api, "sendMessage", group.id)) == 1
    assert await polling.active(group.id) is True
    assert not errors(caplog)


def chat_active(db_path: Path, chat_id: int) -> bool:
    with sqlite3.connect(db_path) as db:
        row = db.execute(
            "SELECT active FROM chats WHERE platform = 'telegram' AND chat_id = ?", (str(chat_id),)
        ).fetchone()
    return bool(row[0])


def test_ngo_bot_run_treats_refused_replies_as_warnings(
    fake_bot_api: FakeBotApi, tmp_path: Path
) -> None:
    api = fake_bot_api
    removed, admin = a_group(api, "Usunęli bota")
    muted, muter = a_group(api, "Wyciszyli bota")
    bot = BotProcess(tmp_path, api.env())
    try:
        api.inject_command(admin, "subscribe", "news", chat=removed)
        api.wait_for_messages_sync(removed.id, 1, timeout=30)
        api.set_chat_error(removed.id, "kicked")
        api.fail_with(400, MUTED, method="sendMessage", chat_id=muted.id)
        api.inject_command(admin, "help", chat=removed)
        api.inject_command(muter, "help", chat=muted)
        api.wait_for(lambda: bot.log().count("refused a reply") == 2, timeout=30, what="warnings")
        api.inject_command(muter, "help", chat=muted)
        (reply,) = api.wait_for_messages_sync(muted.id, 1, timeout=30)
        code, _took = bot.terminate()
    finally:
        bot.kill()
    assert code == 0, bot.log()
    log_text = bot.log()
    assert " ERROR " not in log_text and "Traceback" not in log_text, log_text
    assert "Co potrafię" in reply.text
    assert len(refused_calls(api, "sendMessage", removed.id)) == 1  # no apology tried
    assert len(refused_calls(api, "sendMessage", muted.id)) == 1
    assert not chat_active(bot.db_path, removed.id)
    assert chat_active(bot.db_path, muted.id)


async def test_a_group_admins_typed_answer_is_checked_like_a_command(polling: PollingRig) -> None:
    """A typed "tak" replying to the bot's question is looked up like a command: the admin's
    erases the group's data, a member's (even to the same question) erases nothing."""
    api = polling.api
    group, admin = a_group(api)
    member = api.make_user("Member")
    api.set_member_status(group, member, "member")
    api.inject_command(admin, "subscribe", "news", chat=group)
    await api.wait_for_messages(group.id, 1)
    api.inject_command(admin, "forget", chat=group)
    (question,) = (await api.wait_for_messages(group.id, 2))[1:]
    api.inject_message(member, "tak", chat=group, reply_to=question)
    api.inject_message(admin, "Tak!", chat=group, reply_to=question)
    await api.wait_for_async(
        lambda: any("usunięte" in m.text for m in api.sent_messages(group.id)[2:]),
        what="the erasure",
    )
    assert await polling.active(group.id) is None  # the chat's record is gone
    lookups = [c for c in api.calls("getChatMember") if c.params.get("user_id") == admin.id]
    assert lookups
