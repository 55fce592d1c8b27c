"""How long until a deadline or a meeting, in words of the current language ("za 3 dni").

Written from the exact days, hours and minutes with the language's plural forms, never with
``babel.dates.format_timedelta``, which rounds (1 day 15 hours becomes "2 days").

The rules (:func:`split_time_left`):

1. Round to the nearest minute (a delta under a minute counts as 1 minute).
2. Under 3 hours: hours and minutes ("in 2 hours and 5 minutes"; "in 45 minutes"); a part that
   is zero is left out.
3. From 3 hours: whole hours, rounded down, except that a remainder of 58 minutes or more
   rounds up, so that a deadline at 23:59 reads "in 1 day and 15 hours" at 09:00, not
   "... 14 hours". Minutes are dropped.
4. From 24 hours: days and hours ("in 1 day and 15 hours"; "in 3 days").

The phrase is meant for the moment a reminder is *scheduled* to go out: compute it from the
planned send time, so that a few seconds or minutes of delivery delay do not change the words.
"""

from __future__ import annotations

from datetime import timedelta

from bot.i18n import _, ngettext

ROUND_UP_FROM = 58  # minutes past the hour that count as the next hour (rule 3)
MINUTES_BELOW = timedelta(hours=3)  # under this, minutes are shown (rule 2)


def split_time_left(delta: timedelta) -> tuple[int, int, int]:
    """(days, hours, minutes) to say for `delta`, by the module's rules; delta must be > 0."""
    if delta <= timedelta(0):
        raise ValueError(f"time left must be positive, got {delta}")
    minutes = max(1, (delta + timedelta(seconds=30)) // timedelta(minutes=1))
    if minutes < MINUTES_BELOW // timedelta(minutes=1):
        hours, minutes = divmod(minutes, 60)
        return 0, hours, minutes
    hours = (minutes + 60 - ROUND_UP_FROM) // 60
    days, hours = divmod(hours, 24)
    return days, hours, 0


def days_words(n: int) -> str:
    # i18n: time left, after "in" (pl "za", uk "cherez"): the accusative, e.g. pl "1 dzień".
    return ngettext("{n} day", "{n} days", n).format(n=n)


def hours_words(n: int) -> str:
    # i18n: time left, after "in" (pl "za", uk "cherez"): the accusative, e.g. pl "1 godzinę".
    return ngettext("{n} hour", "{n} hours", n).format(n=n)


def minutes_words(n: int) -> str:
    # i18n: time left, after "in" (pl "za", uk "cherez"): the accusative, e.g. pl "1 minutę".
    return ngettext("{n} minute", "{n} minutes", n).format(n=n)


def duration_words(days: int, hours: int, minutes: int) -> str:
    """'1 day and 15 hours': the two largest non-zero parts (as split_time_left gives them)."""
    parts = [
        words(n)
        for n, words in ((days, days_words), (hours, hours_words), (minutes, minutes_words))
        if n
    ]
    if not parts:
        raise ValueError("nothing to say: every part is zero")
    if len(parts) == 1:
        return parts[0]
    if len(parts) > 2:
        raise ValueError("say at most two parts: days and hours, or hours and minutes")
    # i18n: joins two durations: "1 day and 15 hours", "2 hours and 5 minutes".
    return _("{first} and {second}").format(first=parts[0], second=parts[1])


def time_left_phrase(delta: timedelta) -> str:
    """'in 1 day and 15 hours' in the current language (bot.i18n.use_language)."""
    # i18n: {duration} is e.g. "3 days" or "1 day and 15 hours"; pl "za {duration}".
    return _("in {duration}").format(duration=duration_words(*split_time_left(delta)))
