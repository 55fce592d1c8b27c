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
   A word that only the out-of-scope examples use counts extra, for the same reason.
4. An entry's score is the share of the question's weight it explains,
   damped when the matched words are all common ones (a question made only
   of words such as "wniosek" proves nothing).
5. Below the threshold, or when a decoy wins, the matcher abstains; when the
   top two entries are within a margin it offers both.
6. It abstains too when the question names another place or another owner
   than the chosen entry's (``bot.faq.scope``: "w Warszawie", "patronat medialny").
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.faq.content import ANSWER_LANGUAGES, FALLBACK_LANGUAGE, FaqContent
from bot.faq.langdetect import detect_language, is_romanised
from bot.faq.ngrams import CharNgramIndex
from bot.faq.normalize import Token, content_terms, is_stopword, term_forms, tokenize, warm_up
from bot.faq.scope import ScopeRules
from bot.faq.sentences import weigh_sentences
from bot.faq.translit import romanise_to_cyrillic, to_cyrillic

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
class Calibration:
    """The decision constants of one question language (calibrated in docs/faq.md)."""

    # Minimum fused score for an answer (or for each id of a choice).
    threshold: float = 0.3
    # Top two entries closer than this (in score) make a choice...
    choice_margin: float = 0.07
    # ...but only when the evidence is strong; two weak guesses are no help.
    choice_threshold: float = 0.45
    # Character n-gram similarity added to the lexical score: weight per
    # standard deviation above ``ngram_floor`` (z-score over all documents).
    ngram_weight: float = 0.0
    ngram_floor: float = 1.0
    # Only an entry the words already point to (lexical score at least this)
    # gets the n-gram bonus: word pieces refine evidence, they never make it.
    ngram_min_lexical: float = 0.0


def _default_calibrations() -> Mapping[str, Calibration]:
    """Per language, from ``benchmarks/faq_calibrate.py`` on the development sets only.

    Polish keeps the n-gram bonus for entries the words give at least 0.3 (the
    former lexical threshold): with 0.1 it answered 6 more development questions,
    but also a known word among junk ("שלום abc OPP", tests/test_faults.py).
    """
    polish = Calibration(
        threshold=0.55,
        choice_margin=0.01,
        choice_threshold=0.6,
        ngram_weight=0.15,
        ngram_floor=0.5,
        ngram_min_lexical=0.3,
    )
    ukrainian = Calibration(
        threshold=0.5,
        choice_margin=0.07,
        choice_threshold=0.6,
        ngram_weight=0.15,
        ngram_floor=0.5,
        ngram_min_lexical=0.25,
    )
    # English questions are few (8 in the development sets): Polish constants.
    return MappingProxyType({"pl": polish, "uk": ukrainian, "en": polish})


