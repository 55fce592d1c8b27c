"""Local wall-clock times <-> instants, with explicit rules for the DST gap and fold.

Rules (the same as RFC 5545 section 3.3.5 and Python's ``fold=0``):

- A wall time that occurs twice (the autumn fold, e.g. 02:30 on 25.10.2026 in Europe/Warsaw)
  means its *first* occurrence, still in summer time: a reminder rather early than late.
- A wall time that does not exist (the spring gap, e.g. 02:30 on 29.03.2026 in Europe/Warsaw)
  is read with the offset in force before the gap, which moves it *forward* by the length of
  the gap: 02:30 becomes 03:30 summer time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def require_aware(moment: datetime, name: str = "moment") -> None:
    """Refuse naive datetimes: they are ambiguous."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")


def resolve_local(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of a naive local wall-clock time, by the module's fold and gap rules."""
    if wall.tzinfo is not None:
        raise ValueError(f"expected a naive local wall-clock time, got {wall.isoformat()}")
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def local_at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of `at` o'clock local time on `day` (see the module's rules)."""
    return resolve_local(datetime.combine(day, at.replace(tzinfo=None)), tz)


def exists(wall: datetime, tz: ZoneInfo) -> bool:
    """Whether a naive local wall-clock time occurs at all (False inside a spring gap)."""
    instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    return instant.astimezone(tz).replace(tzinfo=None) == wall


def first_instant_at_or_after(wall: datetime, tz: ZoneInfo, not_before: datetime) -> datetime:
    """The first instant, not before `not_before`, when the local clock shows `wall`.

    For a time that exists this is its first occurrence that is not before `not_before` (after
    an autumn fold the second occurrence may be the answer); inside a spring gap it is the
    moment the clocks jump (03:00 for 02:30 in Europe/Warsaw), not the RFC 5545 reading.
    Raises ValueError when every occurrence of `wall` is before `not_before`.
    """
    require_aware(not_before, "not_before")
    earliest = not_before.astimezone(UTC)
    candidates = (
        [_gap_end(wall, tz)]
        if not exists(wall, tz)
        else [wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)]
    )
    for instant in candidates:
        if instant >= earliest:
            return instant
    raise ValueError(f"{wall.isoformat()} local is before {not_before.isoformat()}")


def _gap_end(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant a spring gap containing `wall` ends (the first second after the jump)."""
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)  # read with the later offset: before
    high = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)  # read with the earlier one: after
    second = timedelta(seconds=1)
    while high - low > second:
        middle = low + ((high - low) // second // 2) * second
        if middle.astimezone(tz).replace(tzinfo=None) < wall:
            low = middle
        else:
            high = middle
    return high
