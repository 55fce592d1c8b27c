"""The .ics export, read back with icalendar (and dateutil for the VTIMEZONE and the RRULE)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar, Event

from bot.reminders.ics import CalendarItem, build_calendar, uid_for, vtimezone
from bot.reminders.recurrence import occurrences

WARSAW = ZoneInfo("Europe/Warsaw")
PRODID = "-//ngo-outreach-bot//calendar//PL"
STAMP = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
TRICKY_TITLE = 'Konkurs "Kraków, razem"; edycja 2026 — Оголошення: їжак, ґанок'
TRICKY_TEXT = "Wnioski: do 30.04, godz. 23:59;\nпитання; коми, крапки\\ i łódź\n\nKoniec."


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=WARSAW)  # type: ignore[misc]


def items() -> list[CalendarItem]:
    return [
        CalendarItem(
            uid_key="announcement-7",
            title="Spotkajmy się w 3. miejscu",
            description="Co miesiąc, w trzeci czwartek.",
            start=local(2026, 1, 15, 17, 0),
            end=local(2026, 1, 15, 19, 0),
            location="ul. Dekerta 24, 30-703 Kraków",
            rrule="FREQ=MONTHLY;BYDAY=3TH",
        ),
        CalendarItem(
            uid_key="announcement-3",
            title=TRICKY_TITLE,
            description=TRICKY_TEXT,
            start=local(2026, 4, 30, 23, 59),
            url="https://www.ngo.krakow.pl/konkurs?id=3,4",
        ),
        CalendarItem(
            uid_key="announcement-5",
            title="1,5% podatku",
            description="",
            start=local(2026, 4, 30, 23, 59),
            all_day_deadline=True,
        ),
    ]


def build(entries: list[CalendarItem] | None = None, **options: object) -> Calendar:
    options.setdefault("stamp", STAMP)
    chosen = items() if entries is None else entries
    return Calendar.from_ical(build_calendar(chosen, WARSAW, PRODID, **options))  # type: ignore[arg-type]


def events(calendar: Calendar) -> dict[str, Event]:
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def test_the_calendar_header() -> None:
    calendar = build(name="NGO Kraków")
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == PRODID
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/Warsaw"
    assert str(calendar["X-WR-CALNAME"]) == "NGO Kraków"


def test_a_vtimezone_for_the_bot_zone_and_tzids_that_use_it() -> None:
    calendar = build()
    (timezone,) = calendar.walk("VTIMEZONE")
    assert str(timezone["TZID"]) == "Europe/Warsaw"
    assert calendar.get_missing_tzids() == set()
    meeting = events(calendar)[uid_for("announcement-7")]
    assert meeting["DTSTART"].params["TZID"] == "Europe/Warsaw"
    assert meeting["DTEND"].params["TZID"] == "Europe/Warsaw"
    assert meeting.decoded("DTSTART") == local(2026, 1, 15, 17, 0)
    assert meeting.decoded("DTEND") == local(2026, 1, 15, 19, 0)
    raw = build_calendar(items(), WARSAW, PRODID, stamp=STAMP)
    assert b"DTSTART;TZID=Europe/Warsaw:20260115T170000\r\n" in raw


def test_lines_are_crlf_and_folded() -> None:
    raw = build_calendar(items(), WARSAW, PRODID, stamp=STAMP)
    assert raw.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 75


def test_uids_are_stable_across_exports() -> None:
    first = build_calendar(items(), WARSAW, PRODID, stamp=STAMP)
    again = build_calendar(list(reversed(items())), WARSAW, PRODID, stamp=STAMP)
    assert first == again  # same items, same stamp: the same bytes, whatever the order
    later = build(stamp=STAMP + timedelta(days=30))
    assert (
        set(events(later))
        == set(events(Calendar.from_ical(first)))
        == {
            "announcement-7@ngo-outreach-bot",
            "announcement-3@ngo-outreach-bot",
            "announcement-5@ngo-outreach-bot",
        }
    )
    assert uid_for("announcement-7", "bot.example.org") == "announcement-7@bot.example.org"
    other = build(uid_domain="bot.example.org")
    assert "announcement-7@bot.example.org" in events(other)


def test_dtstamp_is_utc() -> None:
    for event in build().walk("VEVENT"):
        assert event.decoded("DTSTAMP") == STAMP


def test_a_deadline_is_a_15_minute_event_ending_at_it() -> None:
    deadline = events(build())[uid_for("announcement-3")]
    assert deadline.decoded("DTEND") == local(2026, 4, 30, 23, 59)
    assert deadline.decoded("DTSTART") == local(2026, 4, 30, 23, 44)
    assert deadline["DTSTART"].params["TZID"] == "Europe/Warsaw"
    assert str(deadline["TRANSP"]) == "TRANSPARENT"


def test_an_all_day_deadline() -> None:
    deadline = events(build())[uid_for("announcement-5")]
    assert deadline.decoded("DTSTART") == date(2026, 4, 30)
    assert deadline.decoded("DTEND") == date(2026, 5, 1)
    # The local date counts, not the UTC one (23:30 UTC on 30 April is 1 May in Warsaw).
    late = CalendarItem(
        "x", "x", "", datetime(2026, 4, 30, 23, 30, tzinfo=UTC), all_day_deadline=True
    )
    assert events(build([late]))[uid_for("x")].decoded("DTSTART") == date(2026, 5, 1)


def test_text_with_commas_semicolons_newlines_and_both_alphabets_survives() -> None:
    deadline = events(build())[uid_for("announcement-3")]
    assert str(deadline["SUMMARY"]) == TRICKY_TITLE
    assert (
        str(deadline["DESCRIPTION"]) == TRICKY_TEXT + "\n\nhttps://www.ngo.krakow.pl/konkurs?id=3,4"
    )
    assert str(deadline["URL"]) == "https://www.ngo.krakow.pl/konkurs?id=3,4"
    meeting = events(build())[uid_for("announcement-7")]
    assert str(meeting["LOCATION"]) == "ul. Dekerta 24, 30-703 Kraków"


def test_a_url_already_in_the_description_is_not_repeated() -> None:
    item = CalendarItem(
        "u", "T", "See https://example.org/x", local(2026, 5, 1, 12, 0), url="https://example.org/x"
    )
    assert str(events(build([item]))[uid_for("u")]["DESCRIPTION"]) == "See https://example.org/x"


def test_the_rrule_round_trips_and_expands_like_ours() -> None:
    meeting = events(build())[uid_for("announcement-7")]
    assert meeting["RRULE"].to_ical() == b"FREQ=MONTHLY;BYDAY=3TH"
    expanded = rrulestr(meeting["RRULE"].to_ical().decode(), dtstart=meeting.decoded("DTSTART"))
    theirs = [t.astimezone(UTC) for t in expanded.between(local(2026, 1, 1), local(2027, 1, 1))]
    ours = occurrences(
        "FREQ=MONTHLY;BYDAY=3TH",
        local(2026, 1, 15, 17, 0),
        WARSAW,
        local(2026, 1, 1),
        local(2027, 1, 1),
    )
    assert theirs == ours
    until = CalendarItem(
        "u",
        "T",
        "",
        local(2026, 1, 15, 17, 0),
        local(2026, 1, 15, 18, 0),
        rrule="FREQ=MONTHLY;UNTIL=20261231T225959Z;BYDAY=3TH",
    )
    rule = events(build([until]))[uid_for("u")]["RRULE"]
    assert rule.to_ical() == b"FREQ=MONTHLY;UNTIL=20261231T225959Z;BYDAY=3TH"
    assert "RRULE" not in events(build())[uid_for("announcement-3")]


def test_sequence_is_written_for_updates() -> None:
    item = CalendarItem("s", "T", "", local(2026, 5, 1, 12, 0), sequence=3)
    assert events(build([item]))[uid_for("s")].decoded("SEQUENCE") == 3


def test_an_empty_export_is_still_a_valid_calendar() -> None:
    calendar = build([])
    assert calendar.walk("VEVENT") == []
    assert len(calendar.walk("VTIMEZONE")) == 1


def test_items_are_checked() -> None:
    with pytest.raises(ValueError, match="naive"):
        CalendarItem("a", "T", "", datetime(2026, 5, 1, 12, 0))
    with pytest.raises(ValueError, match="ends before"):
        CalendarItem("a", "T", "", local(2026, 5, 1, 12, 0), local(2026, 5, 1, 11, 0))
    with pytest.raises(ValueError, match="uid_key"):
        CalendarItem("a b", "T", "", local(2026, 5, 1, 12, 0))


# --- the VTIMEZONE itself -----------------------------------------------------------------------


def onsets(timezone: Calendar, block: str, through: int = 2028) -> list[datetime]:
    """Every onset of the STANDARD or DAYLIGHT blocks to the end of `through`, as naive local
    times: DTSTART, RDATEs, and the RRULE's occurrences."""
    found: list[datetime] = []
    for part in timezone.walk(block):
        start = part.decoded("DTSTART")
        found.append(start)
        rdates = part.get("RDATE", [])
        for rdate in rdates if isinstance(rdates, list) else [rdates]:
            found.extend(value.dt for value in rdate.dts)
        if "RRULE" in part:
            # dateutil refuses a UTC UNTIL with a naive DTSTART: compare it as a local time.
            rule = part["RRULE"].to_ical().decode().replace("Z", "")
            found.extend(
                moment
                for moment in rrulestr(rule, dtstart=start)
                if moment.year <= through and moment != start
            )
    return sorted(moment for moment in found if moment.year <= through)