@dataclass(frozen=True, slots=True)
class MatcherSettings:
    """Tunable constants; the defaults are calibrated in docs/faq.md."""

    # Decision constants per question language (the detected answer language).
    calibrations: Mapping[str, Calibration] = field(default_factory=_default_calibrations)
    # Two entries the words alone cannot tell apart ("KP-2 patronat czy
    # partnerstwo?") stay a choice whatever the n-grams prefer: the lexical
    # ranking's top two within this margin, the best at least this strong.
    lexical_choice: Calibration = field(
        default_factory=lambda: Calibration(
            threshold=0.3, choice_margin=0.07, choice_threshold=0.45
        )
    )
    # Evidence (in words unique to one entry) at which the damping stops,
    # and how steeply a word's evidence falls with its document frequency.
    evidence_ref: float = 1.4
    evidence_power: float = 3.0
    # Strength of a prefix match and the cap of a typo match, relative to exact.
    prefix_strength: float = 0.9
    fuzzy_strength: float = 0.85
    fuzzy_cutoff: float = 0.75
    min_affix_len: int = 5
    # How much an unknown word counts, relative to a word unique to one entry.
    oov_weight: float = 0.5
    # Extra weight of a word that only decoys use ("smogowy", "VAT"): it names a
    # topic the FAQ does not cover, so it counts against every entry.
    decoy_term_extra: float = 0.5
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
        self._ngrams = CharNgramIndex(self.similarity_phrases(content))
        self._scope = ScopeRules.from_content(content)

    @staticmethod
    def similarity_phrases(content: FaqContent) -> list[tuple[str, str]]:
        """(document, phrase) pairs for the n-gram index: titles, variants, decoy examples."""
        pairs = [
            (faq_id, phrase)
            for faq_id, entry in content.entries.items()
            for _, kind, phrase in entry.phrases()
            if kind != "keyword"
        ]
        pairs.extend(
            (_OUT_OF_SCOPE_PREFIX + topic, phrase)
            for topic, phrases in content.out_of_scope.items()
            for _, phrase in phrases
        )
        return pairs

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
        romanised = answer_lang == "uk" and is_romanised(text)
        calibration = self.calibration(answer_lang)
        lexical = self.lexical_rank(text, romanised)
        similarities = (
            self.ngram_scores(text, romanised) if calibration.ngram_weight > 0 and lexical else {}
        )
        ranking = fuse(dict(lexical), similarities, self._docs, calibration)
        if not ranking:
            return FaqResult(None, answer_lang, 0.0, (), "abstain")
        best_faq = next((score for doc, score in ranking if not _is_decoy(doc)), 0.0)
        rounded = round(min(1.0, best_faq), 4)
        status, candidates = decide_hybrid(
            lexical, ranking, calibration, self._settings.lexical_choice
        )
        if any(self._scope.not_for(text, faq_id, romanised) for faq_id in candidates):
            # Another place's or another owner's mechanism (bot.faq.scope).
            status, candidates = "abstain", ()
        if status == "answer":
            entry = self._content.entry(candidates[0])
            written_in = answer_lang if entry.has_language(answer_lang) else FALLBACK_LANGUAGE
            return FaqResult(candidates[0], written_in, rounded, candidates, "answer")
        return FaqResult(None, answer_lang, rounded, candidates, status)

    @property
    def settings(self) -> MatcherSettings:
        """The constants this matcher decides with."""
        return self._settings

    def calibration(self, lang: str) -> Calibration:
        """The decision constants for questions in ``lang`` (Polish ones for another)."""
        calibrations = self._settings.calibrations
        return calibrations.get(lang) or calibrations.get(FALLBACK_LANGUAGE) or Calibration()

    def rank(
        self, text: str, romanised: bool = False, lang: str = FALLBACK_LANGUAGE
    ) -> list[tuple[str, float]]:
        """Documents by fused score (lexical + n-gram similarity), best first; decoys "!topic".

        ``lang`` selects the calibration (how much the n-gram similarity counts).
        """
        calibration = self.calibration(lang)
        lexical = dict(self.lexical_rank(text, romanised))
        similarities = self.ngram_scores(text, romanised) if calibration.ngram_weight > 0 else {}
        return fuse(lexical, similarities, self._docs, calibration)

    @property
    def documents(self) -> tuple[str, ...]:
        """Every indexed document: FAQ ids and decoys ("!topic")."""
        return tuple(self._docs)

    def ngram_scores(self, text: str, romanised: bool = False) -> dict[str, float]:
        """Character n-gram cosine similarity of each document's closest phrase."""
        sentences = [(sentence.text, sentence.weight) for sentence in weigh_sentences(text)]
        if romanised:
            sentences += [(romanise_to_cyrillic(part), weight) for part, weight in sentences]
        return self._ngrams.scores(sentences)

    def lexical_rank(self, text: str, romanised: bool = False) -> list[tuple[str, float]]:
        """Documents with a positive lexical score, best first; decoys are named "!topic".

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
            if term.matches and all(_is_decoy(self._docs[doc]) for doc in term.matches):
                total += weight * s.decoy_term_extra
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


def _is_decoy(doc: str) -> bool:
    return doc.startswith(_OUT_OF_SCOPE_PREFIX)


def decide_hybrid(
    lexical: list[tuple[str, float]],
    fused: list[tuple[str, float]],
    c: Calibration,
    lexical_choice: Calibration,
) -> tuple[Status, tuple[str, ...]]:
    """The fused ranking decides, with two exceptions from the words alone.

    A lexical tie between two entries stays a choice. And when the words point
    to a decoy more than to the fused winner, the n-grams must not overturn it:
    word pieces refine the words' evidence, they never outvote it.
    """
    status, candidates = decide(fused, c)
    if status == "abstain" and not lexical:
        return status, candidates
    if status == "answer" and _decoy_outweighs(lexical, candidates[0]):
        return "abstain", ()
    lexical_status, pair = decide(lexical, lexical_choice)
    if lexical_status == "choice" and status != "abstain" and fused[0][0] in pair:
        return "choice", pair
    return status, candidates


def _decoy_outweighs(lexical: list[tuple[str, float]], answer: str) -> bool:
    """True when the lexical ranking's best is a decoy scoring above ``answer``."""
    if not lexical or not _is_decoy(lexical[0][0]):
        return False
    return dict(lexical).get(answer, 0.0) < lexical[0][1]


