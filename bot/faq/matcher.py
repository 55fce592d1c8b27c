"""Matching a free-text question to one FAQ entry, a choice of two, or nothing.

How a question is scored (docs/faq.md explains the choices and the numbers):

1. The text is split into topic-bearing words (stop words dropped); each word
   becomes one or two *terms*: a Polish/English stem for Latin script, a
   pymorphy3 lemma reduced to a Ukrainian/Russian "skeleton" for Cyrillic.
2. Each term is looked up in an inverted index built from every entry's
   title, question variants and keywords in all languages (so a Ukrainian
   question quoting "inicjatywa lokalna" finds the entry), and from the
   out-of-scope examples, which act as decoy entries. A term matches exactly
   and by shared prefix (inflection the stemmer missed: "stowarzysz" /
   "stowarzyszen"); failing both, by edit distance (typos).
3. A term's weight is its BM25 inverse document frequency. A word the index
   has never seen still counts (half as much as a word unique to one entry):
   it is evidence that the question is about something else ("karta pobytu").
4. An entry's score is the share of the question's weight it explains,
   damped when the matched words are all common ones (a question made only
   of words such as "wniosek" proves nothing).
5. Below the threshold, or when a decoy wins, the matcher abstains; when the
   top two entries are within a margin it offers both.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.faq.content import ANSWER_LANGUAGES, FALLBACK_LANGUAGE, FaqContent
from bot.faq.langdetect import detect_language, is_romanised
from bot.faq.normalize import Token, content_terms, is_stopword, term_forms, tokenize, warm_up
from bot.faq.sentences import weigh_sentences
from bot.faq.translit import to_cyrillic

Status = Literal["answer", "choice", "abstain"]
_OUT_OF_SCOPE_PREFIX = "!"


@dataclass(frozen=True, slots=True)
class FaqResult:
    """The matcher's decision for one question."""

    id: str | None
    lang: str
    score: float
    candidates: tuple[str, ...]
    status: Status


@dataclass(frozen=True, slots=True)
class MatcherSettings:
    """Tunable constants; the defaults are calibrated in docs/faq.md."""

    # Minimum score for an answer (or for each id of a choice).
    threshold: float = 0.3
    # Top two entries closer than this (in score) make a choice...
    choice_margin: float = 0.07
    # ...but only when the evidence is strong; two weak guesses are no help.
    choice_threshold: float = 0.45
    # Evidence (in words unique to one entry) at which the damping stops,
    # and how steeply a word's evidence falls with its document frequency.
    evidence_ref: float = 1.4
    evidence_power: float = 3.0
    # Strength of a prefix match and the cap of a typo match, relative to exact.
    prefix_strength: float = 0.9
    fuzzy_strength: float = 0.85
    fuzzy_cutoff: float = 0.78
    min_affix_len: int = 5
    # How much an unknown word counts, relative to a word unique to one entry.
    oov_weight: float = 0.5
    oov_short_weight: float = 0.4
    # Credit of a term in the entry that uses it least, relative to its home entry.
    tf_floor: float = 0.6
    # Occurrences a title word counts for (variants and keywords count once).
    title_weight: float = 3.0


@dataclass(frozen=True, slots=True)
class _QueryTerm:
    """A question word with the documents it matches and their match strengths."""

    forms: tuple[str, ...]
    token: Token
    matches: dict[int, float]
    # How much the sentence the word is in asks (1) or tells (less).
    weight: float = 1.0


