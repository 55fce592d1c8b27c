"""Ukrainian typed in Latin letters: read in Cyrillic, detected as Ukrainian, answered in Ukrainian."""

from __future__ import annotations

import pytest

from bot.faq import FaqMatcher, detect_language, load_faq
from bot.faq.langdetect import is_romanised
from bot.faq.translit import romanise_to_cyrillic, to_cyrillic, ukrainian_latin_evidence


@pytest.fixture(scope="module")
def matcher() -> FaqMatcher:
    return FaqMatcher(load_faq())


@pytest.mark.parametrize(
    ("latin", "cyrillic"),
    [
        ("zareiestruvaty", "зареєструвати"),  # official 2010 romanisation: ie = є
        ("dlia", "для"),
        ("malyi", "малий"),  # -yi at the end is the adjective ending
        ("vidpysatysia", "відписатися"),
        ("holosuvaty", "голосувати"),
        ("shcho", "що"),
        ("orhanizatsiia", "організація"),
        ("komisii", "комісій"),
        ("jak", "як"),  # Polish-style spelling
    ],
)
def test_romanised_words_get_their_cyrillic_spelling(latin: str, cyrillic: str) -> None:
    assert to_cyrillic(latin) == cyrillic


def test_an_unknown_word_keeps_its_most_usual_reading() -> None:
    assert to_cyrillic("stowarzyszenie") == "стоварзишенє"
    assert to_cyrillic("12a") == "12a"


def test_a_sentence_is_read_word_by_word() -> None:
    assert romanise_to_cyrillic("Yak zareiestruvaty OPP?") == "як зареєструвати опп?"


def test_evidence_comes_from_ukrainian_words_not_polish_or_english() -> None:
    assert ukrainian_latin_evidence(["yak", "zareiestruvaty", "stowarzyszenie", "zwykle"]) >= 1.5
    assert ukrainian_latin_evidence(["jak", "zalozyc", "stowarzyszenie", "zwykle"]) == 0
    assert ukrainian_latin_evidence(["where", "can", "i", "find", "grant", "competitions"]) == 0


@pytest.mark.parametrize("chat", ["pl", "uk", "en"])
@pytest.mark.parametrize(
    "text",
    [
        "yak zareiestruvaty stowarzyszenie zwykle",
        "shcho take inicjatywa lokalna?",
        "de mozhna znaity konkursy dlia orhanizatsii",
    ],
)
def test_romanised_ukrainian_is_ukrainian_in_any_chat(text: str, chat: str) -> None:
    assert detect_language(text, fallback=chat) == "uk"
    assert is_romanised(text)


@pytest.mark.parametrize(
    ("text", "chat", "expected"),
    [
        # Not clearly another language: the chat's language stays.
        ("budżet obywatelski please", "pl", "pl"),
        ("Budżet Obywatelski", "uk", "uk"),
        ("OPP KRS", "uk", "uk"),
        # Clearly another language: the question's language wins.
        ("jak założyć stowarzyszenie?", "uk", "pl"),
        ("zapisz mnie na powiadomienia", "uk", "pl"),
        ("How do I volunteer in Krakow?", "pl", "en"),
        ("chcę być wolontariuszem", "en", "pl"),
    ],
)
def test_the_chat_language_stays_unless_the_question_is_clearly_in_another(
    text: str, chat: str, expected: str
) -> None:
    assert detect_language(text, fallback=chat) == expected


@pytest.mark.parametrize(
    ("question", "faq_id"),
    [
        ("yak zareiestruvaty stowarzyszenie zwykle", "ordinary-association"),
        ("yak vidpysatysia vid povidomlen bota", "bot-unsubscribe"),
        ("yak zminyty movu bota na ukrainsku", "bot-language"),
        ("shcho treba shchob otrymaty status OPP", "opp-status"),
    ],
)
def test_romanised_questions_are_answered_in_ukrainian(
    matcher: FaqMatcher, question: str, faq_id: str
) -> None:
    result = matcher.ask(question, fallback_lang="pl")
    assert (result.status, result.id, result.lang) == ("answer", faq_id, "uk")


def test_romanised_small_talk_still_abstains(matcher: FaqMatcher) -> None:
    result = matcher.ask("pryvit, yak spravy?", fallback_lang="pl")
    assert (result.status, result.lang) == ("abstain", "uk")
