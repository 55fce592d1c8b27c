"""Reminder-offset errors are read by people: in the chat's language, in English on the CLI."""

from __future__ import annotations

import pytest

from bot.announcements.model import AnnouncementError, validate
from bot.clock import utcnow
from bot.i18n import use_language
from bot.reminders.offsets import OffsetError, parse_offsets
from tests.conftest import Say
from tests.delivery_helpers import grant_fields

TOPICS = ("grants", "tax", "meetings", "consultations", "news")
BOSS = {"chat": "boss"}


@pytest.mark.parametrize(
    ("spec", "polish", "ukrainian"),
    [
        ("3x", "Przypomnienie „3x” nie ma postaci liczby", "Нагадування «3x» — це не число"),
        ("0d", "Przypomnienie „0d”: przy 0 podaj godzinę", "Нагадування «0d»: для 0 вкажіть час"),
        ("400d", "Przypomnienie „400d” wypada ponad rok przed datą", "припадає більш ніж за рік"),
        ("1d@25:00", "25:00 to nie jest poprawna godzina", "25:00 — неправильний час"),
        ("none,1d", "nie można go łączyć", "не можна поєднувати"),
        ("1d,,2h", "nie może mieć pustych pozycji", "не може бути порожніх позицій"),
        (",".join(f"{n}d" for n in range(1, 12)), "najwyżej 10, a podano 11", "щонайбільше 10"),
    ],
)
def test_offset_errors_are_translated(spec: str, polish: str, ukrainian: str) -> None:
    with pytest.raises(OffsetError) as raised:
        parse_offsets(spec)
    with use_language("pl"):
        assert polish in raised.value.message
    with use_language("uk"):
        assert ukrainian in raised.value.message
    with use_language("en"):
        assert raised.value.message == str(raised.value)


@pytest.mark.dated
def test_a_validation_error_is_all_in_one_language() -> None:
    with use_language("pl"), pytest.raises(AnnouncementError) as raised:
        validate(grant_fields(remind="0d"), now=utcnow(), topics=TOPICS)
    assert "Problem: Przypomnienie „0d”: przy 0 podaj godzinę" in raised.value.message
    assert "needs a time" not in raised.value.message


@pytest.mark.dated
async def test_the_flow_says_what_is_wrong_with_the_reminders(say: Say) -> None:
    await say("/announce", **BOSS)
    await say("/announce pick kind grant-deadline", **BOSS)
    for answer in ("Nabór", "Tekst.", "skip", "skip", "pojutrze", "skip"):
        await say(answer, **BOSS)
    await say("/announce pick topic default", **BOSS)
    (polish,) = await say("0d", **BOSS)
    assert "Przypomnienie „0d”: przy 0 podaj godzinę, np. 0d@08:00." in polish.text
    assert "announce pick remind 1d@09:00" in [b.command for b in polish.all_buttons()]
    await say("/language uk", **BOSS)
    (ukrainian,) = await say("400d", **BOSS)
    assert "Нагадування «400d» припадає більш ніж за рік до дати." in ukrainian.text
    assert "reaches" not in ukrainian.text
