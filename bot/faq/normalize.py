"""Text normalisation for FAQ matching: tokens, folding, stems and lemmas.

Latin-script words (Polish and English) are lower-cased, Polish diacritics are
folded ("założyć" -> "zalozyc") and a light suffix stripper removes inflection.
Cyrillic words (Ukrainian, and Russian, which is answered in Ukrainian) are
lemmatised with pymorphy3 and then reduced to a "skeleton" that erases the
spelling differences between the two languages (і/и, є/е, ґ/г, apostrophes),
so "організації" and "организации" meet.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from bot.faq.lexicon import (
    CYRILLIC_STOPWORDS,
    LATIN_STOPWORDS,
    RUSSIAN_LETTERS,
    UKRAINIAN_LETTERS,
)

Script = Literal["latin", "cyrillic", "number"]

# Every apostrophe-like character people type in Ukrainian words.
_APOSTROPHE_TABLE = str.maketrans(dict.fromkeys("ʼ’‘`´ʹ′＇", "'"))
_POLISH_FOLD = str.maketrans("ąćęłńóśźż", "acelnoszz")
_CYRILLIC_SKELETON = str.maketrans(
    {
        "і": "и",
        "ї": "и",
        "є": "е",
        "ґ": "г",
        "ы": "и",
        "э": "е",
        "ё": "е",
        "ъ": "",
        "ь": "",
        "'": "",
    }
)
# A decimal number ("1,5" or "1.5"), a percent sign, or a word that may contain
# inner apostrophes and hyphens ("об'єднання", "e-PIT", "19a").
_TOKEN_RE = re.compile(r"\d+[.,]\d+|%|[^\W_]+(?:['\-][^\W_]+)*")
_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
_LATIN_RE = re.compile(r"[a-z\u00c0-\u024f]", re.IGNORECASE)

_MIN_STEM = 3

# Polish inflectional and derivational endings, folded; the longest that
# leaves a long enough stem is removed.
_POLISH_ENDINGS = """
    owaniami owaniach owaniem owania owanie owaniu aniami aniach aniem ania anie aniu
    eniami eniach eniem enia enie eniu eniom osciami osciach oscia osci osc
    owego owemu owych owymi owej owa owe owy owym owi ego emu ych ymi imi ich ej ym im
    anego anej anych any ana ane onego onej onych ony ona one
    owac ywac iwac ac ec ic yc
    ujesz ujemy ujecie uje uja owalem owalam owal owala owalo owali owaly
    alem alam al ala alo ali aly ilem ilam il ila ilo ili ily ylem ylam yl yla ylo yli yly
    asz amy acie aja am esz emy ecie isz imy icie
    ami ach om ow em ie iu ia ii ij y i a e o u
"""
_POLISH_SUFFIXES: tuple[str, ...] = tuple(
    sorted(set(_POLISH_ENDINGS.split()), key=len, reverse=True)
)
_VOWELS = frozenset("aeiouy")


@dataclass(frozen=True, slots=True)
class Token:
    """One word of a text: its folded surface form and its script."""

    text: str
    script: Script
    # Written in capitals inside normal text ("BO", "KRS"): never a stop word.
    acronym: bool = False


def fold_latin(word: str) -> str:
    """Lower-case a Latin-script word and strip diacritics (Polish ones included)."""
    word = word.lower().translate(_POLISH_FOLD)
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _script_of(word: str) -> Script:
    """Which script a token is written in (mixed words go by their majority)."""
    if word.replace(".", "").replace(",", "").isdigit() or word == "%":
        return "number"
    cyrillic = len(_CYRILLIC_RE.findall(word))
    latin = len(_LATIN_RE.findall(word))
    return "cyrillic" if cyrillic > latin else "latin"


def tokenize(text: str) -> list[Token]:
    """Split text into normalised word tokens (punctuation dropped)."""
    text = unicodedata.normalize("NFC", text).translate(_APOSTROPHE_TABLE)
    letters = [ch for ch in text if ch.isalpha()]
    # In a text typed with caps lock on, capitals say nothing.
    shouting = sum(ch.isupper() for ch in letters) > len(letters) / 2
    tokens: list[Token] = []
    for raw in _TOKEN_RE.findall(text):
        acronym = not shouting and len(raw) >= 2 and raw.isupper()
        lowered = raw.lower()
        script = _script_of(lowered)
        if script == "number":
            tokens.append(Token(lowered.replace(",", "."), "number"))
        elif script == "latin":
            # "e-PIT", "non-profit": one word; apostrophes ("don't") vanish.
            folded = fold_latin(lowered.replace("-", "").replace("'", ""))
            tokens.append(Token(folded, "latin", acronym))
        else:
            # Cyrillic hyphenated words are usually two words ("будь-ласка").
            tokens.extend(Token(part, "cyrillic", acronym) for part in lowered.split("-") if part)
    return tokens


def stem_polish(word: str) -> str:
    """Strip one Polish ending from a folded word, then undo a mobile "e" (podatek)."""
    if len(word) <= _MIN_STEM + 1 or not word.isalpha():
        return word
    # Locative "-cie" after a consonant is a "t" stem: "grancie" / "grant", "projekcie" / "projekt", "budzecie" / "budzet", "statucie".
    if len(word) >= 7 and word.endswith("cie") and word[-4] not in _VOWELS:
        return word[:-3] + "t"
    if len(word) >= 7 and word.endswith("ecie") and word[-5] not in _VOWELS:
        return word[:-3] + "t"
    for suffix in _POLISH_SUFFIXES:
        # Long endings need a longer stem: "działam" must not become "dzi".
        min_stem = _MIN_STEM + 1 if len(suffix) >= 3 else _MIN_STEM
        if word.endswith(suffix) and len(word) - len(suffix) >= min_stem:
            word = word[: -len(suffix)]
            break
    # "podatek" / "podatku", "wniosek" / "wniosku": drop the vowel that
    # disappears in every other case form.
    if len(word) >= 5 and word[-2] == "e" and word[-1] in "kc" and word[-3] not in _VOWELS:
        word = word[:-2] + word[-1]
    return word


def stem_english(word: str) -> str:
    """Strip a plural, -ing or -ed ending from an English word."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    return word


