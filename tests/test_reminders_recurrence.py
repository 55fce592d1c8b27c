"""Recurring meetings: `--repeat` parsing and occurrences on local wall-clock time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.reminders.recurrence import (
    MAX_OCCURRENCES,
    ensure_synchronised,
    next_occurrence,
    occurrences,
    parse_repeat,
)

WARSAW = ZoneInfo("Europe/Warsaw")
THIRD_THURSDAY = "FREQ=MONTHLY;BYDAY=3TH"


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=WARSAW)  # type: ignore[misc]


def as_local(instants: list[datetime]) -> list[str]:
    return [t.astimezone(WARSAW).strftime("%Y-%m-%d %H:%M %Z") for t in instants]


# --- parse_repeat ------------------------------------------------------------------------------


@pytest.mark.dated
@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        ("weekly", "FREQ=WEEKLY"),
        ("Monthly", "FREQ=MONTHLY"),
        (" WEEKLY ", "FREQ=WEEKLY"),
        ("FREQ=MONTHLY;BYDAY=3TH", THIRD_THURSDAY),
        ("RRULE:freq=monthly;byday=3th", THIRD_THURSDAY),
        ("BYDAY=3TH; FREQ=MONTHLY;", THIRD_THURSDAY),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"),
        ("FREQ=MONTHLY;BYDAY=-1FR;COUNT=10", "FREQ=MONTHLY;COUNT=10;BYDAY=-1FR"),
        ("FREQ=MONTHLY;BYDAY=TH;BYSETPOS=3", "FREQ=MONTHLY;BYDAY=TH;BYSETPOS=3"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"),
        ("FREQ=MONTHLY;UNTIL=20261231T170000Z", "FREQ=MONTHLY;UNTIL=20261231T170000Z"),
    ],
)
def test_normalised_rules(spec: str, rule: str) -> None:
    assert parse_repeat(spec) == rule
    assert parse_repeat(rule) == rule  # idempotent


@pytest.mark.parametrize("spec", ["none", "NONE", "", "  "])
def test_no_repetition(spec: str) -> None:
    assert parse_repeat(spec) is None


@pytest.mark.dated
def test_a_local_until_is_stored_in_utc() -> None:
    # A date means the end of that local day; winter is UTC+1, summer UTC+2.
    assert (
        parse_repeat("FREQ=MONTHLY;UNTIL=20261231", WARSAW) == "FREQ=MONTHLY;UNTIL=20261231T225959Z"
    )
    assert (
        parse_repeat("FREQ=MONTHLY;UNTIL=20260630", WARSAW) == "FREQ=MONTHLY;UNTIL=20260630T215959Z"
    )
    assert (
        parse_repeat("FREQ=WEEKLY;UNTIL=20260630T170000", WARSAW)
        == "FREQ=WEEKLY;UNTIL=20260630T150000Z"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fortnightly", "not weekly, monthly, none or an RRULE"),
        ("FREQ=HOURLY", "DAILY, WEEKLY, MONTHLY or YEARLY"),
        ("FREQ=SOMETIMES", "FREQ=SOMETIMES"),
        ("FREQ=MONTHLY;BYDAY", "not NAME=VALUE"),
        ("FREQ=MONTHLY;BYHOUR=17", "time of day comes from the first meeting"),
        ("FREQ=MONTHLY;BYMINUTE=30", "BYMINUTE"),
        ("FREQ=MONTHLY;BYDAY=3XX", "3XX"),
        ("FREQ=MONTHLY;X-NAME=1", "X-NAME is not supported"),
        ("FREQ=MONTHLY;DTSTART=20260101T000000Z", "DTSTART is not supported"),
        ("FREQ=MONTHLY;FREQ=WEEKLY", "FREQ twice"),
        ("FREQ=MONTHLY;COUNT=0", "COUNT=0"),
        ("FREQ=MONTHLY;INTERVAL=x", "INTERVAL=X"),
        ("FREQ=MONTHLY;COUNT=3;UNTIL=20261231T000000Z", "COUNT or UNTIL"),
        ("FREQ=MONTHLY;UNTIL=20261231", "give it in UTC"),
        ("FREQ=MONTHLY;UNTIL=2026-12-31", "UNTIL=2026-12-31"),
        ("FREQ=MONTHLY;UNTIL=20261332T000000Z", "not a real date"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never happens"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "never happens"),
    ],
)
def test_bad_rules_say_why(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_repeat(spec)


# --- occurrences -------------------------------------------------------------------------------


def test_third_thursday_stays_at_17_local_across_both_changes() -> None:
    first = local(2026, 1, 15, 17, 0)
    starts = occurrences(THIRD_THURSDAY, first, WARSAW, first, local(2027, 1, 1))
    assert as_local(starts) == [
        "2026-01-15 17:00 CET",
        "2026-02-19 17:00 CET",
        "2026-03-19 17:00 CET",
        "2026-04-16 17:00 CEST",
        "2026-05-21 17:00 CEST",
        "2026-06-18 17:00 CEST",
        "2026-07-16 17:00 CEST",
        "2026-08-20 17:00 CEST",
        "2026-09-17 17:00 CEST",
        "2026-10-15 17:00 CEST",
        "2026-11-19 17:00 CET",
        "2026-12-17 17:00 CET",
    ]
    assert all(t.tzinfo is UTC for t in starts)
    assert {t.hour for t in starts} == {15, 16}  # the UTC instant moves instead


def test_weekly_keeps_the_weekday_and_local_time() -> None:
    first = local(2026, 3, 24, 18, 30)  # a Tuesday, before the change
    starts = occurrences("FREQ=WEEKLY", first, WARSAW, first, local(2026, 4, 15))
    assert as_local(starts) == [
        "2026-03-24 18:30 CET",
        "2026-03-31 18:30 CEST",
        "2026-04-07 18:30 CEST",
        "2026-04-14 18:30 CEST",
    ]
    assert starts[1] - starts[0] == timedelta(days=7, hours=-1)


def test_monthly_means_the_same_day_of_the_month() -> None:
    first = local(2026, 1, 31, 10, 0)
    starts = occurrences("FREQ=MONTHLY", first, WARSAW, first, local(2026, 8, 1))
    assert [t.astimezone(WARSAW).strftime("%m-%d") for t in starts] == [
        "01-31",
        "03-31",
        "05-31",
        "07-31",
    ]


def test_the_window_is_half_open_and_in_any_zone() -> None:
    first = local(2026, 1, 15, 17, 0)
    feb = local(2026, 2, 19, 17, 0)
    mar = local(2026, 3, 19, 17, 0)
    assert as_local(occurrences(THIRD_THURSDAY, first, WARSAW, feb, mar)) == [
        "2026-02-19 17:00 CET"
    ]
    in_utc = occurrences(THIRD_THURSDAY, first, WARSAW, feb.astimezone(UTC), mar.astimezone(UTC))
    assert as_local(in_utc) == ["2026-02-19 17:00 CET"]
    assert occurrences(THIRD_THURSDAY, first, WARSAW, mar, mar) == []


@pytest.mark.dated
def test_count_and_until_end_the_series() -> None:
    first = local(2026, 1, 15, 17, 0)
    later = local(2030, 1, 1)
    counted = occurrences("FREQ=MONTHLY;COUNT=3;BYDAY=3TH", first, WARSAW, first, later)
    assert len(counted) == 3
    rule = parse_repeat("FREQ=MONTHLY;BYDAY=3TH;UNTIL=20260416", WARSAW)
    assert rule is not None
    until = occurrences(rule, first, WARSAW, first, later)
    assert as_local(until)[-1] == "2026-04-16 17:00 CEST"  # UNTIL is inclusive
    assert len(until) == 4
    assert next_occurrence(rule, first, WARSAW, local(2026, 4, 17)) is None


def test_the_window_may_start_long_after_the_first_meeting() -> None:
    first = local(2020, 1, 16, 17, 0)
    starts = occurrences(THIRD_THURSDAY, first, WARSAW, local(2026, 5, 1), local(2026, 6, 1))
    assert as_local(starts) == ["2026-05-21 17:00 CEST"]


def test_expansion_is_capped() -> None:
    first = local(2026, 1, 1, 9, 0)
    starts = occurrences("FREQ=DAILY", first, WARSAW, first, local(2030, 1, 1))
    assert len(starts) == MAX_OCCURRENCES
    assert starts == sorted(starts)
    assert as_local(starts[:2]) == ["2026-01-01 09:00 CET", "2026-01-02 09:00 CET"]
    assert len(occurrences("FREQ=DAILY", first, WARSAW, first, local(2030, 1, 1), limit=7)) == 7


def test_an_occurrence_in_the_spring_gap_moves_forward() -> None:
    first = local(2026, 3, 15, 2, 30)  # Sundays at 02:30
    starts = occurrences("FREQ=WEEKLY", first, WARSAW, first, local(2026, 4, 6))
    assert as_local(starts) == [
        "2026-03-15 02:30 CET",
        "2026-03-22 02:30 CET",
        "2026-03-29 03:30 CEST",
        "2026-04-05 02:30 CEST",
    ]


def test_an_occurrence_in_the_autumn_fold_is_the_first_one() -> None:
    first = local(2026, 10, 18, 2, 30)
    starts = occurrences("FREQ=WEEKLY", first, WARSAW, first, local(2026, 10, 26))
    assert as_local(starts) == ["2026-10-18 02:30 CEST", "2026-10-25 02:30 CEST"]


def test_the_first_meeting_always_counts() -> None:
    first = local(2026, 1, 14, 17, 0)  # a Wednesday: not a third Thursday
    starts = occurrences(THIRD_THURSDAY, first, WARSAW, first, local(2026, 3, 1))
    assert as_local(starts) == [
        "2026-01-14 17:00 CET",
        "2026-01-15 17:00 CET",
        "2026-02-19 17:00 CET",
    ]


@pytest.mark.dated
def test_synchronisation_check() -> None:
    ensure_synchronised(THIRD_THURSDAY, local(2026, 1, 15, 17, 0), WARSAW)
    ensure_synchronised("FREQ=WEEKLY", local(2026, 1, 14, 17, 0), WARSAW)
    with pytest.raises(
        ValueError, match=r"2026-01-14 17:00 is not an occurrence.*2026-01-15 17:00"
    ):
        ensure_synchronised(THIRD_THURSDAY, local(2026, 1, 14, 17, 0), WARSAW)
    with pytest.raises(ValueError, match="no occurrence"):
        ensure_synchronised("FREQ=WEEKLY;UNTIL=20250101T000000Z", local(2026, 1, 14, 17, 0), WARSAW)


def test_next_occurrence() -> None:
    first = local(2026, 1, 15, 17, 0)
    found = next_occurrence(THIRD_THURSDAY, first, WARSAW, local(2026, 3, 20))
    assert found is not None and as_local([found]) == ["2026-04-16 17:00 CEST"]
    exactly = next_occurrence(THIRD_THURSDAY, first, WARSAW, local(2026, 4, 16, 17, 0))
    assert exactly == found


def test_bad_rules_and_naive_times_are_refused_at_expansion() -> None:
    first = local(2026, 1, 15, 17, 0)
    with pytest.raises(ValueError, match="not valid"):
        occurrences("FREQ=MONTHLY;BYDAY=9ZZ", first, WARSAW, first, local(2027, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        occurrences(THIRD_THURSDAY, datetime(2026, 1, 15, 17), WARSAW, first, local(2027, 1, 1))


def test_a_window_ten_years_after_the_first_meeting() -> None:
    first = local(2016, 1, 5, 18, 0)
    starts = occurrences("FREQ=WEEKLY", first, WARSAW, local(2026, 1, 1), local(2026, 2, 1))
    assert as_local(starts) == [
        "2026-01-06 18:00 CET",
        "2026-01-13 18:00 CET",
        "2026-01-20 18:00 CET",
        "2026-01-27 18:00 CET",
    ]
