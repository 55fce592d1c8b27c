"""`unanswered` for staff: one line per question whatever language it was taken for, no junk."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import utcnow
from bot.faq.unanswered import SHOWN_LENGTH, question_key, shorten
from bot.storage import Storage
from tests.conftest import Say

AMBIGUOUS = "Netflix Spotify?"


async def listing_lines(say: Say) -> list[str]:
    (listing,) = await say("/unanswered", chat="boss")
    return listing.text.splitlines()[1:]


async def test_a_question_taken_for_two_languages_is_listed_once(
    say: Say, storage: Storage
) -> None:
    await say("/language uk", chat="olena")
    await say(AMBIGUOUS, chat="ala")  # a Polish chat: taken for Polish
    await say(AMBIGUOUS, chat="olena")  # a Ukrainian chat: taken for Ukrainian
    await say("netflix,  SPOTIFY", chat="ala")  # the same words, other case and signs
    rows = await storage.db.fetch_all("SELECT DISTINCT language FROM unanswered_questions")
    assert {row["language"] for row in rows} == {"pl", "uk"}
    assert await listing_lines(say) == [f"3× [pl, uk] {AMBIGUOUS}"]


@pytest.mark.dated
async def test_cyrillic_questions_differing_in_case_are_one(say: Say, storage: Storage) -> None:
    now = utcnow()
    await storage.unanswered.record("Де купити квиток?", "uk", now=now)
    await storage.unanswered.record("ДЕ КУПИТИ КВИТОК", "uk", now=now)
    assert await listing_lines(say) == ["2× [uk] Де купити квиток?"]


@pytest.mark.dated
async def test_long_lines_are_cut_and_lines_without_letters_left_out(
    say: Say, storage: Storage
) -> None:
    now = utcnow()
    junk = "x" * 500
    await storage.unanswered.record(junk, "pl", now=now)
    await storage.unanswered.record("?!?!? 12345 :-)", "pl", now=now - timedelta(days=1))
    (line,) = await listing_lines(say)
    assert line == "1× [pl] " + "x" * (SHOWN_LENGTH - 1) + "…"


async def test_text_without_letters_is_not_kept_as_a_question(say: Say, storage: Storage) -> None:
    await say("??? !!!")
    assert await storage.db.fetch_all("SELECT * FROM unanswered_questions") == []


def test_the_key_ignores_case_punctuation_and_spacing() -> None:
    assert question_key("  Gdzie  kupić BILET? ") == question_key("gdzie kupić bilet")
    assert question_key("Де квиток") != question_key("Где квиток")


def test_shorten_keeps_short_text_and_marks_a_cut() -> None:
    assert shorten("krótkie") == "krótkie"
    assert shorten("a" * 10, limit=5) == "aaaa…"
