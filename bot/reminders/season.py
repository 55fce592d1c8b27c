"""The 1.5% tax campaign: its season and the default reminder schedule.

A `tax-campaign` announcement belongs to one year's season, 15 January 00:00 to 30 April 23:59
local time (the tax return deadline). Besides the notice at publication, staff choose a
schedule; the default is every Monday of April at 10:00 plus 7 days and 1 day before 30 April
at 10:00 (the same instants as the kind's default offsets ``mondays@10:00,7d@10:00,1d@10:00``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.reminders.localtime import local_at, require_aware

SEASON_START = (1, 15)  # 15 January
SEASON_END = (4, 30)  # 30 April
SEASON_END_TIME = time(23, 59)
DEFAULT_AT = time(10, 0)
DEFAULT_BEFORE = (7, 1)
MONDAY = 0


def tax_season(year: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """(start, end) of the year's season: 15 Jan 00:00 and 30 Apr 23:59 local, in UTC."""
    start = local_at(date(year, *SEASON_START), time(0, 0), tz)
    end = local_at(date(year, *SEASON_END), SEASON_END_TIME, tz)
    return start, end


def campaign_deadline(year: int, tz: ZoneInfo) -> datetime:
    """The campaign's deadline: 30 April 23:59 local of `year`, in UTC."""
    return tax_season(year, tz)[1]


def campaign_year(moment: datetime, tz: ZoneInfo) -> int:
    """The season a campaign published at `moment` belongs to: this year's until 30 April
    23:59 local, next year's after it (the campaign is re-run each year)."""
    require_aware(moment)
    year = moment.astimezone(tz).year
    return year if moment.astimezone(UTC) <= campaign_deadline(year, tz) else year + 1


def april_mondays(year: int) -> list[date]:
    """Every Monday in April of `year`."""
    first = date(year, 4, 1)
    monday = first + timedelta(days=(MONDAY - first.weekday()) % 7)
    return [
        monday + timedelta(weeks=n) for n in range(5) if (monday + timedelta(weeks=n)).month == 4
    ]


def campaign_times(
    year: int,
    tz: ZoneInfo,
    mondays_at: time | None = DEFAULT_AT,
    before: Iterable[int] = DEFAULT_BEFORE,
    *,
    before_at: time = DEFAULT_AT,
    after: datetime | None = None,
) -> list[datetime]:
    """The campaign's reminder instants for `year`: sorted, distinct, aware UTC.

    Each Monday of April at `mondays_at` (None: no Mondays) and, for each n in `before`, n days
    before 30 April at `before_at`; instants before `after` (when given) or not before the
    deadline are dropped.
    """
    if after is not None:
        require_aware(after, "after")
    days = [] if mondays_at is None else [(day, mondays_at) for day in april_mondays(year)]
    end_day = date(year, *SEASON_END)
    for n in before:
        if n < 0:
            raise ValueError(f"days before 30 April must not be negative, got {n}")
        days.append((end_day - timedelta(days=n), before_at))
    deadline = campaign_deadline(year, tz)
    instants = {local_at(day, at, tz) for day, at in days}
    return sorted(t for t in instants if t < deadline and (after is None or t >= after))
