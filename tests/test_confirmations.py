"""Yes/no questions answered by a typed word: tak, так, гаразд, yes, ok, y / nie, ні, no, n.

Only while the question waits for that person in that chat; anything else goes on as before
(to the FAQ). Through the core, as every transport calls it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from bot.config import Settings
from bot.core.conversation import CONFIRMATION_TTL, bare_word, yes_or_no
from bot.core.messages import ChatKind, ChatRef, Reply
from bot.storage import Storage
from tests.conftest import Say
from tests.delivery_helpers import add_chats, service_for

# Date-sensitive: .ci/run runs these again at its fixed moments (`pytest -m dated`).
pytestmark = pytest.mark.dated

ALA = ChatRef("console", "ala")
BOSS = {"chat": "boss"}


def commands(reply: Reply) -> list[str]:
    return [button.command for button in reply.all_buttons()]


async def unanswered(storage: Storage) -> list[str]:
    return [
        row["text"] for row in await storage.db.fetch_all("SELECT text FROM unanswered_questions")
    ]


@pytest.mark.parametrize("word", ["tak", "Tak!", "так.", "Гаразд", "ok", "OK!", "yes", "Y"])
async def test_a_typed_yes_confirms_forget(say: Say, storage: Storage, word: str) -> None:
    await say("/subscribe grants")
    (question,) = await say("/forget")
    assert question.confirmation is not None
    (done,) = await say(word)
    assert "usunięte" in done.text
    assert await storage.chats.get(ALA) is None
    assert await unanswered(storage) == []


@pytest.mark.parametrize("word", ["nie", "Nie!", "ні", "n"])
async def test_a_typed_no_keeps_everything(say: Say, storage: Storage, word: str) -> None:
    await say("/subscribe grants")
    await say("/forget")
    (kept,) = await say(word)
    assert "nic nie zostało usunięte" in kept.text
    chat = await storage.chats.get(ALA)
    assert chat is not None and await storage.chats.topics_of(chat.id) == {"grants"}
    assert await unanswered(storage) == []


async def test_a_polish_no_is_not_taken_for_an_answer(say: Say, storage: Storage) -> None:
    await say("/subscribe grants")
    await say("/forget")
    replies = await say("No.")
    assert not any("nic nie zostało usunięte" in reply.text for reply in replies)
    chat = await storage.chats.get(ALA)
    assert chat is not None and await storage.chats.topics_of(chat.id) == {"grants"}


async def test_russian_da_is_not_a_yes(say: Say, storage: Storage) -> None:
    await say("/forget")
    await say("да")
    assert await storage.chats.get(ALA) is not None


async def test_without_a_question_the_words_go_to_the_faq(say: Say, storage: Storage) -> None:
    await say("/subscribe grants")
    (reply,) = await say("tak")
    assert "usunięte" not in reply.text
    assert await storage.chats.get(ALA) is not None


async def test_another_message_ends_the_question(say: Say, storage: Storage) -> None:
    await say("/forget")
    await say("/help")
    await say("tak")
    assert await storage.chats.get(ALA) is not None


async def test_the_question_expires(say: Say, storage: Storage) -> None:
    await say("/forget")
    with time_machine.travel(timedelta(seconds=CONFIRMATION_TTL.total_seconds() + 60)):
        await say("tak")
    assert await storage.chats.get(ALA) is not None


async def test_in_a_group_only_the_asker_answers(say: Say, storage: Storage) -> None:
    group = {"chat": "-100", "kind": ChatKind.GROUP}
    await say("/subscribe grants", sender="admin", admin=True, **group)
    await say("/forget", sender="admin", admin=True, **group)
    await say("tak", sender="member", admin=False, **group)
    assert await storage.chats.get(ChatRef("console", "-100")) is not None
    (done,) = await say("Tak", sender="admin", admin=True, **group)
    assert "usunięte" in done.text
    assert await storage.chats.get(ChatRef("console", "-100")) is None


async def test_an_answer_is_judged_by_the_senders_rights_when_it_comes(
    say: Say, storage: Storage
) -> None:
    """An admin demoted after asking cannot confirm as an admin by typing."""
    group = {"chat": "-100", "kind": ChatKind.GROUP}
    await say("/subscribe grants", sender="admin", admin=True, **group)
    await say("/forget", sender="admin", admin=True, **group)
    await say("tak", sender="admin", admin=False, **group)
    assert await storage.chats.get(ChatRef("console", "-100")) is not None


async def test_a_number_answers_a_waiting_question_and_only_while_it_waits(
    say: Say, storage: Storage
) -> None:
    await say("/subscribe grants")
    await say("/forget")
    (kept,) = await say("2")
    assert "nic nie zostało usunięte" in kept.text
    (nothing,) = await say("1")  # the question is gone: its Yes is no choice an hour long
    assert await storage.chats.get(ALA) is not None
    assert "usunięte" not in nothing.text


async def test_cancelling_an_announcement_asks_first(
    say: Say, storage: Storage, settings: Settings
) -> None:
    from bot.announcements.model import Kind, Status
    from tests.delivery_helpers import grant_fields

    await add_chats(storage, "console", ["reader"], topics=["news"])
    service = service_for(storage, settings)
    announcement = await service.create(
        grant_fields(title="Zebranie", kind=Kind.NEWS, topic="news", deadline=None, remind="none"),
        actor="console:boss",
    )
    (question,) = await say(f"/announcements cancel {announcement.id}", **BOSS)
    assert "Czy na pewno?" in question.text and "Zebranie" in question.text
    assert commands(question) == [
        f"announcements cancel {announcement.id} yes",
        f"announcements cancel {announcement.id} no",
    ]
    assert (await service.get(announcement.id)).status is not Status.CANCELLED
    (kept,) = await say("nie", **BOSS)
    assert "bez zmian" in kept.text
    assert (await service.get(announcement.id)).status is not Status.CANCELLED
    await say(f"/announcements cancel {announcement.id}", **BOSS)
    (done,) = await say("Tak!", **BOSS)
    assert "Anulowano" in done.text
    assert (await service.get(announcement.id)).status is Status.CANCELLED
    actions = [e.action for e in await storage.staff.audit_log("console:boss")]
    assert actions.count("announce cancel") == 1
    (again,) = await say(f"/announcements cancel {announcement.id}", **BOSS)
    assert "już" in again.text and not again.buttons


async def test_the_buttons_still_answer_without_typing(
    say: Say, storage: Storage, settings: Settings
) -> None:
    from bot.announcements.model import Status
    from tests.delivery_helpers import grant_fields

    announcement = await service_for(storage, settings).create(grant_fields(), actor="console:boss")
    (no,) = await say(f"/announcements cancel {announcement.id} no", **BOSS)
    assert "bez zmian" in no.text
    (yes,) = await say(f"/announcements cancel {announcement.id} yes", **BOSS)
    assert "Anulowano" in yes.text
    status = (await service_for(storage, settings).get(announcement.id)).status
    assert status is Status.CANCELLED


async def test_a_typed_yes_sends_the_correction_notice(
    say: Say, storage: Storage, settings: Settings
) -> None:
    from tests.delivery_helpers import grant_fields

    await add_chats(storage, "console", ["reader"])
    service = service_for(storage, settings)
    announcement = await service.create(grant_fields(title="Konkurs"), actor="console:boss")
    await storage.db.execute("UPDATE outbox SET state = 'sent'")  # as if delivered
    await say(f"/announce edit {announcement.id} title Konkurs 2027", **BOSS)
    (sent,) = await say("так", **BOSS)
    assert "w drodze" in sent.text
    purposes = [b.purpose for b in (await service.deliveries(announcement.id)).broadcasts]
    assert purposes == ["publication", "correction"]


def test_words_are_read_without_case_spacing_and_punctuation() -> None:
    assert bare_word("  Tak!!! ") == "tak"
    assert bare_word("«так».") == "так"
    assert yes_or_no("OK.", "pl") is True and yes_or_no("ні!", "uk") is False
    assert yes_or_no("да", "uk") is None and yes_or_no("нет", "uk") is None
    assert yes_or_no("tak, ale", "pl") is None
    assert yes_or_no("Dobrze.", "pl") is True and yes_or_no("добре", "uk") is True


def test_polish_no_is_neither_yes_nor_no() -> None:
    """Colloquial Polish "no" means "yeah": in a Polish chat it must not cancel."""
    assert yes_or_no("no", "pl") is None
    assert yes_or_no("No!", "en") is False and yes_or_no("no", "uk") is False
