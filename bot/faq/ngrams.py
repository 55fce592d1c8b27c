"""Character n-gram similarity: the cheap "second opinion" compared with embeddings.

Each indexed phrase (an entry's title and question variants, an out-of-scope
example) becomes a TF-IDF vector of the character 3- to 5-grams of its
normalised words (Polish diacritics folded, Cyrillic reduced to the matcher's
skeleton), and a question is scored by cosine similarity against every phrase;
a document's score is that of its closest phrase. It catches inflection and
typos without a dictionary, but not meaning: "renovate a playground with our
own hands" shares no n-grams with "local initiative". The benchmark measures
it side by side with the sentence embeddings (``bot.faq.semantic``).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from bot.faq.normalize import cyrillic_skeleton, is_stopword, tokenize

_MIN_N, _MAX_N = 3, 5
# n-grams found in more than this share of the phrases (" pod", "nia ") are
# left out of the postings: they weigh little (low idf) and cost the most time.
_MAX_DF_SHARE = 0.05
_MIN_COMMON_DF = 20


def _grams(text: str) -> Counter[str]:
    """Character n-grams of the topic words of ``text`` (word boundaries marked)."""
    grams: Counter[str] = Counter()
    for token in tokenize(text):
        if is_stopword(token):
            continue
        word = cyrillic_skeleton(token.text) if token.script == "cyrillic" else token.text
        padded = f" {word} "
        for n in range(_MIN_N, _MAX_N + 1):
            for start in range(len(padded) - n + 1):
                grams[padded[start : start + n]] += 1
    return grams


class CharNgramIndex:
    """TF-IDF character n-gram vectors of phrases, each labelled with a document key."""

    def __init__(self, phrases: Iterable[tuple[str, str]]) -> None:
        labelled = [(key, _grams(text)) for key, text in phrases]
        labelled = [(key, grams) for key, grams in labelled if grams]
        doc_freq: Counter[str] = Counter()
        for _, grams in labelled:
            doc_freq.update(grams.keys())
        count = len(labelled)
        self._idf = {gram: math.log((1 + count) / (1 + df)) + 1.0 for gram, df in doc_freq.items()}
        self._keys: list[str] = []
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        limit = max(_MIN_COMMON_DF, _MAX_DF_SHARE * count)
        common = {gram for gram, df in doc_freq.items() if df > limit}
        for index, (key, grams) in enumerate(labelled):
            self._keys.append(key)
            vector = self._weigh(grams)
            for gram, value in vector.items():
                if gram not in common:
                    self._postings[gram].append((index, value))

    def _weigh(self, grams: Counter[str]) -> dict[str, float]:
        """Unit-length TF-IDF vector (sub-linear term frequency)."""
        vector = {
            gram: (1.0 + math.log(count)) * self._idf.get(gram, 0.0)
            for gram, count in grams.items()
        }
        norm = math.sqrt(sum(value * value for value in vector.values())) or 1.0
        return {gram: value / norm for gram, value in vector.items() if value}

    def scores(self, texts: Sequence[tuple[str, float]]) -> dict[str, float]:
        """Best cosine similarity per document key for weighted sentences of a question."""
        grams: Counter[str] = Counter()
        for text, weight in texts:
            for gram, count in _grams(text).items():
                grams[gram] += count * weight  # type: ignore[assignment]
        if not grams:
            return {}
        query = self._weigh(grams)
        dots: dict[int, float] = defaultdict(float)
        for gram, value in query.items():
            for index, weight in self._postings.get(gram, ()):
                dots[index] += value * weight
        best: dict[str, float] = {}
        for index, dot in dots.items():
            key = self._keys[index]
            if dot > best.get(key, 0.0):
                best[key] = dot
        return best
