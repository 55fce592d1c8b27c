"""Dates as staff type them in words ('jutro 9:00', 'w piątek 18:00', 'завтра о 9:00'), and
impossible dates explained, through the parser and through the chat flow.

Every expectation is computed from a moment the test names (`now=`, or an explicit time travel)
or from the injected clock, so the file holds on any date (CI reruns it at several).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bot.announcements.timeparse import TimeFormatError, parse_when
from bot.clock import from_db
from bot.config import Settings
from bot.i18n import use_language
from bot.storage import Storage
from tests.conftest import Say
from tests.delivery_helpers import grant_fields, service_for

WARSAW = ZoneInfo("Europe/Warsaw")
DEADLINE = time(23, 59)
WEDNESDAY = datetime(2027, 1, 13, 10, 0, tzinfo=WARSAW)
FRIDAY = datetime(2027, 1, 15, 10, 0, tzinfo=WARSAW)
SUNDAY = datetime(2027, 1, 17, 10, 0, tzinfo=WARSAW)
BOSS = {"chat": "boss"}


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=WARSAW)


def parse(text: str, now: datetime, **options: object) -> datetime:
    return parse_when(text, WARSAW, now=now, **options)  # type: ignore[arg-type]


# --- the words, on a Wednesday (13 January 2027) ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jutro 9:00", at(date(2027, 1, 14), 9)),
        ("Jutro, 9.30", at(date(2027, 1, 14), 9, 30)),
        ("jutro o 9", at(date(2027, 1, 14), 9)),
        ("jutro 9", at(date(2027, 1, 14), 9)),
        ("pojutrze 10:00", at(date(2027, 1, 15), 10)),
        ("dziś 20:00", at(date(2027, 1, 13), 20)),
        ("dzisiaj o godz. 20:00", at(date(2027, 1, 13), 20)),
        ("w piątek 18:00", at(date(2027, 1, 15), 18)),
        ("w piątek o godzinie 18:00", at(date(2027, 1, 15), 18)),
        ("piatek 18:00", at(date(2027, 1, 15), 18)),
        ("завтра о 9:00", at(date(2027, 1, 14), 9)),
        ("післязавтра об 11:00", at(date(2027, 1, 15), 11)),
        ("сьогодні о 19:00", at(date(2027, 1, 13), 19)),
        ("у п'ятницю 18:00", at(date(2027, 1, 15), 18)),
        ("в п\u2019ятницю 18:00", at(date(2027, 1, 15), 18)),
        ("у п\u02bcятницю о 18:00", at(date(2027, 1, 15), 18)),
        ("в неділю 12:00", at(date(2027, 1, 17), 12)),
        ("tomorrow 9:00", at(date(2027, 1, 14), 9)),
        ("Tomorrow at 9:00", at(date(2027, 1, 14), 9)),
        ("on Friday 18:00", at(date(2027, 1, 15), 18)),
        ("day after tomorrow 8:15", at(date(2027, 1, 15), 8, 15)),
        ("the day after tomorrow 8:15", at(date(2027, 1, 15), 8, 15)),
        ("today 21:00", at(date(2027, 1, 13), 21)),
    ],
)
def test_day_words_with_a_time(text: str, expected: datetime) -> None:
    assert parse(text, WEDNESDAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jutro", date(2027, 1, 14)),
        ("pojutrze", date(2027, 1, 15)),
        ("dziś", date(2027, 1, 13)),
        ("dzisiaj", date(2027, 1, 13)),
        ("сьогодні", date(2027, 1, 13)),
        ("today", date(2027, 1, 13)),
        ("післязавтра", date(2027, 1, 15)),
        ("day after tomorrow", date(2027, 1, 15)),
        ("в пʼятницю", date(2027, 1, 15)),
    ],
)
def test_a_day_without_a_time_follows_the_bare_date_rule(text: str, expected: date) -> None:
    # Like '30.04.2027': the default time where one is given (23:59 for deadlines) ...
    assert parse(text, WEDNESDAY, date_only_time=DEADLINE) == at(expected, 23, 59)
    # ... else the time is asked for.
    with pytest.raises(TimeFormatError) as raised:
        parse(text, WEDNESDAY)
    assert raised.value.reason == TimeFormatError.TIME_NEEDED


POLISH_WEEKDAYS = (
    ("w poniedziałek", "poniedziałek"),
    ("we wtorek", "wtorek"),
    ("w środę", "środa"),
    ("w czwartek", "czwartek"),
    ("w piątek", "piątek"),
    ("w sobotę", "sobota"),
    ("w niedzielę", "niedziela"),
)
UKRAINIAN_WEEKDAYS = (
    "в понеділок",
    "у вівторок",
    "в середу",
    "у четвер",
    "у п'ятницю",
    "в суботу",
    "у неділю",
)
ENGLISH_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@pytest.mark.parametrize("now", [WEDNESDAY, FRIDAY, SUNDAY], ids=["wednesday", "friday", "sunday"])
def test_a_weekday_is_the_next_such_day_after_today(now: datetime) -> None:
    """1 to 7 days ahead: today's own weekday means the same day next week ('dziś' is today)."""
    today = now.date()
    for weekday in range(7):
        ahead = (weekday - today.weekday() - 1) % 7 + 1
        expected = at(today + timedelta(days=ahead), 18)
        assert expected.weekday() == weekday and 1 <= ahead <= 7
        with_w, without = POLISH_WEEKDAYS[weekday]
        for text in (with_w, without, UKRAINIAN_WEEKDAYS[weekday], ENGLISH_WEEKDAYS[weekday]):
            assert parse(f"{text} 18:00", now) == expected, text
    assert parse("w piątek 18:00", FRIDAY) == at(date(2027, 1, 22), 18)
    assert parse("w piątek 18:00", SUNDAY) == at(date(2027, 1, 22), 18)


