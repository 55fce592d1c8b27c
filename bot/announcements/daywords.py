"""The words staff use for days, in Polish, Ukrainian and English: parsing data for
bot.announcements.timeparse (like the FAQ's lexicon, not interface text).

Keys are compared through `key()`: without case, with every apostrophe as ', and without Polish
diacritics (so 'w srode' is 'w środę').
"""

from __future__ import annotations

from types import MappingProxyType

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'", "`": "'"})
_POLISH_LETTERS = str.maketrans("ąćęłńóśźż", "acelnoszz")


def key(text: str) -> str:
    """Text as the tables below are keyed."""
    return text.lower().translate(_APOSTROPHES).translate(_POLISH_LETTERS)


# Days counted from today.
DAYS_AHEAD = MappingProxyType(
    {
        key(word): days
        for days, words in (
            (0, ("dziś", "dzisiaj", "сьогодні", "today")),
            (1, ("jutro", "завтра", "tomorrow")),
            (2, ("pojutrze", "післязавтра", "day after tomorrow", "the day after tomorrow")),
        )
        for word in words
    }
)
# Weekday names (Monday is 0): nominative, and the accusative that follows "w" / "в", "у";
# п'ятниця also as it is often typed, without the apostrophe.
WEEKDAYS = MappingProxyType(
    {
        key(word): weekday
        for weekday, words in enumerate(
            (
                ("poniedziałek", "понеділок", "monday"),
                ("wtorek", "вівторок", "tuesday"),
                ("środa", "środę", "середа", "середу", "wednesday"),
                ("czwartek", "четвер", "thursday"),
                ("piątek", "п'ятниця", "п'ятницю", "пятниця", "пятницю", "friday"),
                ("sobota", "sobotę", "субота", "суботу", "saturday"),
                ("niedziela", "niedzielę", "неділя", "неділю", "sunday"),
            )
        )
        for word in words
    }
)
WEEKDAY_PREPOSITIONS = frozenset({"w", "we", "в", "у", "on"})
# Between the day and the time: Polish "o (godz.)", Ukrainian "о", "об", English "at".
TIME_CONNECTORS = frozenset({"o", "о", "об", "at", "godz", "godz.", "godzinie"})
