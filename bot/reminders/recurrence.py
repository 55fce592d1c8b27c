"""Recurring meetings: `--repeat weekly|monthly|none|RRULE` and the occurrences of a rule.

- ``weekly`` is ``FREQ=WEEKLY``: every week on the first meeting's weekday.
- ``monthly`` is ``FREQ=MONTHLY``: every month on the first meeting's *day of the month* (a
  first meeting on the 31st skips the months without one, as RFC 5545 says). For "the third
  Thursday" write the rule: ``FREQ=MONTHLY;BYDAY=3TH``.
- Anything containing ``FREQ=`` is an RFC 5545 RRULE (an ``RRULE:`` prefix is allowed). The
  time of day always comes from the first meeting, so ``BYHOUR``/``BYMINUTE``/``BYSECOND`` and
  frequencies finer than daily are refused. ``UNTIL`` is stored in UTC, as RFC 5545 requires
  beside a DTSTART with a TZID; a date or a local time is read in the bot's time zone (a date
  means the end of that day).
- ``none`` (or an empty text) means no repetition: :func:`parse_repeat` returns None.

Occurrences are computed on local wall-clock time, so "every third Thursday at 17:00" stays at
17:00 in Europe/Warsaw on both sides of a DST change (the UTC instant moves instead). The rules of
:mod:`bot.reminders.localtime` apply to local times that do not exist or occur twice.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from bot.reminders.localtime import require_aware, resolve_local

MAX_OCCURRENCES = 500
# How many occurrences are walked from the first meeting at most: 270 years of a daily rule.
_MAX_STEPS = 100_000
_KEY_ORDER = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYMONTH",
    "BYWEEKNO",
    "BYYEARDAY",
    "BYMONTHDAY",
    "BYDAY",
    "BYSETPOS",
    "WKST",
)
_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_TIME_OF_DAY_KEYS = ("BYHOUR", "BYMINUTE", "BYSECOND")
_WORDS = {"weekly": "FREQ=WEEKLY", "monthly": "FREQ=MONTHLY"}
_UNTIL = re.compile(r"(\d{8})(?:T(\d{6})(Z?))?")
# A fixed start for validating a rule before any meeting exists (a Monday, not in a DST change).
_SAMPLE_START = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def parse_repeat(spec: str, tz: ZoneInfo | None = None) -> str | None:
    """Normalise `--repeat` to an RRULE value (no ``RRULE:`` prefix), or None for no repetition.

    Raises ValueError naming the problem. `tz` is needed only to read an UNTIL that is a date or
    a local time (it is converted to UTC).
    """
    text = spec.strip()
    if text.lower() in ("", "none"):
        return None
    if text.lower() in _WORDS:
        return _WORDS[text.lower()]
    if "FREQ=" not in text.upper():
        raise ValueError(
            f"repeat {spec!r} is not weekly, monthly, none or an RRULE "
            "such as FREQ=MONTHLY;BYDAY=3TH"
        )
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    parts = _split(text)
    _check_parts(parts)
    if "UNTIL" in parts:
        parts["UNTIL"] = _until_utc(parts["UNTIL"], tz)
    rule = ";".join(f"{key}={parts[key]}" for key in _KEY_ORDER if key in parts)
    _build(rule, _SAMPLE_START)  # dateutil's own checks (BYDAY values, ranges, ...)
    _check_satisfiable(parts)
    return rule


def _check_satisfiable(parts: dict[str, str]) -> None:
    """Refuse a rule that never produces a date, e.g. the 30th of February.

    Checked once here, on the rule without COUNT and UNTIL: dateutil searches up to the year
    9999 for such a rule (seconds), which must not happen later inside the scheduler.
    """
    endless = ";".join(f"{k}={v}" for k, v in parts.items() if k not in ("COUNT", "UNTIL"))
    if next(iter(_build(endless, _SAMPLE_START)), None) is None:
        raise ValueError(f"RRULE {endless!r} never happens (no date matches all its parts)")


def _split(text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip().upper(), value.strip().upper()
        if not sep or not key or not value:
            raise ValueError(f"RRULE part {item!r} is not NAME=VALUE")
        if key in parts:
            raise ValueError(f"RRULE has {key} twice")
        parts[key] = value
    return parts


def _check_parts(parts: dict[str, str]) -> None:
    if "FREQ" not in parts:
        raise ValueError("RRULE needs FREQ (DAILY, WEEKLY, MONTHLY or YEARLY)")
    if parts["FREQ"] not in _FREQUENCIES:
        raise ValueError(
            f"RRULE FREQ={parts['FREQ']}: meetings repeat DAILY, WEEKLY, MONTHLY or YEARLY"
        )
    for key in parts:
        if key in _TIME_OF_DAY_KEYS:
            raise ValueError(f"RRULE {key}: the time of day comes from the first meeting's start")
        if key not in _KEY_ORDER:
            raise ValueError(f"RRULE part {key} is not supported ({', '.join(_KEY_ORDER)})")
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError("RRULE may have COUNT or UNTIL, not both")
    for key in ("COUNT", "INTERVAL"):
        if key in parts and (not parts[key].isdigit() or int(parts[key]) < 1):
            raise ValueError(f"RRULE {key}={parts[key]} is not a positive whole number")


def _until_utc(value: str, tz: ZoneInfo | None) -> str:
    match = _UNTIL.fullmatch(value)
    if match is None:
        raise ValueError(f"RRULE UNTIL={value} is not YYYYMMDD or YYYYMMDDTHHMMSS[Z]")
    day_text, time_text, zulu = match.groups()
    try:
        moment = datetime.strptime(day_text + (time_text or "235959"), "%Y%m%d%H%M%S")
    except ValueError:
        raise ValueError(f"RRULE UNTIL={value} is not a real date and time") from None
    if zulu:
        instant = moment.replace(tzinfo=UTC)
    elif tz is None:
        raise ValueError(f"RRULE UNTIL={value}: give it in UTC (YYYYMMDDTHHMMSSZ)")
    else:
        instant = resolve_local(moment, tz)
    return instant.strftime("%Y%m%dT%H%M%SZ")


def _build(rule: str, local_start: datetime) -> Any:
    """The dateutil rrule for `rule` starting at `local_start` (raises ValueError if invalid)."""
    try:
        return rrulestr(rule, dtstart=local_start)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"RRULE {rule!r} is not valid: {exc}") from None


def occurrences(
    rrule: str,
    first_start: datetime,
    tz: ZoneInfo,
    after: datetime,
    before: datetime,
    *,
    limit: int = MAX_OCCURRENCES,
) -> list[datetime]:
    """Starts of the meeting in ``[after, before)``, sorted, aware UTC, at most `limit`.

    The first meeting itself always counts, also if the rule would not produce it (check with
    :func:`ensure_synchronised` when the meeting is created: RFC 5545 leaves that undefined).
    """
    for name, moment in (("first_start", first_start), ("after", after), ("before", before)):
        require_aware(moment, name)
    local_start = first_start.astimezone(tz)
    rule = _build(rrule, local_start)
    low, high = after.astimezone(UTC), before.astimezone(UTC)
    found: set[datetime] = set()
    if low <= local_start < high:
        found.add(local_start.astimezone(UTC))
    for candidate in islice(rule, _MAX_STEPS):
        instant = _instant(candidate, tz)
        if instant >= high or len(found) >= limit:
            break
        if instant >= low:
            found.add(instant)
    return sorted(found)[:limit]


def _instant(candidate: datetime, tz: ZoneInfo) -> datetime:
    # dateutil keeps the start's tzinfo and builds wall-clock times: resolve them by our rules.
    return resolve_local(candidate.replace(tzinfo=None), tz)


def ensure_synchronised(rrule: str, first_start: datetime, tz: ZoneInfo) -> None:
    """Raise ValueError when the first meeting is not itself an occurrence of the rule.

    RFC 5545 leaves such a calendar undefined (clients disagree on showing the first meeting);
    the error names the rule's first date so staff can correct the start or the rule.
    """
    require_aware(first_start, "first_start")
    local_start = first_start.astimezone(tz)
    first = next(iter(islice(_build(rrule, local_start), 1)), None)
    if first is None:
        raise ValueError(f"RRULE {rrule!r} has no occurrence from {local_start:%Y-%m-%d %H:%M}")
    if first.replace(tzinfo=None) != local_start.replace(tzinfo=None):
        raise ValueError(
            f"the first meeting {local_start:%Y-%m-%d %H:%M} is not an occurrence of {rrule}; "
            f"the rule's first one is {first:%Y-%m-%d %H:%M}"
        )


def next_occurrence(
    rrule: str, first_start: datetime, tz: ZoneInfo, after: datetime
) -> datetime | None:
    """The first start at or after `after` within ten years, or None (the series has ended)."""
    horizon = after + timedelta(days=3653)
    found = occurrences(rrule, first_start, tz, after, horizon, limit=1)
    return found[0] if found else None