def test_words_count_from_the_local_day_in_the_bot_timezone() -> None:
    # 00:30 in Warsaw on Thursday 14 January is still Wednesday in UTC.
    after_midnight = datetime(2027, 1, 14, 0, 30, tzinfo=WARSAW)
    assert after_midnight.astimezone(UTC).date() == date(2027, 1, 13)
    assert parse("jutro 9:00", after_midnight) == at(date(2027, 1, 15), 9)
    assert parse("w czwartek 9:00", after_midnight) == at(date(2027, 1, 21), 9)


def test_new_years_eve() -> None:
    eve = datetime(2026, 12, 31, 23, 30, tzinfo=WARSAW)  # a Thursday
    assert parse("jutro 9:00", eve) == at(date(2027, 1, 1), 9)
    assert parse("w piątek 9:00", eve) == at(date(2027, 1, 1), 9)
    assert parse("pojutrze 9:00", eve) == at(date(2027, 1, 2), 9)
    assert parse("w czwartek 9:00", eve) == at(date(2027, 1, 7), 9)


def test_around_the_dst_changes() -> None:
    saturday = datetime(2027, 3, 27, 12, 0, tzinfo=WARSAW)  # the clocks go forward on Sunday
    with pytest.raises(TimeFormatError) as raised:
        parse("jutro 2:30", saturday)
    assert raised.value.reason == TimeFormatError.NONEXISTENT
    moment = parse("jutro 3:30", saturday)
    assert moment.utcoffset() == timedelta(hours=2) and moment.hour == 3
    in_the_gap_day = datetime(2027, 3, 28, 1, 30, tzinfo=WARSAW)
    assert parse("dziś 12:00", in_the_gap_day).astimezone(UTC) == datetime(
        2027, 3, 28, 10, 0, tzinfo=UTC
    )
    october = datetime(2027, 10, 30, 12, 0, tzinfo=WARSAW)  # the clocks go back on Sunday
    assert parse("w niedzielę 9:00", october).utcoffset() == timedelta(hours=1)
    assert parse("tomorrow 9:00", october).astimezone(UTC) == datetime(
        2027, 10, 31, 8, 0, tzinfo=UTC
    )


