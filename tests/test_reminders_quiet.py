"""Quiet hours: reminders wait until they end, or are dropped when the target comes first."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import QuietHours, parse_quiet_hours
from bot.reminders.offsets import DEFAULT_OFFSETS, parse_offsets, reminder_times
from bot.reminders.quiet import (
    PlannedReminder,
    in_quiet_hours,
    next_allowed,
    plan_reminders,
    reminder_fate,
)

WARSAW = ZoneInfo("Europe/Warsaw")
NIGHT = QuietHours(time(21, 0), time(8, 0))
LUNCH = QuietHours(time(13, 0), time(14, 0))


def local(*parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=WARSAW, fold=fold)  # type: ignore[misc]


def shown(moment: datetime) -> str:
    return moment.astimezone(WARSAW).strftime("%Y-%m-%d %H:%M %Z")


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (local(2026, 5, 12, 22, 0), "2026-05-13 08:00 CEST"),
        (local(2026, 5, 12, 21, 0), "2026-05-13 08:00 CEST"),
        (local(2026, 5, 12, 23, 59, 59), "2026-05-13 08:00 CEST"),
        (local(2026, 5, 13, 0, 0), "2026-05-13 08:00 CEST"),
        (local(2026, 5, 13, 3, 0), "2026-05-13 08:00 CEST"),
        (local(2026, 5, 13, 7, 59, 59), "2026-05-13 08:00 CEST"),
        (local(2026, 5, 13, 8, 0), "2026-05-13 08:00 CEST"),
        (local(2026, 5, 13, 12, 0), "2026-05-13 12:00 CEST"),
        (local(2026, 5, 13, 20, 59), "2026-05-13 20:59 CEST"),
        (local(2026, 12, 31, 23, 0), "2027-01-01 08:00 CET"),
    ],
)
def test_a_period_that_wraps_around_midnight(moment: datetime, expected: str) -> None:
    allowed = next_allowed(moment, NIGHT, WARSAW)
    assert shown(allowed) == expected
    assert allowed.tzinfo is UTC


def test_a_period_within_one_day() -> None:
    assert shown(next_allowed(local(2026, 5, 13, 13, 20), LUNCH, WARSAW)) == "2026-05-13 14:00 CEST"
    assert shown(next_allowed(local(2026, 5, 13, 14, 0), LUNCH, WARSAW)) == "2026-05-13 14:00 CEST"
    assert shown(next_allowed(local(2026, 5, 13, 23, 0), LUNCH, WARSAW)) == "2026-05-13 23:00 CEST"


def test_no_quiet_hours() -> None:
    moment = local(2026, 5, 13, 3, 0)
    assert next_allowed(moment, None, WARSAW) == moment
    assert not in_quiet_hours(moment, None, WARSAW)
    assert in_quiet_hours(moment, NIGHT, WARSAW)


def test_the_default_setting() -> None:
    quiet = parse_quiet_hours("21:00-08:00")
    assert shown(next_allowed(local(2026, 5, 12, 22, 0), quiet, WARSAW)) == "2026-05-13 08:00 CEST"


def test_nights_of_the_clock_changes() -> None:
    spring = local(2026, 3, 28, 23, 0)
    allowed = next_allowed(spring, NIGHT, WARSAW)
    assert shown(allowed) == "2026-03-29 08:00 CEST"
    assert allowed - spring == timedelta(hours=8)  # a 9-hour wall-clock gap, 8 real hours
    autumn = local(2026, 10, 24, 22, 0)
    allowed = next_allowed(autumn, NIGHT, WARSAW)
    assert shown(allowed) == "2026-10-25 08:00 CET"
    assert allowed - autumn == timedelta(hours=11)


def test_an_end_inside_the_spring_gap_is_the_moment_of_the_jump() -> None:
    quiet = QuietHours(time(21, 0), time(2, 30))
    allowed = next_allowed(local(2026, 3, 29, 1, 0), quiet, WARSAW)
    assert allowed == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert shown(allowed) == "2026-03-29 03:00 CEST"


def test_an_end_inside_the_autumn_fold_is_the_next_one_to_come() -> None:
    quiet = QuietHours(time(21, 0), time(2, 30))
    first_pass = local(2026, 10, 25, 2, 10)  # 02:10 CEST
    assert next_allowed(first_pass, quiet, WARSAW) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    second_pass = local(2026, 10, 25, 2, 10, fold=1)  # 02:10 CET, an hour later
    assert second_pass.astimezone(UTC) == datetime(2026, 10, 25, 1, 10, tzinfo=UTC)
    assert next_allowed(second_pass, quiet, WARSAW) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "quiet",
    [NIGHT, LUNCH, QuietHours(time(21, 0), time(2, 30)), QuietHours(time(2, 15), time(2, 45))],
)
@pytest.mark.parametrize("start", [local(2026, 3, 27), local(2026, 10, 23), local(2026, 7, 1)])
def test_the_result_is_the_first_allowed_instant(quiet: QuietHours, start: datetime) -> None:
    """Every 7 minutes over three days around each change: never early, never needlessly late."""
    step = timedelta(minutes=7)
    moment = start.astimezone(UTC)
    for _ in range(3 * 24 * 60 // 7):
        allowed = next_allowed(moment, quiet, WARSAW)
        assert allowed >= moment
        assert not in_quiet_hours(allowed, quiet, WARSAW)
        if in_quiet_hours(moment, quiet, WARSAW):
            assert in_quiet_hours(allowed - timedelta(seconds=1), quiet, WARSAW)
            assert allowed - moment < timedelta(hours=24)
        else:
            assert allowed == moment
        moment += step


def test_fate_waits_for_the_end_of_quiet_hours() -> None:
    meeting = local(2026, 5, 13, 9, 0)
    send_at = reminder_fate(local(2026, 5, 13, 7, 0), meeting, NIGHT, WARSAW)
    assert send_at is not None and shown(send_at) == "2026-05-13 08:00 CEST"
    assert reminder_fate(local(2026, 5, 13, 8, 30), meeting, NIGHT, WARSAW) == local(
        2026, 5, 13, 8, 30
    )


def test_fate_drops_a_reminder_the_target_would_overtake() -> None:
    assert (
        reminder_fate(local(2026, 5, 13, 5, 30), local(2026, 5, 13, 7, 30), NIGHT, WARSAW) is None
    )
    # Exactly at the target is too late as well.
    assert reminder_fate(local(2026, 5, 13, 6, 0), local(2026, 5, 13, 8, 0), NIGHT, WARSAW) is None
    assert reminder_fate(local(2026, 5, 13, 6, 0), local(2026, 5, 13, 8, 1), NIGHT, WARSAW) == (
        local(2026, 5, 13, 8, 0)
    )


def test_plan_for_an_early_meeting() -> None:
    meeting = local(2026, 5, 13, 8, 30)
    due = reminder_times(meeting, DEFAULT_OFFSETS["meeting"], WARSAW)
    plan = plan_reminders(meeting, due, NIGHT, WARSAW, now=local(2026, 5, 1))
    assert [(shown(p.due), shown(p.send_at)) for p in plan] == [
        ("2026-05-12 18:00 CEST", "2026-05-12 18:00 CEST"),
        ("2026-05-13 06:30 CEST", "2026-05-13 08:00 CEST"),
    ]


def test_plan_merges_reminders_pushed_to_the_same_moment() -> None:
    meeting = local(2026, 5, 13, 9, 30)
    due = reminder_times(meeting, parse_offsets("3h,2h,1h"), WARSAW)
    plan = plan_reminders(meeting, due, NIGHT, WARSAW, now=local(2026, 5, 1))
    assert plan == [
        PlannedReminder(local(2026, 5, 13, 6, 30).astimezone(UTC), local(2026, 5, 13, 8, 0)),
        PlannedReminder(local(2026, 5, 13, 8, 30).astimezone(UTC), local(2026, 5, 13, 8, 30)),
    ]


def test_plan_skips_what_is_already_past_and_what_cannot_go_out() -> None:
    deadline = local(2026, 4, 30, 7, 0)
    due = reminder_times(deadline, parse_offsets("14d@09:00,3d@09:00,1d@09:00,2h"), WARSAW)
    plan = plan_reminders(deadline, due, NIGHT, WARSAW, now=local(2026, 4, 20, 12, 0))
    assert [shown(p.send_at) for p in plan] == ["2026-04-27 09:00 CEST", "2026-04-29 09:00 CEST"]
    assert plan_reminders(deadline, [], NIGHT, WARSAW, now=local(2026, 4, 20)) == []