def decide(ranking: list[tuple[str, float]], c: Calibration) -> tuple[Status, tuple[str, ...]]:
    """Answer, choice or abstention from a ranking (best first; decoys "!topic").

    Abstain when the best document is a decoy or below the threshold; offer a
    choice when exactly one entry (no decoy) is within the margin and the best
    is strong enough; otherwise answer the best entry.
    """
    if not ranking:
        return "abstain", ()
    (top_doc, top_score), *rest = ranking
    if _is_decoy(top_doc) or top_score < c.threshold:
        return "abstain", ()
    close = [doc for doc, score in rest if score >= top_score - c.choice_margin]
    if not close:
        return "answer", (top_doc,)
    if len(close) == 1 and not _is_decoy(close[0]) and top_score >= c.choice_threshold:
        return "choice", (top_doc, close[0])
    # Three or more entries equally plausible, or a decoy close behind: too vague.
    return "abstain", ()


def fuse(
    lexical: Mapping[str, float],
    similarities: Mapping[str, float],
    docs: Sequence[str],
    c: Calibration,
) -> list[tuple[str, float]]:
    """Lexical scores plus the n-gram bonus (at most the lexical score), best first."""
    fused = dict(lexical)
    if c.ngram_weight > 0:
        for doc, value in _z_bonus(similarities, docs, c.ngram_floor, c.ngram_weight).items():
            # Word pieces may at most double what the words themselves show: they
            # refine the words' evidence, they never make an answer out of junk.
            words = fused.get(doc, 0.0)
            if words >= c.ngram_min_lexical:
                fused[doc] = words + min(value, words)
    scored = [(doc, score) for doc, score in fused.items() if score > 0]
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored


def _z_bonus(
    similarities: Mapping[str, float], docs: Sequence[str], floor: float, weight: float
) -> dict[str, float]:
    """``weight`` per standard deviation above ``floor`` of each document's similarity.

    The z-score is taken over every document (those sharing nothing count 0),
    so a document counts only when it stands out from the rest for this
    question, whatever the question's length or wording.
    """
    values = [similarities.get(doc, 0.0) for doc in docs]
    if not values:
        return {}
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((value - mean) ** 2 for value in values) / len(values))
    if spread <= 0:
        return {}
    bonus: dict[str, float] = {}
    for doc, value in zip(docs, values, strict=True):
        z = (value - mean) / spread
        if z > floor:
            bonus[doc] = weight * (z - floor)
    return bonus


def _idf(n_docs: int, doc_freq: int) -> float:
    """BM25 inverse document frequency (always positive)."""
    return math.log(1.0 + (n_docs - doc_freq + 0.5) / (doc_freq + 0.5))
