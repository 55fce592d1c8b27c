"""Dates and times as staff type them: '30.04.2026 23:59', '2026-04-30T23:59', '30.04.2026',
and the common words: 'jutro 9:00', 'w piątek 18:00', 'tomorrow 9:00' (Ukrainian too).

Local times are in BOT_TIMEZONE; ISO 8601 with an offset is taken as written. Words are resolved
against the injected clock (`now`, by default bot.clock.utcnow) in BOT_TIMEZONE:

- a day (the words are in bot.announcements.daywords): today, tomorrow, (the) day after
  tomorrow, or a weekday in Polish, Ukrainian or English, with or without its preposition
  ("w piątek", "piątek", "on Friday"; Ukrainian with any apostrophe); a weekday is the next
  such day after today, 1 to 7 days ahead: on a Friday "w piątek" is the Friday a week later
  (today is "dziś");
- then optionally a time: "18:00", "18.00" or "18", also after "o", "at", "godz.",
  "o godzinie" (and their Ukrainian counterparts).

A day without a time is handled as a bare date: `date_only_time` (23:59 for deadlines), else a
TimeFormatError asking for the time. An impossible date or time (31.02.2027, 25:00, month 13)
is refused saying what is wrong.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from babel.dates import format_date

from bot.announcements.daywords import (
    DAYS_AHEAD,
    TIME_CONNECTORS,
    WEEKDAY_PREPOSITIONS,
    WEEKDAYS,
    key,
)
from bot.clock import utcnow
from bot.i18n import N_, LocalisedError, current_language
from bot.reminders.timeleft import days_words

_DOTTED = re.compile(
    r"^(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})"
    r"(?:[\s,T]+(?P<hour>\d{1,2})[:.](?P<minute>\d{2}))?$"
)
_ISO = re.compile(
    r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"(?P<rest>(?:[T ](?P<hour>\d{2}):(?P<minute>\d{2}))?.*)$"
)
_CLOCK = re.compile(r"^(?P<hour>\d{1,2})[:.](?P<minute>\d{2})$")
_WORD_CLOCK = re.compile(r"^(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?$")


class TimeFormatError(LocalisedError):
    """The text is not a date and time in a known format, or names a moment that does not exist.

    `reason` says which: FORMAT, TIME_NEEDED (a bare date where a time is required), DAY_NEEDED
    (a bare time where no day is known), IMPOSSIBLE (31 February, 25:00) or NONEXISTENT (a local
    time skipped when the clocks go forward). `message` says it in the current language.
    """

    FORMAT = "format"
    TIME_NEEDED = "time needed"
    DAY_NEEDED = "day needed"
    IMPOSSIBLE = "impossible"
    NONEXISTENT = "nonexistent"

    def __init__(self, template: str, reason: str = FORMAT, **params: object) -> None:
        super().__init__(template, **params)
        self.reason = reason


def unreadable() -> TimeFormatError:
    return TimeFormatError(N_("I could not read this date."))


def parse_when(
    text: str,
    tz: tzinfo,
    *,
    date_only_time: time | None = None,
    same_day_as: datetime | None = None,
    now: datetime | None = None,
) -> datetime:
    """An aware datetime from staff input.

    `date_only_time` allows a bare date ('30.04.2026' -> that day at 23:59 for deadlines);
    `same_day_as` allows a bare clock time ('20:00' -> that time on the given moment's local day);
    `now` (default: the injected clock) is what 'jutro' or 'w piątek' count from.
    """
    raw = " ".join(text.strip().split())
    if not raw:
        raise unreadable()
    clock = _CLOCK.match(raw)
    if clock:
        if same_day_as is None:
            raise TimeFormatError(
                N_("A time alone is not enough here: please add the date."),
                TimeFormatError.DAY_NEEDED,
            )
        day = same_day_as.astimezone(tz).date()
        return local_moment(day, _clock(clock["hour"], clock["minute"]), tz)
    named = _named_moment(raw, tz, now or utcnow(), date_only_time)
    if named is not None:
        return named
    dotted = _DOTTED.match(raw)
    if dotted:
        day = _checked_day(dotted["year"], dotted["month"], dotted["day"])
        if dotted["hour"] is None:
            return _date_only(day, tz, date_only_time)
        return local_moment(day, _clock(dotted["hour"], dotted["minute"]), tz)
    return _iso(raw, tz, date_only_time)


def _iso(raw: str, tz: tzinfo, date_only_time: time | None) -> datetime:
    """ISO 8601: a date alone, or a date and time with or without an offset."""
    iso = _ISO.match(raw)
    if iso:
        day = _checked_day(iso["year"], iso["month"], iso["day"])
        if not iso["rest"]:
            return _date_only(day, tz, date_only_time)
        if iso["hour"] is not None:
            _clock(iso["hour"], iso["minute"])
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise unreadable() from None
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    return local_moment(parsed.date(), parsed.time(), tz)


def _named_moment(
    raw: str, tz: tzinfo, now: datetime, date_only_time: time | None
) -> datetime | None:
    """'jutro 9:00', 'w piątek o 18', 'tomorrow': None when no day word."""
    words = key(raw).replace(",", " ").split()
    clock = _WORD_CLOCK.match(words[-1]) if len(words) > 1 else None
    if clock:
        words.pop()
        while words and words[-1] in TIME_CONNECTORS:
            words.pop()
    day = _named_day(words, now.astimezone(tz).date())
    if day is None:
        return None
    if clock is None:
        return _date_only(day, tz, date_only_time)
    return local_moment(day, _clock(clock["hour"], clock["minute"] or "00"), tz)


def _named_day(words: list[str], today: date) -> date | None:
    """The day a phrase names, counted from `today`; a weekday is 1 to 7 days ahead."""
    phrase = " ".join(words)
    if phrase in DAYS_AHEAD:
        return today + timedelta(days=DAYS_AHEAD[phrase])
    if words and words[0] in WEEKDAY_PREPOSITIONS:
        phrase = " ".join(words[1:])
    weekday = WEEKDAYS.get(phrase)
    if weekday is None:
        return None
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def local_moment(day: date, clock: time, tz: tzinfo) -> datetime:
    """A local wall-clock time as an aware datetime; a time skipped by a DST change is refused."""
    moment = datetime.combine(day, clock, tzinfo=tz)
    round_trip = moment.astimezone(UTC).astimezone(tz)
    if round_trip.replace(tzinfo=None) != moment.replace(tzinfo=None):
        raise TimeFormatError(
            N_("This time does not exist: the clocks go forward then."),
            TimeFormatError.NONEXISTENT,
        )
    return moment


def _checked_day(year: str, month: str, day: str) -> date:
    """The date, or a TimeFormatError saying what is impossible about it."""
    numbers = int(year), int(month), int(day)
    if numbers[0] < 1000:  # "0001": nothing anyone plans, and too close to datetime's edge
        raise unreadable()
    if not 1 <= numbers[1] <= 12:
        raise TimeFormatError(
            N_("There is no month {month}: months are numbered 1 to 12."),
            TimeFormatError.IMPOSSIBLE,
            month=numbers[1],
        )
    length = calendar.monthrange(numbers[0], numbers[1])[1]
    if not 1 <= numbers[2] <= length:
        raise _no_such_day(numbers[2], date(numbers[0], numbers[1], 1), length)
    return date(*numbers)


def _no_such_day(day: int, first: date, length: int) -> TimeFormatError:
    """'There is no 31 February 2027: February 2027 has 28 days.' in the reader's language."""
    return TimeFormatError(
        # i18n: {date} e.g. "31 February 2027" (pl "31 lutego 2027"); {month} e.g.
        # "February 2027" (pl "luty 2027"); {days} e.g. "28 days" (pl "ma 28 dni").
        N_("There is no {date}: {month} has {days}."),
        TimeFormatError.IMPOSSIBLE,
        date=lambda: f"{day} " + format_date(first, "MMMM y", locale=current_language()),
        month=lambda: format_date(first, "LLLL y", locale=current_language()),
        days=lambda: days_words(length),
    )


def _clock(hour: str, minute: str) -> time:
    """The time of day, or a TimeFormatError naming the hour or minute that does not exist."""
    if int(hour) > 23:
        raise TimeFormatError(
            N_("There is no hour {hour}: hours are 0 to 23."),
            TimeFormatError.IMPOSSIBLE,
            hour=int(hour),
        )
    if int(minute) > 59:
        raise TimeFormatError(
            N_("There is no minute {minute}: minutes are 0 to 59."),
            TimeFormatError.IMPOSSIBLE,
            minute=int(minute),
        )
    return time(int(hour), int(minute))


def _date_only(day: date, tz: tzinfo, date_only_time: time | None) -> datetime:
    if date_only_time is None:
        raise TimeFormatError(N_("Please add the time of day."), TimeFormatError.TIME_NEEDED)
    return local_moment(day, date_only_time, tz)
