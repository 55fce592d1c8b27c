"""Ask the office through the real `ngo-bot run` against the fake Bot API: a Ukrainian
resident's question reaches the staff group, a staff reply comes back, across a restart."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from bot.config import Settings
from bot.core.messages import ChatKind, ChatRef
from bot.questions.service import QuestionService
from bot.storage import Storage
from tests.conftest import BOT_COMMAND, CLOCK_SHIM, ROOT, bot_env
from tests.fakebotapi import FakeBotApi
from tests.test_telegram_run import BotProcess

ADMIN_ID = 1000
# A Wednesday, 10:00 in Warsaw: a fixed moment, whatever day the tests run on.
WEDNESDAY_10 = datetime(2026, 6, 17, 8, 0, tzinfo=UTC)
QUESTION = "Чи можна отримати компенсацію за оренду приміщення для гуртка вишивки?"


def env(api: FakeBotApi, staff_group: int) -> dict[str, str]:
    return {
        **api.env(),
        "BOT_ADMINS": f"telegram:{ADMIN_ID}",
        "BOT_STAFF_CHATS": f"telegram:{staff_group}",
    }


def questions_json(db_path: Path, *extra: str) -> list[dict[str, object]]:
    listed = subprocess.run(
        [*BOT_COMMAND, "questions", "list", "--json", *extra],
        capture_output=True,
        text=True,
        check=True,
        env=bot_env(db_path),
    )
    return [json.loads(line) for line in listed.stdout.splitlines()]


def test_question_reaches_staff_group_and_reply_comes_back_across_a_restart(
    fake_bot_api: FakeBotApi, tmp_path: Path, run_bot: list[BotProcess]
) -> None:
    api = fake_bot_api
    admin = api.make_user("Anna", user_id=ADMIN_ID)
    member = api.make_user("Piotr")
    group = api.add_group("Biuro", admins=[admin], members=[member])
    bot = BotProcess(tmp_path, env(api, group.id))
    run_bot.append(bot)
    olena = api.make_user("Olena", language_code="uk")

    api.inject_message(olena, QUESTION)
    (abstained,) = api.wait_for_messages_sync(olena.id, 1, timeout=30)
    assert "не знаю" in abstained.text
    ask = next(data for data in abstained.callback_data if data.startswith("askdraft "))
    api.inject_callback_query(olena, ask, abstained)
    confirm = api.wait_for_messages_sync(olena.id, 2, timeout=30)[-1]
    assert QUESTION in confirm.plain_text
    api.inject_callback_query(olena, f"{ask} yes", confirm)
    filed = api.wait_for_messages_sync(olena.id, 3, timeout=30)[-1]
    assert "#1" in filed.text and "українська" in filed.text

    (post,) = api.wait_for_messages_sync(group.id, 1, timeout=30)
    assert "#1" in post.text and QUESTION in post.plain_text and "Telegram" in post.text
    assert "Olena" not in post.text and str(olena.id) not in post.text

    # a restart between asking and answering loses nothing
    code, _took = bot.terminate()
    assert code == 0, bot.log()
    bot = BotProcess(tmp_path, env(api, group.id))
    run_bot.append(bot)

    # a member who is not staff replies: refused politely, audited
    api.inject_message(member, "Так, можна", chat=group, reply_to=post)
    refusal = api.wait_for_messages_sync(group.id, 2, timeout=30)[-1]
    assert "tylko pracownicy biura" in refusal.text  # the group's language: Polish, the default
    api.inject_message(
        admin, "Так, з програми малих грантів. Напишіть нам.", chat=group, reply_to=post
    )
    answer = api.wait_for(
        lambda: [m for m in api.sent_messages(olena.id) if "Так, з програми" in m.plain_text],
        timeout=30,
        what="the answer in the resident's chat",
    )[0]
    assert "#1" in answer.text
    api.wait_for(
        lambda: [m for m in api.sent_messages(group.id) if "✅ #1" in m.plain_text],
        timeout=30,
        what="the answered note in the staff group",
    )
    code, _took = bot.terminate()
    assert code == 0, bot.log()

    (listed,) = questions_json(bot.db_path)
    assert listed["state"] == "answered" and listed["lang"] == "uk"
    assert listed["platform"] == "telegram" and listed["text"] == QUESTION
    assert set(listed) >= {"id", "lang", "platform", "state", "asked_at", "answered_at", "text"}
    assert questions_json(bot.db_path, "--state", "open") == []
    with sqlite3.connect(bot.db_path) as db:
        actions = [row[0] for row in db.execute("SELECT action FROM audit_log ORDER BY id")]
    assert "denied" in actions and "question answered" in actions


def test_forget_edits_the_staff_copy_and_limits_hold(
    fake_bot_api: FakeBotApi, tmp_path: Path, run_bot: list[BotProcess]
) -> None:
    api = fake_bot_api
    admin = api.make_user("Anna", user_id=ADMIN_ID)
    group = api.add_group("Biuro", admins=[admin])
    bot = BotProcess(tmp_path, env(api, group.id))
    run_bot.append(bot)
    olena = api.make_user("Olena", language_code="uk")
    for n in range(1, 4):
        api.inject_command(olena, "ask", f"Питання номер {n} про оренду залу?")
    api.wait_for_messages_sync(group.id, 3, timeout=30)
    api.inject_command(olena, "ask", "Четверте питання?")
    api.inject_command(olena, "ask", "я" * 2001)
    replies = api.wait_for_messages_sync(olena.id, 5, timeout=30)
    assert "#1, #2, #3" in replies[3].text
    assert "2" in replies[4].text and "#" not in replies[4].text

    api.inject_command(olena, "forget", "yes")
    api.wait_for_messages_sync(olena.id, 6, timeout=30)
    edits = api.wait_for(
        lambda: edits if len(edits := api.edits(group.id)) >= 3 else [],
        timeout=30,
        what="the three staff copies edited",
    )
    assert all("Питання номер" not in (edit.text or "") for edit in edits)
    code, _took = bot.terminate()
    assert code == 0, bot.log()
    assert questions_json(bot.db_path) == []
    with sqlite3.connect(bot.db_path) as db:
        details = [row[0] for row in db.execute("SELECT detail FROM broadcasts")]
    assert not any("Питання номер" in detail for detail in details)


@pytest.mark.dated
async def test_the_48_hour_reminder_reaches_the_staff_group_on_an_injected_clock(
    fake_bot_api: FakeBotApi, tmp_path: Path, run_bot: list[BotProcess]
) -> None:
    """A question asked 49 hours before a Wednesday 10:00 (Warsaw) is listed that morning; one
    asked 47 hours before is not. The bot process runs on the same fixed clock."""
    api = fake_bot_api
    group = api.add_group("Biuro", admins=[api.make_user("Anna", user_id=ADMIN_ID)])
    olena = api.make_user("Olena", language_code="uk")
    settings = Settings(db_path=tmp_path / "bot.sqlite3", staff_chats=(f"telegram:{group.id}",))
    storage = await Storage.open(settings.db_path)
    try:
        chat = await storage.chats.ensure(
            ChatRef("telegram", str(olena.id)), ChatKind.PRIVATE, "uk"
        )
        service = QuestionService(storage, settings)
        await service.file(chat, "Старе питання?", "uk", WEDNESDAY_10 - timedelta(hours=49))
        await service.file(chat, "Нове питання?", "uk", WEDNESDAY_10 - timedelta(hours=47))
    finally:
        await storage.close()
    with time_machine.travel(WEDNESDAY_10, tick=True):
        offset = time.time() - time_machine.escape_hatch.time.time()
        bot = BotProcess(
            tmp_path,
            {
                **env(api, group.id),
                "NGO_TEST_CLOCK_OFFSET": repr(offset),
                "PYTHONPATH": os.pathsep.join((str(CLOCK_SHIM), str(ROOT))),
            },
        )
        run_bot.append(bot)
        reminder = await api.wait_for_async(
            lambda: [m for m in api.sent_messages(group.id) if "⏳" in m.plain_text],
            timeout=30,
            what="the reminder of old questions",
        )
    (text,) = [m.plain_text for m in reminder]
    assert "#1" in text and "#2" not in text and "Старе" not in text
    assert "15.06.2026 09:00" in text  # asked 49 hours before, local time
    code, _took = bot.terminate()
    assert code == 0, bot.log()
