"""Calendar files every reader gets right (issue 10, item 9).

The VTIMEZONE describes the zone's yearly rule with RRULE observances (never RDATE lists,
which Mozilla's ical.js reads only the first value of, and which ended in 2037), and moving
one occurrence of a recurring meeting raises the SEQUENCE of the series.
"""

from __future__ import annotations

import bisect
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar, Component, Event, vRecur

from bot.announcements.model import Fields, Kind
from bot.announcements.service import AnnouncementService
from bot.clock import utcnow
from bot.config import Settings
from bot.core.topics import load_topics
from bot.reminders.ics import CalendarItem, build_calendar, vtimezone
from bot.storage import Storage
from tests.test_cli import ngo_bot

WARSAW = ZoneInfo("Europe/Warsaw")
PRODID = "-//ngo-outreach-bot//calendar//PL"
THIRD_THURSDAY = "FREQ=MONTHLY;BYDAY=3TH"


# --- an independent reader of a VTIMEZONE, as a calendar application reads it --------------


def observances(timezone: Component) -> list[Component]:
    return [part for part in timezone.subcomponents if part.name in ("STANDARD", "DAYLIGHT")]


def onsets_of(observance: Component, until: datetime) -> list[datetime]:
    """The observance's onsets up to `until` (naive local times): DTSTART, then its RRULE.

    An UNTIL is in UTC (RFC 5545 requires it in a VTIMEZONE): the last onset is the one
    whose instant, its local time minus TZOFFSETFROM, is not after it.
    """
    start: datetime = observance.decoded("DTSTART")
    if "RRULE" not in observance:
        return [start] if start <= until else []
    parts = dict(observance["RRULE"])
    end = parts.pop("UNTIL", None)
    end = end[0] if isinstance(end, list) else end
    if end is not None:
        end_local = end.astimezone(UTC).replace(tzinfo=None) + observance.decoded("TZOFFSETFROM")
        until = min(until, end_local)
    found = []
    for onset in rrulestr(vRecur(parts).to_ical().decode(), dtstart=start):
        if onset > until:
            break
        found.append(onset)
    return found


def onset_table(timezone: Component, until: datetime) -> list[tuple[datetime, timedelta]]:
    """Every (onset, TZOFFSETTO) of the VTIMEZONE up to `until`, in time order."""
    table = [
        (onset, observance.decoded("TZOFFSETTO"))
        for observance in observances(timezone)
        for onset in onsets_of(observance, until)
    ]
    return sorted(table)


class Reader:
    """RFC 5545: a local time has the offset of the observance with the latest onset before it."""

    def __init__(self, timezone: Component, until: datetime) -> None:
        self.table = onset_table(timezone, until)
        self.starts = [onset for onset, _offset in self.table]

    def utc_offset(self, wall: datetime) -> timedelta:
        index = bisect.bisect_right(self.starts, wall) - 1
        assert index >= 0, f"{wall} is before every onset"
        return self.table[index][1]

    def to_utc(self, wall: datetime) -> datetime:
        return (wall - self.utc_offset(wall)).replace(tzinfo=UTC)


def occurrences_in(event: Event, year: int, month: int) -> list[datetime]:
    """The event's occurrences in a month, as naive local times (its RRULE over DTSTART)."""
    start = event.decoded("DTSTART").replace(tzinfo=None)
    rule = rrulestr(event["RRULE"].to_ical().decode(), dtstart=start)
    return list(rule.between(datetime(year, month, 1), datetime(year, month, 28) + timedelta(4)))


# --- the VTIMEZONE ------------------------------------------------------------------------


