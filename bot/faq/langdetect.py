"""Which language a question is written in: Polish, Ukrainian or English."""

from __future__ import annotations

import re

from bot.faq.lexicon import (
    ENGLISH_MARKERS,
    POLISH_LETTERS,
    POLISH_MARKERS,
    SHARED_PL_UK_LATIN,
    UKRAINIAN_LATIN_MARKERS,
)
from bot.faq.normalize import fold_latin
from bot.faq.translit import ukrainian_latin_evidence

SUPPORTED_LANGUAGES: tuple[str, ...] = ("pl", "uk", "en")

_CYRILLIC_LETTER = re.compile(r"[\u0400-\u04ff]")
_LATIN_LETTER = re.compile(r"[a-zA-Z\u00c0-\u024f]")
_LATIN_WORD = re.compile(r"[a-zA-Z\u00c0-\u024f]+(?:['’][a-zA-Z]+)?")

# Cyrillic text is Ukrainian (or Russian, answered in Ukrainian) once Cyrillic
# letters make up this share of all letters: a Ukrainian question often quotes
# Polish terms ("як отримати status OPP"), a Polish one never has Cyrillic.
_CYRILLIC_SHARE = 0.2
_MIN_CYRILLIC_LETTERS = 2
# Polish letters only break a tie between marker words: a Polish term alone
# ("Budżet Obywatelski") says nothing about the asker, whose chat language
# decides; "How do I register a stowarzyszenie zwykłe?" stays English.
_DIACRITICS_WEIGHT = 0.5
# A language other than the chat's must lead the chat's language by this much
# evidence (one marker word), and lead every other language at all.
_CLEAR_LEAD = 1.0
_MIN_LEAD = 0.25
# Romanised-Ukrainian evidence (besides the words Polish shares) from which the
# shared words stop counting as Polish: two spellings, or a marker and a spelling.
_ROMANISED_CLEAR = 1.5


def detect_language(text: str, fallback: str) -> str:
    """Guess "pl", "uk" or "en" from the text; ``fallback`` when it gives no clear evidence.

    ``fallback`` is the chat's language: it decides for short or neutral texts
    such as "OPP", "1,5%" or a Polish term alone, and it stays unless the text
    is clearly in another language (its evidence leads by ``_CLEAR_LEAD``).
    Ukrainian typed in Latin letters ("yak zareiestruvaty...") is Ukrainian.
    """
    cyrillic = len(_CYRILLIC_LETTER.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    if cyrillic >= _MIN_CYRILLIC_LETTERS and cyrillic >= _CYRILLIC_SHARE * (cyrillic + latin):
        return "uk"
    if latin == 0:
        return fallback
    scores = _latin_evidence(text)
    best = max(scores, key=lambda lang: (scores[lang], lang == fallback))
    if scores[best] < 1 or best == fallback:
        return fallback
    others = [score for lang, score in scores.items() if lang != best]
    if scores[best] - max(others) < _MIN_LEAD:
        return fallback
    if scores[best] - scores.get(fallback, 0.0) < _CLEAR_LEAD:
        return fallback
    return best


def is_romanised(text: str) -> bool:
    """True when a text detected as Ukrainian is written mostly in Latin letters."""
    cyrillic = len(_CYRILLIC_LETTER.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    return latin > 0 and cyrillic < _CYRILLIC_SHARE * (cyrillic + latin)


def _latin_evidence(text: str) -> dict[str, float]:
    """Scores for Polish, English and romanised Ukrainian: marker words and spellings."""
    polish = shared = english = 0.0
    folded_words = []
    for word in _LATIN_WORD.findall(text):
        folded = fold_latin(word.replace("’", "'"))
        folded_words.append(folded.replace("'", ""))
        if folded in SHARED_PL_UK_LATIN:
            shared += 1
        elif folded in POLISH_MARKERS:
            polish += 1
        if folded.replace("'", "") in ENGLISH_MARKERS:
            english += 1
    if any(ch in POLISH_LETTERS for ch in text.lower()):
        polish += _DIACRITICS_WEIGHT
    ukrainian = ukrainian_latin_evidence(folded_words)
    # "jak", "z", "czy" are Polish, unless the rest of the text is clearly
    # romanised Ukrainian (a Ukrainian function word among its evidence: loan
    # words such as "video", "event" have the spellings but not the words)
    # and more so than Polish: then they are як, з, чи.
    has_marker = any(word in UKRAINIAN_LATIN_MARKERS for word in folded_words)
    if not has_marker or ukrainian < _ROMANISED_CLEAR or ukrainian <= polish:
        polish += shared
    return {"pl": polish, "en": english, "uk": ukrainian}