def test_onsets_are_in_the_local_time_before_the_change() -> None:
    timezone = vtimezone(WARSAW, 2026, 2028)
    # RFC 5545: DAYLIGHT from 02:00 (winter time), STANDARD from 03:00 (summer time); from the
    # year before, so that January 2026 already follows an onset.
    assert onsets(timezone, "DAYLIGHT") == [
        datetime(2025, 3, 30, 2, 0),
        datetime(2026, 3, 29, 2, 0),
        datetime(2027, 3, 28, 2, 0),
        datetime(2028, 3, 26, 2, 0),
    ]
    assert onsets(timezone, "STANDARD") == [
        datetime(2025, 10, 26, 3, 0),
        datetime(2026, 10, 25, 3, 0),
        datetime(2027, 10, 31, 3, 0),
        datetime(2028, 10, 29, 3, 0),
    ]
    # Each onset minus TZOFFSETFROM is the instant zoneinfo changes the offset.
    for block in ("DAYLIGHT", "STANDARD"):
        for part in timezone.walk(block):
            offset_from, offset_to = part.decoded("TZOFFSETFROM"), part.decoded("TZOFFSETTO")
            if offset_from == offset_to:
                continue  # the opening block describes the state, not a change
            for onset in onsets(part, block):
                change = (onset - offset_from).replace(tzinfo=UTC)
                assert (change - timedelta(seconds=1)).astimezone(WARSAW).utcoffset() == offset_from
                assert change.astimezone(WARSAW).utcoffset() == offset_to


