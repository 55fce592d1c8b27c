"""Language detection from the question text, with the chat's language as fallback."""

from __future__ import annotations

import pytest

from bot.faq import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Gdzie zarejestrować stowarzyszenie?", "pl"),
        ("ile osob potrzeba do stowarzyszenia", "pl"),
        ("czy moge glosowac w budzecie", "pl"),
        ("Як подати заяву на місцеву ініціативу?", "uk"),
        ("де знайти konkurs ofert для фундації", "uk"),
        ("як отримати status OPP у KRS", "uk"),
        ("Как отписаться от уведомлений?", "uk"),
        ("Подскажите, где найти гранты для НКО", "uk"),
        ("How do I change the bot's language?", "en"),
        ("Where can I find grant competitions?", "en"),
        ("How do I register a stowarzyszenie zwykłe?", "en"),
    ],
)
def test_detects_language_of_the_text(text: str, expected: str) -> None:
    assert detect_language(text, fallback="pl") == expected
    assert detect_language(text, fallback="en") == expected


@pytest.mark.parametrize(
    "text", ["1,5%", "12345", "OPP", "KRS?", "", "   ", "inicjatywa lokalna", "!!!"]
)
@pytest.mark.parametrize("fallback", ["pl", "uk", "en"])
def test_neutral_text_takes_the_chat_language(text: str, fallback: str) -> None:
    assert detect_language(text, fallback=fallback) == fallback


def test_a_polish_term_in_a_ukrainian_chat_stays_ukrainian() -> None:
    assert detect_language("Budżet Obywatelski", fallback="uk") == "uk"


@pytest.mark.parametrize(
    "text",
    [
        "jak zvjazatysja z kimos z ofisu, jakyj nomer?",
        "szczo ce take inicjatywa lokalna",
        "nam treba dopomoha, czy misto moze dopomohty z remontom",
        "jak widpysatysia wid powidomlen",
    ],
)
def test_ukrainian_typed_polish_style_is_ukrainian(text: str) -> None:
    """ "jak", "z", "czy", "nam" are як, з, чи, нам once the other words are clearly Ukrainian."""
    assert detect_language(text, fallback="pl") == "uk"


@pytest.mark.parametrize(
    "text",
    [
        "jak dodać event na facebooku z video dla naszej fundacji",
        "czy nasza fundacja moze dostac grant na festiwal vege",
        "jak nam zrobic live na vimeo",
    ],
)
def test_polish_with_loan_words_stays_polish(text: str) -> None:
    """A "v" in "event" or "video" is no Ukrainian function word: the Polish ones still count."""
    assert detect_language(text, fallback="pl") == "pl"
