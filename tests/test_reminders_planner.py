"""Planning reminders (pure): targets, the horizon of recurring meetings, quiet hours, urgency,
and whether a stored reminder is still wanted after an edit."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import parse_quiet_hours
from bot.reminders.planner import Reason, Schedule, plan, send_time, targets, wanted

WARSAW = ZoneInfo("Europe/Warsaw")
QUIET = parse_quiet_hours("21:00-08:00")


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=WARSAW)  # type: ignore[misc]


def shown(instants: list[datetime]) -> list[str]:
    return [t.astimezone(WARSAW).strftime("%Y-%m-%d %H:%M") for t in instants]


NOW = local(2030, 1, 1, 12, 0)
DEADLINE = Schedule(anchor=local(2030, 12, 1, 12, 0), remind="14d@09:00,1d", publish_at=NOW)
SERIES = Schedule(
    anchor=local(2030, 1, 17, 17, 0),
    remind="1d@18:00,2h",
    publish_at=NOW,
    repeat="FREQ=MONTHLY;BYDAY=3TH",
)


def test_a_one_off_gets_all_its_reminders_however_far() -> None:
    planned = plan(DEADLINE, WARSAW, None, now=NOW, horizon=timedelta(days=1))
    assert shown([p.send_at for p in planned]) == ["2030-11-17 09:00", "2030-11-30 12:00"]
    assert all(p.target == DEADLINE.anchor and p.dropped is None for p in planned)


def test_nothing_before_publication_or_now() -> None:
    later = dataclasses.replace(DEADLINE, publish_at=local(2030, 11, 20, 0, 0))
    assert shown([p.due for p in plan(later, WARSAW, None, now=NOW)]) == ["2030-11-30 12:00"]
    assert plan(DEADLINE, WARSAW, None, now=local(2030, 12, 1, 0, 0)) == []
    assert plan(dataclasses.replace(DEADLINE, remind="none"), WARSAW, None, now=NOW) == []


def test_a_series_is_planned_for_the_horizon_and_the_longest_lead() -> None:
    planned = plan(SERIES, WARSAW, None, now=NOW, horizon=timedelta(days=60))
    assert sorted({p.target for p in planned}) == [
        local(2030, 1, 17, 17, 0),
        local(2030, 2, 21, 17, 0),
    ]
    longer = dataclasses.replace(SERIES, remind="3w")
    far = plan(longer, WARSAW, None, now=NOW, horizon=timedelta(days=60))
    # 60 days plus three weeks (and a day): the March meeting's reminder is planned already.
    assert local(2030, 3, 21, 17, 0) in {p.target for p in far}
    assert targets(SERIES, WARSAW, after=local(2030, 2, 1), before=local(2030, 4, 1)) == [
        local(2030, 2, 21, 17, 0),
        local(2030, 3, 21, 17, 0),
    ]


def test_quiet_hours_push_or_drop_and_urgent_ones_ignore_them() -> None:
    early = Schedule(anchor=local(2030, 5, 8, 7, 30), remind="2h,1d@20:00,1d@22:00", publish_at=NOW)
    planned = plan(early, WARSAW, QUIET, now=NOW)
    assert [(shown([p.due])[0], shown([p.send_at])[0], p.dropped) for p in planned] == [
        ("2030-05-07 20:00", "2030-05-07 20:00", None),
        ("2030-05-07 22:00", "2030-05-07 22:00", Reason.QUIET_HOURS),
        ("2030-05-08 05:30", "2030-05-08 05:30", Reason.QUIET_HOURS),
    ]
    urgent = plan(dataclasses.replace(early, urgent=True), WARSAW, QUIET, now=NOW)
    assert [p.dropped for p in urgent] == [None, None, None]
    merged = Schedule(anchor=local(2030, 5, 8, 12, 0), remind="12h,10h", publish_at=NOW)
    first, second = plan(merged, WARSAW, QUIET, now=NOW)
    assert shown([first.send_at, second.send_at]) == ["2030-05-08 08:00"] * 2
    assert (first.dropped, second.dropped) == (None, Reason.SAME_TIME)


def test_a_stored_reminder_is_checked_against_the_announcement_as_it_is_now() -> None:
    (fortnight, day_before) = plan(DEADLINE, WARSAW, None, now=NOW)
    assert wanted(DEADLINE, day_before.target, day_before.due, WARSAW)
    moved = dataclasses.replace(DEADLINE, anchor=local(2030, 12, 2, 12, 0))
    assert not wanted(moved, day_before.target, day_before.due, WARSAW)
    fewer = dataclasses.replace(DEADLINE, remind="1d")
    assert not wanted(fewer, fortnight.target, fortnight.due, WARSAW)
    assert wanted(fewer, day_before.target, day_before.due, WARSAW)
    february = local(2030, 2, 21, 17, 0)
    assert wanted(SERIES, february, local(2030, 2, 20, 18, 0), WARSAW)
    assert not wanted(SERIES, local(2030, 2, 20, 17, 0), local(2030, 2, 19, 18, 0), WARSAW)
    assert not wanted(dataclasses.replace(SERIES, repeat="FREQ=WEEKLY"), february, february, WARSAW)


def test_send_time_of_a_late_reminder() -> None:
    target = local(2030, 5, 8, 12, 0)
    due = local(2030, 5, 7, 12, 0)
    assert send_time(due, target, QUIET, WARSAW, now=local(2030, 5, 7, 11, 0)) == due
    assert send_time(due, target, QUIET, WARSAW, now=local(2030, 5, 7, 15, 0)) == local(
        2030, 5, 7, 15, 0
    )
    assert send_time(due, target, QUIET, WARSAW, now=local(2030, 5, 7, 23, 0)) == local(
        2030, 5, 8, 8, 0
    )
    assert send_time(due, target, QUIET, WARSAW, now=local(2030, 5, 8, 12, 0)) is None
