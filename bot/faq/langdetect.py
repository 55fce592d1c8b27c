"""Which language a question is written in: Polish, Ukrainian or English."""

from __future__ import annotations

import re

from bot.faq.lexicon import ENGLISH_MARKERS, POLISH_LETTERS, POLISH_MARKERS
from bot.faq.normalize import fold_latin

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


def detect_language(text: str, fallback: str) -> str:
    """Guess "pl", "uk" or "en" from the text; ``fallback`` when it gives no evidence.

    ``fallback`` is the chat's language: it decides for short or neutral texts
    such as "OPP", "1,5%" or a Polish term alone.
    """
    cyrillic = len(_CYRILLIC_LETTER.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    if cyrillic >= _MIN_CYRILLIC_LETTERS and cyrillic >= _CYRILLIC_SHARE * (cyrillic + latin):
        return "uk"
    if latin == 0:
        return fallback
    polish, english = _latin_evidence(text)
    if polish < 1 and english < 1:
        return fallback
    if polish > english:
        return "pl"
    if english > polish:
        return "en"
    return fallback


def _latin_evidence(text: str) -> tuple[float, float]:
    """Scores for Polish and English: marker words, plus Polish-only letters."""
    polish = english = 0.0
    for word in _LATIN_WORD.findall(text):
        folded = fold_latin(word.replace("’", "'"))
        if folded in POLISH_MARKERS:
            polish += 1
        if folded.replace("'", "") in ENGLISH_MARKERS:
            english += 1
    if any(ch in POLISH_LETTERS for ch in text.lower()):
        polish += _DIACRITICS_WEIGHT
    return polish, english