class FaqMatcher:
    """An index over the FAQ content that answers questions or abstains."""

    def __init__(self, content: FaqContent, settings: MatcherSettings | None = None) -> None:
        self._content = content
        self._settings = settings or MatcherSettings()
        self._docs: list[str] = []
        self._postings: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        warm_up()
        for faq_id, entry in content.entries.items():
            doc = self._add_doc(faq_id)
            for lang, kind, phrase in entry.phrases():
                weight = self._settings.title_weight if kind == "title" else 1.0
                self._index_phrase(doc, phrase, lang, weight)
        for topic, phrases in content.out_of_scope.items():
            doc = self._add_doc(_OUT_OF_SCOPE_PREFIX + topic)
            for lang, phrase in phrases:
                self._index_phrase(doc, phrase, lang)
        # Freeze the index: lookups must never add empty entries.
        self._postings = {term: dict(docs) for term, docs in self._postings.items()}
        self._prefixes = self._build_prefix_map(self._postings)
        self._buckets = self._build_length_buckets(self._postings)

    @property
    def content(self) -> FaqContent:
        """The content this matcher indexes."""
        return self._content

    def ask(self, text: str, lang: str = "auto", fallback_lang: str = "pl") -> FaqResult:
        """Answer ``text``: an id, a choice of two ids, or an abstention.

        ``lang`` forces the answer language; "auto" detects it from the text,
        using ``fallback_lang`` (the chat's language) when the text is neutral.
        """
        answer_lang = detect_language(text, fallback_lang) if lang == "auto" else lang
        if answer_lang not in ANSWER_LANGUAGES:
            raise ValueError(f"unsupported language: {answer_lang!r}")
        ranking = self.rank(text, romanised=answer_lang == "uk" and is_romanised(text))
        if not ranking:
            return FaqResult(None, answer_lang, 0.0, (), "abstain")
        (top_doc, top_score), *rest = ranking
        best_faq = next((score for doc, score in ranking if not self._is_decoy(doc)), 0.0)
        rounded = round(best_faq, 4)
        s = self._settings
        if self._is_decoy(top_doc) or top_score < s.threshold:
            return FaqResult(None, answer_lang, rounded, (), "abstain")
        close = [doc for doc, score in rest if score >= top_score - s.choice_margin]
        if not close:
            entry = self._content.entry(top_doc)
            written_in = answer_lang if entry.has_language(answer_lang) else FALLBACK_LANGUAGE
            return FaqResult(top_doc, written_in, rounded, (top_doc,), "answer")
        if len(close) == 1 and not self._is_decoy(close[0]) and top_score >= s.choice_threshold:
            return FaqResult(None, answer_lang, rounded, (top_doc, close[0]), "choice")
        # Three or more entries equally plausible, or a decoy close behind: too vague.
        return FaqResult(None, answer_lang, rounded, (), "abstain")

    def rank(self, text: str, romanised: bool = False) -> list[tuple[str, float]]:
        """Documents with a positive score, best first; decoys are named "!topic".

        ``romanised``: the text is Ukrainian in Latin letters, so each Latin
        word is also read in Cyrillic (``bot.faq.translit``).
        """
        terms = self._query_terms(text, romanised)
        if not terms:
            return []
        s = self._settings
        n_docs = len(self._docs)
        unique_idf = _idf(n_docs, 1)
        total = 0.0
        explained: dict[int, float] = defaultdict(float)
        evidence: dict[int, float] = defaultdict(float)
        for term in terms:
            if term.matches:
                weight = _idf(n_docs, len(term.matches))
            else:
                weight = unique_idf * self._oov_factor(term.token)
            weight *= term.weight
            total += weight
            # Evidence grows with the cube of a word's rarity: one word
            # unique to an entry is proof enough, two common ones are not.
            rarity = (weight / (unique_idf * term.weight)) ** s.evidence_power * term.weight
            for doc, strength in term.matches.items():
                explained[doc] += weight * strength
                evidence[doc] += rarity * strength
        scored = [
            (self._docs[doc], (value / total) * min(1.0, evidence[doc] / s.evidence_ref))
            for doc, value in explained.items()
        ]
        scored.sort(key=lambda item: (-item[1], item[0]))
        return scored

    # -- index construction -------------------------------------------------

    def _add_doc(self, key: str) -> int:
        self._docs.append(key)
        return len(self._docs) - 1

    def _index_phrase(self, doc: int, phrase: str, lang: str, weight: float = 1.0) -> None:
        for forms in content_terms(phrase, lang):
            for form in forms:
                self._postings[form][doc] += weight

    def _build_prefix_map(self, postings: Iterable[str]) -> dict[str, frozenset[str]]:
        """Map every prefix (5+ letters, shorter than the term) to the terms it starts."""
        prefixes: dict[str, set[str]] = defaultdict(set)
        for term in postings:
            if term.isalpha():
                for end in range(self._settings.min_affix_len, len(term)):
                    prefixes[term[:end]].add(term)
        return {prefix: frozenset(terms) for prefix, terms in prefixes.items()}

    @staticmethod
    def _build_length_buckets(postings: Iterable[str]) -> dict[tuple[str, int], list[str]]:
        """Terms grouped by (first letter, length), the candidates for typo matching."""
        buckets: dict[tuple[str, int], list[str]] = defaultdict(list)
        for term in postings:
            if term.isalpha():
                buckets[(term[0], len(term))].append(term)
        return dict(buckets)

    # -- query analysis -------------------------------------------------------

    def _query_terms(self, text: str, romanised: bool = False) -> list[_QueryTerm]:
        """Topic words of every sentence, once each, weighted by their sentence."""
        terms: dict[tuple[str, ...], _QueryTerm] = {}
        for sentence in weigh_sentences(text):
            for token in tokenize(sentence.text):
                forms = self._forms(token, romanised)
                if forms is None:
                    continue
                known = terms.get(forms)
                if known is not None and known.weight >= sentence.weight:
                    continue
                matches = known.matches if known else self._match_forms(forms)
                terms[forms] = _QueryTerm(forms, token, matches, sentence.weight)
        return list(terms.values())

    @staticmethod
    def _forms(token: Token, romanised: bool) -> tuple[str, ...] | None:
        """A question word's term forms, or None for a stop word.

        A romanised Ukrainian word is looked up both as typed (it may be a
        Polish term: "stowarzyszenie zwykle") and in its Cyrillic reading.
        """
        if is_stopword(token):
            return None
        forms = term_forms(token)
        if not romanised or token.script != "latin" or token.acronym:
            return forms
        cyrillic = Token(to_cyrillic(token.text), "cyrillic")
        if is_stopword(cyrillic):
            return None
        reading = term_forms(cyrillic)
        return forms + tuple(form for form in reading if form not in forms)

    def _match_forms(self, forms: tuple[str, ...]) -> dict[int, float]:
        """Documents matched by any form: exactly or by prefix, else by a typo."""
        s = self._settings
        matches: dict[int, float] = {}
        for form in forms:
            self._merge(matches, form, 1.0)
            for related in self._prefix_related(form):
                self._merge(matches, related, s.prefix_strength)
        if matches:
            return matches
        for form in forms:
            for related, similarity in self._typo_related(form):
                self._merge(matches, related, s.fuzzy_strength * similarity)
        return matches

    def _merge(self, matches: dict[int, float], term: str, strength: float) -> None:
        """Record ``term``'s documents, weighted by how central the term is to each."""
        postings = self._postings.get(term)
        if not postings:
            return
        floor = self._settings.tf_floor
        top = max(postings.values())
        for doc, count in postings.items():
            # The entry that uses a word most (titles count triple) is its
            # home; others that mention it in passing get less credit.
            value = strength * (floor + (1.0 - floor) * count / top)
            if value > matches.get(doc, 0.0):
                matches[doc] = value

    def _prefix_related(self, form: str) -> set[str]:
        """Indexed terms that extend ``form`` or that ``form`` extends (5+ letters shared)."""
        min_len = self._settings.min_affix_len
        if len(form) < min_len or not form.isalpha():
            return set()
        related = set(self._prefixes.get(form, ()))
        related.update(
            form[:end] for end in range(min_len, len(form)) if form[:end] in self._postings
        )
        return related

    def _typo_related(self, form: str) -> list[tuple[str, float]]:
        """Indexed terms within a small edit distance of ``form`` (for 5+ letter words)."""
        s = self._settings
        if len(form) < s.min_affix_len or not form.isalpha():
            return []
        # Same first letter only: a different first letter is usually a
        # different word ("sprowadzić" / "prowadzić"), not a typo.
        candidates = [
            term
            for length in range(len(form) - 2, len(form) + 3)
            for term in self._buckets.get((form[0], length), ())
        ]
        found = process.extract(
            form,
            candidates,
            scorer=OSA.normalized_similarity,
            score_cutoff=s.fuzzy_cutoff,
            limit=3,
        )
        return [(term, float(similarity)) for term, similarity, _ in found]

    def _oov_factor(self, token: Token) -> float:
        """Unknown numbers and very short words are weak evidence of another topic."""
        s = self._settings
        if token.script == "number" or len(token.text) <= 3:
            return s.oov_short_weight
        return s.oov_weight

    @staticmethod
    def _is_decoy(doc: str) -> bool:
        return doc.startswith(_OUT_OF_SCOPE_PREFIX)


def _idf(n_docs: int, doc_freq: int) -> float:
    """BM25 inverse document frequency (always positive)."""
    return math.log(1.0 + (n_docs - doc_freq + 0.5) / (doc_freq + 0.5))
