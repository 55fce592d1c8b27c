"""The words that answer a yes/no question in Polish, Ukrainian and English: parsing data for
bot.core.conversation (like the date parser's day words, not interface text). Not Russian.
"""

from __future__ import annotations

# Words that answer a yes/no question, in every language the bot speaks (not Russian).
YES_WORDS = frozenset(
    {
        "tak",  # pl
        "ok",
        "okej",
        "dobrze",
        "так",  # uk
        "гаразд",
        "добре",
        "ок",
        "yes",  # en
        "y",
    }
)
NO_WORDS = frozenset({"nie", "ні", "no", "n"})
# Colloquial Polish "no" means "yeah" ("no, jasne"): in a Polish chat it answers neither way.
AMBIGUOUS_IN = {"pl": frozenset({"no"})}
