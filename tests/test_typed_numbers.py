"""A number typed on its own picks a button shown, or says there is no such choice; never a
question for the FAQ (nor an unanswered one for the staff)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import time_machine

from bot.core.conversation import CHOICES_TTL, typed_number
from bot.core.messages import ChatRef
from bot.storage import Storage
from tests.conftest import Say
from tests.test_console import chat

ALA = ChatRef("console", "ala")


async def unanswered(storage: Storage) -> list[str]:
    rows = await storage.db.fetch_all("SELECT text FROM unanswered_questions")
    return [row["text"] for row in rows]


async def test_a_number_with_nothing_to_choose(say: Say, storage: Storage) -> None:
    (reply,) = await say("7")
    assert reply.text == "W tej chwili nie ma nic do wyboru."
    await say("/language en")
    (english,) = await say("7.")
    assert english.text == "Nothing to choose right now."
    assert await unanswered(storage) == []


async def test_a_number_out_of_range(say: Say, storage: Storage) -> None:
    await say("/language uk")
    (topics,) = await say("/topics")
    (reply,) = await say("7")
    count = len(topics.all_buttons())
    assert reply.text == (f"Зараз немає варіанта під номером 7. Виберіть номер від 1 до {count}.")
    (zero,) = await say("0")
    assert "0" in zero.text and str(count) in zero.text
    assert await unanswered(storage) == []


async def test_a_number_in_range_presses_that_button(say: Say, storage: Storage) -> None:
    (topics,) = await say("/topics")
    assert topics.all_buttons()[1].command == "toggle tax"
    (toggled,) = await say("2")
    assert "✅ <b>1,5% podatku</b>" in toggled.text
    chat_row = await storage.chats.get(ALA)
    assert chat_row is not None and await storage.chats.topics_of(chat_row.id) == {"tax"}


@pytest.mark.dated
async def test_the_choices_expire(say: Say, storage: Storage) -> None:
    await say("/topics")
    with time_machine.travel(timedelta(seconds=CHOICES_TTL.total_seconds() + 60)):
        (reply,) = await say("2")
    assert reply.text == "W tej chwili nie ma nic do wyboru."


async def test_numbers_in_questions_still_go_to_the_faq(say: Say) -> None:
    (reply,) = await say("1,5")
    assert "30 kwietnia" in reply.text


def test_what_counts_as_a_typed_number() -> None:
    assert [typed_number(t) for t in ("2", " 2. ", "2)", "#2")] == [2, 2, 2, 2]
    assert [typed_number(t) for t in ("1,5", "1.5", "2 razy", "", "x")] == [None] * 5


def test_the_console_says_there_is_no_such_choice(tmp_path: Path) -> None:
    result = chat(tmp_path, "/start\n9\n", "--user", "ala")
    assert result.returncode == 0, result.stderr
    assert "W tej chwili nie ma opcji numer 9. Wybierz numer od 1 do 5." in result.stdout
    assert "nie znam odpowiedzi" not in result.stdout