@functools.cache
def _analyzers() -> tuple[Any, Any]:
    """Load the Ukrainian and Russian pymorphy3 dictionaries once (~0.2 s)."""
    import pymorphy3  # imported here so that importing bot.faq stays cheap

    return pymorphy3.MorphAnalyzer(lang="uk"), pymorphy3.MorphAnalyzer(lang="ru")


def warm_up() -> None:
    """Load the morphology dictionaries now rather than at the first question."""
    _analyzers()


def _lemmatisable(word: str) -> bool:
    """True when pymorphy3 can analyse ``word``.

    pymorphy3 asks ``unicodedata.name`` whether each letter is Latin, which
    raises ``ValueError`` for a letter the Unicode database has no name for
    (a code point unassigned in this Python's Unicode version, a Tangut or
    other unnamed ideograph, a private-use character). Such a word is no
    Ukrainian word anyway: it stays as typed.
    """
    return all(unicodedata.name(ch, "") for ch in word)


def is_known_ukrainian(word: str) -> bool:
    """True when ``word`` (Cyrillic, lower case) is in the Ukrainian dictionary."""
    if not _lemmatisable(word):
        return False
    return bool(_analyzers()[0].word_is_known(word))


@functools.lru_cache(maxsize=65536)
def lemma_cyrillic(word: str) -> str:
    """Dictionary form of a Ukrainian (or Russian) word.

    An unknown word with Ukrainian-only letters gets pymorphy3's guess; any
    other unknown word stays as typed (typo matching takes it from there).
    """
    if not _lemmatisable(word):
        return word
    uk, ru = _analyzers()
    russian_only = any(ch in RUSSIAN_LETTERS for ch in word)
    if not russian_only:
        parsed = uk.parse(word)[0]
        if parsed.is_known or any(ch in UKRAINIAN_LETTERS for ch in word):
            return str(parsed.normal_form)
    parsed_ru = ru.parse(word)[0]
    if parsed_ru.is_known:
        return str(parsed_ru.normal_form)
    return word


def cyrillic_skeleton(word: str) -> str:
    """Erase Ukrainian/Russian spelling differences so cognates compare equal."""
    return word.translate(_CYRILLIC_SKELETON)


def is_stopword(token: Token) -> bool:
    """True for words that carry no topic (function words, greetings, fillers)."""
    if token.acronym:
        return False
    if token.script == "latin":
        return len(token.text) < 2 or token.text in LATIN_STOPWORDS
    if token.script == "cyrillic":
        return (
            len(token.text) < 2
            or token.text in CYRILLIC_STOPWORDS
            or lemma_cyrillic(token.text) in CYRILLIC_STOPWORDS
        )
    return False


def term_forms(token: Token, lang: str | None = None) -> tuple[str, ...]:
    """Index terms for a token: one form for content of known language, more for queries.

    ``lang`` is the language the text is written in; for a question (``None``)
    a Latin word gets both its Polish and its English stem, because an English
    question may quote Polish terms and vice versa.
    """
    if token.script == "number":
        return (token.text,)
    if token.script == "cyrillic":
        return (cyrillic_skeleton(lemma_cyrillic(token.text)),)
    if lang == "en":
        return (stem_english(token.text),)
    if lang is not None:
        return (stem_polish(token.text),)
    polish, english = stem_polish(token.text), stem_english(token.text)
    return (polish,) if polish == english else (polish, english)


def content_terms(text: str, lang: str | None = None) -> Iterator[tuple[str, ...]]:
    """The term forms of every topic-bearing word in ``text``, in order."""
    for token in tokenize(text):
        if not is_stopword(token):
            yield term_forms(token, lang)