@pytest.mark.dated
@pytest.mark.parametrize(
    "zone",
    ["Europe/Warsaw", "Europe/Kyiv", "America/New_York", "Australia/Lord_Howe", "Asia/Tokyo"],
)
def test_a_reader_of_the_vtimezone_gets_zoneinfo_offsets(zone: str) -> None:
    tz = ZoneInfo(zone)
    timezone = vtimezone(tz, 2026, 2027)
    reader = timezone.to_tz(lookup_tzid=False)  # dateutil's VTIMEZONE reader
    moment = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
    while moment.year < 2028:
        wall = moment.astimezone(tz).replace(tzinfo=None)
        if (
            wall.replace(tzinfo=tz, fold=1).utcoffset()
            == wall.replace(tzinfo=tz, fold=0).utcoffset()
        ):
            assert wall.replace(tzinfo=reader).utcoffset() == moment.astimezone(tz).utcoffset(), (
                wall
            )
        moment += timedelta(hours=5, minutes=13)


def test_a_zone_without_changes_has_one_block() -> None:
    timezone = vtimezone(ZoneInfo("Asia/Tokyo"), 2026, 2030)
    assert len(timezone.walk("STANDARD")) == 1 and timezone.walk("DAYLIGHT") == []


def test_the_zones_yearly_rule_is_open_ended() -> None:
    # A recurring meeting goes on past any list of transitions: the rule has no end.
    for calendar in (build(), build(items()[1:])):
        (timezone,) = calendar.walk("VTIMEZONE")
        assert all("UNTIL" not in part["RRULE"] for part in timezone.walk("DAYLIGHT"))
        assert datetime(2040, 3, 25, 2, 0) in onsets(timezone, "DAYLIGHT", through=2040)
