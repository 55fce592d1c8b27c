"""Quiet hours (BOT_QUIET_HOURS): reminders falling inside wait until they end, or are dropped.

Quiet hours are local wall-clock hours (``21:00-08:00`` wraps around midnight). A reminder due
inside them is sent when they end; if the deadline or the meeting comes first, it is dropped.
Around DST changes the end is the first instant the local clock shows the end time: after an
autumn fold that may be the second 02:30; inside a spring gap it is the moment of the jump.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import QuietHours
from bot.reminders.localtime import first_instant_at_or_after, require_aware


def in_quiet_hours(moment: datetime, quiet: QuietHours | None, tz: ZoneInfo) -> bool:
    """Whether `moment` falls inside the quiet hours."""
    require_aware(moment)
    return quiet is not None and quiet.contains(moment.astimezone(tz).time())


# Non-urgent messages sent this close to the quiet hours (after they end, before they begin)
# arrive without a sound: the backlog held overnight goes out at 08:00 sharp, when many people
# are still asleep or on their way.
QUIET_MARGIN = timedelta(minutes=30)


def near_quiet_hours(
    moment: datetime, quiet: QuietHours | None, tz: ZoneInfo, margin: timedelta = QUIET_MARGIN
) -> bool:
    """Whether `moment` lies outside the quiet hours but within `margin` of them."""
    require_aware(moment)
    if quiet is None or in_quiet_hours(moment, quiet, tz):
        return False
    return in_quiet_hours(moment - margin, quiet, tz) or in_quiet_hours(moment + margin, quiet, tz)


def next_allowed(moment: datetime, quiet: QuietHours | None, tz: ZoneInfo) -> datetime:
    """`moment` (in UTC) if it is outside the quiet hours, else the end of that quiet period."""
    require_aware(moment)
    instant = moment.astimezone(UTC)
    if quiet is None or not in_quiet_hours(instant, quiet, tz):
        return instant
    local = instant.astimezone(tz)
    # Inside and before the end time: the period ends today; after it (the evening part of a
    # wrapping period): tomorrow.
    day = local.date() if local.time() < quiet.end else local.date() + timedelta(days=1)
    return first_instant_at_or_after(datetime.combine(day, quiet.end), tz, instant)


def reminder_fate(
    due: datetime, target: datetime, quiet: QuietHours | None, tz: ZoneInfo
) -> datetime | None:
    """When a reminder due at `due` goes out (UTC), or None to drop it: the target comes first."""
    require_aware(target, "target")
    send_at = next_allowed(due, quiet, tz)
    return send_at if send_at < target.astimezone(UTC) else None


@dataclass(frozen=True)
class PlannedReminder:
    """One reminder to send: when it was due by its offset and when quiet hours let it out."""

    due: datetime
    send_at: datetime


def plan_reminders(
    target: datetime,
    due_times: Iterable[datetime],
    quiet: QuietHours | None,
    tz: ZoneInfo,
    *,
    now: datetime,
) -> list[PlannedReminder]:
    """The reminders to store for one target, sorted by send time.

    Drops those due before `now` (already past at publication), those that quiet hours would
    push to or past the target, and those that quiet hours push onto the same send time as an
    earlier one (two reminders at 08:00 say the same; the first due is kept).
    """
    require_aware(now, "now")
    planned: dict[datetime, PlannedReminder] = {}
    for due in sorted(t.astimezone(UTC) for t in due_times):
        if due < now:
            continue
        send_at = reminder_fate(due, target, quiet, tz)
        if send_at is not None:
            planned.setdefault(send_at, PlannedReminder(due, send_at))
    return sorted(planned.values(), key=lambda p: p.send_at)
