"""The real `ngo-bot run` process against the fake Bot API: the issue's done-when, SIGTERM, webhook."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BOT_COMMAND, bot_env
from tests.fakebotapi import FakeBotApi


class BotProcess:
    """`ngo-bot run` as a subprocess, its stderr collected in a file."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.log_path = tmp_path / "bot.log"
        self.db_path = tmp_path / "bot.sqlite3"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*BOT_COMMAND, "run"],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=bot_env(self.db_path, **env),
        )

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    def terminate(self, timeout: float = 10.0) -> tuple[int, float]:
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self._log.close()
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()


def test_serves_private_chats_and_groups_end_to_end(
    fake_bot_api: FakeBotApi, tmp_path: Path, run_bot: list[BotProcess]
) -> None:
    api = fake_bot_api
    bot = BotProcess(tmp_path, {**api.env(), "BOT_ADMINS": "telegram:1"})
    run_bot.append(bot)
    olena = api.make_user("Olena", language_code="uk")
    api.inject_command(olena, "start")
    (start,) = api.wait_for_messages_sync(olena.id, 1, timeout=30)
    assert "Вітаю" in start.text
    api.inject_callback_query(olena, "toggle grants", start)
    api.wait_for(lambda: api.edits(olena.id), what="the topic toggle edit")
    api.inject_command(olena, "subscribe", "tax")
    api.inject_command(olena, "language", "en")
    api.inject_command(olena, "topics")
    topics = api.wait_for_messages_sync(olena.id, 4)[-1]
    assert "✅ <b>Grants and competitions</b>" in topics.text
    assert "✅ <b>1.5% tax</b>" in topics.text

    admin, member = api.make_user("Admin"), api.make_user("Member")
    group = api.add_group("Fundacja", admins=[admin], members=[member])
    api.inject_command(member, "subscribe", "meetings", chat=group)
    api.inject_command(admin, "subscribe", "meetings", chat=group, addressed=True)
    api.inject_command(admin, "language", "uk", chat=group)
    replies = api.wait_for_messages_sync(group.id, 3)
    assert "administratorzy" in replies[0].text
    assert "українською" in replies[2].text

    code, took = bot.terminate()
    assert code == 0 and took < 10, bot.log()
    stats = subprocess.run(
        [*BOT_COMMAND, "stats", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=bot_env(bot.db_path),
    )
    counts = json.loads(stats.stdout)
    assert counts["by_platform"] == {"telegram": 2}
    assert counts["by_topic"] == {"grants": 1, "meetings": 1, "tax": 1}
    assert counts["by_language"] == {"en": 1, "uk": 1}
    assert api.token.split(":")[1] not in bot.log()


def test_sigterm_finishes_in_flight_work_and_exits_0(
    fake_bot_api: FakeBotApi, tmp_path: Path, run_bot: list[BotProcess]
) -> None:
    api = fake_bot_api
    bot = BotProcess(tmp_path, api.env())
    run_bot.append(bot)
    anna = api.make_user("Anna")
    api.inject_command(anna, "start")
    api.wait_for_messages_sync(anna.id, 1, timeout=30)
    api.set_delay(1.5, method="sendMessage")
    api.inject_command(anna, "help")
    api.wait_for(lambda: api.calls("sendMessage")[1:], what="the reply being sent")
    code, took = bot.terminate()
    assert code == 0 and took < 10, bot.log()
    assert len(api.sent_messages(anna.id)) == 2  # the in-flight reply was completed
    health = subprocess.run(
        [*BOT_COMMAND, "health"], capture_output=True, text=True, env=bot_env(bot.db_path)
    )
    assert health.returncode == 0 and "no bot is running" in health.stdout


def test_a_refused_token_stops_the_bot_with_exit_1(
    fake_bot_api: FakeBotApi, tmp_path: Path, run_bot: list[BotProcess]
) -> None:
    bot = BotProcess(tmp_path, {**fake_bot_api.env(), "TELEGRAM_BOT_TOKEN": "42:wrong-token"})
    run_bot.append(bot)
    assert bot.process.wait(30) == 1
    assert "refused the bot token" in bot.log() and "wrong-token" not in bot.log()


def test_a_token_refused_while_polling_stops_the_bot_with_exit_1(
    fake_bot_api: FakeBotApi, tmp_path: Path, run_bot: list[BotProcess]
) -> None:
    api = fake_bot_api
    bot = BotProcess(tmp_path, api.env())
    run_bot.append(bot)
    api.wait_for(lambda: api.calls("getUpdates"), timeout=30, what="polling")
    api.fail_with(401, "Unauthorized", times=None, method="getUpdates")
    assert bot.process.wait(30) == 1, bot.log()
    assert "refused the bot token while polling" in bot.log()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_webhook_mode(fake_bot_api: FakeBotApi, tmp_path: Path, run_bot: list[BotProcess]) -> None:
    api = fake_bot_api
    port = free_port()
    bot = BotProcess(
        tmp_path,
        {
            **api.env(),
            "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/hook",
            "TELEGRAM_WEBHOOK_SECRET": "s3cret-value",
            "TELEGRAM_WEBHOOK_LISTEN": f"127.0.0.1:{port}",
        },
    )
    run_bot.append(bot)
    api.wait_for(lambda: api.calls("setWebhook"), timeout=30, what="setWebhook")
    (call,) = api.calls("setWebhook")
    assert call.params["url"] == f"http://127.0.0.1:{port}/telegram/hook"
    assert call.params["secret_token"] == "s3cret-value"
    time.sleep(0.5)
    anna = api.make_user("Anna", language_code="uk")
    api.inject_command(anna, "help")
    (reply,) = api.wait_for_messages_sync(anna.id, 1, timeout=30)
    assert "Що я вмію" in reply.text
    assert not api.calls("getUpdates")
    # The bot may reply before it answers the webhook's POST: wait for that answer too.
    api.wait_for(
        lambda: any(d.status == 200 for d in api.webhook_deliveries()),
        timeout=30,
        what="the webhook delivery answered 200",
    )
    code, _took = bot.terminate()
    assert code == 0
    assert "s3cret-value" not in bot.log()


def inject_old_server_restricted_update(api: FakeBotApi, title: str) -> None:
    """A my_chat_member "restricted" update from an older Bot API server: it lacks fields PTB
    22.8 requires (can_edit_tag, can_react_to_messages). Edited in the queue, before the bot
    runs."""
    group = api.add_group(title)
    update = api.inject_my_chat_member(group, "member", "restricted", apply=False)
    member = update["my_chat_member"]["new_chat_member"]
    for field in ("can_edit_tag", "can_react_to_messages"):
        member.pop(field, None)
    assert api.pending_updates()[-1]["my_chat_member"]["new_chat_member"] is member


def deep_reply_chain(depth: int, secret: str) -> dict[str, Any]:
    chat = {"id": 5551, "type": "private", "first_name": "Deep"}
    message: dict[str, Any] = {"message_id": 1, "date": 0, "chat": chat, "text": secret}
    for n in range(2, depth + 2):
        message = {"message_id": n, "date": 0, "chat": chat, "reply_to_message": message}
    return message


@pytest.mark.parametrize("shape", ["date-as-string", "restricted-from-old-server", "600-deep"])
def test_an_unparsable_update_is_skipped_not_spun_on(
    fake_bot_api: FakeBotApi, tmp_path: Path, run_bot: list[BotProcess], shape: str
) -> None:
    """The update goes first and the /help behind it is answered; the log names the update by
    its id and shape, never its content (text, group title)."""
    api = fake_bot_api
    secret = "private words of Secret Group"
    if shape == "date-as-string":
        api.inject_update({"message": {"message_id": 1, "date": "x", "text": secret}})
    elif shape == "restricted-from-old-server":
        inject_old_server_restricted_update(api, secret)
    else:
        api.inject_update({"message": deep_reply_chain(600, secret)})
    anna = api.make_user("Anna")
    api.inject_command(anna, "help")
    bot = BotProcess(tmp_path, api.env())
    run_bot.append(bot)
    api.wait_for_messages_sync(anna.id, 1, timeout=30)
    time.sleep(1.0)
    assert len(api.calls("getUpdates")) < 20
    assert api.pending_updates() == []
    code, _took = bot.terminate()
    assert code == 0
    assert secret not in bot.log() and "Secret Group" not in bot.log()
    assert "cannot be read" in bot.log()
    assert len(bot.log()) < 20_000
