"""Announcement rules without storage: dates as staff type them, reminder offsets, validation."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.announcements.model import (
    AnnouncementError,
    Fields,
    Kind,
    tax_campaign_deadline,
    validate,
)
from bot.announcements.timeparse import TimeFormatError, parse_when
from bot.reminders import offsets

# Date-sensitive: .ci/run runs these again at its fixed moments (`pytest -m dated`).
pytestmark = pytest.mark.dated

WARSAW = ZoneInfo("Europe/Warsaw")
TOPICS = ("grants", "tax", "meetings", "consultations", "news")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30.04.2027 23:59", datetime(2027, 4, 30, 23, 59, tzinfo=WARSAW)),
        ("30.4.2027, 9:05", datetime(2027, 4, 30, 9, 5, tzinfo=WARSAW)),
        ("2027-04-30T23:59", datetime(2027, 4, 30, 23, 59, tzinfo=WARSAW)),
        ("2027-04-30 23:59", datetime(2027, 4, 30, 23, 59, tzinfo=WARSAW)),
        ("2027-04-30T21:59Z", datetime(2027, 4, 30, 21, 59, tzinfo=UTC)),
        ("2027-04-30T23:59+02:00", datetime(2027, 4, 30, 21, 59, tzinfo=UTC)),
        ("30.04.2027", datetime(2027, 4, 30, 23, 59, tzinfo=WARSAW)),
        ("2027-04-30", datetime(2027, 4, 30, 23, 59, tzinfo=WARSAW)),
    ],
)
def test_dates_as_staff_type_them(text: str, expected: datetime) -> None:
    assert parse_when(text, WARSAW, date_only_time=time(23, 59)) == expected


@pytest.mark.parametrize(
    "text", ["", "someday", "31.02.2027 10:00", "30.04.2027 25:00", "2027-13-01", "12:00"]
)
def test_unreadable_dates(text: str) -> None:
    with pytest.raises(TimeFormatError):
        parse_when(text, WARSAW, date_only_time=time(23, 59))


def test_a_date_alone_needs_a_default_time_and_a_clock_needs_a_day() -> None:
    with pytest.raises(TimeFormatError):
        parse_when("30.04.2027", WARSAW)
    start = datetime(2027, 5, 15, 18, 0, tzinfo=WARSAW)
    assert parse_when("20:00", WARSAW, same_day_as=start) == start.replace(hour=20)


def test_a_time_skipped_by_the_clock_change_is_refused() -> None:
    with pytest.raises(TimeFormatError, match="does not exist"):
        parse_when("28.03.2027 02:30", WARSAW)


def test_reminder_grammar() -> None:
    assert offsets.canonical(" 1d@09:00, 14d@09:00,3d@09:00 ") == "14d@09:00,3d@09:00,1d@09:00"
    assert offsets.canonical("2h,1d@18:00") == "1d@18:00,2h"
    assert offsets.canonical("1w,30m,1w") == "1w,30m"
    assert offsets.canonical("NONE") == "none"
    for kind in Kind:
        assert offsets.canonical(kind.default_remind) == kind.default_remind
    for bad in ("", "3", "3x", "d3", "1d@25:00", "1d@9", "400d", "1d;2d", ",", "none,1d"):
        with pytest.raises(offsets.OffsetError):
            offsets.parse_offsets(bad)


def test_days_are_calendar_days_across_a_dst_change_and_hours_are_exact() -> None:
    anchor = datetime(2027, 3, 28, 12, 0, tzinfo=WARSAW)  # summer time began at 02:00 that day
    (one_day,) = offsets.parse_offsets("1d")
    before = one_day.instant(anchor, WARSAW)
    assert before.astimezone(WARSAW).replace(tzinfo=None) == datetime(2027, 3, 27, 12, 0)
    assert anchor.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=23)
    (hours,) = offsets.parse_offsets("24h")
    exact = hours.instant(anchor, WARSAW)
    assert anchor.astimezone(UTC) - exact.astimezone(UTC) == timedelta(hours=24)
    assert exact.astimezone(WARSAW).hour == 11
    (evening,) = offsets.parse_offsets("1d@18:00")
    assert evening.instant(anchor, WARSAW) == datetime(2027, 3, 27, 18, 0, tzinfo=WARSAW)
    (week,) = offsets.parse_offsets("1w@09:00")
    assert week.instant(anchor, WARSAW) == datetime(2027, 3, 21, 9, 0, tzinfo=WARSAW)


def test_reminder_times_skip_the_past_and_the_anchor_itself() -> None:
    anchor = datetime(2027, 4, 30, 23, 59, tzinfo=WARSAW)
    parsed = offsets.parse_offsets("14d@09:00,3d@09:00,1d@09:00,0d@23:59")
    after = datetime(2027, 4, 20, 0, 0, tzinfo=WARSAW)
    assert offsets.reminder_times(anchor, parsed, WARSAW, after=after) == [
        datetime(2027, 4, 27, 9, 0, tzinfo=WARSAW),
        datetime(2027, 4, 29, 9, 0, tzinfo=WARSAW),
    ]


def test_tax_campaign_deadline_is_this_season_or_the_next() -> None:
    march = datetime(2027, 3, 1, 12, 0, tzinfo=WARSAW)
    may = datetime(2027, 5, 1, 12, 0, tzinfo=WARSAW)
    assert tax_campaign_deadline(march, WARSAW) == datetime(2027, 4, 30, 23, 59, tzinfo=WARSAW)
    assert tax_campaign_deadline(may, WARSAW) == datetime(2028, 4, 30, 23, 59, tzinfo=WARSAW)


def fields(**changes: object) -> Fields:
    now = datetime.now(UTC)
    base = Fields(
        kind=Kind.GRANT_DEADLINE,
        topic="grants",
        title_pl="Tytuł",
        text_pl="Tekst",
        publish_at=now,
        remind="1d",
        deadline=now + timedelta(days=10),
    )
    return base.replace(**changes)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title_pl": "x" * 201}, "title_pl"),
        ({"text_pl": "x" * 3001}, "text_pl"),
        ({"title_pl": "  "}, "title_pl"),
        ({"title_uk": "Заголовок"}, "title_uk"),
        ({"text_en": "Text"}, "title_en"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "https://"}, "url"),
        ({"topic": "weather"}, "topic"),
        ({"deadline": None}, "deadline"),
        ({"deadline": timedelta(days=-1)}, "deadline"),
        ({"kind": Kind.NEWS}, "deadline"),
        ({"kind": Kind.MEETING, "deadline": None}, "starts_at"),
        ({"location": "Dekerta 24"}, "starts_at"),
        ({"remind": "3x"}, "remind"),
        ({"publish_at": timedelta(days=-1)}, "publish_at"),
        ({"publish_at": timedelta(days=20)}, "deadline"),
    ],
)
def test_validation_names_the_field(changes: dict[str, object], field: str) -> None:
    # Parameters are made at collection, before the test's clock: times are given as offsets.
    now = datetime.now(UTC)
    changes = {
        name: now + value if isinstance(value, timedelta) else value
        for name, value in changes.items()
    }
    with pytest.raises(AnnouncementError) as caught:
        validate(fields(**changes), now=now, topics=TOPICS)
    assert caught.value.field == field


def test_a_meeting_ends_after_it_starts() -> None:
    start = datetime.now(UTC) + timedelta(days=3)
    meeting = fields(kind=Kind.MEETING, deadline=None, starts_at=start, ends_at=start)
    with pytest.raises(AnnouncementError) as caught:
        validate(meeting, now=datetime.now(UTC), topics=TOPICS)
    assert caught.value.field == "ends_at"
    ok = validate(
        meeting.replace(ends_at=start + timedelta(hours=2)), now=datetime.now(UTC), topics=TOPICS
    )
    assert ok.ends_at == start + timedelta(hours=2)


def test_an_edit_does_not_fail_on_dates_it_does_not_touch() -> None:
    later = datetime.now(UTC) + timedelta(days=30)
    published_yesterday = fields(publish_at=datetime.now(UTC) - timedelta(days=1))
    assert validate(published_yesterday, now=datetime.now(UTC), topics=TOPICS, changed={"title_pl"})
    with pytest.raises(AnnouncementError):
        validate(published_yesterday, now=datetime.now(UTC), topics=TOPICS)
    moved = validate(
        published_yesterday.replace(deadline=later),
        now=datetime.now(UTC),
        topics=TOPICS,
        changed={"deadline"},
    )
    assert moved.deadline == later


def test_validation_returns_the_canonical_reminder_list() -> None:
    checked = validate(fields(remind="1d, 14d@09:00"), now=datetime.now(UTC), topics=TOPICS)
    assert checked.remind == "14d@09:00,1d"


def test_the_longest_announcement_fits_one_message_in_every_language() -> None:
    from bot.announcements.model import (
        MAX_LOCATION,
        MAX_TEXT,
        MAX_TITLE,
        MAX_URL,
        Announcement,
        Status,
    )
    from bot.announcements.render import Purpose, render_message
    from bot.core.markup import to_plain_text
    from bot.core.messages import MAX_MESSAGE_LENGTH
    from bot.core.topics import load_topics

    start = datetime.now(UTC) + timedelta(days=3)
    longest = Fields(
        kind=Kind.MEETING,
        topic="meetings",
        title_pl="Ż" * MAX_TITLE,
        text_pl="&" * MAX_TEXT,
        title_uk="Ї" * MAX_TITLE,
        text_uk="<" * MAX_TEXT,
        publish_at=datetime.now(UTC),
        remind="none",
        starts_at=start,
        ends_at=start + timedelta(days=2),
        location="L" * MAX_LOCATION,
        url="https://example.org/" + "u" * (MAX_URL - 20),
        urgent=True,
    )
    now = datetime.now(UTC)
    announcement = Announcement(7, longest, Status.SENDING, "console:boss", None, now, now)
    topics = load_topics(None)
    every_field = '["title_pl","text_pl","title_uk","text_uk","starts_at","location","url"]'
    for purpose, detail in (
        (Purpose.PUBLICATION, ""),
        (Purpose.REMINDER, ""),
        (Purpose.CORRECTION, every_field),
    ):
        for language in ("pl", "uk", "en"):
            for prefix in ("/", "!"):
                rendered = render_message(
                    announcement, purpose, detail, language, topics, WARSAW, prefix=prefix
                )
                plain = to_plain_text(rendered.text)
                assert len(plain.encode("utf-16-le")) // 2 < MAX_MESSAGE_LENGTH, (purpose, language)
