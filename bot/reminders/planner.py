"""Which reminders an announcement gets: its targets, and for each target the reminders to send.

A *target* is what a reminder is about: the deadline, a meeting's start, or the start of one
occurrence of a recurring meeting. For each target the `--remind` offsets give the instants the
reminders are *due*; quiet hours may push one later (its *send* time) or drop it when the
target would come first (bot.reminders.quiet). The result is what the database stores, one row
per reminder, so that nothing exists only in a scheduler's memory.

Recurring meetings are planned up to a horizon (60 days of occurrences, plus the longest offset,
so each reminder is planned at least the horizon before it is due); a scheduler tops the plan up
as time goes on. Pure functions: no database, no clock (the caller passes `now`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.config import QuietHours
from bot.reminders.localtime import require_aware
from bot.reminders.offsets import parse_offsets, reminder_times
from bot.reminders.quiet import reminder_fate
from bot.reminders.recurrence import occurrences

HORIZON = timedelta(days=60)
# A calendar day may be 25 hours long: offsets in days reach a little further than 24 h each.
_LEAD_SLACK = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)


class Reason(StrEnum):
    """Why a reminder was dropped or cancelled (stored as its code)."""

    QUIET_HOURS = "quiet-hours"  # quiet hours would last until the deadline or meeting
    SAME_TIME = "same-time"  # quiet hours push it onto another reminder's moment
    TARGET_PASSED = "target-passed"  # the deadline or meeting passed before it could go out
    EDITED = "edited"  # the announcement changed: it no longer has this reminder
    CANCELLED = "cancelled"  # the announcement was cancelled


@dataclass(frozen=True)
class Schedule:
    """What planning needs to know about an announcement (aware datetimes)."""

    anchor: datetime  # the deadline, or the (first) start of a meeting
    remind: str  # the `--remind` list
    publish_at: datetime
    repeat: str | None = None  # the RRULE of a recurring meeting
    urgent: bool = False  # urgent announcements ignore quiet hours

    def __post_init__(self) -> None:
        require_aware(self.anchor, "anchor")
        require_aware(self.publish_at, "publish_at")


@dataclass(frozen=True)
class PlannedReminder:
    """One reminder row to store: `dropped` is None when it will be sent at `send_at`."""

    target: datetime
    due: datetime
    send_at: datetime
    dropped: Reason | None = None


def targets(
    schedule: Schedule, tz: ZoneInfo, *, after: datetime, before: datetime
) -> list[datetime]:
    """The deadline or starts in ``[after, before)`` (UTC, sorted)."""
    if schedule.repeat is None:
        anchor = schedule.anchor.astimezone(UTC)
        return [anchor] if after <= anchor < before else []
    return occurrences(schedule.repeat, schedule.anchor, tz, after, before)


def plan(
    schedule: Schedule,
    tz: ZoneInfo,
    quiet: QuietHours | None,
    *,
    now: datetime,
    horizon: timedelta = HORIZON,
) -> list[PlannedReminder]:
    """The reminders from `now` on (none before publication), sorted by target, then due time.

    A one-off deadline or meeting gets all its reminders, however far; a recurring meeting those
    of its occurrences within `horizon` (plus the longest offset).
    """
    require_aware(now, "now")
    offsets = parse_offsets(schedule.remind)
    if not offsets:
        return []
    after = max(now, schedule.publish_at).astimezone(UTC)
    if schedule.repeat is None:
        before = schedule.anchor.astimezone(UTC) + _ONE_SECOND
    else:
        lead = max(offset.lead_estimate() for offset in offsets) + _LEAD_SLACK
        before = after + horizon + lead
    quiet_hours = None if schedule.urgent else quiet
    planned: list[PlannedReminder] = []
    for target in targets(schedule, tz, after=after, before=before):
        sending: set[datetime] = set()
        for due in reminder_times(target, offsets, tz, after=after):
            send_at = reminder_fate(due, target, quiet_hours, tz)
            if send_at is None:
                planned.append(PlannedReminder(target, due, due, Reason.QUIET_HOURS))
            elif send_at in sending:
                planned.append(PlannedReminder(target, due, send_at, Reason.SAME_TIME))
            else:
                sending.add(send_at)
                planned.append(PlannedReminder(target, due, send_at))
    return planned


def wanted(schedule: Schedule, target: datetime, due: datetime, tz: ZoneInfo) -> bool:
    """Whether the announcement, as it is now, still has a reminder due at `due` for `target`.

    Checked again when a stored reminder fires: the announcement may have been edited since.
    """
    require_aware(target, "target")
    require_aware(due, "due")
    instant = target.astimezone(UTC)
    if instant not in targets(schedule, tz, after=instant, before=instant + _ONE_SECOND):
        return False
    return due.astimezone(UTC) in reminder_times(instant, parse_offsets(schedule.remind), tz)


def send_time(
    due: datetime, target: datetime, quiet: QuietHours | None, tz: ZoneInfo, *, now: datetime
) -> datetime | None:
    """When a reminder due at `due` may go out if it is sent no earlier than `now`.

    None when the target comes first (or has passed): the reminder is dropped.
    """
    return reminder_fate(max(due, now), target, quiet, tz)