@pytest.mark.dated
def test_the_default_now_is_the_injected_clock() -> None:
    today = datetime.now(WARSAW).date()
    assert parse_when("jutro 9:00", WARSAW) == at(today + timedelta(days=1), 9)
    with time_machine.travel(FRIDAY, tick=False):
        assert parse_when("w piątek 18:00", WARSAW) == at(date(2027, 1, 22), 18)


@pytest.mark.parametrize("text", ["someday", "w jutro", "next friday 18:00", "piątek 2027"])
def test_other_words_are_not_dates(text: str) -> None:
    with pytest.raises(TimeFormatError) as raised:
        parse(text, WEDNESDAY, date_only_time=DEADLINE)
    assert raised.value.reason == TimeFormatError.FORMAT


# --- impossible dates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("31.02.2027", "There is no 31 February 2027: February 2027 has 28 days."),
        ("29.02.2027 10:00", "There is no 29 February 2027: February 2027 has 28 days."),
        ("30.02.2028", "There is no 30 February 2028: February 2028 has 29 days."),
        ("31.04.2027", "There is no 31 April 2027: April 2027 has 30 days."),
        ("2027-02-31", "There is no 31 February 2027: February 2027 has 28 days."),
        ("2027-02-31T10:00", "There is no 31 February 2027: February 2027 has 28 days."),
        ("13.13.2027", "There is no month 13: months are numbered 1 to 12."),
        ("2027-13-01", "There is no month 13: months are numbered 1 to 12."),
        ("30.04.2027 25:00", "There is no hour 25: hours are 0 to 23."),
        ("2027-04-30T25:00", "There is no hour 25: hours are 0 to 23."),
        ("30.04.2027 10:61", "There is no minute 61: minutes are 0 to 59."),
        ("jutro 25:00", "There is no hour 25: hours are 0 to 23."),
        ("w piątek 18:75", "There is no minute 75: minutes are 0 to 59."),
    ],
)
def test_an_impossible_date_says_what_is_wrong(text: str, english: str) -> None:
    with pytest.raises(TimeFormatError) as raised:
        parse(text, WEDNESDAY, date_only_time=DEADLINE)
    assert raised.value.reason == TimeFormatError.IMPOSSIBLE
    with use_language("en"):
        assert raised.value.message == english
    assert str(raised.value) == english


def test_impossible_dates_in_polish_and_ukrainian() -> None:
    with pytest.raises(TimeFormatError) as raised:
        parse("31.02.2027", WEDNESDAY, date_only_time=DEADLINE)
    with use_language("pl"):
        assert raised.value.message == "Nie ma dnia 31 lutego 2027: luty 2027 ma 28 dni."
    with use_language("uk"):
        assert raised.value.message == "Дати 31 лютого 2027 не існує: лютий 2027 має 28 днів."
    with pytest.raises(TimeFormatError) as january:
        parse("32.01.2027", WEDNESDAY, date_only_time=DEADLINE)
    with use_language("uk"):
        assert january.value.message == "Дати 32 січня 2027 не існує: січень 2027 має 31 день."
    with pytest.raises(TimeFormatError) as hour:
        parse("30.04.2027 25:00", WEDNESDAY)
    with use_language("pl"):
        assert hour.value.message == "Nie ma godziny 25: godzina to liczba od 0 do 23."
    with use_language("uk"):
        assert hour.value.message == "Години 25 не існує: година — це число від 0 до 23."


def test_a_leap_day_exists() -> None:
    assert parse("29.02.2028 10:00", WEDNESDAY) == at(date(2028, 2, 29), 10)


def test_a_time_alone_needs_a_day() -> None:
    with pytest.raises(TimeFormatError) as raised:
        parse("19:00", WEDNESDAY, date_only_time=DEADLINE)
    assert raised.value.reason == TimeFormatError.DAY_NEEDED


# --- through the chat flow ------------------------------------------------------------------


