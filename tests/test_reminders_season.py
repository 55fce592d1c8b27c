"""The 1.5% tax campaign: the season and the default schedule."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.reminders.offsets import DEFAULT_OFFSETS, parse_offsets, reminder_times
from bot.reminders.season import (
    april_mondays,
    campaign_deadline,
    campaign_times,
    campaign_year,
    tax_season,
)

WARSAW = ZoneInfo("Europe/Warsaw")


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=WARSAW)  # type: ignore[misc]


def as_local(instants: list[datetime]) -> list[str]:
    return [t.astimezone(WARSAW).strftime("%Y-%m-%d %a %H:%M") for t in instants]


def test_the_season_runs_from_15_january_to_30_april_23_59_local() -> None:
    start, end = tax_season(2026, WARSAW)
    assert start == datetime(2026, 1, 14, 23, 0, tzinfo=UTC)  # CET
    assert end == datetime(2026, 4, 30, 21, 59, tzinfo=UTC)  # CEST
    assert campaign_deadline(2026, WARSAW) == end
    assert start.tzinfo is UTC and end.tzinfo is UTC


def test_the_default_schedule_2026() -> None:
    assert as_local(campaign_times(2026, WARSAW)) == [
        "2026-04-06 Mon 10:00",
        "2026-04-13 Mon 10:00",
        "2026-04-20 Mon 10:00",
        "2026-04-23 Thu 10:00",
        "2026-04-27 Mon 10:00",
        "2026-04-29 Wed 10:00",
    ]
    assert all(t.tzinfo is UTC for t in campaign_times(2026, WARSAW))


def test_a_monday_that_is_also_a_day_before_is_listed_once() -> None:
    # 2024: 29 April is a Monday; 2029: 23 April is.
    assert as_local(campaign_times(2024, WARSAW)) == [
        "2024-04-01 Mon 10:00",
        "2024-04-08 Mon 10:00",
        "2024-04-15 Mon 10:00",
        "2024-04-22 Mon 10:00",
        "2024-04-23 Tue 10:00",
        "2024-04-29 Mon 10:00",
    ]
    times = campaign_times(2029, WARSAW)
    assert len(times) == len(set(times)) == 6
    assert "2029-04-23 Mon 10:00" in as_local(times)


def test_april_mondays() -> None:
    assert april_mondays(2026) == [date(2026, 4, d) for d in (6, 13, 20, 27)]
    assert april_mondays(2024) == [date(2024, 4, d) for d in (1, 8, 15, 22, 29)]
    for year in range(2020, 2040):
        mondays = april_mondays(year)
        assert 4 <= len(mondays) <= 5
        assert all(d.month == 4 and d.weekday() == 0 for d in mondays)


@pytest.mark.parametrize("year", range(2024, 2034))
def test_the_default_schedule_is_the_tax_campaign_default_offsets(year: int) -> None:
    from_offsets = reminder_times(
        campaign_deadline(year, WARSAW), DEFAULT_OFFSETS["tax-campaign"], WARSAW
    )
    assert campaign_times(year, WARSAW) == from_offsets
    days_before = reminder_times(
        campaign_deadline(year, WARSAW), parse_offsets("7d@10:00,1d@10:00"), WARSAW
    )
    assert campaign_times(year, WARSAW, mondays_at=None) == days_before


def test_staff_choose_the_schedule() -> None:
    times = campaign_times(2026, WARSAW, time(12, 30), (14, 3, 0), before_at=time(9, 0))
    assert as_local(times) == [
        "2026-04-06 Mon 12:30",
        "2026-04-13 Mon 12:30",
        "2026-04-16 Thu 09:00",
        "2026-04-20 Mon 12:30",
        "2026-04-27 Mon 09:00",
        "2026-04-27 Mon 12:30",
        "2026-04-30 Thu 09:00",
    ]
    assert campaign_times(2026, WARSAW, None, ()) == []


def test_past_instants_are_skipped_with_after() -> None:
    times = campaign_times(2026, WARSAW, after=local(2026, 4, 20, 10, 0))
    assert as_local(times) == [
        "2026-04-20 Mon 10:00",
        "2026-04-23 Thu 10:00",
        "2026-04-27 Mon 10:00",
        "2026-04-29 Wed 10:00",
    ]


def test_nothing_at_or_after_the_deadline() -> None:
    assert campaign_times(2026, WARSAW, None, (0,), before_at=time(23, 59)) == []
    assert len(campaign_times(2026, WARSAW, None, (0,), before_at=time(23, 58))) == 1


def test_negative_days_before_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        campaign_times(2026, WARSAW, before=(-1,))


@pytest.mark.parametrize(
    ("moment", "year"),
    [
        (datetime(2026, 1, 1, 0, 0, tzinfo=WARSAW), 2026),
        (datetime(2026, 3, 1, 12, 0, tzinfo=WARSAW), 2026),
        (datetime(2026, 4, 30, 23, 59, tzinfo=WARSAW), 2026),
        (datetime(2026, 5, 1, 0, 0, tzinfo=WARSAW), 2027),
        (datetime(2026, 12, 31, 23, 30, tzinfo=WARSAW), 2027),
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), 2027),  # already 2027 in Warsaw
    ],
)
def test_the_season_a_campaign_belongs_to(moment: datetime, year: int) -> None:
    assert campaign_year(moment, WARSAW) == year
