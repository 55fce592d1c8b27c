"""Typed answers through the real `ngo-bot run` against the fake Bot API: "Tak!" confirms a
staff cancellation, "так." an erasure, and a number with no button behind it says so."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.fakebotapi import FakeBotApi
from tests.test_cli import ngo_bot
from tests.test_telegram_run import BotProcess

ADMIN_ID = 4242


def create_news(tmp_path: Path) -> int:
    """An announcement written by the CLI before the bot starts (news: no dates involved)."""
    result = ngo_bot(
        tmp_path,
        "announce",
        "create",
        "--json",
        "--kind=news",
        "--title-pl=Zebranie członków",
        "--text-pl=Szczegóły wkrótce.",
    )
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)["id"])


def status_of(tmp_path: Path, announcement_id: int) -> str:
    listing = ngo_bot(tmp_path, "announce", "list", "--json")
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    return next(row["status"] for row in rows if row["id"] == announcement_id)


def test_typed_words_answer_questions_in_a_running_bot(
    fake_bot_api: FakeBotApi, tmp_path: Path
) -> None:
    api = fake_bot_api
    announcement_id = create_news(tmp_path)
    bot = BotProcess(tmp_path, {**api.env(), "BOT_ADMINS": f"telegram:{ADMIN_ID}"})
    try:
        ewa = api.make_user("Ewa", user_id=ADMIN_ID)

        api.inject_command(ewa, "announcements", f"cancel {announcement_id}")
        (question,) = api.wait_for_messages_sync(ewa.id, 1, timeout=30)
        assert "Czy na pewno?" in question.text and question.reply_markup is not None
        assert status_of(tmp_path, announcement_id) != "cancelled"
        api.inject_message(ewa, "Tak!")
        done = api.wait_for_messages_sync(ewa.id, 2)[-1]
        assert f"Anulowano ogłoszenie #{announcement_id}" in done.text
        assert status_of(tmp_path, announcement_id) == "cancelled"

        olena = api.make_user("Olena", language_code="uk")
        api.inject_command(olena, "start")
        api.wait_for_messages_sync(olena.id, 1)  # the greeting with five topic buttons
        api.inject_message(olena, "9")
        no_choice = api.wait_for_messages_sync(olena.id, 2)[-1]
        assert "немає варіанта під номером 9. Виберіть номер від 1 до 5" in no_choice.text
        api.inject_command(olena, "forget")
        api.wait_for_messages_sync(olena.id, 3)
        api.inject_message(olena, "так.")
        erased = api.wait_for_messages_sync(olena.id, 4)[-1]
        assert "видалено" in erased.text

        code, _took = bot.terminate()
        assert code == 0, bot.log()
    finally:
        bot.kill()
    with sqlite3.connect(bot.db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM unanswered_questions").fetchone()[0] == 0
        chats = conn.execute("SELECT chat_id FROM chats").fetchall()
    assert (str(olena.id),) not in chats