async def start_meeting(say: Say) -> None:
    await say("/announce", **BOSS)
    await say("/announce pick kind meeting", **BOSS)
    await say("Spotkanie", **BOSS)
    await say("Zapraszamy!", **BOSS)
    await say("/announce pick title_uk skip", **BOSS)
    await say("/announce pick title_en skip", **BOSS)


async def start_grant(say: Say) -> None:
    await say("/announce", **BOSS)
    await say("/announce pick kind grant-deadline", **BOSS)
    for answer in ("Nabór", "Tekst naboru.", "skip", "skip"):
        await say(answer, **BOSS)


async def draft(storage: Storage) -> dict[str, object]:
    (only,) = await storage.drafts.of_identity("console:boss")
    return dict(only.data)


def stored(data: dict[str, object], name: str) -> datetime:
    value = data[name]
    assert isinstance(value, str)
    return from_db(value).astimezone(WARSAW)


@pytest.mark.dated
async def test_the_flow_reads_jutro_and_a_bare_end_time(
    say: Say, storage: Storage, settings: Settings
) -> None:
    await start_meeting(say)
    (end,) = await say("jutro 18:00", **BOSS)
    assert "20:00" in end.text
    await say("20:00", **BOSS)
    tomorrow = datetime.now(settings.timezone).date() + timedelta(days=1)
    data = await draft(storage)
    assert stored(data, "starts_at") == at(tomorrow, 18)
    assert stored(data, "ends_at") == at(tomorrow, 20)


@pytest.mark.dated
async def test_the_flow_reads_a_weekday_on_a_friday(say: Say, storage: Storage) -> None:
    with time_machine.travel(FRIDAY, tick=False):
        await start_meeting(say)
        await say("w piątek 18:00", **BOSS)
        await say("skip", **BOSS)
        assert stored(await draft(storage), "starts_at") == at(date(2027, 1, 22), 18)


@pytest.mark.dated
async def test_the_flow_reads_ukrainian_words_for_a_deadline(
    say: Say, storage: Storage, settings: Settings
) -> None:
    await start_grant(say)
    (link,) = await say("післязавтра", **BOSS)
    assert "https://" in link.text
    in_two_days = datetime.now(settings.timezone).date() + timedelta(days=2)
    assert stored(await draft(storage), "deadline") == at(in_two_days, 23, 59)


@pytest.mark.dated
async def test_the_flow_explains_an_impossible_date_in_the_chats_language(say: Say) -> None:
    await start_grant(say)
    (polish,) = await say("31.02.2027", **BOSS)
    assert "Nie ma dnia 31 lutego 2027: luty 2027 ma 28 dni." in polish.text
    assert "Nie mogę odczytać" not in polish.text
    (hour,) = await say("30.04.2027 25:00", **BOSS)
    assert "Nie ma godziny 25" in hour.text
    await say("/language uk", **BOSS)
    (ukrainian,) = await say("31.02.2027", **BOSS)
    assert "Дати 31 лютого 2027 не існує: лютий 2027 має 28 днів." in ukrainian.text
    (month,) = await say("01.13.2027", **BOSS)
    assert "Місяця 13 не існує" in month.text


@pytest.mark.dated
async def test_a_correction_in_chat_takes_words_too(
    say: Say, storage: Storage, settings: Settings
) -> None:
    service = service_for(storage, settings)
    created = await service.create(grant_fields(title="Konkurs"), actor="console:boss")
    ahead = (4 - datetime.now(settings.timezone).weekday() - 1) % 7 + 1
    replies = await say(f"/announce edit {created.id} deadline w piątek 12:00", **BOSS)
    assert f"#{created.id}" in replies[0].text
    friday = datetime.now(settings.timezone).date() + timedelta(days=ahead)
    assert (await service.get(created.id)).fields.deadline == at(friday, 12)
    (impossible,) = await say(f"/announce edit {created.id} deadline 31.02.2027", **BOSS)
    assert "Nie ma dnia 31 lutego 2027" in impossible.text