def test_warsaw_is_two_yearly_rules_and_no_rdate() -> None:
    timezone = vtimezone(WARSAW, 2026, 2027)
    text = timezone.to_ical().decode()
    assert "RDATE" not in text
    daylight, standard = observances(timezone)
    assert daylight.name == "DAYLIGHT" and standard.name == "STANDARD"
    assert daylight["RRULE"].to_ical() == b"FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3"
    assert standard["RRULE"].to_ical() == b"FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10"
    # The onset in the local time before the change: 02:00 in spring, 03:00 in autumn.
    assert daylight.decoded("DTSTART") == datetime(2025, 3, 30, 2, 0)
    assert standard.decoded("DTSTART") == datetime(2025, 10, 26, 3, 0)
    assert (daylight.decoded("TZOFFSETFROM"), daylight.decoded("TZOFFSETTO")) == (
        timedelta(hours=1),
        timedelta(hours=2),
    )
    assert (standard.decoded("TZOFFSETFROM"), standard.decoded("TZOFFSETTO")) == (
        timedelta(hours=2),
        timedelta(hours=1),
    )
    assert (str(daylight["TZNAME"]), str(standard["TZNAME"])) == ("CEST", "CET")


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [
        ("Europe/Kyiv", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10"),
        ("America/New_York", "FREQ=YEARLY;BYDAY=2SU;BYMONTH=3", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=11"),
    ],
)
def test_other_zones_get_their_own_rule(zone: str, spring: str, autumn: str) -> None:
    rules = {
        part.name: part["RRULE"].to_ical().decode()
        for part in observances(vtimezone(ZoneInfo(zone), 2026, 2030))
    }
    assert rules == {"DAYLIGHT": spring, "STANDARD": autumn}


def test_a_rule_that_holds_only_for_some_years_ends() -> None:
    # Israel's spring change is the Friday before the last Sunday of March: the last Friday
    # in 2025-2027, the 4th in 2028-2029, the last again in 2030. Each run gets an RRULE that
    # ends (a day after its last change), none is open-ended; never an RDATE list.
    timezone = vtimezone(ZoneInfo("Asia/Jerusalem"), 2026, 2028)
    assert "RDATE" not in timezone.to_ical().decode()
    daylight = [part for part in observances(timezone) if part.name == "DAYLIGHT"]
    assert [(part.decoded("DTSTART"), part["RRULE"].to_ical()) for part in daylight] == [
        (datetime(2025, 3, 28, 2, 0), b"FREQ=YEARLY;UNTIL=20270327T000000Z;BYDAY=-1FR;BYMONTH=3"),
        (datetime(2028, 3, 24, 2, 0), b"FREQ=YEARLY;UNTIL=20290324T000000Z;BYDAY=4FR;BYMONTH=3"),
    ]
    (standard,) = [part for part in observances(timezone) if part.name == "STANDARD"]
    assert standard["RRULE"].to_ical() == b"FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10"


def test_a_rule_the_zone_gave_up_ends() -> None:
    # Moscow kept summer time until March 2010's last Sunday... and dropped it in 2011.
    timezone = vtimezone(ZoneInfo("Europe/Moscow"), 2006, 2015)
    rules = [part for part in observances(timezone) if "RRULE" in part]
    assert [part["RRULE"].to_ical().decode() for part in rules] == [
        "FREQ=YEARLY;UNTIL=20100328T230000Z;BYDAY=-1SU;BYMONTH=3",
        "FREQ=YEARLY;UNTIL=20101031T230000Z;BYDAY=-1SU;BYMONTH=10",
    ]
    # The changes after it, each once: 2011 to permanent +04, 2014 back to +03.
    singles = [part.decoded("DTSTART") for part in observances(timezone) if "RRULE" not in part]
    assert sorted(singles) == [datetime(2011, 3, 27, 2, 0), datetime(2014, 10, 26, 2, 0)]


@pytest.mark.dated
@pytest.mark.parametrize(
    "zone", ["Europe/Warsaw", "Europe/Moscow", "Asia/Jerusalem", "America/Sao_Paulo"]
)
def test_both_readers_get_zoneinfo_offsets_every_few_hours(zone: str) -> None:
    tz = ZoneInfo(zone)
    timezone = vtimezone(tz, 2010, 2020)
    reader = Reader(timezone, datetime(2022, 1, 1))
    dateutil_reader = timezone.to_tz(lookup_tzid=False)
    moment = datetime(2010, 1, 1, 0, 30, tzinfo=UTC)
    while moment.year < 2021:
        local = moment.astimezone(tz)
        wall = local.replace(tzinfo=None)
        unambiguous = wall.replace(tzinfo=tz, fold=0).utcoffset() == (
            wall.replace(tzinfo=tz, fold=1).utcoffset()
        )
        if unambiguous:
            assert reader.utc_offset(wall) == local.utcoffset(), wall
            assert wall.replace(tzinfo=dateutil_reader).utcoffset() == local.utcoffset(), wall
        moment += timedelta(hours=31, minutes=13)


@pytest.mark.dated
def test_a_series_in_2040_is_at_the_right_utc_time() -> None:
    """The meeting is at 18:00 in Warsaw: 16:00 UTC in summer, 17:00 UTC in winter, in 2040 too."""
    start = datetime(2026, 7, 16, 18, 0, tzinfo=WARSAW)  # a third Thursday
    item = CalendarItem(
        "announcement-1", "Spotkajmy się", "", start, start + timedelta(hours=2),
        rrule=THIRD_THURSDAY,
    )  # fmt: skip
    data = build_calendar([item], WARSAW, PRODID, stamp=datetime(2026, 6, 1, tzinfo=UTC))
    assert b"RDATE" not in data
    calendar = Calendar.from_ical(data)
    (timezone,) = calendar.walk("VTIMEZONE")
    (event,) = calendar.walk("VEVENT")
    reader = Reader(timezone, datetime(2046, 1, 1))
    (july,) = occurrences_in(event, 2040, 7)
    (january,) = occurrences_in(event, 2040, 1)
    assert (july, january) == (datetime(2040, 7, 19, 18, 0), datetime(2040, 1, 19, 18, 0))
    assert reader.to_utc(july) == datetime(2040, 7, 19, 16, 0, tzinfo=UTC)
    assert reader.to_utc(january) == datetime(2040, 1, 19, 17, 0, tzinfo=UTC)
    dateutil_reader = timezone.to_tz(lookup_tzid=False)
    assert july.replace(tzinfo=dateutil_reader).astimezone(UTC).hour == 16
    assert january.replace(tzinfo=dateutil_reader).astimezone(UTC).hour == 17
    # And as the zone itself says, for every month up to 2045.
    for year in range(2026, 2046):
        for month in range(1, 13):
            for wall in occurrences_in(event, year, month):
                assert reader.to_utc(wall) == wall.replace(tzinfo=WARSAW).astimezone(UTC)


# --- SEQUENCE -----------------------------------------------------------------------------


def export(tmp_path: Path) -> Calendar:
    result = ngo_bot(tmp_path, "calendar", "export")
    assert result.returncode == 0, result.stderr
    return Calendar.from_ical(result.stdout)


def sequences(calendar: Calendar) -> list[tuple[str | None, int]]:
    """(RECURRENCE-ID as local ISO time or None, SEQUENCE) of each event, in file order."""
    found = []
    for event in calendar.walk("VEVENT"):
        recurrence = event.get("RECURRENCE-ID")
        found.append(
            (None if recurrence is None else recurrence.dt.isoformat(), int(event["SEQUENCE"]))
        )
    return found


def next_third_thursday() -> datetime:
    """18:00 on the third Thursday of next month (from the injected clock)."""
    today = utcnow().astimezone(WARSAW).date()
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    thursday = first + timedelta(days=(3 - first.weekday()) % 7 + 14)
    return datetime.combine(thursday, time(18, 0), tzinfo=WARSAW)


@pytest.mark.dated
def test_moving_one_occurrence_raises_the_sequence(tmp_path: Path) -> None:
    start = next_third_thursday()
    created = ngo_bot(
        tmp_path, "announce", "create", "--kind=meeting", "--title-pl=Spotkajmy się",
        "--text-pl=Co miesiąc.", f"--starts-at={start:%Y-%m-%dT%H:%M}",
        "--location=ul. Dekerta 24", f"--repeat={THIRD_THURSDAY}", "--json",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    series = str(json.loads(created.stdout)["id"])
    ((_, before),) = sequences(export(tmp_path))
    assert before == 0
    # The occurrence two months on is held elsewhere: the series and its override move up.
    second = occurrences_in(export(tmp_path).walk("VEVENT")[0], *_month_after(start.date(), 2))[0]
    moved = ngo_bot(
        tmp_path, "announce", "edit", series, f"--occurrence={second:%Y-%m-%d}",
        "--location=Nowa Huta, os. Centrum E 1",
    )  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    calendar = export(tmp_path)
    (_, after_move), (recurrence_id, override) = sequences(calendar)
    assert recurrence_id == second.replace(tzinfo=WARSAW).isoformat()
    assert after_move > before and override == after_move
    assert str(calendar.walk("VEVENT")[1]["LOCATION"]) == "Nowa Huta, os. Centrum E 1"
    # Back at the usual place: higher again (the override is gone).
    back = ngo_bot(
        tmp_path, "announce", "edit", series, f"--occurrence={second:%Y-%m-%d}", "--location="
    )
    assert back.returncode == 0, back.stderr
    ((_, after_back),) = sequences(export(tmp_path))
    assert after_back > after_move


def _month_after(day: date, months: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 + months
    return index // 12, index % 12 + 1


@pytest.mark.dated
async def test_changes_within_one_second_still_raise_the_sequence(
    storage: Storage, settings: Settings
) -> None:
    """Edits and moves at the very same instant: each gets a strictly higher SEQUENCE."""
    from bot.announcements.agenda import calendar_sequence

    frozen = utcnow()
    service = AnnouncementService(storage, settings, load_topics(None), lambda: frozen)
    start = next_third_thursday()
    fields = Fields(
        kind=Kind.MEETING, topic="meetings", title_pl="Spotkajmy się", text_pl="Co miesiąc.",
        starts_at=start, ends_at=start + timedelta(hours=2), repeat=THIRD_THURSDAY,
        publish_at=frozen, remind="none",
    )  # fmt: skip
    created = await service.create(fields, actor="cli:test")
    seen = [calendar_sequence(created)]
    first_day = start.astimezone(WARSAW).date()

    async def current() -> int:
        return calendar_sequence(await service.get(created.id))

    await service.edit(created.id, {"title_pl": "Spotkajmy się!"}, actor="cli:test")
    seen.append(await current())
    await service.move_occurrence(created.id, first_day, "Nowa Huta", actor="cli:test")
    seen.append(await current())
    await service.move_occurrence(created.id, first_day, None, actor="cli:test")
    seen.append(await current())
    await service.edit(created.id, {"location": "ul. Dekerta 24"}, actor="cli:test")
    seen.append(await current())
    assert seen == [0, 1, 2, 3, 4]
