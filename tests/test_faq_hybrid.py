"""The fused matcher (lexical + character n-grams) keeps abstaining where it should."""

from __future__ import annotations

import pytest

from bot.faq import FaqMatcher, load_faq
from bot.faq.matcher import Calibration, _z_bonus, decide, decide_hybrid, fuse
from bot.faq.ngrams import CharNgramIndex

DOCS = ["a", "b", "c", "d", "!decoy"]


@pytest.fixture(scope="module")
def matcher() -> FaqMatcher:
    return FaqMatcher(load_faq())


def test_similarity_counts_only_for_a_document_that_stands_out() -> None:
    assert _z_bonus({doc: 0.4 for doc in DOCS}, DOCS, 0.5, 0.1) == {}
    bonus = _z_bonus({"a": 0.9, "b": 0.1}, DOCS, 0.5, 0.1)
    assert set(bonus) == {"a"}
    # Over all five documents: mean 0.2, standard deviation sqrt(0.124).
    assert bonus["a"] == pytest.approx(0.1 * ((0.9 - 0.2) / 0.124**0.5 - 0.5))


def test_without_ngram_weight_the_fused_ranking_is_the_lexical_one() -> None:
    lexical = {"a": 0.5, "b": 0.2}
    assert fuse(lexical, {"b": 0.99}, DOCS, Calibration(ngram_weight=0.0)) == [
        ("a", 0.5),
        ("b", 0.2),
    ]


def test_similarity_can_lift_an_entry_over_the_threshold_and_over_another() -> None:
    c = Calibration(threshold=0.45, ngram_weight=0.1, ngram_floor=0.5)
    lexical = {"a": 0.40, "b": 0.38}
    fused = fuse(lexical, {"b": 0.9, "a": 0.2}, DOCS, c)
    assert decide(fused, c) == ("answer", ("b",))


def test_a_decoy_on_top_abstains_however_strong() -> None:
    c = Calibration(threshold=0.3)
    assert decide([("!decoy", 0.9), ("a", 0.5)], c) == ("abstain", ())


def test_a_lexical_tie_stays_a_choice_whatever_the_ngrams_prefer() -> None:
    c = Calibration(threshold=0.3, choice_margin=0.03, ngram_weight=0.1)
    lexical = [("a", 0.6), ("b", 0.6)]
    fused = [("a", 0.9), ("b", 0.62)]
    tie = Calibration(threshold=0.3, choice_margin=0.07, choice_threshold=0.45)
    assert decide(fused, c) == ("answer", ("a",))
    assert decide_hybrid(lexical, fused, c, tie) == ("choice", ("a", "b"))


def test_ngrams_never_overturn_a_decoy_the_words_prefer() -> None:
    c = Calibration(threshold=0.3, ngram_weight=0.1)
    tie = Calibration(threshold=0.3, choice_margin=0.07, choice_threshold=0.45)
    lexical = [("!decoy", 0.52), ("a", 0.36)]
    fused = [("a", 0.72), ("!decoy", 0.62)]
    assert decide(fused, c) == ("answer", ("a",))
    assert decide_hybrid(lexical, fused, c, tie) == ("abstain", ())
    # The words themselves preferring the entry: the answer stands.
    assert decide_hybrid([("a", 0.52), ("!decoy", 0.36)], fused, c, tie) == ("answer", ("a",))


def test_a_court_fee_for_a_registered_association_is_not_the_ordinary_one(
    matcher: FaqMatcher,
) -> None:
    question = "Ile wynosi opłata sądowa za wpis stowarzyszenia rejestrowego do KRS?"
    assert matcher.ask(question).status == "abstain", matcher.rank(question)[:3]


def test_ngram_index_scores_the_closest_phrase_of_each_document() -> None:
    index = CharNgramIndex(
        [("tax", "jak przekazać 1,5% podatku"), ("tax", "PIT"), ("vol", "wolontariat w mieście")]
    )
    scores = index.scores([("przekazanie podatku", 1.0)])
    assert scores["tax"] > 0.3
    assert scores.get("vol", 0.0) < 0.05
    assert index.scores([("", 1.0)]) == {}


@pytest.mark.parametrize(
    "question",
    [
        "jak to zrobić?",  # only stop words: no lexical evidence, no answer
        "asdf qwerty zxcv",
        "jak zmienić adres fundacji w KRS",
        "czy fundacja musi płacić VAT od darowizn",
        "gdzie złożyć wniosek o 800 plus",
        "як отримати PESEL UKR",
        "як продовжити карту побиту",
        "a jaka jutro pogoda?",
    ],
)
def test_out_of_scope_and_empty_questions_abstain(matcher: FaqMatcher, question: str) -> None:
    assert matcher.ask(question).status == "abstain", matcher.rank(question)[:3]


def test_an_indirect_question_is_answered_thanks_to_the_ngrams(matcher: FaqMatcher) -> None:
    """The words alone prefer "subscribe"; the n-grams of "dostawać wiadomości" know better."""
    question = "nie chcę już dostawać od was wiadomości"
    assert matcher.lexical_rank(question)[0][0] == "bot-subscribe"
    result = matcher.ask(question)
    assert (result.status, result.id) == ("answer", "bot-unsubscribe")
