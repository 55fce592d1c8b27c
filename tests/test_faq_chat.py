"""The FAQ in chat: answers in the asker's language, choices as buttons, the unanswered log."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import utcnow
from bot.core.messages import ChatKind
from bot.storage import Storage
from tests.conftest import Say
from tests.test_console import chat


async def test_the_chat_language_wins_when_the_question_is_ambiguous(say: Say) -> None:
    await say("/language uk", chat="olena")
    (reply,) = await say("1,5%", chat="olena")
    assert "30 квітня" in reply.text
    (polish_chat,) = await say("1,5%", chat="ala")
    assert "30 kwietnia" in polish_chat.text


async def test_a_question_in_another_language_than_the_chat_is_answered_in_its_own(
    say: Say,
) -> None:
    await say("/language pl", chat="ala")
    (reply,) = await say(
        "Як зареєструвати звичайне товариство (stowarzyszenie zwykłe)?", chat="ala"
    )
    assert "stowarzyszenie zwykłe" in reply.text and "7" in reply.text
    assert any("\u0400" <= ch <= "\u04ff" for ch in reply.text)


async def test_russian_is_answered_in_ukrainian(say: Say) -> None:
    (reply,) = await say("Как передать 1,5% налога организации?")
    assert "податку" in reply.text and "налога" not in reply.text


async def test_close_entries_are_offered_as_buttons(say: Say) -> None:
    (reply,) = await say("patronat czy partnerstwo miasta")
    assert [b.command for b in reply.all_buttons()] == ["faq partnership", "faq mayor-patronage"]
    assert "Czy chodzi o któreś" in reply.text
    (chosen,) = await say("/faq mayor-patronage")
    assert "KP-2" in chosen.text


async def test_unknown_faq_button(say: Say) -> None:
    (reply,) = await say("/faq nonsense")
    assert "Nie ma takiej odpowiedzi" in reply.text


@pytest.mark.dated
async def test_the_unanswered_log_expires_after_90_days(storage: Storage) -> None:
    now = utcnow()
    await storage.unanswered.record("stare pytanie", "pl", now=now - timedelta(days=91))
    await storage.unanswered.record("nowe pytanie", "pl", now=now - timedelta(days=89))
    assert [q.text for q in await storage.unanswered.most_frequent(now=now)] == ["nowe pytanie"]
    assert await storage.unanswered.purge(now=now) == 1
    await storage.unanswered.record("dzisiejsze", "uk", now=now + timedelta(days=2))
    rows = await storage.db.fetch_all("SELECT text FROM unanswered_questions")
    assert [row["text"] for row in rows] == ["dzisiejsze"]  # recording also purges


async def test_groups_get_answers_too_when_addressed(say: Say) -> None:
    (reply,) = await say(
        "Co to jest inicjatywa lokalna?",
        chat="-5",
        platform="telegram",
        kind=ChatKind.GROUP,
        admin=False,
        sender="9",
    )
    assert "inicjatywa lokalna" in reply.text.lower()


@pytest.mark.dated
def test_the_console_answers_in_each_language(tmp_path) -> None:  # type: ignore[no-untyped-def]
    questions = (
        "Jak założyć stowarzyszenie zwykłe?\n"
        "Що таке громадський бюджет Кракова і хто за нього голосує?\n"
        "How do I unsubscribe from the notifications?\n"
        "Która godzina w Tokio?\n"
    )
    result = chat(tmp_path, questions, "--user", "ala", "--lang", "en")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "3" in out and "regulamin" in out
    assert "budzet.krakow.pl" in out
    assert "/unsubscribe" in out
    assert "nie znam odpowiedzi" in out
