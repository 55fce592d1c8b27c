"""Time left in words: exact days/hours/minutes, plural forms of pl and uk, the rounding rules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.i18n import use_language
from bot.reminders.timeleft import (
    days_words,
    duration_words,
    hours_words,
    minutes_words,
    split_time_left,
    time_left_phrase,
)

NUMBERS = (1, 2, 4, 5, 11, 12, 14, 21, 22, 25, 101, 111)


def phrase(language: str, **delta: float) -> str:
    with use_language(language):
        return time_left_phrase(timedelta(**delta))


# --- splitting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(days=3), (3, 0, 0)),
        (timedelta(days=1, hours=15), (1, 15, 0)),
        (timedelta(days=1, hours=14, minutes=59), (1, 15, 0)),  # a 23:59 deadline at 09:00
        (timedelta(days=1, hours=14, minutes=58), (1, 15, 0)),
        (timedelta(days=1, hours=14, minutes=57), (1, 14, 0)),
        (timedelta(days=1, hours=14, minutes=30), (1, 14, 0)),
        (timedelta(hours=23, minutes=59), (1, 0, 0)),
        (timedelta(days=13, hours=23, minutes=59, seconds=40), (14, 0, 0)),
        (timedelta(days=22), (22, 0, 0)),
        (timedelta(hours=5), (0, 5, 0)),
        (timedelta(hours=5, minutes=40), (0, 5, 0)),
        (timedelta(hours=3), (0, 3, 0)),
        (timedelta(hours=2, minutes=59, seconds=40), (0, 3, 0)),
        (timedelta(hours=2, minutes=59), (0, 2, 59)),
        (timedelta(hours=2), (0, 2, 0)),
        (timedelta(hours=1, minutes=30), (0, 1, 30)),
        (timedelta(minutes=45), (0, 0, 45)),
        (timedelta(minutes=44, seconds=31), (0, 0, 45)),
        (timedelta(minutes=45, seconds=29), (0, 0, 45)),
        (timedelta(seconds=5), (0, 0, 1)),
    ],
)
def test_split(delta: timedelta, expected: tuple[int, int, int]) -> None:
    assert split_time_left(delta) == expected


@pytest.mark.parametrize("delta", [timedelta(0), timedelta(seconds=-1), timedelta(days=-2)])
def test_no_time_left_is_an_error(delta: timedelta) -> None:
    with pytest.raises(ValueError, match="positive"):
        split_time_left(delta)


def test_never_more_than_two_parts_and_never_nothing() -> None:
    for minutes in range(1, 60 * 24 * 40, 7):
        days, hours, rest = split_time_left(timedelta(minutes=minutes))
        assert days or hours or rest
        assert not (days and rest)
        assert 0 <= hours < 24 and 0 <= rest < 60


# --- the examples of the issue -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "polish", "ukrainian", "english"),
    [
        (dict(days=3), "za 3 dni", "через 3 дні", "in 3 days"),
        (
            dict(days=1, hours=15),
            "za 1 dzień i 15 godzin",
            "через 1 день і 15 годин",
            "in 1 day and 15 hours",
        ),
        (dict(hours=2), "za 2 godziny", "через 2 години", "in 2 hours"),
        (dict(hours=5), "za 5 godzin", "через 5 годин", "in 5 hours"),
        (dict(days=22), "za 22 dni", "через 22 дні", "in 22 days"),
        (dict(days=21), "za 21 dni", "через 21 день", "in 21 days"),
        (dict(minutes=45), "za 45 minut", "через 45 хвилин", "in 45 minutes"),
        (dict(days=1), "za 1 dzień", "через 1 день", "in 1 day"),
        (dict(hours=1), "za 1 godzinę", "через 1 годину", "in 1 hour"),
        (dict(minutes=1), "za 1 minutę", "через 1 хвилину", "in 1 minute"),
        (dict(hours=21), "za 21 godzin", "через 21 годину", "in 21 hours"),
        (dict(hours=22), "za 22 godziny", "через 22 години", "in 22 hours"),
        (dict(minutes=22), "za 22 minuty", "через 22 хвилини", "in 22 minutes"),
        (
            dict(hours=1, minutes=1),
            "za 1 godzinę i 1 minutę",
            "через 1 годину і 1 хвилину",
            "in 1 hour and 1 minute",
        ),
        (
            dict(hours=2, minutes=5),
            "za 2 godziny i 5 minut",
            "через 2 години і 5 хвилин",
            "in 2 hours and 5 minutes",
        ),
        (
            dict(days=2, hours=1),
            "za 2 dni i 1 godzinę",
            "через 2 дні і 1 годину",
            "in 2 days and 1 hour",
        ),
        (
            dict(days=5, hours=4),
            "za 5 dni i 4 godziny",
            "через 5 днів і 4 години",
            "in 5 days and 4 hours",
        ),
    ],
)
def test_phrases(delta: dict[str, float], polish: str, ukrainian: str, english: str) -> None:
    assert phrase("pl", **delta) == polish
    assert phrase("uk", **delta) == ukrainian
    assert phrase("en", **delta) == english


def test_unlike_babel_one_day_fifteen_hours_is_not_two_days() -> None:
    assert phrase("en", days=1, hours=15) == "in 1 day and 15 hours"
    assert phrase("pl", days=1, hours=14, minutes=59) == "za 1 dzień i 15 godzin"


def test_the_language_comes_from_the_context() -> None:
    with use_language("uk"):
        assert time_left_phrase(timedelta(days=3)) == "через 3 дні"
        with use_language("pl"):
            assert time_left_phrase(timedelta(days=3)) == "za 3 dni"
        assert time_left_phrase(timedelta(days=3)) == "через 3 дні"


# --- plural forms for many n ----------------------------------------------------------------

POLISH = {
    days_words: ("dzień", "dni", "dni"),
    hours_words: ("godzinę", "godziny", "godzin"),
    minutes_words: ("minutę", "minuty", "minut"),
}
UKRAINIAN = {
    days_words: ("день", "дні", "днів"),
    hours_words: ("годину", "години", "годин"),
    minutes_words: ("хвилину", "хвилини", "хвилин"),
}


def polish_form(n: int) -> int:
    if n == 1:
        return 0
    return 1 if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else 2


def ukrainian_form(n: int) -> int:
    if n % 10 == 1 and n % 100 != 11:
        return 0
    return 1 if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else 2


def test_the_expected_forms_are_the_grammar_books() -> None:
    assert [polish_form(n) for n in NUMBERS] == [0, 1, 1, 2, 2, 2, 2, 2, 1, 2, 2, 2]
    assert [ukrainian_form(n) for n in NUMBERS] == [0, 1, 1, 2, 2, 2, 2, 0, 1, 2, 0, 2]


@pytest.mark.parametrize("n", NUMBERS)
def test_polish_plurals(n: int) -> None:
    with use_language("pl"):
        for words, forms in POLISH.items():
            assert words(n) == f"{n} {forms[polish_form(n)]}"


@pytest.mark.parametrize("n", NUMBERS)
def test_ukrainian_plurals(n: int) -> None:
    with use_language("uk"):
        for words, forms in UKRAINIAN.items():
            assert words(n) == f"{n} {forms[ukrainian_form(n)]}"


@pytest.mark.parametrize("n", NUMBERS)
def test_english_plurals(n: int) -> None:
    with use_language("en"):
        suffix = "" if n == 1 else "s"
        assert days_words(n) == f"{n} day{suffix}"
        assert hours_words(n) == f"{n} hour{suffix}"
        assert minutes_words(n) == f"{n} minute{suffix}"


@pytest.mark.parametrize("n", NUMBERS)
def test_whole_days_in_both_languages(n: int) -> None:
    assert phrase("pl", days=n) == f"za {n} {POLISH[days_words][polish_form(n)]}"
    assert phrase("uk", days=n) == f"через {n} {UKRAINIAN[days_words][ukrainian_form(n)]}"


@pytest.mark.parametrize("language", ["pl", "uk", "en"])
def test_every_phrase_is_filled_in(language: str) -> None:
    with use_language(language):
        for minutes in range(1, 60 * 24 * 3, 11):
            text = time_left_phrase(timedelta(minutes=minutes))
            assert "{" not in text and "}" not in text
            assert any(ch.isdigit() for ch in text)


def test_duration_words_refuses_impossible_splits() -> None:
    with pytest.raises(ValueError):
        duration_words(0, 0, 0)
    with pytest.raises(ValueError):
        duration_words(1, 2, 3)
