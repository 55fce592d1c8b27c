"""Ukrainian typed in Latin letters: recognising it and writing it back in Cyrillic.

People without a Ukrainian keyboard write "yak zareiestruvaty stowarzyszenie
zwykle" (the official 2010 romanisation), "jak zarejestruvaty" (Polish-style)
or a mix. Romanisation loses information ("y" stands for two letters, "i" for
four, "ie" for one letter or two), so a word gets a few Cyrillic candidates,
the most usual reading first, and the first that the Ukrainian dictionary (pymorphy3) knows
wins; failing that the most usual reading stays, and the matcher's prefix and
typo matching take it from there. The skeleton the matcher compares (the
Ukrainian i-letters and e-letters merged) absorbs most remaining ambiguity.
The letter table is linguistic data and lives in ``bot.faq.lexicon``.
"""

from __future__ import annotations

import functools
import itertools
import re

from bot.faq.lexicon import (
    ROMANISED_ADJECTIVE_ENDING,
    ROMANISED_GROUPS,
    UKRAINIAN_LATIN_MARKERS,
)

_GROUP_RE = re.compile("|".join(sorted(map(re.escape, ROMANISED_GROUPS), key=len, reverse=True)))
_LATIN_WORD_RE = re.compile(r"[a-z']+")
_TEXT_WORD_RE = re.compile(r"[A-Za-z']+")
# Readings tried per word: the usual one and those that change one or two groups.
_MAX_DEVIATIONS = 2
_MAX_CANDIDATES = 48
# Letter groups that Polish and English spelling (almost) never have: evidence
# of romanised Ukrainian. "v" and "kh"/"zh" are strong; "ts"/"sh" also occur
# in English, so they count only when the word is a known Ukrainian word.
_STRONG_PATTERN = re.compile(r"zh|kh|shch|yi|iy|yy|yia|iia|v|yj$|ysja$|ysia$|tysj|nyk|nn[iyj]a$")
_WEAK_PATTERN = re.compile(r"ts|sh|ia|iu|ie|ty$")
_STRONG_WEIGHT = 0.75
_WEAK_WEIGHT = 0.5


def _segments(word: str) -> list[tuple[str, ...]]:
    """The word split into romanised groups, each with its Cyrillic readings."""
    segments: list[tuple[str, ...]] = []
    position = 0
    while position < len(word):
        match = _GROUP_RE.match(word, position)
        if match is None:  # a letter with no reading (digits are not passed here)
            segments.append((word[position],))
            position += 1
            continue
        segments.append(ROMANISED_GROUPS[match.group()])
        position = match.end()
    if word.endswith("yi") and len(segments) > 1:
        segments[-1] = ROMANISED_ADJECTIVE_ENDING  # "malyi", "novyi"
    return segments


def _candidates(segments: list[tuple[str, ...]]) -> list[str]:
    """Readings with at most two groups read the less usual way, usual ones first."""
    ambiguous = [index for index, readings in enumerate(segments) if len(readings) > 1]
    usual = [readings[0] for readings in segments]
    found = ["".join(usual)]
    for deviations in range(1, _MAX_DEVIATIONS + 1):
        for positions in itertools.combinations(ambiguous, deviations):
            alternatives = [segments[index][1:] for index in positions]
            for choice in itertools.product(*alternatives):
                letters = list(usual)
                for index, reading in zip(positions, choice, strict=True):
                    letters[index] = reading
                found.append("".join(letters))
                if len(found) >= _MAX_CANDIDATES:
                    return found
    return found


@functools.lru_cache(maxsize=16384)
def to_cyrillic(word: str) -> str:
    """The most likely Cyrillic spelling of one lower-case romanised Ukrainian word."""
    from bot.faq.normalize import is_known_ukrainian

    if not _LATIN_WORD_RE.fullmatch(word):
        return word
    candidates = _candidates(_segments(word))
    for candidate in candidates:
        if is_known_ukrainian(candidate):
            return candidate
    return candidates[0]


def ukrainian_latin_evidence(words: list[str]) -> float:
    """How strongly folded Latin words look like romanised Ukrainian (0 = not at all).

    Function words ("yak", "shcho", "szczo", "dlia", "mozhna") count 1 each; a
    word with a spelling Polish and English lack ("zh", "kh", "v", "yi", a
    final "-yj", "-ysja" or "-nnia", "-nyk-") counts
    0.75; a weaker pattern ("ts", "sh", "-ty") counts 0.5 when the Cyrillic
    reading is a word the Ukrainian dictionary knows.
    """
    from bot.faq.normalize import is_known_ukrainian

    score = 0.0
    for word in words:
        if word in UKRAINIAN_LATIN_MARKERS:
            score += 1.0
        elif len(word) >= 4 and _STRONG_PATTERN.search(word):
            score += _STRONG_WEIGHT
        elif (
            len(word) >= 4 and _WEAK_PATTERN.search(word) and is_known_ukrainian(to_cyrillic(word))
        ):
            score += _WEAK_WEIGHT
    return score


def romanise_to_cyrillic(text: str) -> str:
    """``text`` with every Latin word replaced by its Cyrillic reading (others kept)."""
    return _TEXT_WORD_RE.sub(lambda match: to_cyrillic(match.group().lower()), text)
